package ecsevents_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/internal/ecsevents/localrules"
	"github.com/ecsflow/ecsflow/internal/eventbus"
)

const alarmEvent = `{"version":"0","id":"a1","detail-type":"CloudWatch Alarm State Change","source":"aws.cloudwatch",` +
	`"account":"1","time":"2025-03-04T18:40:00Z","region":"us-west-2","resources":[],` +
	`"detail":{"alarmName":"web-5xx","state":{"value":"ALARM"},"previousState":{"value":"OK"}}}`

func TestPatternsCompileAndMatchTheSamples(t *testing.T) {
	events := map[string]json.RawMessage{
		"deployment":   sample(t, "ecs-deployment-state-change.json"),
		"action":       sample(t, "ecs-service-action.json"),
		"task":         sample(t, "ecs-task-state-change.json"),
		"ecr":          sample(t, "ecr-image-action.json"),
		"alarm":        json.RawMessage(alarmEvent),
		"alarm-ok":     withDetail(t, json.RawMessage(alarmEvent), map[string]any{"state": map[string]any{"value": "OK"}}),
		"task-pending": withDetail(t, sample(t, "ecs-task-state-change.json"), map[string]any{"lastStatus": "PENDING"}),
		"task-batch":   withDetail(t, sample(t, "ecs-task-state-change.json"), map[string]any{"group": "family:batch"}),
		"ecr-delete":   withDetail(t, sample(t, "ecr-image-action.json"), map[string]any{"action-type": "DELETE"}),
		"ecr-failed":   withDetail(t, sample(t, "ecr-image-action.json"), map[string]any{"result": "FAILURE"}),
	}
	want := map[string]string{ // event -> the one rule that matches it ("" none)
		"deployment": "ecs-deployment-state", "action": "ecs-service-action", "task": "ecs-task-state",
		"ecr": "ecr-push", "alarm": "alarm-state", "alarm-ok": "", "task-pending": "", "task-batch": "",
		"ecr-delete": "", "ecr-failed": "",
	}
	rules := ecsevents.Rules()
	if len(rules) != 5 {
		t.Fatalf("%d rules, want 5", len(rules))
	}
	for _, r := range rules {
		p, err := eventbus.Compile([]byte(r.Pattern))
		if err != nil {
			t.Fatalf("rule %s: pattern does not compile: %v", r.Name, err)
		}
		if r.Function != ecsevents.FunctionECSEvents && r.Function != ecsevents.FunctionTrigger {
			t.Errorf("rule %s targets %q", r.Name, r.Function)
		}
		for name, ev := range events {
			if got, w := p.Match(ev), want[name] == r.Name; got != w {
				t.Errorf("rule %s on %s: match = %v, want %v", r.Name, name, got, w)
			}
		}
	}
}

func TestInstallOnTheLocalBus(t *testing.T) {
	bus := eventbus.New(eventbus.Options{RetryAttempts: -1})
	defer bus.Close()
	const fn = "arn:aws:lambda:us-east-1:123456789012:function:ecsflow-ecs-events"
	got := make(chan string, 10)
	bus.RegisterLambda(fn, func(_ context.Context, ev json.RawMessage) error {
		var e ecsevents.Envelope
		_ = json.Unmarshal(ev, &e)
		got <- e.DetailType
		return nil
	})
	err := localrules.Install(bus, func(f string) string {
		if f == ecsevents.FunctionECSEvents {
			return fn
		}
		return ""
	})
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	if n := len(bus.ListRules("ecsflow-", "")); n != 4 {
		t.Errorf("%d rules installed, want 4 (no trigger function)", n)
	}
	ctx := context.Background()
	for _, n := range []string{"ecs-service-action.json", "ecr-image-action.json"} {
		if _, err := bus.PutEnvelope(ctx, sample(t, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	close(got)
	var types []string
	for d := range got {
		types = append(types, d)
	}
	if len(types) != 1 || types[0] != "ECS Service Action" {
		t.Errorf("delivered %v, want only the service action", types)
	}
}
