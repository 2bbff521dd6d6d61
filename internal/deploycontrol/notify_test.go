package deploycontrol_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/deploycontrol"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/notification"
	"github.com/ecsflow/ecsflow/internal/notification/ebnotify"
	"github.com/ecsflow/ecsflow/internal/store"
)

var _ deploycontrol.Notifier = (*ebnotify.Notifier)(nil)

// notices records what the controller publishes; err, when set, fails
// every publish (after recording it).
type notices struct {
	mu  sync.Mutex
	got []notification.DeploymentDetail
	err error
}

func (n *notices) NotifyDeployment(_ context.Context, d *model.Deployment, status string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, notification.DeploymentDetailOf(d, status))
	return n.err
}

func (n *notices) list() []notification.DeploymentDetail {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]notification.DeploymentDetail(nil), n.got...)
}

func TestAbortQueuedAnnouncesAbortedOnce(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	n := &notices{}
	ctrl := deploycontrol.New(e.st, e.sfn, deploycontrol.WithClock(e.clock.Now), deploycontrol.WithLogger(discard), deploycontrol.WithNotifier(n))

	id := e.deployment(t, model.StatusQueued, "")
	if err := ctrl.Abort(ctx, id, "carol", "wrong tag"); err != nil {
		t.Fatalf("abort of a queued deployment: %v", err)
	}
	got := n.list()
	if len(got) != 1 {
		t.Fatalf("notifications = %+v, want one ABORTED", got)
	}
	if g := got[0]; g.Status != notification.Aborted || g.DeploymentID != id || g.WorkflowID != e.graph.wf ||
		!strings.Contains(g.Reason, "by carol before it started: wrong tag") || g.Artifact.Tag != "v2" {
		t.Errorf("notification = %+v, want ABORTED of %s with the reason and tag v2", g, id)
	}
	// Aborting it again is refused and announces nothing more.
	if err := ctrl.Abort(ctx, id, "carol", "again"); !errors.Is(err, api.ErrWrongState) {
		t.Fatalf("second abort: %v, want ErrWrongState", err)
	}
	if err := ctrl.Rollback(ctx, id, "carol", "again"); !errors.Is(err, api.ErrWrongState) {
		t.Fatalf("rollback after abort: %v, want ErrWrongState", err)
	}
	if got := n.list(); len(got) != 1 {
		t.Fatalf("notifications after the refused requests = %+v, want still one", got)
	}
}

// TestAbortOfAnExecutionAnnouncesNothing: a deployment whose execution
// waits (for the lease, a steady state) ends in its FINISH step, which
// announces the end; the controller only fails the wait.
func TestAbortOfAnExecutionAnnouncesNothing(t *testing.T) {
	e := newEnv(t, nil)
	n := &notices{}
	ctrl := deploycontrol.New(e.st, e.sfn, deploycontrol.WithClock(e.clock.Now), deploycontrol.WithLogger(discard), deploycontrol.WithNotifier(n))
	for _, kind := range []string{store.WaitLease, store.WaitSteady} {
		status := model.StatusRunning
		if kind == store.WaitLease {
			status = model.StatusQueued
		}
		id, ex := e.park(t, status, kind, 3600)
		if err := ctrl.Abort(context.Background(), id, "carol", ""); err != nil {
			t.Fatalf("abort of a %s wait: %v", kind, err)
		}
		if x := e.result(t, ex); x.Error != deploycontrol.ErrAborted {
			t.Errorf("%s wait: execution %s %s, want failed Aborted", kind, x.Status, x.Error)
		}
	}
	if got := n.list(); len(got) != 0 {
		t.Fatalf("notifications = %+v, want none (FINISH announces these)", got)
	}
}

func TestAbortQueuedWhenTheNotificationFails(t *testing.T) {
	e := newEnv(t, nil)
	n := &notices{err: errors.New("bus down")}
	ctrl := deploycontrol.New(e.st, e.sfn, deploycontrol.WithClock(e.clock.Now), deploycontrol.WithLogger(discard), deploycontrol.WithNotifier(n))
	id := e.deployment(t, model.StatusQueued, "")
	if err := ctrl.Abort(context.Background(), id, "carol", ""); err != nil {
		t.Fatalf("abort with the bus down: %v, want done (the end is recorded)", err)
	}
	if d := e.get(t, id); d.Status != model.StatusAborted {
		t.Errorf("deployment %s, want ABORTED", d.Status)
	}
	if got := n.list(); len(got) != 1 {
		t.Errorf("publish attempts = %d, want 1", len(got))
	}
	if l := e.lastLedger(t, id); !strings.Contains(l.Message, ": done") {
		t.Errorf("ledger %q, want the abort done", l.Message)
	}
}
