package steps_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/steps"
)

// notes is a hand-written Notifier that records "<deployment> <status>".
type notes struct {
	mu  sync.Mutex
	got []string
}

func (n *notes) NotifyDeployment(_ context.Context, d *model.Deployment, status string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, d.ID+" "+status+" "+string(d.Status))
	return nil
}

func (n *notes) list() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.got, "; ")
}

var _ steps.Notifier = (*notes)(nil)

func notifying(t *testing.T, e *env) (*steps.Engine, *notes) {
	t.Helper()
	n := &notes{}
	eng, err := steps.New(steps.Config{Store: e.st, AWS: e.w.Factory, Tasks: newRecorder(), Now: e.w.Clock.Now, Logger: discard, Notifier: n})
	if err != nil {
		t.Fatal(err)
	}
	return eng, n
}

// TestRetriedStepsNotifyOnce: a retried PREPARE or FINISH (the state
// machine's Retry, a Lambda redelivery) announces the deployment's start
// and end once, with the status the record already has.
func TestRetriedStepsNotifyOnce(t *testing.T) {
	e := newEnv(t, envOptions{})
	eng, n := notifying(t, e)
	ctx := context.Background()
	d := e.deployment(t, "v1")
	ref := steps.Ref{DeploymentID: d.ID}
	for i := 0; i < 2; i++ {
		if _, err := eng.Prepare(ctx, steps.PrepareInput{Ref: ref}); err != nil {
			t.Fatalf("prepare #%d: %v", i+1, err)
		}
	}
	if got, want := n.list(), d.ID+" STARTED RUNNING"; got != want {
		t.Fatalf("after two PREPAREs: %q, want %q", got, want)
	}
	for i := 0; i < 2; i++ {
		if _, err := eng.Finish(ctx, steps.FinishInput{Ref: ref, Outcome: steps.Outcome{Result: "FAILED",
			Error: &steps.TaskFailure{Error: "NotStable", Cause: "circuit breaker"}}}); err != nil {
			t.Fatalf("finish #%d: %v", i+1, err)
		}
	}
	if got, want := n.list(), d.ID+" STARTED RUNNING; "+d.ID+" FAILED FAILED"; got != want {
		t.Fatalf("after two FINISHes: %q, want %q", got, want)
	}
}

// TestRejectedByTheLeaseNotifiesFailed: a deployment refused under the
// REJECT policy never started, and is announced FAILED once.
func TestRejectedByTheLeaseNotifiesFailed(t *testing.T) {
	e := newEnv(t, envOptions{workflow: func(w *model.Workflow) { w.ConcurrencyPolicy = model.ConcurrencyReject }})
	eng, n := notifying(t, e)
	ctx := context.Background()
	d1, d2 := e.deployment(t, "v1"), e.deployment(t, "v2")
	if _, err := eng.Prepare(ctx, steps.PrepareInput{Ref: steps.Ref{DeploymentID: d1.ID}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		_, err := eng.Prepare(ctx, steps.PrepareInput{Ref: steps.Ref{DeploymentID: d2.ID}})
		var held *steps.LockHeld
		var inv *steps.Invalid
		if !errors.As(err, &held) && !(i == 1 && errors.As(err, &inv)) {
			t.Fatalf("prepare #%d of the second deployment: %v, want LockHeld (then Invalid: already ended)", i+1, err)
		}
	}
	if got, want := n.list(), d1.ID+" STARTED RUNNING; "+d2.ID+" FAILED FAILED"; got != want {
		t.Fatalf("notifications %q, want %q", got, want)
	}
}
