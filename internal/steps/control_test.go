package steps_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/deploycontrol"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// waitForWait polls until the deployment has a wait of kind.
func waitForWait(t *testing.T, e *env, id, kind string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ws, err := e.st.WaitsForDeployment(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			if w.Kind == kind {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("deployment %s never waited for %s", id, kind)
}

func TestAPIRollbackAndAbortReachTheRunningWorkflow(t *testing.T) {
	e := newEnv(t, envOptions{workflow: func(w *model.Workflow) { w.Verification.BakeSeconds = 3600 }})
	sm := e.machine(t, "rolling")
	ctl := deploycontrol.New(e.st, e.sfn, deploycontrol.WithClock(e.w.Clock.Now))
	ctx := context.Background()

	// v1 bakes for an hour; a person asks for a rollback during the bake.
	d1 := e.deployment(t, "v1")
	x1 := e.start(t, sm, d1)
	waitForWait(t, e, d1.ID, store.WaitVerify)
	if err := ctl.Rollback(ctx, d1.ID, "arn:aws:iam::123456789012:user/bob", "bad numbers"); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	r1 := e.wait(t, x1)
	g1 := e.get(t, d1.ID)
	if r1.Error != "DeploymentRolledBack" || g1.Status != model.StatusRolledBack || !strings.Contains(g1.Reason, "RollbackRequired") {
		dumpHistory(t, e, x1)
		t.Fatalf("rollback requested: execution %s %s, deployment %s (%s)", r1.Status, r1.Error, g1.Status, g1.Reason)
	}
	checkReleased(t, e, g1)
	if !strings.Contains(g1.Reason, "scaled to 0") {
		t.Fatalf("reason %q: the first deployment has nothing to go back to, want scaled to 0", g1.Reason)
	}

	// v2 is aborted during its bake: nothing is undone, it ends ABORTED.
	d2 := e.deployment(t, "v2")
	x2 := e.start(t, sm, d2)
	waitForWait(t, e, d2.ID, store.WaitVerify)
	if err := ctl.Abort(ctx, d2.ID, "arn:aws:iam::123456789012:user/bob", "stop"); err != nil {
		t.Fatalf("abort: %v", err)
	}
	r2 := e.wait(t, x2)
	g2 := e.get(t, d2.ID)
	if r2.Error != "DeploymentAborted" || g2.Status != model.StatusAborted {
		dumpHistory(t, e, x2)
		t.Fatalf("abort: execution %s %s, deployment %s (%s)", r2.Status, r2.Error, g2.Status, g2.Reason)
	}
	checkReleased(t, e, g2)
	if td, _, _ := describe(t, e); td != g2.NewRevision.TaskDefinitionARN {
		t.Fatalf("an abort changed the service to %s", td)
	}
}

func TestAbortingAQueuedDeploymentLeavesTheHolderAlone(t *testing.T) {
	e := newEnv(t, envOptions{workflow: func(w *model.Workflow) { w.Verification.BakeSeconds = 120 }})
	sm := e.machine(t, "rolling")
	ctl := deploycontrol.New(e.st, e.sfn, deploycontrol.WithClock(e.w.Clock.Now))
	ctx := context.Background()
	d1, d2 := e.deployment(t, "v1"), e.deployment(t, "v2")
	x1 := e.start(t, sm, d1)
	waitStatus(t, e, d1.ID, model.StatusRunning)
	x2 := e.start(t, sm, d2)
	waitForWait(t, e, d2.ID, store.WaitLease)
	if err := ctl.Abort(ctx, d2.ID, "arn:aws:iam::123456789012:user/bob", "not needed"); err != nil {
		t.Fatalf("abort: %v", err)
	}
	r2 := e.wait(t, x2)
	g2 := e.get(t, d2.ID)
	if r2.Error != "DeploymentAborted" || g2.Status != model.StatusAborted || g2.NewRevision != nil {
		dumpHistory(t, e, x2)
		t.Fatalf("queued abort: execution %s %s, deployment %s (%s)", r2.Status, r2.Error, g2.Status, g2.Reason)
	}
	l, held, err := e.st.GetLease(ctx, g2.Runtime.Target.LeaseKey)
	if err != nil || !held || l.Holder != d1.ID {
		t.Fatalf("lease after the queued abort: %+v held=%v err=%v, want still held by %s", l, held, err, d1.ID)
	}
	if r1 := e.wait(t, x1); r1.Status != "SUCCEEDED" {
		t.Fatalf("holder: %s %s", r1.Status, r1.Error)
	}
	checkReleased(t, e, e.get(t, d1.ID))
}
