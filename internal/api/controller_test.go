package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// fakeController is a hand-written Controller recording its calls.
type fakeController struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (f *fakeController) record(action, id, principal, comment string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("%s %s by %s: %s", action, id, principal, comment))
	return f.err
}

func (f *fakeController) Approve(_ context.Context, id, p, c string) error {
	return f.record("approve", id, p, c)
}
func (f *fakeController) Reject(_ context.Context, id, p, c string) error {
	return f.record("reject", id, p, c)
}
func (f *fakeController) Rollback(_ context.Context, id, p, c string) error {
	return f.record("rollback", id, p, c)
}
func (f *fakeController) Abort(_ context.Context, id, p, c string) error {
	return f.record("abort", id, p, c)
}

// TestControlDelegatesToController: every action route hands the request to
// the configured Controller (the engine, later) and maps its errors.
func TestControlDelegatesToController(t *testing.T) {
	base := onMem(t)
	g := base.seed()
	dep := base.must(http.StatusCreated, http.MethodPost, "/v1/deployments", deployReq(g, g.rolling, map[string]any{"tag": "v1"})).str("id")
	ctrl := &fakeController{}
	e := &env{t: t, store: base.store, starter: base.starter, logs: base.logs}
	e.srv = newServer(t, api.New(base.store, base.starter, api.WithController(ctrl)))
	for _, a := range []string{"approve", "reject", "rollback", "abort"} {
		r := e.must(http.StatusOK, http.MethodPost, "/v1/deployments/"+dep+"/"+a, map[string]any{"comment": "c-" + a})
		if r.str("id") != dep {
			t.Errorf("%s answered %s, want the deployment", a, r.Raw)
		}
	}
	want := []string{
		"approve " + dep + " by anonymous: c-approve", "reject " + dep + " by anonymous: c-reject",
		"rollback " + dep + " by anonymous: c-rollback", "abort " + dep + " by anonymous: c-abort",
	}
	if fmt.Sprint(ctrl.calls) != fmt.Sprint(want) {
		t.Errorf("calls %v, want %v", ctrl.calls, want)
	}
	ctrl.err = fmt.Errorf("engine: %w", &store.LeaseHeldError{Key: "prod/web", Holder: "dep-other"})
	r := e.must(http.StatusConflict, http.MethodPost, "/v1/deployments/"+dep+"/approve", nil)
	if r.code() != "LockHeld" || !strings.Contains(r.str("error", "message"), "dep-other") {
		t.Errorf("held lock: %s", r.Raw)
	}
	ctrl.err = errors.New("boom")
	if r := e.do(http.MethodPost, "/v1/deployments/"+dep+"/abort", nil); r.Status != http.StatusInternalServerError || strings.Contains(string(r.Raw), "boom") {
		t.Errorf("internal failure: %d %s, want 500 without the cause", r.Status, r.Raw)
	}
	e.must(http.StatusBadRequest, http.MethodPost, "/v1/deployments/"+dep+"/abort", `{"comment":1}`)
	e.must(http.StatusUnsupportedMediaType, http.MethodPost, "/v1/deployments/"+dep+"/abort", `x`, "Content-Type", "text/plain")
}

// TestRecordingControllerWaitingApproval: in WAITING_APPROVAL the recording
// controller records the approval but cannot resume anything, and says so.
func TestRecordingControllerWaitingApproval(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		g := e.seed()
		dep := e.must(http.StatusCreated, http.MethodPost, "/v1/deployments", deployReq(g, g.bluegreen, map[string]any{"tag": "v2"})).str("id")
		ctx := context.Background()
		ent, err := e.store.Get(ctx, model.KindDeployment, dep)
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		d := ent.(*model.Deployment)
		d.Status = model.StatusRunning
		if err := e.store.Update(ctx, d); err != nil {
			t.Fatalf("update: %v", err)
		}
		r := e.must(http.StatusConflict, http.MethodPost, "/v1/deployments/"+dep+"/abort", nil)
		if r.code() != "EngineUnavailable" {
			t.Errorf("abort of a RUNNING deployment: %s", r.Raw)
		}
		d.Status = model.StatusWaitingApproval
		if err := e.store.Update(ctx, d); err != nil {
			t.Fatalf("update: %v", err)
		}
		r = e.must(http.StatusConflict, http.MethodPost, "/v1/deployments/"+dep+"/approve", map[string]any{"comment": "ship it"})
		if r.code() != "EngineUnavailable" {
			t.Errorf("approve in WAITING_APPROVAL: %s", r.Raw)
		}
		got := e.must(http.StatusOK, http.MethodGet, "/v1/deployments/"+dep, nil)
		if got.str("status") != "WAITING_APPROVAL" {
			t.Errorf("status %q, want WAITING_APPROVAL unchanged", got.str("status"))
		}
		if text := fmt.Sprint(got.Body["ledger"]); !strings.Contains(text, "approve requested by anonymous (ship it): refused") ||
			!strings.Contains(text, "abort requested by anonymous: refused") {
			t.Errorf("ledger does not record the requests: %s", text)
		}
	})
}
