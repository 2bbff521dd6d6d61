package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/steps"
)

func TestDaemonSucceeds(t *testing.T) {
	h := newHarness(t, options{daemon: true})
	d1, ledger := h.finish(h.start("v1"), model.StatusSucceeded)
	if d1.Strategy != model.StrategyDaemon {
		t.Fatalf("strategy %s, want DAEMON", d1.Strategy)
	}
	if !strings.Contains(d1.ExecutionARN, ":ecsflow-daemon:") {
		t.Fatalf("execution %s, want one of the daemon state machine", d1.ExecutionARN)
	}
	// One task per container instance (3 registered).
	h.expectService(d1.NewRevision.TaskDefinitionARN, 3)
	if count(ledger, model.LedgerECSEvent, "") == 0 {
		t.Fatal("no ECS events in the ledger")
	}
	d2, _ := h.finish(h.start("v2"), model.StatusSucceeded)
	h.expectService(d2.NewRevision.TaskDefinitionARN, 3)
}

func TestDaemonCrashLoopRollsBack(t *testing.T) {
	h := newHarness(t, options{daemon: true})
	td1 := deployGood(h, 3)
	h.faults(awsemu.FaultRule{Image: "*:v2", Behavior: awsemu.BehaviorCrash, AfterSeconds: 1})
	d2, ledger := h.finish(h.start("v2"), model.StatusRolledBack)
	if d2.LastKnownGood == nil || d2.LastKnownGood.TaskDefinitionARN != td1 {
		t.Fatalf("last known good %+v, want %s", d2.LastKnownGood, td1)
	}
	if count(ledger, model.LedgerRollback, "") == 0 {
		t.Fatal("no rollback in the ledger")
	}
	h.expectService(td1, 3)
}

// approvalWorkflow asks for a manual approval with onTimeout after 300
// simulated seconds instead of alarms.
func approvalWorkflow(onTimeout model.ApprovalDefault) func(*model.Workflow) {
	return func(w *model.Workflow) {
		w.Verification = model.Verification{Approval: &model.Approval{TimeoutSeconds: 300, OnTimeout: onTimeout}}
	}
}

func TestApprovalRejectedRollsBack(t *testing.T) {
	h := newHarness(t, options{workflow: approvalWorkflow(model.ApprovalDefaultReject)})
	// v1 waits for approval; a user approves it through the API.
	id1 := h.start("v1")
	h.waitStatus(id1, model.StatusWaitingApproval)
	if code, raw := h.control(id1, "approve", "looks good"); code != http.StatusOK {
		t.Fatalf("approve: %d %s", code, raw)
	}
	d1, ledger1 := h.finish(id1, model.StatusSucceeded)
	td1 := d1.NewRevision.TaskDefinitionARN
	if count(ledger1, model.LedgerApproval, "looks good") == 0 {
		t.Fatal("the approval and its comment are not in the ledger")
	}
	// v2 is rejected: it rolls back to v1.
	id2 := h.start("v2")
	h.waitStatus(id2, model.StatusWaitingApproval)
	if code, raw := h.control(id2, "reject", "not today"); code != http.StatusOK {
		t.Fatalf("reject: %d %s", code, raw)
	}
	d2, ledger2 := h.finish(id2, model.StatusRolledBack)
	if !strings.Contains(d2.Reason, "ApprovalRejected") {
		t.Fatalf("reason %q, want ApprovalRejected", d2.Reason)
	}
	if count(ledger2, model.LedgerApproval, "not today") == 0 {
		t.Fatal("the rejection and its comment are not in the ledger")
	}
	// Nothing waits for approval any more.
	if code, _ := h.control(id2, "approve", "too late"); code != http.StatusConflict {
		t.Fatalf("approve after the end: %d, want 409", code)
	}
	h.expectService(td1, 4)
}

func TestApprovalTimeoutTakesDefault(t *testing.T) {
	t.Run("APPROVE", func(t *testing.T) {
		h := newHarness(t, options{workflow: approvalWorkflow(model.ApprovalDefaultApprove)})
		d, _ := h.finish(h.start("v1"), model.StatusSucceeded)
		if got, want := stepNames(d), "PREPARE,REGISTER_TASK_DEFINITION,UPDATE_SERVICE,WAIT_STEADY,APPROVAL,FINISH"; got != want {
			t.Fatalf("steps %s, want %s", got, want)
		}
		// Nobody answered: the approval lasted its 300 simulated seconds.
		for _, s := range d.Steps {
			if s.Name == "APPROVAL" && s.EndedAt.Sub(s.StartedAt).Seconds() < 300 {
				t.Fatalf("approval ended after %s, want the 300 s timeout", s.EndedAt.Sub(s.StartedAt))
			}
		}
		h.expectService(d.NewRevision.TaskDefinitionARN, 4)
	})
	t.Run("REJECT", func(t *testing.T) {
		h := newHarness(t, options{workflow: approvalWorkflow(model.ApprovalDefaultReject)})
		id1 := h.start("v1")
		h.waitStatus(id1, model.StatusWaitingApproval)
		if code, raw := h.control(id1, "approve", ""); code != http.StatusOK {
			t.Fatalf("approve: %d %s", code, raw)
		}
		d1, _ := h.finish(id1, model.StatusSucceeded)
		d2, _ := h.finish(h.start("v2"), model.StatusRolledBack)
		if !strings.Contains(d2.Reason, "ApprovalRejected") && !strings.Contains(strings.ToLower(d2.Reason), "timed out") {
			t.Fatalf("reason %q, want the timed-out approval's REJECT default", d2.Reason)
		}
		h.expectService(d1.NewRevision.TaskDefinitionARN, 4)
	})
}

// panicking wraps one step handler: while armed, its first `times` calls
// panic.
type panicking struct {
	fn    string
	times int32
	armed atomic.Bool
	calls atomic.Int32
}

func (p *panicking) wrap(name string, h steps.Handler) steps.Handler {
	if name != p.fn {
		return h
	}
	return func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		if p.armed.Load() && p.calls.Add(1) <= p.times {
			panic("injected panic in " + p.fn)
		}
		return h(ctx, in)
	}
}

func TestPanickingStepIsRetriedOrRolledBack(t *testing.T) {
	t.Run("OnceIsRetried", func(t *testing.T) {
		p := &panicking{fn: steps.FnUpdateService, times: 1}
		p.armed.Store(true)
		h := newHarness(t, options{wrap: p.wrap})
		d, _ := h.finish(h.start("v1"), model.StatusSucceeded)
		if n := p.calls.Load(); n != 2 {
			t.Fatalf("step-update-service called %d times, want 2 (a panic, then the retry)", n)
		}
		h.expectService(d.NewRevision.TaskDefinitionARN, 4)
	})
	t.Run("AlwaysRollsBack", func(t *testing.T) {
		p := &panicking{fn: steps.FnVerify, times: 1 << 20}
		h := newHarness(t, options{wrap: p.wrap})
		td1 := deployGood(h, 4)
		p.armed.Store(true)
		d, ledger := h.finish(h.start("v2"), model.StatusRolledBack)
		if p.calls.Load() == 0 {
			t.Fatal("step-verify never ran")
		}
		if !strings.Contains(stepNames(d), "ROLLBACK") || count(ledger, model.LedgerRollback, "") == 0 {
			t.Fatalf("steps %s, want a recorded ROLLBACK", stepNames(d))
		}
		h.expectService(td1, 4)
	})
}

func TestConcurrentDeploymentsQueue(t *testing.T) {
	h := newHarness(t, options{})
	id1 := h.start("v1")
	h.waitStatus(id1, model.StatusRunning)
	id2 := h.start("v2")
	d1, _ := h.finish(id1, model.StatusSucceeded)
	d2, ledger2 := h.finish(id2, model.StatusSucceeded)
	if d2.StartedAt == nil || d1.EndedAt == nil || d2.StartedAt.Before(*d1.EndedAt) {
		t.Fatalf("second started %v, first ended %v: want one after the other", d2.StartedAt, d1.EndedAt)
	}
	if count(ledger2, model.LedgerStatus, "QUEUED behind deployment "+id1) == 0 {
		t.Fatal("the second deployment's ledger does not say it queued behind the first")
	}
	h.expectService(d2.NewRevision.TaskDefinitionARN, 4)
}

func TestConcurrentDeploymentsRejected(t *testing.T) {
	h := newHarness(t, options{workflow: func(w *model.Workflow) { w.ConcurrencyPolicy = model.ConcurrencyReject }})
	id1 := h.start("v1")
	h.waitStatus(id1, model.StatusRunning)
	code, _, raw := h.deploy("v2")
	if code != http.StatusConflict || !strings.Contains(string(raw), "LockHeld") || !strings.Contains(string(raw), id1) {
		t.Fatalf("second deployment: %d %s, want 409 LockHeld naming %s", code, raw, id1)
	}
	d1, _ := h.finish(id1, model.StatusSucceeded)
	h.expectService(d1.NewRevision.TaskDefinitionARN, 4)
	// The API refuses it up front: nothing is recorded or started for it.
	var list struct {
		Items []model.Deployment `json:"items"`
	}
	if code, raw := h.call(http.MethodGet, "/v1/deployments?appId="+h.ids.app, nil, &list); code != http.StatusOK {
		t.Fatalf("list: %d %s", code, raw)
	}
	if len(list.Items) != 1 || list.Items[0].ID != id1 {
		t.Fatalf("deployments %+v, want only %s", list.Items, id1)
	}
}

// waitStep polls until the deployment has an open record of step.
func (h *harness) waitStep(id, step string) {
	h.tb.Helper()
	deadline := time.Now().Add(realTimeout)
	for {
		d, _ := h.get(id)
		for _, s := range d.Steps {
			if s.Name == step && s.EndedAt.IsZero() {
				return
			}
		}
		if d.Status.Final() || time.Now().After(deadline) {
			h.dump(d)
			h.tb.Fatalf("deployment %s (%s) never waited in %s", id, d.Status, step)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRollbackRequestedThroughAPI(t *testing.T) {
	h := newHarness(t, options{workflow: func(w *model.Workflow) { w.Verification.BakeSeconds = 10 }})
	td1 := deployGood(h, 4)
	h.setBake(3600)
	id := h.start("v2")
	h.waitStep(id, "VERIFY")
	if code, raw := h.control(id, "rollback", "bad numbers"); code != http.StatusOK {
		t.Fatalf("rollback: %d %s", code, raw)
	}
	d, ledger := h.finish(id, model.StatusRolledBack)
	if !strings.Contains(d.Reason, "RollbackRequired") {
		t.Fatalf("reason %q, want RollbackRequired", d.Reason)
	}
	if !ledgerHas(ledger, "bad numbers") {
		t.Fatal("the ledger does not record the request's comment")
	}
	h.expectService(td1, 4)
}

func TestAbortRequestedThroughAPI(t *testing.T) {
	h := newHarness(t, options{workflow: func(w *model.Workflow) { w.Verification.BakeSeconds = 3600 }})
	id := h.start("v1")
	h.waitStep(id, "VERIFY")
	if code, raw := h.control(id, "abort", "wrong image"); code != http.StatusOK {
		t.Fatalf("abort: %d %s", code, raw)
	}
	d, ledger := h.finish(id, model.StatusAborted)
	if !ledgerHas(ledger, "wrong image") {
		t.Fatal("the ledger does not record the request's comment")
	}
	if code, _ := h.control(id, "abort", "again"); code != http.StatusConflict {
		t.Fatalf("abort after the end: %d, want 409", code)
	}
	// An abort stops the workflow without rolling back: the service stays
	// on what was deployed.
	h.expectService(d.NewRevision.TaskDefinitionARN, 4)
}

func ledgerHas(ledger []model.LedgerEntry, substr string) bool {
	for _, l := range ledger {
		if strings.Contains(l.Message, substr) || strings.Contains(string(l.Data), substr) {
			return true
		}
	}
	return false
}
