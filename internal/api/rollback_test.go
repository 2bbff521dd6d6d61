package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
)

// fakeRedeployer is a hand-written Controller that also rolls ended
// deployments back: it answers with the configured redeploy or error, and
// records what it was told.
type fakeRedeployer struct {
	api.Controller
	mu       sync.Mutex
	redeploy func(id string) (*model.Deployment, error)
	recorded []string // "<original> <redeploy> <start error>"
}

func (f *fakeRedeployer) RollbackOrPlanRedeploy(_ context.Context, id, _, _ string) (*model.Deployment, error) {
	return f.redeploy(id)
}

func (f *fakeRedeployer) RecordRollbackRedeploy(_ context.Context, original, _, _ string, nd *model.Deployment, startErr error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recorded = append(f.recorded, fmt.Sprintf("%s %s %v", original, nd.ID, startErr))
}

var _ api.RollbackRedeployer = (*fakeRedeployer)(nil)

func TestRollbackRoute(t *testing.T) {
	b := dynamotest.MemHTTP()
	f := &fakeRedeployer{}
	e := newEnv(t, b, dynamotest.Table(t, b), api.WithController(f))
	g := e.seed()
	orig := e.must(http.StatusCreated, http.MethodPost, "/v1/deployments", deployReq(g, g.bluegreen, map[string]any{"tag": "v2"})).str("id")
	load := func(id string) *model.Deployment {
		t.Helper()
		ent, err := e.store.Get(context.Background(), model.KindDeployment, id)
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		return ent.(*model.Deployment)
	}
	redeployOf := func(id string) (*model.Deployment, error) {
		d := load(id)
		return &model.Deployment{Meta: model.Meta{ID: model.NewID(model.KindDeployment)}, ApplicationID: d.ApplicationID,
			WorkflowID: d.WorkflowID, ServiceID: d.ServiceID, EnvironmentID: d.EnvironmentID, InfrastructureID: d.InfrastructureID,
			Status: model.StatusQueued, Strategy: d.Strategy, Artifact: model.Artifact{Image: d.Artifact.Image, Tag: "v1"},
			TriggeredBy: model.TriggeredBy{Kind: model.TriggeredByRollback, ID: id}}, nil
	}

	t.Run("in place", func(t *testing.T) {
		f.redeploy = func(string) (*model.Deployment, error) { return nil, nil }
		r := e.must(http.StatusOK, http.MethodPost, "/v1/deployments/"+orig+"/rollback", nil)
		if r.str("id") != orig {
			t.Fatalf("body %s, want the deployment rolled back", r.Raw)
		}
	})
	t.Run("redeploy", func(t *testing.T) {
		f.redeploy = redeployOf
		r := e.must(http.StatusAccepted, http.MethodPost, "/v1/deployments/"+orig+"/rollback", map[string]any{"comment": "bad"})
		id := r.str("id")
		if id == "" || id == orig || r.Header.Get("Location") != "/v1/deployments/"+id || r.str("executionArn") == "" {
			t.Fatalf("202 %s (Location %q), want the started redeploy", r.Raw, r.Header.Get("Location"))
		}
		if d := load(id); d.ExecutionARN == "" || d.TriggeredBy.ID != orig || d.Status != model.StatusQueued {
			t.Fatalf("stored redeploy %+v, want it recorded with its execution", d)
		}
		if got, want := f.recorded[len(f.recorded)-1], orig+" "+id+" <nil>"; got != want {
			t.Fatalf("recorded %q, want %q", got, want)
		}
	})
	t.Run("start fails", func(t *testing.T) {
		f.redeploy = redeployOf
		e.starter.err = errors.New("states unavailable")
		defer func() { e.starter.err = nil }()
		r := e.must(http.StatusBadGateway, http.MethodPost, "/v1/deployments/"+orig+"/rollback", nil)
		f.mu.Lock()
		last := f.recorded[len(f.recorded)-1]
		f.mu.Unlock()
		var id string
		if _, err := fmt.Sscanf(last, orig+" %s", &id); err != nil {
			t.Fatalf("recorded %q: %v", last, err)
		}
		if d := load(id); d.Status != model.StatusFailed || d.EndedAt == nil {
			t.Fatalf("redeploy %+v after a failed start (%s), want FAILED", d, r.Raw)
		}
	})
	t.Run("nothing to go back to", func(t *testing.T) {
		f.redeploy = func(string) (*model.Deployment, error) {
			return nil, fmt.Errorf("no earlier revision: %w", api.ErrWrongState)
		}
		e.must(http.StatusConflict, http.MethodPost, "/v1/deployments/"+orig+"/rollback", nil)
	})
	t.Run("unknown deployment", func(t *testing.T) {
		f.redeploy = func(id string) (*model.Deployment, error) {
			return nil, fmt.Errorf("get deployment %s: %w", id, store.ErrNotFound)
		}
		e.must(http.StatusNotFound, http.MethodPost, "/v1/deployments/dep-0123/rollback", nil)
	})
}
