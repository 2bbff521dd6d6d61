package ecsevents_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/sfnlocal"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// newStore is a store on a fresh memdynamo table (over HTTP, as local mode reaches it).
func newStore(t *testing.T, now func() time.Time) *store.Store {
	t.Helper()
	b := dynamotest.MemHTTP()
	return store.New(b.Client, dynamotest.Table(t, b), store.WithClock(now))
}

// seedDeployment creates the entity graph and n RUNNING deployments of it.
func seedDeployment(t *testing.T, st *store.Store, n int) []string {
	t.Helper()
	return seedDeploymentTB(t, st, n)
}

func seedDeploymentTB(t testing.TB, st *store.Store, n int) []string {
	t.Helper()
	ctx := context.Background()
	mk := func(e model.Entity) {
		t.Helper()
		if err := st.Create(ctx, e); err != nil {
			t.Fatalf("create %s: %v", e.Kind(), err)
		}
	}
	cp := modeltest.CloudProvider()
	mk(cp)
	as := modeltest.ArtifactServer(cp.ID)
	mk(as)
	app := modeltest.Application()
	mk(app)
	svc := modeltest.Service(app.ID, as.ID)
	mk(svc)
	env := modeltest.Environment(app.ID)
	mk(env)
	inf := modeltest.Infrastructure(app.ID, env.ID, cp.ID)
	mk(inf)
	wf := modeltest.RollingWorkflow(app.ID, env.ID, inf.ID)
	mk(wf)
	var ids []string
	for range n {
		d := &model.Deployment{ApplicationID: app.ID, WorkflowID: wf.ID, ServiceID: svc.ID, EnvironmentID: env.ID,
			InfrastructureID: inf.ID, Status: model.StatusRunning, Strategy: model.StrategyRolling,
			Artifact:    model.Artifact{Image: "web", Tag: "v1"},
			TriggeredBy: model.TriggeredBy{Kind: model.TriggeredByAPI, Principal: "alice"}}
		mk(d)
		ids = append(ids, d.ID)
	}
	return ids
}

func ledger(t *testing.T, st *store.Store, id string) []model.LedgerEntry {
	t.Helper()
	out, _, err := st.Ledger(context.Background(), id, store.Page{Limit: 100})
	if err != nil {
		t.Fatalf("ledger: %v", err)
	}
	return out
}

// sample reads an event of the repository's events/ folder.
func sample(t testing.TB, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// call is one TaskCompleter call.
type call struct {
	op, token, errName, cause, output string
}

// recorder is a hand-written TaskCompleter that records calls and answers
// with the error set for the op (nil: success).
type recorder struct {
	mu    sync.Mutex
	calls []call
	fail  map[string]error
}

func (r *recorder) do(c call) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
	return r.fail[c.op]
}

func (r *recorder) SendTaskSuccess(_ context.Context, token, output string) error {
	return r.do(call{op: "success", token: token, output: output})
}

func (r *recorder) SendTaskFailure(_ context.Context, token, errName, cause string) error {
	return r.do(call{op: "failure", token: token, errName: errName, cause: cause})
}

func (r *recorder) SendTaskHeartbeat(_ context.Context, token string) error {
	return r.do(call{op: "heartbeat", token: token})
}

func (r *recorder) Calls() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

var (
	errSpent    = &sfnlocal.APIError{Code: "TaskTimedOut", Message: "Task Timed Out"}
	errThrottle = errors.New("ThrottlingException: rate exceeded")
)

var discard = slog.New(slog.DiscardHandler)
