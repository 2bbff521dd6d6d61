package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
)

// abortingPipelines is a fakePipelines that can also abort.
type abortingPipelines struct {
	fakePipelines
	aborted  []string
	abortErr error
}

func (f *abortingPipelines) AbortExecution(_ context.Context, id, principal, comment string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.aborted = append(f.aborted, fmt.Sprintf("%s %s %s", id, principal, comment))
	return f.abortErr
}

var _ api.PipelineAborter = (*abortingPipelines)(nil)

func TestAbortPipelineExecutionRoute(t *testing.T) {
	e := onMem(t)
	g := e.seed()
	f := &abortingPipelines{}
	eng := *e
	eng.srv = newServer(t, api.New(e.store, e.starter, api.WithPipelines(f, f)))
	good := map[string]any{"artifact": map[string]any{"tag": "v1"}, "serviceId": g.svc}
	id := eng.must(http.StatusCreated, http.MethodPost, "/v1/pipelines/"+g.pipeline+"/executions", good).str("id")

	r := eng.must(http.StatusOK, http.MethodPost, "/v1/pipeline-executions/"+id+"/abort", map[string]string{"comment": "wrong build"})
	if r.str("id") != id || r.Header.Get("ETag") == "" {
		t.Fatalf("abort answered %v %s", r.Header, r.Raw)
	}
	if want := []string{id + " anonymous wrong build"}; fmt.Sprint(f.aborted) != fmt.Sprint(want) {
		t.Fatalf("controller saw %q, want %q", f.aborted, want)
	}
	f.abortErr = fmt.Errorf("already ended SUCCEEDED: %w", api.ErrWrongState)
	if r := eng.do(http.MethodPost, "/v1/pipeline-executions/"+id+"/abort", nil); r.Status != http.StatusConflict {
		t.Fatalf("abort of an ended execution: %d, want 409: %s", r.Status, r.Raw)
	}
	eng.must(http.StatusNotFound, http.MethodPost, "/v1/pipeline-executions/"+model.NewID(model.KindPipelineExecution)+"/abort", nil)
	if r := eng.do(http.MethodPost, "/v1/pipeline-executions/"+id+"/abort", map[string]any{"comment": 3}); r.Status != http.StatusBadRequest {
		t.Fatalf("bad body: %d, want 400", r.Status)
	}
	// A controller that cannot abort, or none: 503.
	plain := *e
	plain.srv = newServer(t, api.New(e.store, e.starter, api.WithPipelines(f, &f.fakePipelines)))
	plain.must(http.StatusServiceUnavailable, http.MethodPost, "/v1/pipeline-executions/"+id+"/abort", nil)
	e.must(http.StatusServiceUnavailable, http.MethodPost, "/v1/pipeline-executions/"+id+"/abort", nil)
	// The operation is documented.
	doc := e.must(http.StatusOK, http.MethodGet, "/v1/openapi.json", nil)
	paths, _ := doc.Body["paths"].(map[string]any)
	op, _ := paths["/v1/pipeline-executions/{id}/abort"].(map[string]any)
	if _, ok := op["post"]; !ok {
		t.Fatalf("openapi.json has no POST /v1/pipeline-executions/{id}/abort")
	}
}
