package trigger_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/simclock"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
	"github.com/ecsflow/ecsflow/internal/trigger"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// recordingStarter is a hand-written Starter: it records every start and
// answers with the ARN Step Functions would give an execution named after
// the deployment, or the configured error.
type recordingStarter struct {
	mu      sync.Mutex
	started []model.Deployment
	err     error
}

func (r *recordingStarter) Start(_ context.Context, d *model.Deployment) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, *d)
	if r.err != nil {
		return "", r.err
	}
	return "arn:aws:states:us-east-1:123456789012:execution:ecsflow-" + string(d.Strategy) + ":" + d.ID, nil
}

func (r *recordingStarter) starts() []model.Deployment {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]model.Deployment(nil), r.started...)
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

// env is a trigger handler on a real store.
type env struct {
	st      *store.Store
	clock   *simclock.Manual
	starter *recordingStarter
	h       *trigger.Handler
	logs    *syncBuffer
	log     *slog.Logger
}

func newEnv(t testing.TB, b dynamotest.Backend, table string) *env {
	t.Helper()
	return newEnvOn(t, b.Client, table)
}

// newEnvOn is newEnv on any DynamoDB client (e.g. a store.CountingDB).
func newEnvOn(t testing.TB, db store.DynamoDB, table string) *env {
	t.Helper()
	clock := simclock.NewManual(time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC))
	e := &env{clock: clock, starter: &recordingStarter{}, logs: &syncBuffer{}}
	e.log = slog.New(slog.NewJSONHandler(e.logs, nil))
	e.st = store.New(db, table, store.WithClock(clock.Now))
	e.h = trigger.New(e.st, trigger.NewAPICreator(e.st, e.starter, api.WithLogger(e.log), api.WithClock(e.clock.Now)), e.starter,
		trigger.WithLogger(e.log), trigger.WithClock(clock.Now))
	return e
}

// graph is a seeded application: an ECR server in modeltest's account and
// region, the web service on its "web" repository, and a rolling workflow.
type graph struct {
	app, cp, server, svc, env, infra, workflow string
}

func mustCreate(t testing.TB, st *store.Store, e model.Entity) string {
	t.Helper()
	if err := st.Create(context.Background(), e); err != nil {
		t.Fatalf("create %s: %v", e.Kind(), err)
	}
	return e.GetMeta().ID
}

func (e *env) seed(t testing.TB) graph {
	t.Helper()
	var g graph
	g.app = mustCreate(t, e.st, modeltest.Application())
	g.cp = mustCreate(t, e.st, modeltest.CloudProvider())
	g.server = mustCreate(t, e.st, modeltest.ArtifactServer(g.cp))
	g.svc = mustCreate(t, e.st, modeltest.Service(g.app, g.server))
	g.env = mustCreate(t, e.st, modeltest.Environment(g.app))
	g.infra = mustCreate(t, e.st, modeltest.Infrastructure(g.app, g.env, g.cp))
	g.workflow = mustCreate(t, e.st, modeltest.RollingWorkflow(g.app, g.env, g.infra))
	return g
}

// addTrigger stores a trigger on the web repository of server.
func (e *env) addTrigger(t testing.TB, g graph, server, name, filter string, disabled bool) string {
	t.Helper()
	tr := modeltest.Trigger(g.app, server, g.workflow, g.svc)
	tr.Name, tr.TagFilter, tr.Disabled = name, filter, disabled
	return mustCreate(t, e.st, tr)
}

func (e *env) deployment(t testing.TB, id string) *model.Deployment {
	t.Helper()
	got, err := e.st.Get(context.Background(), model.KindDeployment, id)
	if err != nil {
		t.Fatalf("get deployment %s: %v", id, err)
	}
	return got.(*model.Deployment)
}

// deployments lists the service's deployments, newest first.
func (e *env) deployments(t testing.TB, g graph) []*model.Deployment {
	t.Helper()
	ds, _, err := e.st.ListDeployments(context.Background(), store.DeploymentFilter{AppID: g.app}, store.Page{Limit: 100})
	if err != nil {
		t.Fatalf("list deployments: %v", err)
	}
	return ds
}

func digestOf(b byte) string { return fmt.Sprintf("sha256:%064x", b) }
