package ecsflow

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecsflow/ecsflow/statemachines"
)

func TestMain(m *testing.M) {
	// Must be set before the first jsii call starts the Node kernel.
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// rollingASL is a fake workflow that names functions, the table and a wait.
const rollingASL = `{
  "Comment": "test rolling",
  "StartAt": "Prepare",
  "States": {
    "Prepare": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {"FunctionName": "${StepPrepareArn}", "Payload.$": "$"}, "Next": "Register"},
    "Register": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {"FunctionName": "${StepRegisterTaskdefArn}", "Payload.$": "$"}, "Next": "Update"},
    "Update": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {"FunctionName": "${StepUpdateServiceArn}", "Payload.$": "$"}, "Next": "Wait"},
    "Wait": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
      "HeartbeatSeconds": 300, "TimeoutSeconds": 3600,
      "Parameters": {"FunctionName": "${StepWaitSteadyArn}", "Payload": {"token.$": "$$.Task.Token"}},
      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Rollback"}], "Next": "Mark"},
    "Mark": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem",
      "Parameters": {"TableName": "${TableName}", "Key": {"PK": {"S.$": "$.pk"}, "SK": {"S": "META"}}}, "Next": "Finish"},
    "Rollback": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {"FunctionName": "${StepRollbackArn}", "Payload.$": "$"}, "Next": "Finish"},
    "Finish": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {"FunctionName": "${StepFinishArn}", "Payload.$": "$"}, "End": true}
  }
}`

// pipelineASL starts the rolling workflow and notifies.
const pipelineASL = `{
  "StartAt": "Stage",
  "States": {
    "Stage": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
      "Parameters": {"StateMachineArn": "${RollingStateMachineArn}", "Input.$": "$"}, "Next": "Notify"},
    "Notify": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
      "Parameters": {"TopicArn": "${TopicArn}", "Message.$": "$"}, "End": true}
  }
}`

func def(name, body string) statemachines.Definition {
	return statemachines.Definition{Name: name, Body: body, Placeholders: statemachines.Placeholders(body)}
}

// fakeTree makes functions/<n> folders and build/<n>/bootstrap files for
// names (a bootstrap only where withBinary is true).
func fakeTree(t testing.TB, names []string, withBinary bool) (functions, build string) {
	t.Helper()
	root := t.TempDir()
	functions = filepath.Join(root, "functions")
	build = filepath.Join(root, "build")
	if err := os.MkdirAll(functions, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.MkdirAll(filepath.Join(functions, n), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(functions, n, "main.go"), []byte("package main\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if withBinary {
			if err := os.MkdirAll(filepath.Join(build, n), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(build, n, "bootstrap"), []byte("#!/bin/sh\necho "+n+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return functions, build
}

func specNames() []string {
	var names []string
	for n := range DefaultSpecs() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// synthesized is one synthesized stack, parsed.
type synthesized struct {
	e         *Ecsflow
	stack     awscdk.Stack
	tpl       assertions.Template
	resources map[string]resource
	outputs   map[string]any
	nagErrors []string
	nagWarns  []string
}

type resource struct {
	Type           string         `json:"Type"`
	Properties     map[string]any `json:"Properties"`
	DeletionPolicy string         `json:"DeletionPolicy"`
	UpdateReplace  string         `json:"UpdateReplacePolicy"`
	Metadata       map[string]any `json:"Metadata"`
}

// synth builds props into a fresh app with the nag pack applied.
func synth(t testing.TB, props Props) *synthesized {
	t.Helper()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Test"), nil)
	e, err := New(stack, "Ecsflow", props)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ApplyNag(app)
	return parse(t, stack, e)
}

func parse(t testing.TB, stack awscdk.Stack, e *Ecsflow) *synthesized {
	t.Helper()
	tpl := assertions.Template_FromStack(stack, nil)
	raw, err := json.Marshal(tpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]resource `json:"Resources"`
		Outputs   map[string]any      `json:"Outputs"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	s := &synthesized{e: e, stack: stack, tpl: tpl, resources: doc.Resources, outputs: doc.Outputs}
	ann := assertions.Annotations_FromStack(stack)
	for _, m := range *ann.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
		s.nagErrors = append(s.nagErrors, fmt.Sprintf("%s: %v", *m.Id, m.Entry.Data))
	}
	for _, m := range *ann.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
		s.nagWarns = append(s.nagWarns, fmt.Sprintf("%s: %v", *m.Id, m.Entry.Data))
	}
	return s
}

var (
	fullOnce sync.Once
	fullSyn  *synthesized
	fullErr  string
)

// full is the shared fixture: every function of the table, two state
// machines, two clusters, a target account, with cdk-nag applied.
func full(t *testing.T) *synthesized {
	t.Helper()
	fullOnce.Do(func() {
		functions, build := fakeTree(&onceTB{T: t}, specNames(), true)
		defer func() {
			if r := recover(); r != nil {
				fullErr = fmt.Sprint(r)
			}
		}()
		fullSyn = synth(&onceTB{T: t}, Props{
			FunctionsDir:       functions,
			AssetRoot:          build,
			Definitions:        []statemachines.Definition{def("rolling", rollingASL), def("pipeline", pipelineASL)},
			Clusters:           []string{"prod", "staging"},
			Repositories:       []string{"shop/web", "shop/api"},
			TargetAccounts:     []string{"111122223333"},
			NotificationEmails: []string{"ops@example.com"},
		})
	})
	if fullSyn == nil {
		t.Fatalf("fixture failed: %s", fullErr)
	}
	return fullSyn
}

// onceTB keeps the temp dir of the first test alive for the whole run: the
// fixture is shared, and CDK reads the assets during synthesis only.
type onceTB struct{ *testing.T }

func (o *onceTB) TempDir() string {
	d, err := os.MkdirTemp("", "ecsflow-infra-test-")
	if err != nil {
		o.T.Fatal(err)
	}
	return d
}

// ofType returns the resources of one CloudFormation type, by logical id.
func (s *synthesized) ofType(typ string) map[string]resource {
	out := map[string]resource{}
	for id, r := range s.resources {
		if r.Type == typ {
			out[id] = r
		}
	}
	return out
}

// statement is one IAM policy statement with its location.
type statement struct {
	where     string
	Effect    string
	Actions   []string
	Resources []any
	Condition map[string]any
}

func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	default:
		return []any{x}
	}
}

func stmtsOf(where string, doc any) []statement {
	m, _ := doc.(map[string]any)
	var out []statement
	for _, raw := range asList(m["Statement"]) {
		st, _ := raw.(map[string]any)
		s := statement{where: where}
		s.Effect, _ = st["Effect"].(string)
		for _, a := range asList(st["Action"]) {
			if as, ok := a.(string); ok {
				s.Actions = append(s.Actions, as)
			}
		}
		s.Resources = asList(st["Resource"])
		s.Condition, _ = st["Condition"].(map[string]any)
		out = append(out, s)
	}
	return out
}

// identityStatements are the statements of every identity policy (inline
// role policies and AWS::IAM::Policy).
func (s *synthesized) identityStatements() []statement {
	var out []statement
	for id, r := range s.resources {
		switch r.Type {
		case "AWS::IAM::Policy":
			out = append(out, stmtsOf(id, r.Properties["PolicyDocument"])...)
		case "AWS::IAM::Role":
			for _, p := range asList(r.Properties["Policies"]) {
				pm, _ := p.(map[string]any)
				out = append(out, stmtsOf(id, pm["PolicyDocument"])...)
			}
		}
	}
	return out
}

// resourceStatements are the statements of resource policies.
func (s *synthesized) resourceStatements() []statement {
	var out []statement
	for id, r := range s.resources {
		switch r.Type {
		case "AWS::KMS::Key":
			out = append(out, stmtsOf(id, r.Properties["KeyPolicy"])...)
		case "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy":
			out = append(out, stmtsOf(id, r.Properties["PolicyDocument"])...)
		case "AWS::IAM::Role":
			out = append(out, stmtsOf(id, r.Properties["AssumeRolePolicyDocument"])...)
		}
	}
	return out
}

// rendered turns a CloudFormation value into a readable string: Fn::Join is
// joined, Ref and GetAtt become <Ref> and <Id.Attr>.
func rendered(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			sep, _ := j[0].(string)
			var parts []string
			for _, p := range asList(j[1]) {
				parts = append(parts, rendered(p))
			}
			return strings.Join(parts, sep)
		}
		if r, ok := x["Ref"].(string); ok {
			return "<" + r + ">"
		}
		if g, ok := x["Fn::GetAtt"].([]any); ok && len(g) == 2 {
			return fmt.Sprintf("<%v.%v>", g[0], g[1])
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// mustMatch runs a jsii assertion, turning its panic into a test error.
func mustMatch(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	f()
}

// lambdaByFunction maps ECSFLOW_FUNCTION to the Lambda resource.
func (s *synthesized) lambdaByFunction(t *testing.T) map[string]resource {
	t.Helper()
	out := map[string]resource{}
	for id, r := range s.ofType("AWS::Lambda::Function") {
		env, _ := r.Properties["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		name, _ := vars[EnvFunction].(string)
		if name == "" {
			t.Errorf("Lambda %s has no %s variable", id, EnvFunction)
			continue
		}
		out[name] = r
	}
	return out
}
