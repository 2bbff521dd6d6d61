package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/memdynamo"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/store"
)

// memAPI is the handler on the real store over memdynamo in process (the
// embedded store of local mode): no network, for fuzzing and benchmarks.
type memAPI struct {
	h *api.Handler
	g graph
}

func newMemAPI(tb testing.TB) *memAPI {
	tb.Helper()
	db := memdynamo.New()
	if err := store.CreateTable(context.Background(), db, "ecsflow"); err != nil {
		tb.Fatalf("create table: %v", err)
	}
	st := store.New(db, "ecsflow")
	m := &memAPI{h: api.New(st, &fakeStarter{}, api.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))))}
	create := func(path string, e model.Entity) string {
		b, _ := json.Marshal(body(e))
		rec := m.serve(http.MethodPost, path, b)
		if rec.Code != http.StatusCreated {
			tb.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body)
		}
		var out struct{ ID string }
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return out.ID
	}
	g := &m.g
	g.cp = create("/v1/cloud-providers", modeltest.CloudProvider())
	g.as = create("/v1/artifact-servers", modeltest.ArtifactServer(g.cp))
	g.app = create("/v1/applications", modeltest.Application())
	ap := g.appPath()
	g.svc = create(ap+"/services", modeltest.Service(g.app, g.as))
	g.env = create(ap+"/environments", modeltest.Environment(g.app))
	g.infra = create(ap+"/environments/"+g.env+"/infrastructures", modeltest.Infrastructure(g.app, g.env, g.cp))
	g.rolling = create(ap+"/workflows", modeltest.RollingWorkflow(g.app, g.env, g.infra))
	return m
}

func (m *memAPI) serve(method, path string, b []byte, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(b))
	if b != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	m.h.ServeHTTP(rec, req)
	return rec
}
