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
)

// fakePipelines is a hand-written PipelineStarter and PipelineController.
type fakePipelines struct {
	mu       sync.Mutex
	started  []string
	startErr error
	decided  []string
	ctrlErr  error
}

func (f *fakePipelines) StartPipeline(_ context.Context, x *model.PipelineExecution) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, x.ID)
	if f.startErr != nil {
		return "", f.startErr
	}
	return "arn:aws:states:us-east-1:123456789012:execution:ecsflow-pipeline:" + x.ID, nil
}

func (f *fakePipelines) ApproveStage(_ context.Context, id, principal, comment string) error {
	return f.decide("approve", id, principal, comment)
}

func (f *fakePipelines) RejectStage(_ context.Context, id, principal, comment string) error {
	return f.decide("reject", id, principal, comment)
}

func (f *fakePipelines) decide(action, id, principal, comment string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.decided = append(f.decided, fmt.Sprintf("%s %s %s %s", action, id, principal, comment))
	return f.ctrlErr
}

func TestPipelineExecutionRoutes(t *testing.T) {
	e := onMem(t)
	g := e.seed()
	start := func(e *env, pl string, body any) resp {
		return e.do(http.MethodPost, "/v1/pipelines/"+pl+"/executions", body)
	}
	good := map[string]any{"artifact": map[string]any{"tag": "v1"}, "serviceId": g.svc, "variables": map[string]string{"REGION_LABEL": "eu"}}

	// Without an engine: the request is checked, then refused with 503.
	tests := []struct {
		name      string
		pipeline  string
		body      any
		wantCode  int
		wantField string
	}{
		{"unknown pipeline", model.NewID(model.KindPipeline), good, http.StatusNotFound, ""},
		{"no artifact", g.pipeline, map[string]any{"serviceId": g.svc}, http.StatusBadRequest, "artifact"},
		{"no service for the workflows", g.pipeline, map[string]any{"artifact": map[string]any{"tag": "v1"}}, http.StatusBadRequest, "serviceId"},
		{"unknown service", g.pipeline, map[string]any{"artifact": map[string]any{"tag": "v1"}, "serviceId": model.NewID(model.KindService)}, http.StatusBadRequest, "serviceId"},
		{"bad variable name", g.pipeline, map[string]any{"artifact": map[string]any{"tag": "v1"}, "serviceId": g.svc, "variables": map[string]string{"1x": "y"}}, http.StatusBadRequest, "variables.1x"},
		{"unknown field", g.pipeline, map[string]any{"artifact": map[string]any{"tag": "v1"}, "stages": 1}, http.StatusBadRequest, ""},
		{"no engine", g.pipeline, good, http.StatusServiceUnavailable, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := start(e, tc.pipeline, tc.body)
			if r.Status != tc.wantCode {
				t.Fatalf("got %d, want %d: %s", r.Status, tc.wantCode, r.Raw)
			}
			if tc.wantField != "" {
				if _, ok := r.fields()[tc.wantField]; !ok {
					t.Fatalf("got fields %v, want one naming %s", r.fields(), tc.wantField)
				}
			}
		})
	}
	if r := e.must(http.StatusOK, http.MethodGet, "/v1/pipelines/"+g.pipeline+"/executions", nil); len(r.items()) != 0 {
		t.Fatalf("refused starts recorded executions: %s", r.Raw)
	}

	// With an engine.
	f := &fakePipelines{}
	eng := *e
	eng.srv = newServer(t, api.New(e.store, e.starter, api.WithPipelines(f, f)))
	r := eng.must(http.StatusCreated, http.MethodPost, "/v1/pipelines/"+g.pipeline+"/executions", good)
	id1 := r.str("id")
	if r.Header.Get("Location") != "/v1/pipeline-executions/"+id1 || r.Header.Get("ETag") == "" || r.str("status") != "PENDING" ||
		r.str("executionArn") == "" || r.str("pipelineId") != g.pipeline || r.str("artifact", "tag") != "v1" {
		t.Fatalf("created: %v %s", r.Header, r.Raw)
	}
	stages, _ := r.Body["stages"].([]any)
	if len(stages) != 3 {
		t.Fatalf("stages %v, want the pipeline's 3", stages)
	}
	x := eng.must(http.StatusOK, http.MethodGet, "/v1/pipeline-executions/"+id1, nil)
	if x.str("variables", "REGION_LABEL") != "eu" || x.str("triggeredBy", "kind") != model.TriggeredByAPI {
		t.Fatalf("get: %s", x.Raw)
	}
	// A start that fails is recorded FAILED and answered 502.
	f.startErr = errors.New("throttled")
	r = eng.must(http.StatusBadGateway, http.MethodPost, "/v1/pipelines/"+g.pipeline+"/executions", good)
	f.startErr = nil
	l := eng.must(http.StatusOK, http.MethodGet, "/v1/pipelines/"+g.pipeline+"/executions", nil).items()
	if len(l) != 2 || l[1]["id"] != id1 || l[0]["status"] != "FAILED" {
		t.Fatalf("list %v, want the FAILED one first, then %s", l, id1)
	}
	// Approve and reject reach the controller with the caller and comment.
	eng.must(http.StatusOK, http.MethodPost, "/v1/pipeline-executions/"+id1+"/approve", map[string]string{"comment": "ship it"})
	eng.must(http.StatusOK, http.MethodPost, "/v1/pipeline-executions/"+id1+"/reject", nil)
	want := []string{"approve " + id1 + " anonymous ship it", "reject " + id1 + " anonymous "}
	if fmt.Sprint(f.decided) != fmt.Sprint(want) {
		t.Fatalf("controller saw %q, want %q", f.decided, want)
	}
	f.ctrlErr = fmt.Errorf("no stage waits: %w", api.ErrWrongState)
	if r := eng.do(http.MethodPost, "/v1/pipeline-executions/"+id1+"/approve", nil); r.Status != http.StatusConflict {
		t.Fatalf("approve refused by the controller: %d, want 409", r.Status)
	}
	eng.must(http.StatusNotFound, http.MethodPost, "/v1/pipeline-executions/"+model.NewID(model.KindPipelineExecution)+"/approve", nil)
	eng.must(http.StatusNotFound, http.MethodGet, "/v1/pipeline-executions/dep-1", nil)
	e.must(http.StatusServiceUnavailable, http.MethodPost, "/v1/pipeline-executions/"+id1+"/approve", nil)
}
