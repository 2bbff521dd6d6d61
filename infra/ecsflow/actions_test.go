package ecsflow

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ecsflow/ecsflow/internal/lambdacalls"
)

// impliedBy names the calls that need each implied action.
var impliedBy = map[string][]string{
	"ecs:TagResource":             {"ecs:CreateService", "ecs:RegisterTaskDefinition"},
	"iam:PassRole":                {"ecs:RegisterTaskDefinition"},
	"iam:CreateServiceLinkedRole": {"application-autoscaling:RegisterScalableTarget"},
}

// specDiff compares a row with what its function's code calls, both ways:
//   - an action the code calls and the row does not grant: that Lambda
//     would get AccessDenied in AWS;
//   - an action the row grants and the code never calls, unless AWS
//     authorises part of a call through it (ImpliedActions, and then only
//     where the code makes such a call): a permission too many.
func specDiff(spec FunctionSpec, r *lambdacalls.Report) []string {
	var out []string
	for _, action := range r.SortedActions() {
		if !slices.Contains(spec.Actions, action) {
			out = append(out, fmt.Sprintf("functions/%s calls %s, which its row does not grant:\n  %s", spec.Name, action,
				strings.ReplaceAll(r.Actions[action], "github.com/ecsflow/ecsflow/", "")))
		}
	}
	for _, action := range spec.Actions {
		if _, called := r.Actions[action]; called {
			continue
		}
		if why, ok := ImpliedActions[action]; ok {
			needs := impliedBy[action]
			if !slices.ContainsFunc(needs, func(a string) bool { _, c := r.Actions[a]; return c }) {
				out = append(out, fmt.Sprintf("functions/%s is granted %s (%s) but calls none of %v", spec.Name, action, why, needs))
			}
			continue
		}
		out = append(out, fmt.Sprintf("functions/%s is granted %s, which its code never calls: remove it from its row", spec.Name, action))
	}
	return out
}

func analyze(t *testing.T, names ...string) map[string]*lambdacalls.Report {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		if names, err = FunctionFolders(filepath.Join(root, "functions")); err != nil {
			t.Fatal(err)
		}
	}
	reports, err := lambdacalls.Analyze(root, names...)
	if err != nil {
		t.Fatal(err)
	}
	return reports
}

// TestSpecsFollowCode reads each function's code from its
// functions/<name>/main.go (internal/lambdacalls: every AWS operation the
// binary can reach, as an IAM action) and fails when its row differs
// (specDiff): a call not granted, or a grant not called nor implied.
func TestSpecsFollowCode(t *testing.T) {
	reports := analyze(t)
	specs := DefaultSpecs()
	for name, r := range reports {
		spec, ok := specs[name]
		if !ok {
			t.Errorf("functions/%s has no row in DefaultSpecs", name)
			continue
		}
		if len(r.Actions) == 0 {
			t.Errorf("functions/%s: the analysis found no AWS call at all", name)
		}
		for _, d := range specDiff(spec, r) {
			t.Error(d)
		}
	}
	if len(reports) < 20 {
		t.Errorf("analysed %d functions, want every functions/* folder", len(reports))
	}
}

// TestSpecDiffCatches proves both directions of specDiff can fail, on the
// real step-next.
func TestSpecDiffCatches(t *testing.T) {
	for a := range ImpliedActions {
		if len(impliedBy[a]) == 0 {
			t.Errorf("ImpliedActions[%s] names no call that needs it (impliedBy)", a)
		}
	}
	r := analyze(t, "step-next")["step-next"]
	row := DefaultSpecs()["step-next"]
	if d := specDiff(row, r); len(d) != 0 {
		t.Fatalf("the real row differs: %v", d)
	}
	tests := []struct {
		name string
		edit func([]string) []string
		want string
	}{
		{"a call not granted", func(a []string) []string {
			return slices.DeleteFunc(a, func(s string) bool { return s == "ecs:DescribeServices" })
		}, "calls ecs:DescribeServices, which its row does not grant"},
		{"a grant never called", func(a []string) []string { return append(a, "ecs:UpdateService") },
			"granted ecs:UpdateService, which its code never calls"},
		{"an implied grant without its call", func(a []string) []string { return append(a, "iam:PassRole") },
			"granted iam:PassRole"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := row
			spec.Actions = tc.edit(slices.Clone(row.Actions))
			d := specDiff(spec, r)
			if len(d) != 1 || !strings.Contains(d[0], tc.want) {
				t.Errorf("got %q, want one finding containing %q", d, tc.want)
			}
		})
	}
}
