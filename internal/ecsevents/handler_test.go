package ecsevents_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

var sampleNow = time.Date(2025, 3, 4, 18, 0, 0, 0, time.UTC)

type fixture struct {
	st   *store.Store
	rec  *recorder
	h    *ecsevents.Handler
	logs *bytes.Buffer
	deps []string
}

func newFixture(t *testing.T, deployments int) *fixture {
	t.Helper()
	st := newStore(t, func() time.Time { return sampleNow })
	f := &fixture{st: st, rec: &recorder{fail: map[string]error{}}, logs: &bytes.Buffer{}}
	f.deps = seedDeployment(t, st, deployments)
	f.h = ecsevents.New(st, f.rec, ecsevents.WithLogger(slog.New(slog.NewTextHandler(f.logs, nil))),
		ecsevents.WithClock(func() time.Time { return sampleNow }))
	return f
}

func (f *fixture) wait(t *testing.T, w store.Wait) store.Wait {
	t.Helper()
	if w.Expires.IsZero() {
		w.Expires = sampleNow.Add(time.Hour)
	}
	if err := f.st.PutWait(context.Background(), w); err != nil {
		t.Fatalf("PutWait: %v", err)
	}
	return w
}

// waits are the deployment's waits other than WATCH ones.
func (f *fixture) waits(t *testing.T, dep string) []store.Wait {
	t.Helper()
	ws, err := f.st.WaitsForDeployment(context.Background(), dep)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Wait
	for _, w := range ws {
		if w.Kind != store.WaitWatch {
			out = append(out, w)
		}
	}
	return out
}

func (f *fixture) watching(t *testing.T, dep string) bool {
	t.Helper()
	ws, err := f.st.WaitsForDeployment(context.Background(), dep)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if w.Kind == store.WaitWatch && w.Token == store.WatchToken(dep) && w.Service == "web" && w.Cluster == "prod" &&
			w.Expires.After(sampleNow) && w.Expires.Before(sampleNow.Add(time.Hour)) {
			return true
		}
	}
	return false
}

// withDetail rewrites a field of a sample event's detail.
func withDetail(t *testing.T, raw json.RawMessage, set map[string]any) json.RawMessage {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	d := ev["detail"].(map[string]any)
	for k, v := range set {
		d[k] = v
	}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSteadyWaitOutcomes(t *testing.T) {
	cases := []struct {
		name       string
		event      func(t *testing.T) json.RawMessage
		wantOp     string
		wantErr    string
		wantCause  string
		wantOutput string
		wantGone   bool
		wantLedger string
		wantKind   string
	}{
		{"deployment failed", func(t *testing.T) json.RawMessage { return sample(t, "ecs-deployment-state-change.json") },
			"failure", "NotStable", "tasks failed to start", "", true,
			"SERVICE_DEPLOYMENT_FAILED prod/web (ecs-svc/4632812371294612832): ECS deployment circuit breaker: tasks failed to start.", model.LedgerECSEvent},
		{"deployment completed", func(t *testing.T) json.RawMessage {
			return withDetail(t, sample(t, "ecs-deployment-state-change.json"), map[string]any{
				"eventType": "INFO", "eventName": "SERVICE_DEPLOYMENT_COMPLETED", "reason": "ECS deployment ecs-svc/4632812371294612832 completed."})
		}, "success", "", "", `"event":"SERVICE_DEPLOYMENT_COMPLETED"`, true, "SERVICE_DEPLOYMENT_COMPLETED prod/web", model.LedgerECSEvent},
		{"steady state", func(t *testing.T) json.RawMessage { return sample(t, "ecs-service-action.json") },
			"success", "", "", `"steady":true`, true, "SERVICE_STEADY_STATE prod/web", model.LedgerECSEvent},
		{"task start impaired", func(t *testing.T) json.RawMessage {
			return withDetail(t, sample(t, "ecs-service-action.json"), map[string]any{"eventType": "WARN", "eventName": "SERVICE_TASK_START_IMPAIRED"})
		}, "failure", "NotStable", "unable to consistently start tasks", "", true, "SERVICE_TASK_START_IMPAIRED prod/web", model.LedgerECSEvent},
		{"deployment in progress", func(t *testing.T) json.RawMessage {
			return withDetail(t, sample(t, "ecs-deployment-state-change.json"), map[string]any{"eventType": "INFO", "eventName": "SERVICE_DEPLOYMENT_IN_PROGRESS", "reason": ""})
		}, "heartbeat", "", "", "", false, "SERVICE_DEPLOYMENT_IN_PROGRESS prod/web (ecs-svc/4632812371294612832)", model.LedgerECSEvent},
		{"task stopped", func(t *testing.T) json.RawMessage { return sample(t, "ecs-task-state-change.json") },
			"heartbeat", "", "", "", false,
			"task 8f3e1bd2a41c4e4f9a0c4a1e6b2d7c55 of prod/web (web:42) stopped: Essential container in task exited [EssentialContainerExited]; container web exit code 1",
			model.LedgerTaskStopped},
		{"task running", func(t *testing.T) json.RawMessage {
			return withDetail(t, sample(t, "ecs-task-state-change.json"), map[string]any{"lastStatus": "RUNNING", "desiredStatus": "RUNNING"})
		}, "heartbeat", "", "", "", false, "task 8f3e1bd2a41c4e4f9a0c4a1e6b2d7c55 of prod/web (web:42) RUNNING", model.LedgerECSEvent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 1)
			dep := f.deps[0]
			w := f.wait(t, store.Wait{Token: "tok-1", DeploymentID: dep, Kind: store.WaitSteady,
				Cluster: "arn:aws:ecs:us-west-2:111122223333:cluster/prod", Service: "web"})
			if err := f.h.Handle(context.Background(), tc.event(t)); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			calls := f.rec.Calls()
			if len(calls) != 1 || calls[0].op != tc.wantOp || calls[0].token != w.Token {
				t.Fatalf("calls = %+v, want one %s for %s", calls, tc.wantOp, w.Token)
			}
			c := calls[0]
			if c.errName != tc.wantErr || !strings.Contains(c.cause, tc.wantCause) || !strings.Contains(c.output, tc.wantOutput) {
				t.Errorf("call = %+v, want error %q, cause with %q, output with %q", c, tc.wantErr, tc.wantCause, tc.wantOutput)
			}
			if c.op == "success" && !json.Valid([]byte(c.output)) {
				t.Errorf("output %q is not JSON", c.output)
			}
			if gone := len(f.waits(t, dep)) == 0; gone != tc.wantGone {
				t.Errorf("wait deleted = %v, want %v", gone, tc.wantGone)
			}
			if watching := f.watching(t, dep); watching != tc.wantGone {
				t.Errorf("watching after the wait = %v, want %v", watching, tc.wantGone)
			}
			l := ledger(t, f.st, dep)
			if len(l) != 1 || l[0].Kind != tc.wantKind || !strings.HasPrefix(l[0].Message, tc.wantLedger) {
				t.Fatalf("ledger = %+v, want one %s entry starting %q", l, tc.wantKind, tc.wantLedger)
			}
			if l[0].At.Before(time.Date(2025, 3, 4, 18, 0, 0, 0, time.UTC)) || !json.Valid(l[0].Data) {
				t.Errorf("entry at %v data %s: want the event's time and JSON data", l[0].At, l[0].Data)
			}
		})
	}
}

func TestStoppedTaskLedgerData(t *testing.T) {
	f := newFixture(t, 1)
	f.wait(t, store.Wait{Token: "tok", DeploymentID: f.deps[0], Kind: store.WaitSteady, Cluster: "prod", Service: "web"})
	if err := f.h.Handle(context.Background(), sample(t, "ecs-task-state-change.json")); err != nil {
		t.Fatal(err)
	}
	l := ledger(t, f.st, f.deps[0])
	if len(l) != 1 {
		t.Fatalf("ledger has %d entries, want 1", len(l))
	}
	var data struct {
		StoppedReason string `json:"stoppedReason"`
		StopCode      string `json:"stopCode"`
		TaskDef       string `json:"taskDefinitionArn"`
		Containers    []struct {
			Name     string `json:"name"`
			ExitCode *int   `json:"exitCode"`
		} `json:"containers"`
	}
	if err := json.Unmarshal(l[0].Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.StoppedReason != "Essential container in task exited" || data.StopCode != "EssentialContainerExited" ||
		len(data.Containers) != 1 || data.Containers[0].ExitCode == nil || *data.Containers[0].ExitCode != 1 ||
		data.TaskDef != "arn:aws:ecs:us-west-2:111122223333:task-definition/web:42" {
		t.Errorf("data = %+v (%s)", data, l[0].Data)
	}
	if want := time.Date(2025, 3, 4, 18, 22, 41, 377e6, time.UTC); !l[0].At.Equal(want) {
		t.Errorf("At = %v, want stoppedAt %v", l[0].At, want)
	}
}

func TestOnlySteadyWaitsAreCompletedButVerifyDeploymentsGetTheLedger(t *testing.T) {
	f := newFixture(t, 3)
	steady := f.wait(t, store.Wait{Token: "tok-steady", DeploymentID: f.deps[0], Kind: store.WaitSteady, Cluster: "prod", Service: "web"})
	f.wait(t, store.Wait{Token: "tok-verify", DeploymentID: f.deps[1], Kind: store.WaitVerify, Cluster: "prod", Service: "web", Alarms: []string{"a"}})
	f.wait(t, store.Wait{Token: "tok-lease", DeploymentID: f.deps[2], Kind: store.WaitLease, Cluster: "prod", Service: "web"})
	if err := f.h.Handle(context.Background(), sample(t, "ecs-service-action.json")); err != nil {
		t.Fatal(err)
	}
	if calls := f.rec.Calls(); len(calls) != 1 || calls[0].token != steady.Token || calls[0].op != "success" {
		t.Fatalf("calls = %+v, want only the steady wait resumed", calls)
	}
	for i, want := range []int{1, 1, 0} {
		if got := len(ledger(t, f.st, f.deps[i])); got != want {
			t.Errorf("deployment %d has %d ledger entries, want %d", i, got, want)
		}
	}
	if len(f.waits(t, f.deps[1])) != 1 || len(f.waits(t, f.deps[2])) != 1 {
		t.Errorf("verify and lease waits must stay")
	}
}

func TestAlarmFailsVerifyWaits(t *testing.T) {
	f := newFixture(t, 2)
	f.wait(t, store.Wait{Token: "tok-verify", DeploymentID: f.deps[0], Kind: store.WaitVerify, Cluster: "prod", Service: "web",
		Alarms: []string{"web-5xx", "web-p99"}})
	f.wait(t, store.Wait{Token: "tok-other", DeploymentID: f.deps[1], Kind: store.WaitVerify, Cluster: "prod", Service: "api",
		Alarms: []string{"api-5xx"}})
	ev := func(name, state string) json.RawMessage {
		return json.RawMessage(`{"version":"0","id":"ev-` + name + `","detail-type":"CloudWatch Alarm State Change","source":"aws.cloudwatch",` +
			`"account":"111122223333","time":"2025-03-04T18:40:00Z","region":"us-west-2","resources":["arn:aws:cloudwatch:us-west-2:111122223333:alarm:` + name + `"],` +
			`"detail":{"alarmName":"` + name + `","state":{"value":"` + state + `","reason":"Threshold Crossed: 1 datapoint [12.0] was greater than 5.0","timestamp":"2025-03-04T18:40:00.000+0000"},` +
			`"previousState":{"value":"OK"},"configuration":{}}}`)
	}
	ctx := context.Background()
	if err := f.h.Handle(ctx, ev("web-p99", "OK")); err != nil {
		t.Fatal(err)
	}
	if calls := f.rec.Calls(); len(calls) != 0 {
		t.Fatalf("an OK state made calls %+v", calls)
	}
	if err := f.h.Handle(ctx, ev("web-p99", "ALARM")); err != nil {
		t.Fatal(err)
	}
	calls := f.rec.Calls()
	if len(calls) != 1 || calls[0].token != "tok-verify" || calls[0].errName != "VerificationFailed" ||
		!strings.Contains(calls[0].cause, "alarm web-p99 entered ALARM") || !strings.Contains(calls[0].cause, "Threshold Crossed") {
		t.Fatalf("calls = %+v, want VerificationFailed for tok-verify naming the alarm and reason", calls)
	}
	if len(f.waits(t, f.deps[0])) != 0 {
		t.Error("failed verify wait not deleted")
	}
	if ws, _ := f.st.WaitsForAlarm(ctx, "web-5xx"); len(ws) != 0 {
		t.Error("alarm links of the deleted wait remain")
	}
	l := ledger(t, f.st, f.deps[0])
	if len(l) != 1 || l[0].Kind != model.LedgerNote || !strings.Contains(l[0].Message, "web-p99 entered ALARM (was OK)") {
		t.Errorf("ledger = %+v", l)
	}
	if len(ledger(t, f.st, f.deps[1])) != 0 || len(f.waits(t, f.deps[1])) != 1 {
		t.Error("the other deployment was touched")
	}
}

func TestSpentTokensAreCleanedUp(t *testing.T) {
	for _, op := range []string{"success", "heartbeat"} {
		t.Run(op, func(t *testing.T) {
			f := newFixture(t, 1)
			f.rec.fail[op] = errSpent
			f.wait(t, store.Wait{Token: "tok", DeploymentID: f.deps[0], Kind: store.WaitSteady, Cluster: "prod", Service: "web"})
			raw := sample(t, "ecs-service-action.json")
			if op == "heartbeat" {
				raw = sample(t, "ecs-task-state-change.json")
			}
			if err := f.h.Handle(context.Background(), raw); err != nil {
				t.Fatalf("Handle = %v, want nil for a spent token", err)
			}
			if len(f.waits(t, f.deps[0])) != 0 {
				t.Error("wait with a spent token not deleted")
			}
		})
	}
}

func TestCompleterFailureIsRetried(t *testing.T) {
	f := newFixture(t, 1)
	f.rec.fail["success"] = errThrottle
	f.wait(t, store.Wait{Token: "tok", DeploymentID: f.deps[0], Kind: store.WaitSteady, Cluster: "prod", Service: "web"})
	err := f.h.Handle(context.Background(), sample(t, "ecs-service-action.json"))
	if !errors.Is(err, errThrottle) {
		t.Fatalf("Handle = %v, want the throttling error (EventBridge retries)", err)
	}
	if len(f.waits(t, f.deps[0])) != 1 {
		t.Error("wait deleted although the token was not completed")
	}
	// The retry succeeds.
	delete(f.rec.fail, "success")
	if err := f.h.Handle(context.Background(), sample(t, "ecs-service-action.json")); err != nil {
		t.Fatal(err)
	}
	if len(f.waits(t, f.deps[0])) != 0 {
		t.Error("wait not deleted after the retry")
	}
}

func TestBadEventsAreAcknowledged(t *testing.T) {
	f := newFixture(t, 1)
	f.wait(t, store.Wait{Token: "tok", DeploymentID: f.deps[0], Kind: store.WaitSteady, Cluster: "prod", Service: "web"})
	cases := map[string]string{
		"not json":            `{"id":`,
		"unknown detail type": `{"id":"ev-unknown","source":"aws.ecs","detail-type":"ECS Container Instance State Change","detail":{}}`,
		"unknown source":      `{"id":"ev-src","source":"aws.s3","detail-type":"Object Created","detail":{}}`,
		"detail not object":   `{"id":"ev-str","source":"aws.ecs","detail-type":"ECS Service Action","detail":"x"}`,
		"no service arn":      `{"id":"ev-nores","source":"aws.ecs","detail-type":"ECS Service Action","resources":["arn:aws:ecs:us-west-2:1:cluster/prod"],"detail":{"eventName":"SERVICE_STEADY_STATE"}}`,
		"no event name":       `{"id":"ev-noname","source":"aws.ecs","detail-type":"ECS Deployment State Change","resources":["arn:aws:ecs:us-west-2:1:service/prod/web"],"detail":{}}`,
		"wrong field type":    `{"id":"ev-type","source":"aws.ecs","detail-type":"ECS Task State Change","detail":{"group":7}}`,
		"alarm without name":  `{"id":"ev-alarm","source":"aws.cloudwatch","detail-type":"CloudWatch Alarm State Change","detail":{"state":{"value":"ALARM"}}}`,
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			f.logs.Reset()
			if err := f.h.Handle(context.Background(), json.RawMessage(raw)); err != nil {
				t.Fatalf("Handle = %v, want nil (acknowledged)", err)
			}
			if !strings.Contains(f.logs.String(), "acknowledged") {
				t.Errorf("log %q does not say the event was acknowledged", f.logs.String())
			}
			if name != "not json" && !strings.Contains(f.logs.String(), "event_id=ev-") {
				t.Errorf("log %q does not name the event id", f.logs.String())
			}
		})
	}
	if calls := f.rec.Calls(); len(calls) != 0 {
		t.Errorf("bad events made calls %+v", calls)
	}
	if len(ledger(t, f.st, f.deps[0])) != 0 {
		t.Error("bad events reached the ledger")
	}
	// A task that is not a service's (no "service:" group) is ignored quietly.
	f.logs.Reset()
	if err := f.h.Handle(context.Background(), withDetail(t, sample(t, "ecs-task-state-change.json"), map[string]any{"group": "family:batch"})); err != nil {
		t.Fatal(err)
	}
	if len(f.rec.Calls()) != 0 {
		t.Error("a standalone task made calls")
	}
}

func TestEventsForUnwatchedServicesDoNothing(t *testing.T) {
	f := newFixture(t, 1)
	f.wait(t, store.Wait{Token: "tok", DeploymentID: f.deps[0], Kind: store.WaitSteady, Cluster: "staging", Service: "web"})
	for _, n := range []string{"ecs-service-action.json", "ecs-deployment-state-change.json", "ecs-task-state-change.json"} {
		if err := f.h.Handle(context.Background(), sample(t, n)); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.rec.Calls()) != 0 || len(ledger(t, f.st, f.deps[0])) != 0 {
		t.Errorf("events of prod/web touched a wait on staging/web: calls %+v", f.rec.Calls())
	}
}

func TestWatchKeepsTheLedgerUntilAnotherDeploymentWaits(t *testing.T) {
	f := newFixture(t, 2)
	ctx := context.Background()
	first, second := f.deps[0], f.deps[1]
	f.wait(t, store.Wait{Token: "tok-1", DeploymentID: first, Kind: store.WaitSteady, Cluster: "prod", Service: "web"})
	// The deployment fails; the stopped task that caused it comes after.
	if err := f.h.Handle(ctx, sample(t, "ecs-deployment-state-change.json")); err != nil {
		t.Fatal(err)
	}
	if err := f.h.Handle(ctx, sample(t, "ecs-task-state-change.json")); err != nil {
		t.Fatal(err)
	}
	l := ledger(t, f.st, first) // ordered by event time: the sample task stopped before the failure
	if len(l) != 2 || l[0].Kind != model.LedgerTaskStopped || !strings.HasPrefix(l[1].Message, "SERVICE_DEPLOYMENT_FAILED") {
		t.Fatalf("ledger of the failed deployment = %+v, want the stopped task and the failure", l)
	}
	if n := len(f.rec.Calls()); n != 1 {
		t.Errorf("%d completer calls, want 1 (a watch completes nothing)", n)
	}
	// Another deployment now waits on the service: the first one's watch ends.
	f.wait(t, store.Wait{Token: "tok-2", DeploymentID: second, Kind: store.WaitSteady, Cluster: "prod", Service: "web"})
	if err := f.h.Handle(ctx, sample(t, "ecs-task-state-change.json")); err != nil {
		t.Fatal(err)
	}
	if got := len(ledger(t, f.st, first)); got != 2 {
		t.Errorf("the superseded deployment got %d ledger entries, want still 2", got)
	}
	if got := len(ledger(t, f.st, second)); got != 1 {
		t.Errorf("the waiting deployment got %d ledger entries, want 1", got)
	}
	if f.watching(t, first) {
		t.Error("the superseded watch was not removed")
	}
}

func TestWatchCanBeTurnedOff(t *testing.T) {
	f := newFixture(t, 1)
	f.h = ecsevents.New(f.st, f.rec, ecsevents.WithLogger(discard), ecsevents.WithWatch(0))
	f.wait(t, store.Wait{Token: "tok", DeploymentID: f.deps[0], Kind: store.WaitSteady, Cluster: "prod", Service: "web"})
	if err := f.h.Handle(context.Background(), sample(t, "ecs-service-action.json")); err != nil {
		t.Fatal(err)
	}
	if ws, _ := f.st.WaitsForDeployment(context.Background(), f.deps[0]); len(ws) != 0 {
		t.Errorf("waits left with the watch off: %+v", ws)
	}
}

func TestSteadyStateFromBeforeTheWaitIsProgress(t *testing.T) {
	f := newFixture(t, 1)
	// The wait was made after the sample's SERVICE_STEADY_STATE (18:31:12).
	f.wait(t, store.Wait{Token: "tok", DeploymentID: f.deps[0], Kind: store.WaitSteady, Cluster: "prod", Service: "web",
		Created: time.Date(2025, 3, 4, 18, 40, 0, 0, time.UTC)})
	if err := f.h.Handle(context.Background(), sample(t, "ecs-service-action.json")); err != nil {
		t.Fatal(err)
	}
	if calls := f.rec.Calls(); len(calls) != 1 || calls[0].op != "heartbeat" {
		t.Fatalf("calls = %+v, want a heartbeat only", calls)
	}
	if len(f.waits(t, f.deps[0])) != 1 {
		t.Error("the wait must stay")
	}
	// A deployment event of the same age still completes it: those are
	// sent once, for one ECS deployment.
	ev := withDetail(t, sample(t, "ecs-deployment-state-change.json"), map[string]any{
		"eventType": "INFO", "eventName": "SERVICE_DEPLOYMENT_COMPLETED", "reason": ""})
	if err := f.h.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if calls := f.rec.Calls(); len(calls) != 2 || calls[1].op != "success" {
		t.Fatalf("calls = %+v, want the success", calls)
	}
}

// A task of the service under verification that stops because its
// essential container exited fails the verification, alarm or not; a task
// that ECS stopped for its own reasons (scaling in) does not.
func TestCrashingTaskFailsVerifyWait(t *testing.T) {
	f := newFixture(t, 1)
	f.wait(t, store.Wait{Token: "tok-verify", DeploymentID: f.deps[0], Kind: store.WaitVerify, Cluster: "prod", Service: "web"})
	ctx := context.Background()
	raw := sample(t, "ecs-task-state-change.json")
	scaledIn := json.RawMessage(strings.Replace(string(raw), `"EssentialContainerExited"`, `"ServiceSchedulerInitiated"`, 1))
	if err := f.h.Handle(ctx, scaledIn); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.rec.Calls() {
		if c.op == "failure" {
			t.Fatalf("a scheduler-stopped task failed the verification: %+v", c)
		}
	}
	if err := f.h.Handle(ctx, raw); err != nil {
		t.Fatal(err)
	}
	var failed bool
	for _, c := range f.rec.Calls() {
		if c.op == "failure" && c.token == "tok-verify" && c.errName == "VerificationFailed" && strings.Contains(c.cause, "EssentialContainerExited") {
			failed = true
		}
	}
	if !failed {
		t.Fatalf("calls = %+v, want VerificationFailed for tok-verify naming the stop code", f.rec.Calls())
	}
	if len(f.waits(t, f.deps[0])) != 0 {
		t.Error("failed verify wait not deleted")
	}
}

// A rollback's steady wait is for its own ECS deployment: the circuit
// breaker failing the deployment being rolled back, delivered after the
// rollback started, is progress for it (the wait stays and the event reaches
// the ledger); only its own deployment's outcome completes or fails it.
func TestSteadyWaitForOneECSDeploymentIgnoresOthersOutcomes(t *testing.T) {
	const (
		rolledBack = "ecs-svc/4632812371294612832" // the sample's deployment
		rollback   = "ecs-svc/9000000000000000001"
	)
	failedEv := func(t *testing.T, id string) json.RawMessage {
		return withDetail(t, sample(t, "ecs-deployment-state-change.json"), map[string]any{"deploymentId": id})
	}
	completedEv := func(t *testing.T, id string) json.RawMessage {
		return withDetail(t, sample(t, "ecs-deployment-state-change.json"), map[string]any{
			"eventType": "INFO", "eventName": "SERVICE_DEPLOYMENT_COMPLETED", "reason": "", "deploymentId": id})
	}
	cases := []struct {
		name   string
		events []func(t *testing.T) json.RawMessage
		wantOp []string // the ops sent, in order
		stays  bool
	}{
		{"other's failure then own completion",
			[]func(t *testing.T) json.RawMessage{
				func(t *testing.T) json.RawMessage { return failedEv(t, rolledBack) },
				func(t *testing.T) json.RawMessage { return completedEv(t, rollback) }},
			[]string{"heartbeat", "success"}, false},
		{"other's completion is not success",
			[]func(t *testing.T) json.RawMessage{func(t *testing.T) json.RawMessage { return completedEv(t, rolledBack) }},
			[]string{"heartbeat"}, true},
		{"own failure fails",
			[]func(t *testing.T) json.RawMessage{func(t *testing.T) json.RawMessage { return failedEv(t, rollback) }},
			[]string{"failure"}, false},
		{"impaired service fails whatever the deployment",
			[]func(t *testing.T) json.RawMessage{func(t *testing.T) json.RawMessage {
				return withDetail(t, sample(t, "ecs-service-action.json"), map[string]any{"eventType": "WARN", "eventName": "SERVICE_TASK_START_IMPAIRED"})
			}},
			[]string{"failure"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 1)
			dep := f.deps[0]
			f.wait(t, store.Wait{Token: "tok-rb", DeploymentID: dep, Kind: store.WaitSteady, Cluster: "prod", Service: "web",
				ECSDeployment: rollback})
			for _, ev := range tc.events {
				if err := f.h.Handle(context.Background(), ev(t)); err != nil {
					t.Fatalf("Handle: %v", err)
				}
			}
			var got []string
			for _, c := range f.rec.Calls() {
				got = append(got, c.op)
			}
			if strings.Join(got, ",") != strings.Join(tc.wantOp, ",") {
				t.Fatalf("ops = %v, want %v", got, tc.wantOp)
			}
			if stays := len(f.waits(t, dep)) == 1; stays != tc.stays {
				t.Errorf("wait still there = %v, want %v", stays, tc.stays)
			}
			if l := ledger(t, f.st, dep); len(l) != len(tc.events) {
				t.Errorf("ledger has %d entries, want %d (every event)", len(l), len(tc.events))
			}
		})
	}
}
