package placeholder

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Ref
	}{
		{name: "none", in: "plain:v1"},
		{name: "bare dollar brace is not a reference", in: "${HOME} ${} ${.x} ${1a.b}"},
		{name: "one", in: "x:${artifact.tag}", want: []Ref{{Token: "${artifact.tag}", Namespace: "artifact", Name: "tag"}}},
		{name: "workflow variable and repeats in order", in: "${workflow.variables.A}-${env.name}-${workflow.variables.A}",
			want: []Ref{
				{Token: "${workflow.variables.A}", Namespace: "workflow", Name: "variables.A"},
				{Token: "${env.name}", Namespace: "env", Name: "name"},
				{Token: "${workflow.variables.A}", Namespace: "workflow", Name: "variables.A"},
			}},
		{name: "name with dots and dashes", in: "${serviceVariable.log-level.v2}",
			want: []Ref{{Token: "${serviceVariable.log-level.v2}", Namespace: "serviceVariable", Name: "log-level.v2"}}},
		{name: "unterminated", in: "${workflow.variables.A"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Find(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("Find(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestRefWorkflowVariable(t *testing.T) {
	tests := []struct {
		name   string
		ref    Ref
		want   string
		wantOK bool
	}{
		{name: "workflow variable", ref: Ref{Namespace: "workflow", Name: "variables.TAG"}, want: "TAG", wantOK: true},
		{name: "other workflow name", ref: Ref{Namespace: "workflow", Name: "name"}},
		{name: "service variable", ref: Ref{Namespace: "serviceVariable", Name: "TAG"}},
		{name: "variables in another namespace", ref: Ref{Namespace: "pipeline", Name: "variables.TAG"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.ref.WorkflowVariable()
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("%+v.WorkflowVariable() = %q, %v, want %q, %v", tc.ref, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestReplace(t *testing.T) {
	vals := map[string]string{"${env.name}": "prod", "${workflow.variables.V}": "${env.name}"}
	f := func(r Ref) string {
		if v, ok := vals[r.Token]; ok {
			return v
		}
		return r.Token
	}
	tests := []struct {
		name, in, want string
	}{
		{name: "no reference", in: "x:v1", want: "x:v1"},
		{name: "replaced", in: "a-${env.name}-b", want: "a-prod-b"},
		{name: "unknown left as written", in: "${HOME.dir}/${env.name}", want: "${HOME.dir}/prod"},
		{name: "replacement not scanned again", in: "${workflow.variables.V}", want: "${env.name}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Replace(tc.in, f); got != tc.want {
				t.Errorf("Replace(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestMissingWorkflowVariables(t *testing.T) {
	tests := []struct {
		name     string
		doc      string
		vars     map[string]string
		want     []string
		wantUses []string
		wantErr  bool
	}{
		{name: "none used", doc: `[{"name":"web","image":"x:${artifact.tag}"}]`},
		{name: "all given", doc: `[{"name":"web","image":"x:${workflow.variables.TAG}"}]`,
			vars: map[string]string{"TAG": "v1"}, wantUses: []string{"TAG"}},
		{name: "an empty value counts as given", doc: `[{"name":"web","image":"x${workflow.variables.SUFFIX}"}]`,
			vars: map[string]string{"SUFFIX": ""}, wantUses: []string{"SUFFIX"}},
		{name: "missing, sorted and once, from nested values", doc: `[{"name":"web","image":"x:${workflow.variables.TAG}",
			"environment":[{"name":"R","value":"${workflow.variables.RELEASE}-${workflow.variables.TAG}"}],
			"logConfiguration":{"options":{"g":"/${workflow.variables.A}"}},"cpu":256}]`,
			vars: map[string]string{"RELEASE": "1"}, want: []string{"A", "TAG"}, wantUses: []string{"A", "RELEASE", "TAG"}},
		{name: "object keys are not scanned", doc: `[{"${workflow.variables.K}":"v","name":"web","image":"x"}]`},
		{name: "escaped dollar in JSON is still a reference", doc: `[{"name":"web","image":"\u0024{workflow.variables.E}"}]`,
			want: []string{"E"}, wantUses: []string{"E"}},
		{name: "service variables are not workflow variables", doc: `[{"name":"web","image":"${serviceVariable.TAG}"}]`},
		{name: "not JSON", doc: `[{"name":`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MissingWorkflowVariables(json.RawMessage(tc.doc), tc.vars)
			if (err != nil) != tc.wantErr {
				t.Fatalf("MissingWorkflowVariables err = %v, want error %v", err, tc.wantErr)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("MissingWorkflowVariables = %q, want %q", got, tc.want)
			}
			if tc.wantErr {
				return
			}
			uses, err := WorkflowVariables(json.RawMessage(tc.doc))
			if err != nil {
				t.Fatalf("WorkflowVariables: %v", err)
			}
			if !slices.Equal(uses, tc.wantUses) {
				t.Errorf("WorkflowVariables = %q, want %q", uses, tc.wantUses)
			}
		})
	}
}

// FuzzReplace checks that Replace hands f exactly the references Find
// finds and puts one replacement in place of each.
func FuzzReplace(f *testing.F) {
	for _, s := range []string{"", "x:${artifact.tag}", "${workflow.variables.A}${workflow.variables.B}", "$${a.b}}", "${a.b.c-d_e}", "${HOME}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var seen []Ref
		out := Replace(s, func(r Ref) string { seen = append(seen, r); return "\x00" })
		if !slices.Equal(seen, Find(s)) {
			t.Fatalf("Replace saw %+v, Find %+v", seen, Find(s))
		}
		if strings.Count(out, "\x00")-strings.Count(s, "\x00") != len(seen) {
			t.Fatalf("Replace(%q) = %q: %d markers for %d references", s, out, strings.Count(out, "\x00"), len(seen))
		}
	})
}
