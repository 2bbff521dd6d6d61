package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/memdynamo"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
)

func TestCreateTableIsIdempotent(t *testing.T) {
	dynamotest.ForEach(t, func(t *testing.T, b dynamotest.Backend, table string) {
		ctx := context.Background()
		st := store.New(b.DB, table)
		app := modeltest.Application()
		if err := st.Create(ctx, app); err != nil {
			t.Fatal(err)
		}
		if err := store.CreateTable(ctx, b.DB.(store.TableAdmin), table); err != nil {
			t.Fatalf("second CreateTable: %v", err)
		}
		if _, err := st.Get(ctx, model.KindApplication, app.ID); err != nil {
			t.Errorf("the table lost its items: %v", err)
		}
	})
	mem := memdynamo.New()
	for i := range 2 {
		if err := store.CreateTable(context.Background(), mem, "t"); err != nil {
			t.Fatalf("in-memory CreateTable #%d: %v", i+1, err)
		}
	}
}

func TestGetUnknown(t *testing.T) {
	suite(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		app := modeltest.Application()
		mustCreate(t, e, app)
		cases := []struct {
			name string
			kind model.Kind
			id   string
		}{
			{"missing id", model.KindApplication, model.NewID(model.KindApplication)},
			{"id of another kind", model.KindService, app.ID},
			{"not an id", model.KindApplication, "garbage"},
			{"empty", model.KindApplication, ""},
		}
		for _, c := range cases {
			e.count.Reset()
			if _, err := e.st.Get(ctx, c.kind, c.id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: err = %v, want ErrNotFound", c.name, err)
			}
		}
		if err := e.st.Delete(ctx, model.KindService, app.ID, 0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete with the wrong kind: err = %v, want ErrNotFound", err)
		}
		if _, err := e.st.Get(ctx, model.KindApplication, app.ID); err != nil {
			t.Errorf("the app was touched: %v", err)
		}
	})
}

func TestDeploymentStatusMovesInFilter(t *testing.T) {
	suite(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		g := newGraph(t, e)
		f := store.DeploymentFilter{ServiceID: g.svc.ID, EnvironmentID: g.env.ID, Status: model.StatusRunning}
		if got, _, err := e.st.ListDeployments(ctx, f, store.Page{}); err != nil || len(got) != 0 {
			t.Fatalf("running before the update = %d, %v", len(got), err)
		}
		g.dep.Status = model.StatusRunning
		if err := e.st.Update(ctx, g.dep); err != nil {
			t.Fatal(err)
		}
		got, _, err := e.st.ListDeployments(ctx, f, store.Page{})
		if err != nil || len(got) != 1 || got[0].ID != g.dep.ID || got[0].Version != 2 {
			t.Errorf("running after the update = %v, %v", got, err)
		}
		// A deployment's references are not counted: the workflow it ran
		// can go once the pipeline and trigger no longer use it.
		for _, ent := range []model.Entity{g.trigger, g.pipeline} {
			if err := e.st.Delete(ctx, ent.Kind(), ent.GetMeta().ID, 0); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.st.Delete(ctx, model.KindWorkflow, g.rolling.ID, 0); err != nil {
			t.Errorf("delete a workflow only deployments name: %v", err)
		}
	})
}

// FuzzListCursor: whatever the cursor, List never panics and either works
// or says ErrBadCursor.
func FuzzListCursor(f *testing.F) {
	ctx := context.Background()
	mem := memdynamo.New()
	if err := store.CreateTable(ctx, mem, "fuzz"); err != nil {
		f.Fatal(err)
	}
	st := store.New(mem, "fuzz")
	app := modeltest.Application()
	if err := st.Create(ctx, app); err != nil {
		f.Fatal(err)
	}
	for i := range 3 {
		env := modeltest.Environment(app.ID)
		env.Name = fmt.Sprintf("env-%d", i)
		if err := st.Create(ctx, env); err != nil {
			f.Fatal(err)
		}
	}
	_, next, err := st.List(ctx, model.KindEnvironment, app.ID, store.Page{Limit: 1})
	if err != nil || next == "" {
		f.Fatalf("first page: %q, %v", next, err)
	}
	f.Add(next)
	f.Add("")
	f.Add(".")
	f.Add("e30.AAAAAAAAAAAAAAAA")
	f.Add(next + next)
	f.Fuzz(func(t *testing.T, cursor string) {
		items, _, err := st.List(ctx, model.KindEnvironment, app.ID, store.Page{Limit: 2, Cursor: cursor})
		if err != nil && !errors.Is(err, store.ErrBadCursor) {
			t.Fatalf("cursor %q: err = %v, want nil or ErrBadCursor", cursor, err)
		}
		if err == nil && len(items) > 2 {
			t.Fatalf("cursor %q: %d items over the limit", cursor, len(items))
		}
	})
}

// TestMaxReferencesFitOneTransaction: an entity with the most references
// allowed is created, counted and released in single transactions.
func TestMaxReferencesFitOneTransaction(t *testing.T) {
	suite(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		g := newGraph(t, e)
		p := &model.Pipeline{ApplicationID: g.app.ID, Name: "big"}
		var wfs []string
		for i := range store.MaxReferences - 1 { // plus the application
			wf := modeltest.RollingWorkflow(g.app.ID, g.env.ID, g.infra.ID)
			wf.Name = fmt.Sprintf("wf-%d", i)
			mustCreate(t, e, wf)
			wfs = append(wfs, wf.ID)
			p.Stages = append(p.Stages, model.Stage{Name: fmt.Sprintf("s%d", i), Type: model.StageWorkflow, WorkflowID: wf.ID})
		}
		e.count.Reset()
		mustCreate(t, e, p)
		if c := e.count.Counts(); c["TransactWriteItems"] != 1 || e.count.Total() != 1 {
			t.Errorf("create cost %v, want one transaction", c)
		}
		err := e.st.Delete(ctx, model.KindWorkflow, wfs[len(wfs)-1], 0)
		if by := refsBy(err); len(by) != 1 || by[0].ID != p.ID {
			t.Errorf("last workflow: err = %v, want referenced by the pipeline", err)
		}
		if err := e.st.Delete(ctx, model.KindPipeline, p.ID, 0); err != nil {
			t.Fatalf("delete the big pipeline: %v", err)
		}
		for _, id := range wfs {
			if err := e.st.Delete(ctx, model.KindWorkflow, id, 0); err != nil {
				t.Fatalf("delete workflow %s: %v", id, err)
			}
		}
	})
}

// TestConcurrentCreatesInOneApp: creates in one application all increment
// the application's refCount; concurrent ones conflict inside DynamoDB and
// the store retries them, so all succeed and the count is exact.
func TestConcurrentCreatesInOneApp(t *testing.T) {
	suite(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		g := newGraph(t, e)
		before := e.refCounts(t, g.app.ID)[g.app.ID]
		e.count.Reset()
		const n = 12
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				svc := modeltest.Service(g.app.ID, g.as.ID)
				svc.Name = fmt.Sprintf("svc-%d", i)
				<-start
				errs[i] = e.st.Create(ctx, svc)
			}()
		}
		close(start)
		wg.Wait()
		t.Logf("%d creates took %d transactions (any extra ones are retries after TransactionConflict)", n, e.count.Counts()["TransactWriteItems"])
		for i, err := range errs {
			if err != nil {
				t.Errorf("create %d: %v", i, err)
			}
		}
		items, _, err := e.st.List(ctx, model.KindService, g.app.ID, store.Page{})
		if err != nil || len(items) != n+1 {
			t.Errorf("services = %d, %v; want %d", len(items), err, n+1)
		}
		var b int
		fmt.Sscan(before, &b)
		if got := e.refCounts(t, g.app.ID)[g.app.ID]; got != fmt.Sprint(b+n) {
			t.Errorf("app refCount = %s, want %d", got, b+n)
		}
	})
}

// TestFilteredDeploymentPagesFill: with a status filter, pages are filled
// across Queries and the cursors neither skip nor repeat a deployment.
func TestFilteredDeploymentPagesFill(t *testing.T) {
	suite(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		g := newGraph(t, e) // g.dep is QUEUED
		want := []string{g.dep.ID}
		for i := range 9 {
			d := deployment(g)
			if i%3 == 0 {
				d.Status = model.StatusFailed
			}
			time.Sleep(2 * time.Millisecond)
			mustCreate(t, e, d)
			if d.Status == model.StatusQueued {
				want = append(want, d.ID)
			}
		}
		for _, f := range []store.DeploymentFilter{
			{ServiceID: g.svc.ID, EnvironmentID: g.env.ID, Status: model.StatusQueued, OldestFirst: true},
			{AppID: g.app.ID, Status: model.StatusQueued, OldestFirst: true},
		} {
			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				e.count.Reset()
				page, next, err := e.st.ListDeployments(ctx, f, store.Page{Limit: 2, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				if q := e.count.Counts()["Query"]; q > 5 {
					t.Errorf("a page cost %d queries", q)
				}
				if next != "" && len(page) != 2 {
					t.Errorf("page %d has %d items and more follow; want it filled to 2", pages, len(page))
				}
				for _, d := range page {
					if d.Status != model.StatusQueued {
						t.Errorf("%s has status %s", d.ID, d.Status)
					}
					got = append(got, d.ID)
				}
				if next == "" {
					break
				}
				cursor = next
				if pages > 10 {
					t.Fatal("too many pages")
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("filter %+v: got %v, want %v", f, got, want)
			}
		}
	})
}
