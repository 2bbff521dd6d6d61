package ecsflow

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ecsflow/ecsflow/internal/lambdacalls"
)

// pendingGrants are actions the code already calls that the function table
// does not grant yet, each reported to whoever owns the table. The test
// fails when one of them is granted (or no longer called), so the list only
// shrinks; empty it by adding the actions to DefaultSpecs (and their scopes
// to actionScopes, and to TargetAccountRole for the cross-account calls).
var pendingGrants = map[string][]string{
	"api":                {"events:PutEvents", "states:StopExecution"},
	"step-approval":      {"events:PutEvents"},
	"step-check-steady":  {"ecs:DescribeTasks", "ecs:ListTasks"},
	"step-wait-steady":   {"ecs:DescribeTasks", "ecs:ListTasks"},
	"step-finish":        {"events:PutEvents"},
	"step-prepare":       {"events:PutEvents"},
	"step-cleanup":       {"route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "servicediscovery:DeleteService", "servicediscovery:DeregisterInstance", "servicediscovery:GetNamespace", "servicediscovery:GetService", "servicediscovery:ListInstances", "servicediscovery:ListServices"},
	"step-rollback":      {"servicediscovery:DeleteService", "servicediscovery:DeregisterInstance", "servicediscovery:GetNamespace", "servicediscovery:GetService", "servicediscovery:ListInstances", "servicediscovery:ListServices"},
	"step-setup-service": {"elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyRule", "route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "servicediscovery:CreateService", "servicediscovery:GetNamespace", "servicediscovery:GetService", "servicediscovery:ListServices"},
}

// TestSpecsGrantWhatTheCodeCalls reads each function's code from its
// functions/<name>/main.go (internal/lambdacalls: every AWS operation the
// binary can reach, as an IAM action) and fails when the function table
// does not grant one of them: that Lambda would get AccessDenied in AWS.
// (The other direction, actions granted but not seen, is not checked:
// some grants are implied by a call, such as iam:PassRole or
// ecs:TagResource for CreateService, or made inside the SDK, such as a
// waiter's route53:GetChange.)
func TestSpecsGrantWhatTheCodeCalls(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dirs {
		if d.IsDir() {
			names = append(names, d.Name())
		}
	}
	reports, err := lambdacalls.Analyze(root, names...)
	if err != nil {
		t.Fatal(err)
	}
	specs := DefaultSpecs()
	for _, name := range names {
		spec, ok := specs[name]
		if !ok {
			t.Errorf("functions/%s has no row in DefaultSpecs", name)
			continue
		}
		r := reports[name]
		pending := pendingGrants[name]
		for _, action := range r.SortedActions() {
			granted := slices.Contains(spec.Actions, action)
			switch {
			case !granted && !slices.Contains(pending, action):
				t.Errorf("functions/%s calls %s, which its spec does not grant:\n  %s", name, action,
					strings.ReplaceAll(r.Actions[action], "github.com/ecsflow/ecsflow/", ""))
			case granted && slices.Contains(pending, action):
				t.Errorf("functions/%s: %s is granted now: remove it from pendingGrants", name, action)
			}
		}
		for _, action := range pending {
			if _, called := r.Actions[action]; !called {
				t.Errorf("functions/%s no longer calls %s: remove it from pendingGrants", name, action)
			}
		}
	}
	for name := range pendingGrants {
		if !slices.Contains(names, name) {
			t.Errorf("pendingGrants names %s, which is not a functions/* folder", name)
		}
	}
}
