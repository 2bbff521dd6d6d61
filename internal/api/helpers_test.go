package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
)

var _ api.Repository = (*store.Store)(nil)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// fakeStarter is a hand-written Starter: it records what it was asked and
// answers with an ARN or the configured error.
type fakeStarter struct {
	mu      sync.Mutex
	started []*model.Deployment
	err     error
}

func (f *fakeStarter) Start(_ context.Context, d *model.Deployment) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := *d
	f.started = append(f.started, &c)
	if f.err != nil {
		return "", f.err
	}
	return "arn:aws:states:us-east-1:123456789012:execution:ecsflow-" + string(d.Strategy) + ":" + d.ID, nil
}

// env is an API served over HTTP on a real store.
type env struct {
	t       *testing.T
	srv     *httptest.Server
	store   *store.Store
	starter *fakeStarter
	logs    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T, b dynamotest.Backend, table string, opts ...api.Option) *env {
	t.Helper()
	st := store.New(b.DB, table)
	e := &env{t: t, store: st, starter: &fakeStarter{}, logs: &syncBuffer{}}
	h := api.New(st, e.starter, append([]api.Option{api.WithLogger(slog.New(slog.NewJSONHandler(e.logs, nil)))}, opts...)...)
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// forEachBackend runs f on every dynamotest backend (DynamoDB Local,
// minidyn's HTTP server, memdynamo in process and over HTTP).
func forEachBackend(t *testing.T, f func(t *testing.T, e *env)) {
	dynamotest.ForEach(t, func(t *testing.T, b dynamotest.Backend, table string) {
		f(t, newEnv(t, b, table))
	})
}

// onMem runs f on memdynamo's HTTP handler only (for error paths that do
// not depend on the backend), with the real SDK client.
func onMem(t *testing.T) *env {
	b := dynamotest.MemHTTP()
	return newEnv(t, b, dynamotest.Table(t, b))
}

type resp struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

func (r resp) str(path ...string) string {
	var v any = r.Body
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

func (r resp) items() []map[string]any {
	list, _ := r.Body["items"].([]any)
	out := make([]map[string]any, len(list))
	for i, it := range list {
		out[i], _ = it.(map[string]any)
	}
	return out
}

func (r resp) fields() map[string]string {
	e, _ := r.Body["error"].(map[string]any)
	fs, _ := e["fields"].([]any)
	out := map[string]string{}
	for _, f := range fs {
		m, _ := f.(map[string]any)
		out[m["field"].(string)] = m["message"].(string)
	}
	return out
}

func (r resp) code() string { return r.str("error", "code") }

// do sends a request; body may be nil, a string/[]byte (sent raw) or a value
// (sent as JSON with Content-Type application/json).
func (e *env) do(method, path string, body any, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case []byte:
		rd, ct = bytes.NewReader(b), "application/json"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("encode body: %v", err)
		}
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("read: %v", err)
	}
	r := resp{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			e.t.Fatalf("%s %s: answer is not a JSON object: %v: %s", method, path, err, raw)
		}
	}
	return r
}

// must sends a request and fails the test unless the status is want.
func (e *env) must(want int, method, path string, body any, hdr ...string) resp {
	e.t.Helper()
	r := e.do(method, path, body, hdr...)
	if r.Status != want {
		e.t.Fatalf("%s %s: got status %d, want %d: %s", method, path, r.Status, want, r.Raw)
	}
	return r
}

// body is an entity as a request body, without server-managed fields.
func body(ent model.Entity) map[string]any {
	b, _ := json.Marshal(ent)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"id", "version", "createdAt", "updatedAt"} {
		delete(m, k)
	}
	return m
}

// graph is the IDs of a full example graph created through the API.
type graph struct {
	cp, as, app, svc, env, infra, rolling, canary, bluegreen, pipeline, trigger string
}

func (g graph) appPath() string { return "/v1/applications/" + g.app }

func (e *env) create(path string, ent model.Entity) string {
	e.t.Helper()
	r := e.must(http.StatusCreated, http.MethodPost, path, body(ent))
	id := r.str("id")
	if id == "" {
		e.t.Fatalf("POST %s: no id in %s", path, r.Raw)
	}
	return id
}

func (e *env) seed() graph {
	e.t.Helper()
	var g graph
	g.cp = e.create("/v1/cloud-providers", modeltest.CloudProvider())
	g.as = e.create("/v1/artifact-servers", modeltest.ArtifactServer(g.cp))
	g.app = e.create("/v1/applications", modeltest.Application())
	ap := g.appPath()
	g.svc = e.create(ap+"/services", modeltest.Service(g.app, g.as))
	g.env = e.create(ap+"/environments", modeltest.Environment(g.app))
	g.infra = e.create(ap+"/environments/"+g.env+"/infrastructures", modeltest.Infrastructure(g.app, g.env, g.cp))
	g.rolling = e.create(ap+"/workflows", modeltest.RollingWorkflow(g.app, g.env, g.infra))
	g.canary = e.create(ap+"/workflows", modeltest.CanaryWorkflow(g.app, g.env, g.infra))
	g.bluegreen = e.create(ap+"/workflows", modeltest.BlueGreenWorkflow(g.app, g.env, g.infra))
	g.pipeline = e.create(ap+"/pipelines", modeltest.Pipeline(g.app, g.rolling, g.canary))
	g.trigger = e.create(ap+"/triggers", modeltest.Trigger(g.app, g.as, g.rolling, g.svc))
	return g
}

func mustApp(name string) *model.Application {
	a := modeltest.Application()
	a.Name = name
	return a
}

func envOf(appID string) *model.Environment { return modeltest.Environment(appID) }

func workflowOn(appID, envID, infraID string) *model.Workflow {
	w := modeltest.RollingWorkflow(appID, envID, infraID)
	w.Name = "cross"
	return w
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
