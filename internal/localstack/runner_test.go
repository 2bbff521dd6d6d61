package localstack_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/internal/localstack"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/sfnlocal"
	"github.com/ecsflow/ecsflow/statemachines"
)

func start(t *testing.T, cfg localstack.Config) *localstack.Stack {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	s, err := localstack.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// TestDefinitionsSubstituteEveryPlaceholder: the shipped ASL files run
// locally with every ${...} replaced by a local function ARN, and they
// validate.
func TestDefinitionsSubstituteEveryPlaceholder(t *testing.T) {
	s := start(t, localstack.Config{})
	for _, d := range statemachines.All() {
		t.Run(d.Name, func(t *testing.T) {
			body, err := s.Definition(d.Name)
			if err != nil {
				t.Fatalf("Definition: %v", err)
			}
			if strings.Contains(body, "${") {
				t.Fatalf("placeholders left in %s", d.Name)
			}
			for _, p := range d.Placeholders {
				if strings.HasPrefix(p, "Step") && !strings.Contains(body, "arn:aws:lambda:us-east-1:123456789012:function:ecsflow-step-") {
					t.Fatalf("%s: ${%s} not replaced by a local step ARN", d.Name, p)
				}
			}
			if err := sfnlocal.Validate(body); err != nil {
				t.Fatalf("%s does not validate after substitution: %v", d.Name, err)
			}
		})
	}
	if _, err := s.Definition("no-such-machine"); err == nil {
		t.Fatal("Definition of an unknown machine: no error")
	}
	for _, st := range []model.StrategyType{model.StrategyRolling, model.StrategyDaemon} {
		if arn := s.StateMachineARN(st); !strings.HasSuffix(arn, ":stateMachine:ecsflow-"+strings.ToLower(string(st))) {
			t.Errorf("state machine of %s: %q", st, arn)
		}
	}
}

func TestFunctionARN(t *testing.T) {
	s := start(t, localstack.Config{Region: "eu-west-1", AccountID: "111122223333"})
	cases := []struct{ name, want string }{
		{"step-prepare", "arn:aws:lambda:eu-west-1:111122223333:function:ecsflow-step-prepare"},
		{"step-register-taskdef", "arn:aws:lambda:eu-west-1:111122223333:function:ecsflow-step-register-taskdef"},
		{"ecs-events", "arn:aws:lambda:eu-west-1:111122223333:function:ecsflow-ecs-events"},
	}
	for _, c := range cases {
		if got := s.FunctionARN(c.name); got != c.want {
			t.Errorf("FunctionARN(%q) = %q, want %q", c.name, got, c.want)
		}
	}
	body, err := s.Definition("rolling")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, "arn:aws:lambda:eu-west-1:111122223333:function:ecsflow-step-register-taskdef") {
		t.Fatal("rolling does not call the register step in the configured account and region")
	}
}

// TestOneEndpointServesAWS: the emulator endpoint answers the Step
// Functions and EventBridge APIs too, with the state machines and the
// ecs-events rules installed (the same patterns the CDK app uses).
func TestOneEndpointServesAWS(t *testing.T) {
	s := start(t, localstack.Config{})
	if !strings.HasPrefix(s.AWSURL(), "http://127.0.0.1:") {
		t.Fatalf("AWSURL %q, want loopback", s.AWSURL())
	}
	ctx := context.Background()
	cfg := s.AWSConfig()
	sms, err := sfn.NewFromConfig(cfg).ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if err != nil {
		t.Fatalf("ListStateMachines: %v", err)
	}
	var names []string
	for _, m := range sms.StateMachines {
		names = append(names, aws.ToString(m.Name))
	}
	for _, want := range []string{"ecsflow-rolling", "ecsflow-daemon"} {
		if !slices.Contains(names, want) {
			t.Errorf("state machines %v lack %s", names, want)
		}
	}
	rules, err := eventbridge.NewFromConfig(cfg).ListRules(ctx, &eventbridge.ListRulesInput{})
	if err != nil {
		t.Fatalf("ListRules: %v", err)
	}
	patterns := map[string]bool{}
	for _, r := range rules.Rules {
		patterns[aws.ToString(r.EventPattern)] = true
	}
	for _, r := range ecsevents.Rules() {
		if r.Function == ecsevents.FunctionECSEvents && !patterns[r.Pattern] {
			t.Errorf("rule %s (%s) is not installed with the shared pattern", r.Name, r.Pattern)
		}
	}
	env := strings.Join(s.Environment(), "\n")
	for _, want := range []string{"AWS_ENDPOINT_URL=" + s.AWSURL(), "AWS_ENDPOINT_URL_DYNAMODB=" + s.DynamoDBURL(), "ECSFLOW_API_URL=" + s.URL(), "AWS_REGION=us-east-1"} {
		if !strings.Contains(env, want) {
			t.Errorf("environment lacks %s:\n%s", want, env)
		}
	}
}

func TestStartRefusesNonLoopbackAWSListen(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:4566"} {
		if s, err := localstack.Start(context.Background(), localstack.Config{AWSListen: addr, Logger: quiet()}); err == nil {
			s.Close()
			t.Errorf("Start(AWSListen %q): no error, want a loopback-only refusal", addr)
		}
	}
	if s, err := localstack.Start(context.Background(), localstack.Config{ClockScale: -1, Logger: quiet()}); err == nil {
		s.Close()
		t.Error("Start with a negative clock scale: no error")
	}
}

func TestCloseTwice(t *testing.T) {
	s, err := localstack.Start(context.Background(), localstack.Config{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := http.Get(s.AWSURL()); err == nil {
		t.Error("the emulator still answers after Close")
	}
}

// TestDemoDeployment runs the deployment walk-through (after the entity
// demo, on the same stack) and checks what it reports.
func TestDemoDeployment(t *testing.T) {
	s := start(t, localstack.Config{ClockScale: 200})
	ctx := context.Background()
	if err := localstack.Demo(ctx, s.URL(), io.Discard); err != nil {
		t.Fatalf("Demo: %v", err)
	}
	var out strings.Builder
	if err := localstack.DemoDeployment(ctx, s, &out); err != nil {
		t.Fatalf("DemoDeployment: %v\n%s", err, out.String())
	}
	for _, want := range []string{"checkout:v1 -> SUCCEEDED", "checkout:v2 -> SUCCEEDED", "checkout:v3 -> ROLLED_BACK",
		"step ROLLBACK", "TASK_STOPPED", "SERVICE_DEPLOYMENT_COMPLETED", "state transitions", "every one behaved"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("walk-through output lacks %q:\n%s", want, out.String())
		}
	}
	// Run again on the same stack: the names are taken, so it must fail
	// (the cluster already exists is fine in ECS; the API refuses duplicates).
	if err := localstack.DemoDeployment(ctx, s, io.Discard); err == nil {
		t.Error("a second walk-through on the same data succeeded, want a duplicate failure")
	}
}
