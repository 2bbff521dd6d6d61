package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecsflow/ecsflow/infra/ecsflow"
	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/statemachines"
)

func TestMain(m *testing.M) {
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// shipped returns a functions dir with the shipped folders plus stand-ins
// for ecsflow.PendingFunctions, and a build dir with a dummy bootstrap each.
func shipped(t *testing.T) (functions, build string) {
	t.Helper()
	folders, err := ecsflow.FunctionFolders(filepath.Join("..", "functions"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	functions, build = filepath.Join(root, "functions"), filepath.Join(root, "build")
	all := map[string]bool{}
	for _, f := range append(folders, ecsflow.PendingFunctions...) {
		if all[f] {
			continue // a pending function that has landed
		}
		all[f] = true
		for _, d := range []string{filepath.Join(functions, f), filepath.Join(build, f)} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(build, f, "bootstrap"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return functions, build
}

func nagErrors(stack awscdk.Stack) []string {
	var out []string
	ann := assertions.Annotations_FromStack(stack)
	for _, m := range *ann.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
		out = append(out, *m.Id)
	}
	return out
}

func templateJSON(t *testing.T, stack awscdk.Stack) map[string]any {
	t.Helper()
	raw, err := json.Marshal(assertions.Template_FromStack(stack, nil).ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestPropsFromContext(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{
		"clusters":          "prod, staging",
		"repositories":      "shop/web",
		"targetAccounts":    "111122223333,444455556666",
		"jwtIssuer":         "https://id.example.com/",
		"jwtAudience":       "ecsflow,cli",
		"namePrefix":        "cd",
		"notifyEmails":      "ops@example.com",
		"eventBusName":      "ecsflow-notices",
		"notifications":     "off",
		"scheduledTriggers": "off",
	}})
	p := propsFromContext(app)
	got, _ := json.Marshal(p)
	for _, want := range []string{`"Clusters":["prod","staging"]`, `"Repositories":["shop/web"]`,
		`"TargetAccounts":["111122223333","444455556666"]`, `"Issuer":"https://id.example.com/"`,
		`"Audience":["ecsflow","cli"]`, `"NamePrefix":"cd"`, `"NotificationEmails":["ops@example.com"]`,
		`"EventBusName":"ecsflow-notices"`, `"DisableNotifications":true`, `"DisableScheduledTriggers":true`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("props: got %s, want %s in it", got, want)
		}
	}
	bare := propsFromContext(awscdk.NewApp(nil))
	if len(bare.Clusters) != 1 || bare.Clusters[0] != "default" || bare.JWT != nil || bare.DisableNotifications || bare.DisableScheduledTriggers {
		t.Errorf("props without context: got %+v, want the default cluster and no JWT", bare)
	}
}

// TestEcsflowStack synthesizes the real stack: the shipped functions and
// state machines, with fake binaries, under cdk-nag.
func TestEcsflowStack(t *testing.T) {
	app := awscdk.NewApp(nil)
	props := propsFromContext(app)
	props.FunctionsDir, props.AssetRoot = shipped(t)
	stack, e, err := NewEcsflowStack(app, "Ecsflow", StackProps{Ecsflow: props})
	if err != nil {
		t.Fatal(err)
	}
	ecsflow.ApplyNag(app)
	doc := templateJSON(t, stack)
	if errs := nagErrors(stack); len(errs) != 0 {
		t.Errorf("cdk-nag errors: %v", errs)
	}
	res := doc["Resources"].(map[string]any)
	count := map[string]int{}
	for _, r := range res {
		count[r.(map[string]any)["Type"].(string)]++
	}
	folders, _ := ecsflow.FunctionFolders(props.FunctionsDir) // shipped + pending
	if count["AWS::Lambda::Function"] != len(folders) {
		t.Errorf("Lambdas: got %d, want %d (%v)", count["AWS::Lambda::Function"], len(folders), folders)
	}
	if count["AWS::StepFunctions::StateMachine"] != len(statemachines.All()) {
		t.Errorf("state machines: got %d, want %d", count["AWS::StepFunctions::StateMachine"], len(statemachines.All()))
	}
	for _, typ := range []string{"AWS::DynamoDB::Table", "AWS::KMS::Key", "AWS::SNS::Topic", "AWS::CloudWatch::Dashboard", "AWS::Scheduler::Schedule"} {
		if count[typ] != 1 {
			t.Errorf("%s: got %d, want 1", typ, count[typ])
		}
	}
	_, hasAPI := e.Functions["api"]
	outputs, _ := doc["Outputs"].(map[string]any)
	var hasURL bool
	for id := range outputs {
		hasURL = hasURL || strings.HasPrefix(id, "EcsflowApiUrl")
	}
	if hasAPI != hasURL {
		t.Errorf("api function %v but ApiUrl output %v", hasAPI, hasURL)
	}
	t.Logf("template: %d resources %v", len(res), count)
}

func TestTargetAccountStack(t *testing.T) {
	app := awscdk.NewApp(nil)
	stack, err := NewTargetAccountStack(app, "Target", TargetStackProps{Role: ecsflow.TargetAccountRoleProps{
		EcsflowAccount: "111122223333", ExternalID: "s3cr3t-id", Clusters: []string{"prod"}, ForwardEcsEvents: true,
	}})
	if err != nil {
		t.Fatal(err)
	}
	ecsflow.ApplyNag(app)
	doc := templateJSON(t, stack)
	if errs := nagErrors(stack); len(errs) != 0 {
		t.Errorf("cdk-nag errors: %v", errs)
	}
	var role map[string]any
	var rules []map[string]any
	var policies []any
	for id, r := range doc["Resources"].(map[string]any) {
		rm := r.(map[string]any)
		switch rm["Type"] {
		case "AWS::IAM::Role":
			if !strings.Contains(id, "Forward") {
				role = rm["Properties"].(map[string]any)
			}
		case "AWS::IAM::Policy":
			if !strings.Contains(id, "Forward") {
				policies = append(policies, rm["Properties"].(map[string]any)["PolicyDocument"])
			}
		case "AWS::Events::Rule":
			rules = append(rules, rm["Properties"].(map[string]any))
		}
	}
	// One forwarding rule per ecs-events pattern, to the ecsflow bus.
	var forwarded int
	for _, r := range ecsevents.Rules() {
		if r.Function == ecsevents.FunctionECSEvents {
			forwarded++
		}
	}
	if len(rules) != forwarded {
		t.Fatalf("forwarding rules: got %d, want %d", len(rules), forwarded)
	}
	var sawECS bool
	for _, rule := range rules {
		rj, _ := json.Marshal(rule)
		for _, want := range []string{`":events:"`, `":111122223333:event-bus/default"`, `"DeadLetterConfig"`} {
			if !strings.Contains(string(rj), want) {
				t.Errorf("forwarding rule %s: want %s in it", rj, want)
			}
		}
		if strings.Contains(string(rj), `"aws.ecs"`) {
			sawECS = true
			if !strings.Contains(string(rj), `:service/prod/"`) {
				t.Errorf("ECS forwarding rule not narrowed to the clusters: %s", rj)
			}
		}
	}
	if !sawECS {
		t.Error("no ECS forwarding rule")
	}
	if role == nil {
		t.Fatal("no role")
	}
	if role["RoleName"] != ecsflow.DefaultTargetRoleName {
		t.Errorf("role name: got %v", role["RoleName"])
	}
	trust, _ := json.Marshal(role["AssumeRolePolicyDocument"])
	for _, want := range []string{`"sts:ExternalId":"s3cr3t-id"`, `:iam::111122223333:root`, `"sts:AssumeRole"`} {
		if !strings.Contains(string(trust), want) {
			t.Errorf("trust policy %s: want %s in it", trust, want)
		}
	}
	pol, _ := json.Marshal(policies)
	for _, want := range []string{`"ecs:UpdateService"`, `:service/prod/*`, `"iam:PassedToService":"ecs-tasks.amazonaws.com"`, `"elasticloadbalancing:ModifyListener"`} {
		if !strings.Contains(string(pol), want) {
			t.Errorf("target policy: want %s in it", want)
		}
	}
	for _, bad := range []string{`"Action":"*"`, `"dynamodb:`, `"states:`, `"sts:AssumeRole"`} {
		if strings.Contains(string(pol), bad) {
			t.Errorf("target policy contains %s: %s", bad, pol)
		}
	}
}

func TestTargetAccountStackErrors(t *testing.T) {
	tests := []struct {
		name  string
		props ecsflow.TargetAccountRoleProps
		want  error
	}{
		{"bad account", ecsflow.TargetAccountRoleProps{EcsflowAccount: "1234", ExternalID: "x", Clusters: []string{"a"}}, ecsflow.ErrBadEcsflowAccount},
		{"no external id", ecsflow.TargetAccountRoleProps{EcsflowAccount: "111122223333", Clusters: []string{"a"}}, ecsflow.ErrNoExternalID},
		{"no clusters", ecsflow.TargetAccountRoleProps{EcsflowAccount: "111122223333", ExternalID: "x"}, ecsflow.ErrNoClusters},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewTargetAccountStack(awscdk.NewApp(nil), "T", TargetStackProps{Role: tc.props})
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSynthErrors(t *testing.T) {
	// A clean app has none.
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	if _, err := NewTargetAccountStack(app, "Target", TargetStackProps{Role: ecsflow.TargetAccountRoleProps{
		EcsflowAccount: "111122223333", ExternalID: "x-1", Clusters: []string{"prod"},
	}}); err != nil {
		t.Fatal(err)
	}
	ecsflow.ApplyNag(app)
	if errs := synthErrors(app.Synth(nil)); len(errs) != 0 {
		t.Errorf("clean app: got %v", errs)
	}
	// An unencrypted queue without SSL is reported.
	bad := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(bad, jsii.String("Bad"), nil)
	awssqs.NewCfnQueue(stack, jsii.String("Plain"), &awssqs.CfnQueueProps{})
	ecsflow.ApplyNag(bad)
	errs := synthErrors(bad.Synth(nil))
	if len(errs) == 0 {
		t.Fatal("no errors for a plain queue")
	}
	for _, e := range errs {
		if !strings.Contains(e, "/Bad/Plain") || !strings.Contains(e, "AwsSolutions-SQS") {
			t.Errorf("unexpected error %s", e)
		}
	}
}
