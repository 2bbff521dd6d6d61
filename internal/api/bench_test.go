package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/ecsflow/ecsflow/internal/model/modeltest"
)

// The API handler's overhead per request, on the real store over memdynamo
// in process (no network): routing, decoding, validation, reference checks,
// store encoding and the in-memory table, JSON answer and access log (to
// io.Discard). Target: under 200 µs per request. memdynamo's writes and
// transactions cost the same whatever the table's size, so the create
// benchmarks run on one table that grows by b.N entities.

func BenchmarkCreateApplication(b *testing.B) {
	m := newMemAPI(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		rec := m.serve(http.MethodPost, "/v1/applications", []byte(fmt.Sprintf(`{"name":"bench-%d","description":"benchmark"}`, i)))
		if rec.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkCreateService creates a service: a bigger body, container
// definition validation and a reference check on the artifact server.
func BenchmarkCreateService(b *testing.B) {
	m := newMemAPI(b)
	svc := body(modeltest.Service(m.g.app, m.g.as))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		svc["name"] = fmt.Sprintf("svc-%d", i)
		rec := m.serve(http.MethodPost, m.g.appPath()+"/services", mustJSON(svc))
		if rec.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

func BenchmarkGetService(b *testing.B) {
	m := newMemAPI(b)
	path := m.g.appPath() + "/services/" + m.g.svc
	b.ReportAllocs()
	for b.Loop() {
		rec := m.serve(http.MethodGet, path, nil)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkCreateServiceRefused is the handler's own work on a create with
// no store write: route, read, strict decode, full validation of a service
// with one field wrong, JSON error answer and access log.
func BenchmarkCreateServiceRefused(b *testing.B) {
	m := newMemAPI(b)
	svc := body(modeltest.Service(m.g.app, m.g.as))
	svc["ecs"].(map[string]any)["networkMode"] = "bridge"
	payload := mustJSON(svc)
	path := m.g.appPath() + "/services"
	b.ReportAllocs()
	for b.Loop() {
		rec := m.serve(http.MethodPost, path, payload)
		if rec.Code != http.StatusBadRequest {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
