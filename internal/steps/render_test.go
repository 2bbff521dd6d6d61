package steps

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/placeholder"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestRenderContainers(t *testing.T) {
	image := "123456789012.dkr.ecr.us-east-1.amazonaws.com/web"
	base := RenderValues{App: "shop", Service: "web", Env: "prod",
		Artifact:  model.Artifact{Image: image, Tag: "v1"},
		Variables: map[string]string{"LOG_LEVEL": "warn"}}
	tests := []struct {
		name     string
		template string
		vals     func(v *RenderValues)
		image    string
		env      map[string]string
		wantErr  string
	}{
		{name: "tag", template: `[{"name":"web","image":"${artifact.image}"}]`, image: image + ":v1"},
		{name: "pinned to the digest", template: `[{"name":"web","image":"${artifact.image}"}]`,
			vals: func(v *RenderValues) { v.Artifact.Digest = digest }, image: image + "@" + digest},
		{name: "tag placeholder pinned", template: `[{"name":"web","image":"` + image + `:${artifact.tag}"}]`,
			vals: func(v *RenderValues) { v.Artifact.Digest = digest }, image: image + "@" + digest},
		{name: "names and variables", template: `[{"name":"web","image":"x:${artifact.tag}","environment":[
			{"name":"WHERE","value":"${app.name}/${service.name}/${env.name}"},{"name":"LOG","value":"${serviceVariable.LOG_LEVEL}"}]}]`,
			image: "x:v1", env: map[string]string{"WHERE": "shop/web/prod", "LOG": "warn"}},
		{name: "env vars override the template", template: `[{"name":"web","image":"x","environment":[{"name":"A","value":"old"},{"name":"B","value":"keep"}]}]`,
			vals: func(v *RenderValues) { v.EnvVars = map[string]string{"A": "new", "C": "added"} }, image: "x",
			env: map[string]string{"A": "new", "B": "keep", "C": "added"}},
		{name: "shell variables are left alone", template: `[{"name":"web","image":"x","command":["sh","-c","echo ${HOME.dir}"]}]`, image: "x"},
		{name: "unknown variable", template: `[{"name":"web","image":"${serviceVariable.NOPE}"}]`, wantErr: "${serviceVariable.NOPE}"},
		{name: "workflow variables in image tags and environment", template: `[{"name":"web","image":"x:${workflow.variables.TAG}",
			"environment":[{"name":"RELEASE","value":"r-${workflow.variables.RELEASE}"}],"logConfiguration":{"logDriver":"awslogs",
			"options":{"awslogs-group":"/${workflow.variables.RELEASE}"}}}]`,
			vals:  func(v *RenderValues) { v.WorkflowVariables = map[string]string{"TAG": "v9", "RELEASE": "42"} },
			image: "x:v9", env: map[string]string{"RELEASE": "r-42"}},
		{name: "workflow variables win over service variables", template: `[{"name":"web","image":"x","environment":[
			{"name":"LOG","value":"${serviceVariable.LOG_LEVEL}"}]}]`,
			vals:  func(v *RenderValues) { v.WorkflowVariables = map[string]string{"LOG_LEVEL": "debug"} },
			image: "x", env: map[string]string{"LOG": "debug"}},
		{name: "service variables stay without a workflow variable", template: `[{"name":"web","image":"x","environment":[
			{"name":"LOG","value":"${serviceVariable.LOG_LEVEL}"}]}]`,
			vals:  func(v *RenderValues) { v.WorkflowVariables = map[string]string{"OTHER": "y"} },
			image: "x", env: map[string]string{"LOG": "warn"}},
		{name: "a value is not expanded again", template: `[{"name":"web","image":"x","environment":[{"name":"V","value":"${workflow.variables.V}"}]}]`,
			vals: func(v *RenderValues) {
				v.WorkflowVariables = map[string]string{"V": `${serviceVariable.LOG_LEVEL} "quoted"`}
			},
			image: "x", env: map[string]string{"V": `${serviceVariable.LOG_LEVEL} "quoted"`}},
		{name: "unknown workflow variable", template: `[{"name":"web","image":"x:${workflow.variables.TAG}"}]`,
			wantErr: "no value for ${workflow.variables.TAG}"},
		{name: "workflow namespace without variables", template: `[{"name":"web","image":"x:${workflow.name}"}]`,
			wantErr: "${workflow.name}"},
		{name: "unknown field", template: `[{"name":"web","image":"x","imagee":"y"}]`, wantErr: "unknown field"},
		{name: "not an array", template: `{"name":"web"}`, wantErr: "not a JSON array"},
		{name: "empty", template: `[]`, wantErr: "none"},
		{name: "no image", template: `[{"name":"web"}]`, wantErr: "name and an image"},
		{name: "secret by value", template: `[{"name":"web","image":"x","secrets":[{"name":"P","valueFrom":"hunter2"}]}]`, wantErr: "must be a Secrets Manager or SSM"},
		{name: "no tag to fill", template: `[{"name":"web","image":"x:${artifact.tag}"}]`,
			vals: func(v *RenderValues) { v.Artifact.Tag = "" }, wantErr: "${artifact.tag}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := base
			if tc.vals != nil {
				tc.vals(&v)
			}
			got, err := RenderContainers(json.RawMessage(tc.template), v)
			if tc.wantErr != "" {
				var inv *Invalid
				if !errors.As(err, &inv) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want Invalid containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if img := aws.ToString(got[0].Image); img != tc.image {
				t.Errorf("image = %s, want %s", img, tc.image)
			}
			if tc.env != nil {
				env := map[string]string{}
				for _, kv := range got[0].Environment {
					env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
				}
				if len(env) != len(tc.env) {
					t.Errorf("environment = %v, want %v", env, tc.env)
				}
				for k, want := range tc.env {
					if env[k] != want {
						t.Errorf("environment %s = %q, want %q", k, env[k], want)
					}
				}
			}
		})
	}
}

func TestRenderNamesEveryUnresolvedPlaceholder(t *testing.T) {
	_, err := RenderContainers(json.RawMessage(`[{"name":"web","image":"x:${workflow.variables.B}",
		"environment":[{"name":"A","value":"${workflow.variables.A}"},{"name":"B","value":"${workflow.variables.B}"}]}]`),
		RenderValues{WorkflowVariables: map[string]string{"C": "c"}})
	var inv *Invalid
	var ue *UnresolvedError
	if !errors.As(err, &inv) || !errors.As(err, &ue) {
		t.Fatalf("err = %v (%T), want Invalid wrapping *UnresolvedError", err, err)
	}
	want := []string{"${workflow.variables.A}", "${workflow.variables.B}"}
	if strings.Join(ue.Placeholders, ",") != strings.Join(want, ",") {
		t.Errorf("placeholders = %v, want %v (sorted, each once)", ue.Placeholders, want)
	}
	if ErrorName(err) != ErrInvalid {
		t.Errorf("ASL error name = %q, want %q", ErrorName(err), ErrInvalid)
	}
}

func TestRenderPutsSecretsOnTheEssentialContainerAsARNs(t *testing.T) {
	arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
	got, err := RenderContainers(json.RawMessage(`[{"name":"sidecar","image":"s","essential":false},{"name":"web","image":"w","essential":true}]`),
		RenderValues{Secrets: []model.Secret{{Name: "DB", ValueFrom: arn}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0].Secrets) != 0 || len(got[1].Secrets) != 1 || aws.ToString(got[1].Secrets[0].ValueFrom) != arn {
		t.Fatalf("secrets: sidecar %+v, web %+v; want the ARN on web only", got[0].Secrets, got[1].Secrets)
	}
	_, err = RenderContainers(json.RawMessage(`[{"name":"web","image":"w"}]`), RenderValues{Secrets: []model.Secret{{Name: "DB", ValueFrom: "plain"}}})
	if err == nil {
		t.Fatal("a secret that is not an ARN was accepted")
	}
}

func FuzzRenderContainers(f *testing.F) {
	f.Add(`[{"name":"web","image":"${artifact.image}","environment":[{"name":"E","value":"${env.name}"}]}]`, "v1")
	f.Add(`[{"name":"web","image":"x:${artifact.tag}","secrets":[{"name":"S","valueFrom":"arn:aws:ssm:us-east-1:123456789012:parameter/x"}]}]`, "")
	f.Add(`[{"name":"a","image":"${serviceVariable.X}"}]`, "t")
	f.Add(`[{"name":"a","image":"i:${workflow.variables.W}","command":["${workflow.variables.NO}"]}]`, "t")
	f.Add(`not json`, "t")
	f.Fuzz(func(t *testing.T, template, tag string) {
		v := RenderValues{App: "a", Service: "s", Env: "e", Artifact: model.Artifact{Image: "img", Tag: tag},
			Variables: map[string]string{"X": "y"}, WorkflowVariables: map[string]string{"W": "w", "X": "z"}, EnvVars: map[string]string{"K": "v"}}
		out, err := RenderContainers(json.RawMessage(template), v)
		if err != nil {
			var inv *Invalid
			if !errors.As(err, &inv) {
				t.Fatalf("error %v is not Invalid", err)
			}
			return
		}
		for _, c := range out {
			if aws.ToString(c.Name) == "" || aws.ToString(c.Image) == "" {
				t.Fatalf("rendered a container without name or image: %+v", c)
			}
		}
	})
}

func TestFamilyIsSafeForECS(t *testing.T) {
	if got := Family("shop", "web api", "prod/eu"); got != "shop-web-api-prod-eu" {
		t.Fatalf("Family = %s", got)
	}
	if got := Family(strings.Repeat("a", 300), "s", "e"); len(got) != 255 {
		t.Fatalf("Family length %d, want 255", len(got))
	}
}

// TestRenderAgreesWithTheAPICheck: the workflow variables RenderContainers
// finds unresolved are the ones placeholder.MissingWorkflowVariables (the
// API's up-front check) names, so the API refuses what PREPARE would fail.
func TestRenderAgreesWithTheAPICheck(t *testing.T) {
	tests := []struct {
		name     string
		template string
		vars     map[string]string
		want     []string
	}{
		{name: "all given", template: `[{"name":"web","image":"x:${workflow.variables.TAG}"}]`, vars: map[string]string{"TAG": "v1"}},
		{name: "one missing", template: `[{"name":"web","image":"x:${workflow.variables.TAG}","environment":[{"name":"R","value":"${workflow.variables.R}"}]}]`,
			vars: map[string]string{"R": "1"}, want: []string{"TAG"}},
		{name: "two missing in nested values", template: `[{"name":"web","image":"x:${workflow.variables.TAG}",
			"logConfiguration":{"logDriver":"awslogs","options":{"g":"/${workflow.variables.GROUP}"}}}]`, want: []string{"GROUP", "TAG"}},
		{name: "not a workflow variable", template: `[{"name":"web","image":"x:${workflow.name}"}]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api, err := placeholder.MissingWorkflowVariables(json.RawMessage(tc.template), tc.vars)
			if err != nil {
				t.Fatalf("MissingWorkflowVariables: %v", err)
			}
			_, err = RenderContainers(json.RawMessage(tc.template), RenderValues{WorkflowVariables: tc.vars})
			var render []string
			var ue *UnresolvedError
			if errors.As(err, &ue) {
				for _, p := range ue.Placeholders {
					if n, ok := strings.CutPrefix(p, "${workflow.variables."); ok {
						render = append(render, strings.TrimSuffix(n, "}"))
					}
				}
			} else if err != nil {
				t.Fatalf("RenderContainers: %v", err)
			}
			if !slices.Equal(api, tc.want) || !slices.Equal(render, tc.want) {
				t.Errorf("missing: API check %q, RenderContainers %q, want %q", api, render, tc.want)
			}
		})
	}
}
