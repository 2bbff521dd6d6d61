package ecsflow

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecsflow/ecsflow/internal/trigger"
	"github.com/ecsflow/ecsflow/statemachines"
)

// TestScheduleTickInput keeps the construct's input equal to the one
// internal/trigger decodes, and checks that a tick as Scheduler delivers it
// (the placeholder replaced by the scheduled time) is a tick for that time.
func TestScheduleTickInput(t *testing.T) {
	if ScheduleTickInput != trigger.ScheduleTickInput {
		t.Fatalf("ScheduleTickInput: got %s, want internal/trigger's %s", ScheduleTickInput, trigger.ScheduleTickInput)
	}
	const at = "2026-11-26T04:05:00Z"
	raw := strings.Replace(ScheduleTickInput, "<aws.scheduler.scheduled-time>", at, 1)
	got, ok, err := trigger.DecodeScheduleTick([]byte(raw))
	if !ok || err != nil {
		t.Fatalf("DecodeScheduleTick(%s): ok %v, err %v", raw, ok, err)
	}
	if want, _ := time.Parse(time.RFC3339, at); !got.Equal(want) {
		t.Errorf("tick time: got %v, want %v", got, want)
	}
	// Without the substitution it is a tick with a bad time, never a push.
	if _, ok, err := trigger.DecodeScheduleTick([]byte(ScheduleTickInput)); !ok || err == nil {
		t.Errorf("unsubstituted input: ok %v, err %v, want a malformed tick", ok, err)
	}
}

// TestScheduledTriggers checks the one Scheduler schedule: every minute, no
// flexible window, the tick input, a retry policy and a DLQ, and a role
// that may only invoke the trigger function and use that DLQ.
func TestScheduledTriggers(t *testing.T) {
	s := full(t)
	schedules := s.ofType("AWS::Scheduler::Schedule")
	if len(schedules) != 1 {
		t.Fatalf("schedules: got %d, want 1", len(schedules))
	}
	var sched resource
	for _, r := range schedules {
		sched = r
	}
	p := sched.Properties
	checks := []struct{ what, got, want string }{
		{"name", rendered(p["Name"]), "ecsflow-trigger-tick"},
		{"expression", rendered(p["ScheduleExpression"]), "rate(1 minute)"},
		{"flexible time window", rendered(p["FlexibleTimeWindow"]), `{"Mode":"OFF"}`},
		{"state", rendered(p["State"]), "ENABLED"},
	}
	tg, _ := p["Target"].(map[string]any)
	checks = append(checks,
		struct{ what, got, want string }{"input", rendered(tg["Input"]), trigger.ScheduleTickInput},
		struct{ what, got, want string }{"target", rendered(tg["Arn"]), "<" + s.logicalID(t, "AWS::Lambda::Function", "EcsflowTrigger") + ".Arn>"},
	)
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("schedule %s: got %s, want %s", c.what, c.got, c.want)
		}
	}
	rp, _ := tg["RetryPolicy"].(map[string]any)
	if rendered(rp["MaximumRetryAttempts"]) != "3" || rendered(rp["MaximumEventAgeInSeconds"]) != "600" {
		t.Errorf("retry policy: got %v", rp)
	}
	dl, _ := tg["DeadLetterConfig"].(map[string]any)
	dlq := rendered(dl["Arn"])
	if !strings.HasPrefix(dlq, "<EcsflowTriggerScheduleDlq") || !strings.HasSuffix(dlq, ".Arn>") {
		t.Fatalf("dead-letter queue: got %s", dlq)
	}
	dlqID := strings.TrimSuffix(strings.TrimPrefix(dlq, "<"), ".Arn>")
	if s.resources[dlqID].Type != "AWS::SQS::Queue" {
		t.Errorf("DLQ %s is a %s", dlqID, s.resources[dlqID].Type)
	}
	// The DLQ has a depth alarm.
	var alarmed bool
	for _, a := range s.ofType("AWS::CloudWatch::Alarm") {
		for _, d := range asList(a.Properties["Dimensions"]) {
			if strings.Contains(rendered(d), dlqID) {
				alarmed = true
			}
		}
	}
	if !alarmed {
		t.Errorf("no depth alarm on %s", dlqID)
	}

	// The role: trusted by Scheduler for this account only; may invoke the
	// trigger function and send to the DLQ, nothing more.
	roleRef := rendered(tg["RoleArn"])
	roleID := strings.TrimSuffix(strings.TrimPrefix(roleRef, "<"), ".Arn>")
	role, ok := s.resources[roleID]
	if !ok || role.Type != "AWS::IAM::Role" {
		t.Fatalf("schedule role %s: not a role", roleRef)
	}
	trust := stmtsOf(roleID, role.Properties["AssumeRolePolicyDocument"])
	if len(trust) != 1 || rendered(trust[0].Condition) != `{"StringEquals":{"aws:SourceAccount":{"Ref":"AWS::AccountId"}}}` {
		t.Errorf("trust: got %+v", trust)
	}
	if tr := rendered(role.Properties["AssumeRolePolicyDocument"]); !strings.Contains(tr, `"Service":"scheduler.amazonaws.com"`) {
		t.Errorf("trust principal: got %s", tr)
	}
	got := map[string]string{}
	for id, r := range s.ofType("AWS::IAM::Policy") {
		for _, ro := range asList(r.Properties["Roles"]) {
			if rendered(ro) != "<"+roleID+">" {
				continue
			}
			for _, st := range stmtsOf(id, r.Properties["PolicyDocument"]) {
				for _, a := range st.Actions {
					var res []string
					for _, x := range st.Resources {
						res = append(res, rendered(x))
					}
					got[a] = strings.Join(res, " ")
				}
			}
		}
	}
	want := map[string]string{
		"lambda:InvokeFunction": "<" + s.logicalID(t, "AWS::Lambda::Function", "EcsflowTrigger") + ".Arn>",
		"sqs:SendMessage":       dlq,
	}
	if rendered(got) != rendered(want) {
		t.Errorf("schedule role policy:\n got %v\nwant %v", got, want)
	}
}

// logicalID is the id of the one resource of typ whose id starts with prefix
// and continues with a hash (no other letters).
func (s *synthesized) logicalID(t *testing.T, typ, prefix string) string {
	t.Helper()
	var out []string
	for id := range s.ofType(typ) {
		rest, ok := strings.CutPrefix(id, prefix)
		if ok && len(rest) == 8 && strings.ToUpper(rest) == rest {
			out = append(out, id)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%s %s*: got %v", typ, prefix, out)
	}
	return out[0]
}

// TestScheduleOff: no schedule with DisableScheduledTriggers or without a
// trigger function.
func TestScheduleOff(t *testing.T) {
	tests := []struct {
		name    string
		folders []string
		off     bool
		want    int
	}{
		{"on", []string{"trigger"}, false, 1},
		{"disabled", []string{"trigger"}, true, 0},
		{"no trigger function", []string{"ecs-events"}, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			functions, build := fakeTree(t, tc.folders, true)
			app := awscdk.NewApp(nil)
			stack := awscdk.NewStack(app, jsii.String("S"), nil)
			e, err := New(stack, "Ecsflow", Props{FunctionsDir: functions, AssetRoot: build, Clusters: []string{"prod"},
				Definitions: []statemachines.Definition{}, DisableScheduledTriggers: tc.off})
			if err != nil {
				t.Fatal(err)
			}
			s := parse(t, stack, e)
			if n := len(s.ofType("AWS::Scheduler::Schedule")); n != tc.want {
				t.Errorf("schedules: got %d, want %d", n, tc.want)
			}
			if (e.Schedule != nil) != (tc.want == 1) {
				t.Errorf("Ecsflow.Schedule: got %v", e.Schedule)
			}
			for id := range s.resources {
				if strings.HasPrefix(id, "EcsflowTriggerSchedule") && tc.want == 0 {
					t.Errorf("schedule off, but %s exists", id)
				}
			}
		})
	}
}
