package pipeline_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// TestQueuedAbortAnnouncesAborted: a deployment queued behind a running one
// and aborted while QUEUED is announced ABORTED exactly once (no STARTED),
// whether its execution already waits for the lease (its FINISH step ends
// it) or it has no execution yet (the API's controller ends it); the
// running deployment's announcements are unaffected, and the queued
// execution ending does not announce it again.
func TestQueuedAbortAnnouncesAborted(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	dev, err := store.Get[*model.Workflow](ctx, s.st, s.ids.workflows[0])
	if err != nil {
		t.Fatal(err)
	}
	gated := *dev
	gated.Meta = model.Meta{}
	gated.Name = "dev-gated-queue"
	gated.Verification.Approval = &model.Approval{TimeoutSeconds: 3600}
	if err := s.st.Create(ctx, &gated); err != nil {
		t.Fatal(err)
	}
	first := s.deploy(t, gated.ID, "v1")
	s.waitFor(t, "the first deployment waits for approval", func() bool {
		return s.deployment(t, first.ID).Status == model.StatusWaitingApproval
	})

	// Queued behind it, its execution parked on the lease.
	queued := s.deploy(t, gated.ID, "v2")
	s.waitFor(t, "the second deployment waits for the lease", func() bool {
		ws, err := s.st.WaitsForDeployment(ctx, queued.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			if w.Kind == store.WaitLease {
				return true
			}
		}
		return false
	})
	if d := s.deployment(t, queued.ID); d.Status != model.StatusQueued {
		t.Fatalf("second deployment %s, want QUEUED", d.Status)
	}
	if code := s.call(t, http.MethodPost, "/v1/deployments/"+queued.ID+"/abort", api.ControlRequest{Comment: "not this one"}, nil); code != http.StatusOK {
		t.Fatalf("abort the queued deployment: %d", code)
	}
	if d := s.waitDeployment(t, queued.ID); d.Status != model.StatusAborted {
		t.Fatalf("queued deployment ended %s (%s), want ABORTED", d.Status, d.Reason)
	}

	// Recorded QUEUED but not started (an execution not started yet, or
	// whose start failed): aborted through the API, with no execution.
	early := &model.Deployment{ApplicationID: s.ids.app, WorkflowID: gated.ID, ServiceID: s.ids.svc,
		EnvironmentID: gated.EnvironmentID, InfrastructureID: gated.InfrastructureID, Status: model.StatusQueued,
		Strategy: model.StrategyRolling, Artifact: model.Artifact{Image: first.Artifact.Image, Tag: "v3"},
		TriggeredBy: model.TriggeredBy{Kind: model.TriggeredByAPI, Principal: "alice"}}
	if err := s.st.Create(ctx, early); err != nil {
		t.Fatalf("record a queued deployment: %v", err)
	}
	if code := s.call(t, http.MethodPost, "/v1/deployments/"+early.ID+"/abort", api.ControlRequest{Comment: "too early"}, nil); code != http.StatusOK {
		t.Fatalf("abort the unstarted deployment: %d", code)
	}
	if d := s.deployment(t, early.ID); d.Status != model.StatusAborted {
		t.Fatalf("unstarted deployment %s, want ABORTED", d.Status)
	}
	// A second abort is refused and announces nothing.
	if code := s.call(t, http.MethodPost, "/v1/deployments/"+early.ID+"/abort", api.ControlRequest{}, nil); code != http.StatusConflict {
		t.Fatalf("second abort: %d, want 409", code)
	}
	// Its execution starts only now (the abort won the race with the
	// start): it finds the deployment ended and goes through FINISH, which
	// must not announce it again.
	in, _ := json.Marshal(api.ExecutionInput{DeploymentID: early.ID, AppID: early.ApplicationID, WorkflowID: early.WorkflowID,
		ServiceID: early.ServiceID, EnvID: early.EnvironmentID, InfraID: early.InfrastructureID, Strategy: early.Strategy,
		Artifact: early.Artifact, Image: early.Artifact.Reference()})
	lateEx, err := s.sfn.StartExecution(ctx, s.local.StateMachineARN(model.StrategyRolling), early.ID, string(in))
	if err != nil {
		t.Fatalf("start the late execution: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := s.sfn.WaitExecution(wctx, lateEx); err != nil {
		t.Fatalf("the late execution did not end: %v", err)
	}
	if d := s.deployment(t, early.ID); d.Status != model.StatusAborted {
		t.Fatalf("unstarted deployment %s after its late execution, want still ABORTED", d.Status)
	}
	if !s.stepRan(t, early.ID, "FINISH") {
		t.Fatalf("the late execution of %s never reached FINISH", early.ID)
	}

	// The first deployment goes on and succeeds.
	if code := s.call(t, http.MethodPost, "/v1/deployments/"+first.ID+"/approve", api.ControlRequest{Comment: "ok"}, nil); code != http.StatusOK {
		t.Fatalf("approve: %d", code)
	}
	if d := s.waitDeployment(t, first.ID); d.Status != model.StatusSucceeded {
		t.Fatalf("first deployment %s (%s)", d.Status, d.Reason)
	}

	got := s.notifications(t)
	for _, c := range []struct{ name, id, want string }{
		{"running", first.ID, "STARTED,APPROVAL_NEEDED,SUCCEEDED"},
		{"queued with an execution", queued.ID, "ABORTED"},
		{"queued without an execution", early.ID, "ABORTED"},
	} {
		if notes := strings.Join(deploymentNotes(t, got, c.id), ","); notes != c.want {
			t.Errorf("%s deployment %s: notifications %q, want %q", c.name, c.id, notes, c.want)
		}
	}
}

// waitFor polls cond (bounded in real time).
func (s *stack) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stepRan reports whether deployment id's ledger records step ending.
func (s *stack) stepRan(t *testing.T, id, step string) bool {
	t.Helper()
	l, _, err := s.st.Ledger(context.Background(), id, store.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range l {
		if e.Kind == model.LedgerStep && strings.HasPrefix(e.Message, step+" ") {
			return true
		}
	}
	return false
}
