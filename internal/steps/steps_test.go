package steps_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/steps"
	"github.com/ecsflow/ecsflow/internal/store"
)

// recorder is a hand-written TaskCompleter that records what it is told.
type recorder struct {
	mu        sync.Mutex
	successes map[string]string
	failures  map[string]string
}

func newRecorder() *recorder {
	return &recorder{successes: map[string]string{}, failures: map[string]string{}}
}

func (r *recorder) SendTaskSuccess(_ context.Context, token, output string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.successes[token] = output
	return nil
}

func (r *recorder) SendTaskFailure(_ context.Context, token, errName, cause string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures[token] = errName + ": " + cause
	return nil
}

func (r *recorder) SendTaskHeartbeat(context.Context, string) error { return nil }

var _ steps.TaskCompleter = (*recorder)(nil)

// direct is an engine on env's store and emulator whose tokens go to a recorder.
func direct(t *testing.T, e *env) (*steps.Engine, *recorder) {
	t.Helper()
	rec := newRecorder()
	eng, err := steps.New(steps.Config{Store: e.st, AWS: e.w.Factory, Tasks: rec, Now: e.w.Clock.Now, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	return eng, rec
}

func TestStepsAreIdempotentWhenRetried(t *testing.T) {
	e := newEnv(t, envOptions{})
	eng, rec := direct(t, e)
	ctx := context.Background()
	d := e.deployment(t, "v1")
	ref := steps.Ref{DeploymentID: d.ID}

	for i := 0; i < 2; i++ {
		st, err := eng.Prepare(ctx, steps.PrepareInput{Ref: ref})
		if err != nil || !st.Acquired {
			t.Fatalf("prepare #%d: %+v, %v", i+1, st, err)
		}
	}
	r1, err := eng.RegisterTaskDefinition(ctx, steps.RegisterInput{Ref: ref})
	if err != nil || !r1.Registered {
		t.Fatalf("register: %+v, %v", r1, err)
	}
	r2, err := eng.RegisterTaskDefinition(ctx, steps.RegisterInput{Ref: ref})
	if err != nil || r2.Registered || r2.TaskDefinitionARN != r1.TaskDefinitionARN {
		t.Fatalf("retried register: %+v, %v; want the same revision, not registered again", r2, err)
	}
	u1, err := eng.UpdateService(ctx, steps.UpdateInput{Ref: ref, Index: 1})
	if err != nil || !u1.Created {
		t.Fatalf("update: %+v, %v", u1, err)
	}
	u2, err := eng.UpdateService(ctx, steps.UpdateInput{Ref: ref, Index: 1})
	if err != nil || u2.Created || u2.Updated {
		t.Fatalf("retried update: %+v, %v; want nothing done", u2, err)
	}
	got := e.get(t, d.ID)
	if n := got.Usage.APICalls["ecs:CreateService"]; n != 1 {
		t.Fatalf("CreateService called %d times, want 1", n)
	}
	if got.Status != model.StatusRunning || got.StartedAt == nil {
		t.Fatalf("status %s, want RUNNING with a start time", got.Status)
	}

	// Wait for the rollout, then a wait entered now completes itself.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := eng.CheckSteady(ctx, steps.CheckSteadyInput{Ref: ref, Index: 2})
		if err != nil {
			t.Fatal(err)
		}
		if st.State == "STEADY" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never steady: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := eng.WaitSteady(ctx, steps.WaitSteadyInput{Ref: ref, Index: 2, Token: "tok-steady"}); err != nil {
		t.Fatal(err)
	}
	if out, ok := rec.successes["tok-steady"]; !ok || !strings.Contains(out, "STEADY") {
		t.Fatalf("the wait did not complete itself on a steady service: %v", rec.successes)
	}
	ws, _ := e.st.WaitsForDeployment(ctx, d.ID)
	watching := false
	for _, w := range ws {
		if w.Kind == store.WaitSteady {
			t.Fatalf("the completed STEADY wait was kept: %+v", w)
		}
		watching = watching || (w.Kind == store.WaitWatch && w.Token == store.WatchToken(d.ID) && w.Service != "")
	}
	if !watching {
		// ECS's events of the settled rollout still reach the ledger.
		t.Fatalf("no WATCH left on the service after the wait completed itself: %+v", ws)
	}

	// Finish twice: the second records nothing new and still succeeds.
	for i := 0; i < 2; i++ {
		if _, err := eng.Finish(ctx, steps.FinishInput{Ref: ref, Outcome: steps.Outcome{Result: "SUCCEEDED"}}); err != nil {
			t.Fatalf("finish #%d: %v", i+1, err)
		}
	}
	got = e.get(t, d.ID)
	if got.Status != model.StatusSucceeded {
		t.Fatalf("status %s, want SUCCEEDED", got.Status)
	}
	checkReleased(t, e, got)
}

func TestHandlersReportStableErrorNames(t *testing.T) {
	e := newEnv(t, envOptions{})
	eng, _ := direct(t, e)
	ctx := context.Background()
	for _, tc := range []struct {
		fn, payload, want string
	}{
		{steps.FnNext, `{"deploymentId":"nope"}`, steps.ErrInvalid},
		{steps.FnNext, `{"deploymentId":`, steps.ErrInvalid},
		{steps.FnNext, `{"deploymentId":"dep-00000000000000000000000000000000"}`, steps.ErrInvalid},
		{steps.FnFinish, `{"deploymentId":"dep-00000000000000000000000000000000","outcome":{"result":"MAYBE"}}`, steps.ErrInvalid},
		{steps.FnWaitSteady, `{"deploymentId":"dep-00000000000000000000000000000000"}`, steps.ErrInvalid},
	} {
		h, err := eng.Handler(tc.fn)
		if err != nil {
			t.Fatal(err)
		}
		_, err = h(ctx, json.RawMessage(tc.payload))
		if steps.ErrorName(err) != tc.want {
			t.Errorf("%s(%s): err %v (%s), want %s", tc.fn, tc.payload, err, steps.ErrorName(err), tc.want)
		}
	}
	if _, err := eng.Handler("step-nope"); err == nil {
		t.Fatal("an unknown function has a handler")
	}
	// 10 for ROLLING/DAEMON, 4 more for CANARY/BLUE_GREEN.
	if len(eng.Handlers()) != 14 {
		t.Fatalf("%d handlers, want 14", len(eng.Handlers()))
	}
}

func TestPrepareRejectsWhenTheLeaseIsHeldUnderREJECT(t *testing.T) {
	e := newEnv(t, envOptions{workflow: func(w *model.Workflow) { w.ConcurrencyPolicy = model.ConcurrencyReject }})
	eng, _ := direct(t, e)
	ctx := context.Background()
	d1, d2 := e.deployment(t, "v1"), e.deployment(t, "v2")
	if _, err := eng.Prepare(ctx, steps.PrepareInput{Ref: steps.Ref{DeploymentID: d1.ID}}); err != nil {
		t.Fatal(err)
	}
	_, err := eng.Prepare(ctx, steps.PrepareInput{Ref: steps.Ref{DeploymentID: d2.ID}})
	var held *steps.LockHeld
	if !errors.As(err, &held) {
		t.Fatalf("err = %v, want LockHeld", err)
	}
	if got := e.get(t, d2.ID); got.Status != model.StatusFailed {
		t.Fatalf("rejected deployment is %s, want FAILED", got.Status)
	}
}

func TestFromEnvNeedsTheTable(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if _, err := steps.FromEnv(context.Background(), getenv, discard); err == nil || !strings.Contains(err.Error(), "TABLE_NAME") {
		t.Fatalf("err = %v, want one naming TABLE_NAME", err)
	}
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "a")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "b")
	env["TABLE_NAME"] = "t"
	env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = "lots"
	if _, err := steps.FromEnv(context.Background(), getenv, discard); err == nil || !strings.Contains(err.Error(), "AWS_LAMBDA_FUNCTION_MEMORY_SIZE") {
		t.Fatalf("err = %v, want one naming the memory variable", err)
	}
	env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = "512"
	if _, err := steps.FromEnv(context.Background(), getenv, discard); err != nil {
		t.Fatal(err)
	}
}

// TestNextRefusesASteadyStateOnAnotherRevision: the steady wait was ended
// (here by the test, standing in for an out-of-order event) while the
// circuit breaker had rolled the service back; next confirms with one
// DescribeServices and fails NotStable instead of moving on.
func TestNextRefusesASteadyStateOnAnotherRevision(t *testing.T) {
	e := newEnv(t, envOptions{})
	sm := e.machine(t, "rolling")
	e.expectSucceededWithin(t, sm, "v1")
	td1, _, _ := describe(t, e)
	if err := e.w.Emu.SetFaultPlan(awsemu.FaultPlan{Rules: []awsemu.FaultRule{{Image: "*:v2", Behavior: awsemu.BehaviorCrash, AfterSeconds: 1}}}); err != nil {
		t.Fatal(err)
	}
	eng, _ := direct(t, e)
	ctx := context.Background()
	d := e.deployment(t, "v2")
	ref := steps.Ref{DeploymentID: d.ID}
	if _, err := eng.Prepare(ctx, steps.PrepareInput{Ref: ref}); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.RegisterTaskDefinition(ctx, steps.RegisterInput{Ref: ref}); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.UpdateService(ctx, steps.UpdateInput{Ref: ref, Index: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.WaitSteady(ctx, steps.WaitSteadyInput{Ref: ref, Index: 2, Token: "tok"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		td, _, running := describe(t, e)
		if td == td1 && running == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the circuit breaker never rolled back: %s (%d running)", td, running)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err := eng.Next(ctx, steps.NextInput{Ref: ref, Index: 3})
	if steps.ErrorName(err) != steps.ErrNotStable {
		t.Fatalf("next after a rolled-back rollout: err %v, want NotStable", err)
	}
}
