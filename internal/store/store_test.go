package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// fakeClock is a settable clock for the store.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type env struct {
	table string
	st    *store.Store
	clock *fakeClock
	count *store.CountingDB
}

func newEnv(b dynamotest.Backend, table string) *env {
	c := newClock()
	cnt := store.NewCountingDB(b.DB)
	return &env{table: table, st: store.New(cnt, table, store.WithClock(c.Now)), clock: c, count: cnt}
}

// refCounts reads the raw refCount attribute of entities, straight from the
// table, to prove that failed writes moved no count.
func (e *env) refCounts(t *testing.T, ids ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, id := range ids {
		res, err := e.count.GetItem(context.Background(), &dynamodb.GetItemInput{
			TableName: aws.String(e.table), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{
				"PK": &types.AttributeValueMemberS{Value: id}, "SK": &types.AttributeValueMemberS{Value: "#E"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := res.Item["refCount"].(*types.AttributeValueMemberN); ok {
			out[id] = n.Value
		} else {
			out[id] = "absent"
		}
	}
	return out
}

// suite runs f on both backends, each with a fresh table.
func suite(t *testing.T, f func(t *testing.T, e *env)) {
	t.Helper()
	dynamotest.ForEach(t, func(t *testing.T, b dynamotest.Backend, table string) {
		f(t, newEnv(b, table))
	})
}

// graph is a full entity graph, created in dependency order.
type graph struct {
	cp        *model.CloudProvider
	as        *model.ArtifactServer
	app       *model.Application
	svc       *model.Service
	env       *model.Environment
	infra     *model.InfrastructureDefinition
	rolling   *model.Workflow
	canary    *model.Workflow
	bluegreen *model.Workflow
	pipeline  *model.Pipeline
	trigger   *model.Trigger
	dep       *model.Deployment
}

func (g *graph) all() []model.Entity {
	return []model.Entity{g.cp, g.as, g.app, g.svc, g.env, g.infra, g.rolling, g.canary, g.bluegreen, g.pipeline, g.trigger, g.dep}
}

func deployment(g *graph) *model.Deployment {
	return &model.Deployment{
		ApplicationID: g.app.ID, WorkflowID: g.rolling.ID, ServiceID: g.svc.ID,
		EnvironmentID: g.env.ID, InfrastructureID: g.infra.ID, Status: model.StatusQueued,
		Strategy: model.StrategyRolling,
		Artifact: model.Artifact{ServerID: g.as.ID, Repository: "web",
			Image: modeltest.Account + ".dkr.ecr." + modeltest.Region + ".amazonaws.com/web", Tag: "v1.2.3"},
		TriggeredBy: model.TriggeredBy{Kind: model.TriggeredByAPI, Principal: "alice"},
		Usage:       model.Usage{APICalls: map[string]int64{"ecs:UpdateService": 2}},
	}
}

func mustCreate(t *testing.T, e *env, ent model.Entity) {
	t.Helper()
	if err := e.st.Create(context.Background(), ent); err != nil {
		t.Fatalf("create %s: %v", ent.Kind(), err)
	}
}

func newGraph(t *testing.T, e *env) *graph {
	t.Helper()
	g := &graph{}
	g.cp = modeltest.CloudProvider()
	mustCreate(t, e, g.cp)
	g.as = modeltest.ArtifactServer(g.cp.ID)
	mustCreate(t, e, g.as)
	g.app = modeltest.Application()
	mustCreate(t, e, g.app)
	g.svc = modeltest.Service(g.app.ID, g.as.ID)
	mustCreate(t, e, g.svc)
	g.env = modeltest.Environment(g.app.ID)
	mustCreate(t, e, g.env)
	g.infra = modeltest.Infrastructure(g.app.ID, g.env.ID, g.cp.ID)
	mustCreate(t, e, g.infra)
	g.rolling = modeltest.RollingWorkflow(g.app.ID, g.env.ID, g.infra.ID)
	mustCreate(t, e, g.rolling)
	g.canary = modeltest.CanaryWorkflow(g.app.ID, g.env.ID, g.infra.ID)
	mustCreate(t, e, g.canary)
	g.bluegreen = modeltest.BlueGreenWorkflow(g.app.ID, g.env.ID, g.infra.ID)
	mustCreate(t, e, g.bluegreen)
	g.pipeline = modeltest.Pipeline(g.app.ID, g.rolling.ID, g.canary.ID)
	mustCreate(t, e, g.pipeline)
	g.trigger = modeltest.Trigger(g.app.ID, g.as.ID, g.rolling.ID, g.svc.ID)
	mustCreate(t, e, g.trigger)
	g.dep = deployment(g)
	mustCreate(t, e, g.dep)
	return g
}

// same compares two entities by their JSON form (the API's view).
func same(t *testing.T, got, want model.Entity) {
	t.Helper()
	gj, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	wj, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(gj) != string(wj) {
		t.Errorf("%s %s:\n got %s\nwant %s", want.Kind(), want.GetMeta().ID, gj, wj)
	}
}

func TestCRUDEveryKind(t *testing.T) {
	suite(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		g := newGraph(t, e)
		for _, ent := range g.all() {
			m := ent.GetMeta()
			if m.Version != 1 || !m.CreatedAt.Equal(e.clock.Now()) || !m.UpdatedAt.Equal(m.CreatedAt) {
				t.Errorf("%s after create: version %d, createdAt %v, updatedAt %v; want 1 and %v", ent.Kind(), m.Version, m.CreatedAt, m.UpdatedAt, e.clock.Now())
			}
			if k, ok := model.KindOfID(m.ID); !ok || k != ent.Kind() {
				t.Errorf("%s got id %q", ent.Kind(), m.ID)
			}
			got, err := e.st.Get(ctx, ent.Kind(), m.ID)
			if err != nil {
				t.Fatalf("get %s: %v", ent.Kind(), err)
			}
			if reflect.TypeOf(got) != reflect.TypeOf(ent) {
				t.Errorf("get %s returned %T", ent.Kind(), got)
			}
			same(t, got, ent)
		}
		// Typed get.
		svc, err := store.Get[*model.Service](ctx, e.st, g.svc.ID)
		if err != nil || svc.Name != "web" || string(svc.ECS.ContainerDefinitions) != string(g.svc.ECS.ContainerDefinitions) {
			t.Errorf("Get[*model.Service] = %+v, %v", svc, err)
		}
		if _, err := store.Get[*model.Environment](ctx, e.st, g.svc.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get[*model.Environment](service id) err = %v, want ErrNotFound", err)
		}
		// Update every kind: a change, a version bump, the new UpdatedAt.
		e.clock.Advance(time.Minute)
		for _, ent := range g.all() {
			switch v := ent.(type) {
			case *model.Application:
				v.Description = "changed"
			case *model.CloudProvider:
				v.ExternalID = "changed"
			case *model.ArtifactServer:
				v.PollIntervalMinutes = 5
			case *model.Service:
				v.Description = "changed"
			case *model.Environment:
				v.Description = "changed"
			case *model.InfrastructureDefinition:
				v.Cluster = "changed"
			case *model.Workflow:
				v.Description = "changed"
			case *model.Pipeline:
				v.Description = "changed"
			case *model.Trigger:
				v.Disabled = true
			case *model.Deployment:
				v.Status = model.StatusRunning
			}
			created := ent.GetMeta().CreatedAt
			if err := e.st.Update(ctx, ent); err != nil {
				t.Fatalf("update %s: %v", ent.Kind(), err)
			}
			m := ent.GetMeta()
			if m.Version != 2 || !m.UpdatedAt.Equal(e.clock.Now()) || !m.CreatedAt.Equal(created) {
				t.Errorf("%s after update: version %d updatedAt %v createdAt %v", ent.Kind(), m.Version, m.UpdatedAt, m.CreatedAt)
			}
			got, err := e.st.Get(ctx, ent.Kind(), m.ID)
			if err != nil {
				t.Fatalf("get %s: %v", ent.Kind(), err)
			}
			same(t, got, ent)
		}
		// Delete in reverse dependency order: every one succeeds.
		all := g.all()
		for i := len(all) - 1; i >= 0; i-- {
			ent := all[i]
			if err := e.st.Delete(ctx, ent.Kind(), ent.GetMeta().ID, ent.GetMeta().Version); err != nil {
				t.Fatalf("delete %s: %v", ent.Kind(), err)
			}
			if _, err := e.st.Get(ctx, ent.Kind(), ent.GetMeta().ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("get deleted %s: err = %v, want ErrNotFound", ent.Kind(), err)
			}
			if err := e.st.Delete(ctx, ent.Kind(), ent.GetMeta().ID, 0); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("delete deleted %s: err = %v, want ErrNotFound", ent.Kind(), err)
			}
		}
		// Every name is free again.
		for _, k := range []model.Kind{model.KindApplication, model.KindCloudProvider, model.KindArtifactServer} {
			items, _, err := e.st.List(ctx, k, "", store.Page{})
			if err != nil || len(items) != 0 {
				t.Errorf("list %s after deletes = %d items, %v", k, len(items), err)
			}
		}
		mustCreate(t, e, modeltest.CloudProvider())
	})
}

func TestStaleWriteConflicts(t *testing.T) {
	suite(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		app := modeltest.Application()
		mustCreate(t, e, app)
		stale := *app
		app.Description = "first"
		if err := e.st.Update(ctx, app); err != nil {
			t.Fatal(err)
		}
		stale.Description = "second"
		err := e.st.Update(ctx, &stale)
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("stale update err = %v, want ErrConflict", err)
		}
		if stale.Version != 1 {
			t.Errorf("failed update changed the version to %d", stale.Version)
		}
		if err := e.st.Delete(ctx, model.KindApplication, app.ID, 1); !errors.Is(err, store.ErrConflict) {
			t.Errorf("stale delete err = %v, want ErrConflict", err)
		}
		got, err := store.Get[*model.Application](ctx, e.st, app.ID)
		if err != nil || got.Description != "first" || got.Version != 2 {
			t.Errorf("stored = %+v, %v; want the first update at version 2", got, err)
		}
		missing := modeltest.Application()
		missing.ID = model.NewID(model.KindApplication)
		missing.Version = 1
		if err := e.st.Update(ctx, missing); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("update of a missing entity err = %v, want ErrNotFound", err)
		}
	})
}

func TestDuplicateNameNoPartialWrite(t *testing.T) {
	suite(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		g := newGraph(t, e)
		before, err := e.st.Get(ctx, model.KindService, g.svc.ID)
		if err != nil {
			t.Fatal(err)
		}
		asBefore, err := e.st.Get(ctx, model.KindArtifactServer, g.as.ID)
		if err != nil {
			t.Fatal(err)
		}
		counts := e.refCounts(t, g.app.ID, g.as.ID)
		if counts[g.app.ID] == "0" || counts[g.as.ID] != "2" {
			t.Fatalf("refCounts before = %v; want the app referenced and the artifact server by 2", counts)
		}
		dup := modeltest.Service(g.app.ID, g.as.ID)
		err = e.st.Create(ctx, dup)
		if !errors.Is(err, store.ErrAlreadyExists) {
			t.Fatalf("duplicate create err = %v, want ErrAlreadyExists", err)
		}
		if dup.ID != "" || dup.Version != 0 {
			t.Errorf("failed create left meta %+v on the entity", dup.Meta)
		}
		after, err := e.st.Get(ctx, model.KindService, g.svc.ID)
		if err != nil {
			t.Fatal(err)
		}
		same(t, after, before)
		// No refCount moved: the artifact server is referenced by the
		// service and the trigger only, and the item is unchanged.
		if got := e.refCounts(t, g.app.ID, g.as.ID); !reflect.DeepEqual(got, counts) {
			t.Errorf("refCounts after the failed create = %v, want %v", got, counts)
		}
		asAfter, err := e.st.Get(ctx, model.KindArtifactServer, g.as.ID)
		if err != nil {
			t.Fatal(err)
		}
		same(t, asAfter, asBefore)
		items, _, err := e.st.List(ctx, model.KindService, g.app.ID, store.Page{})
		if err != nil || len(items) != 1 {
			t.Errorf("services after the failed create: %d, %v; want 1", len(items), err)
		}
		// The same name in another application is fine.
		other := modeltest.Application()
		other.Name = "other"
		mustCreate(t, e, other)
		mustCreate(t, e, modeltest.Service(other.ID, g.as.ID))
		// Infrastructure names are unique per environment.
		inf := modeltest.Infrastructure(g.app.ID, g.env.ID, g.cp.ID)
		if err := e.st.Create(ctx, inf); !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("duplicate infrastructure err = %v, want ErrAlreadyExists", err)
		}
		env2 := modeltest.Environment(g.app.ID)
		env2.Name = "staging"
		mustCreate(t, e, env2)
		mustCreate(t, e, modeltest.Infrastructure(g.app.ID, env2.ID, g.cp.ID))
		// Updating into a taken name fails and changes nothing.
		env2.Name = "prod"
		if err := e.st.Update(ctx, env2); !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("rename into a taken name err = %v, want ErrAlreadyExists", err)
		}
		got, err := store.Get[*model.Environment](ctx, e.st, env2.ID)
		if err != nil || got.Name != "staging" || got.Version != 1 {
			t.Errorf("after failed rename: %+v, %v", got, err)
		}
	})
}

func TestRenameFreesOldName(t *testing.T) {
	suite(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cp := modeltest.CloudProvider()
		mustCreate(t, e, cp)
		cp.Name = "renamed"
		if err := e.st.Update(ctx, cp); err != nil {
			t.Fatal(err)
		}
		again := modeltest.CloudProvider() // the old name
		if err := e.st.Create(ctx, again); err != nil {
			t.Fatalf("create with the freed name: %v", err)
		}
		dup := modeltest.CloudProvider()
		dup.Name = "renamed"
		if err := e.st.Create(ctx, dup); !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("create with the new name err = %v, want ErrAlreadyExists", err)
		}
		// Deleting frees the name too.
		if err := e.st.Delete(ctx, model.KindCloudProvider, cp.ID, cp.Version); err != nil {
			t.Fatal(err)
		}
		if err := e.st.Create(ctx, dup); err != nil {
			t.Errorf("create after delete freed the name: %v", err)
		}
	})
}

func TestInvalidReference(t *testing.T) {
	suite(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		g := newGraph(t, e)
		counts := e.refCounts(t, g.app.ID, g.rolling.ID, g.svc.ID, g.as.ID)
		missingEnv := model.NewID(model.KindEnvironment)
		missingInfra := model.NewID(model.KindInfrastructure)
		wf := modeltest.RollingWorkflow(g.app.ID, missingEnv, missingInfra)
		wf.Name = "dangling"
		err := e.st.Create(ctx, wf)
		var ire *store.InvalidReferenceError
		if !errors.As(err, &ire) || !errors.Is(err, store.ErrInvalidReference) {
			t.Fatalf("create with unknown references err = %v, want *InvalidReferenceError", err)
		}
		want := []model.Ref{{Kind: model.KindEnvironment, ID: missingEnv, Field: "envId"},
			{Kind: model.KindInfrastructure, ID: missingInfra, Field: "infraId"}}
		if !reflect.DeepEqual(ire.Refs, want) {
			t.Errorf("refs = %+v, want %+v", ire.Refs, want)
		}
		if _, _, err := e.st.List(ctx, model.KindWorkflow, g.app.ID, store.Page{}); err != nil {
			t.Fatal(err)
		}
		// Nothing was written: the name is free and the app's refCount did
		// not move (so the app can still be emptied and deleted, below).
		wf2 := modeltest.RollingWorkflow(g.app.ID, g.env.ID, g.infra.ID)
		wf2.Name = "dangling"
		mustCreate(t, e, wf2)
		// An ID of the wrong kind names its field without a round trip.
		trg := modeltest.Trigger(g.app.ID, g.as.ID, g.svc.ID, "")
		trg.Name = "wrong-kind"
		err = e.st.Create(ctx, trg)
		if !errors.As(err, &ire) || len(ire.Refs) != 1 || ire.Refs[0].Field != "workflowId" {
			t.Errorf("wrong-kind reference err = %v, want one on workflowId", err)
		}
		// A deployment's references are checked too.
		dep := deployment(g)
		dep.ServiceID = model.NewID(model.KindService)
		err = e.st.Create(ctx, dep)
		if !errors.As(err, &ire) || len(ire.Refs) != 1 || ire.Refs[0].Field != "serviceId" {
			t.Errorf("deployment with a missing service err = %v, want one on serviceId", err)
		}
		// Update pointing at a missing entity.
		g.trigger.PipelineID = model.NewID(model.KindPipeline)
		g.trigger.WorkflowID = ""
		err = e.st.Update(ctx, g.trigger)
		if !errors.As(err, &ire) || len(ire.Refs) != 1 || ire.Refs[0].Field != "pipelineId" {
			t.Errorf("update with a missing pipeline err = %v, want one on pipelineId", err)
		}
		if g.trigger.Version != 1 {
			t.Errorf("failed update moved the version to %d", g.trigger.Version)
		}
		// The workflow is still referenced by the trigger (the failed
		// update moved nothing).
		if err := e.st.Delete(ctx, model.KindWorkflow, g.rolling.ID, 0); !errors.Is(err, store.ErrReferenced) {
			t.Errorf("delete of the trigger's workflow err = %v, want ErrReferenced", err)
		}
		if got := e.refCounts(t, g.app.ID, g.rolling.ID, g.svc.ID, g.as.ID); got[g.rolling.ID] != counts[g.rolling.ID] ||
			got[g.svc.ID] != counts[g.svc.ID] || got[g.as.ID] != counts[g.as.ID] {
			t.Errorf("refCounts after failed writes = %v, before %v", got, counts)
		}
		// Invalid entities are refused before any write.
		bad := modeltest.Application()
		bad.Name = ""
		var ve *model.ValidationError
		if err := e.st.Create(ctx, bad); !errors.As(err, &ve) {
			t.Errorf("invalid entity err = %v, want *model.ValidationError", err)
		}
	})
}

func refsBy(err error) []model.Ref {
	var re *store.ReferencedError
	if errors.As(err, &re) {
		return re.By
	}
	return nil
}

func TestReferencedDelete(t *testing.T) {
	suite(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		g := newGraph(t, e)
		// The service is used by the trigger (serviceId); the deployment's
		// reference is not counted.
		err := e.st.Delete(ctx, model.KindService, g.svc.ID, 0)
		if !errors.Is(err, store.ErrReferenced) {
			t.Fatalf("delete referenced service err = %v, want ErrReferenced", err)
		}
		want := []model.Ref{{Kind: model.KindTrigger, ID: g.trigger.ID, Field: "serviceId"}}
		if got := refsBy(err); !reflect.DeepEqual(got, want) {
			t.Errorf("referenced by %+v, want %+v", got, want)
		}
		if _, err := e.st.Get(ctx, model.KindService, g.svc.ID); err != nil {
			t.Errorf("the referenced service is gone: %v", err)
		}
		// The rolling workflow: by the pipeline (stages[0]) and the trigger.
		err = e.st.Delete(ctx, model.KindWorkflow, g.rolling.ID, 0)
		wantWF := map[string]bool{g.pipeline.ID + " stages[0].workflowId": true, g.trigger.ID + " workflowId": true}
		got := refsBy(err)
		if len(got) != len(wantWF) {
			t.Errorf("workflow referenced by %+v, want %v", got, wantWF)
		}
		for _, r := range got {
			if !wantWF[r.ID+" "+r.Field] {
				t.Errorf("unexpected referrer %+v", r)
			}
		}
		// Drop the trigger's service reference: the service is free.
		g.trigger.ServiceID = ""
		if err := e.st.Update(ctx, g.trigger); err != nil {
			t.Fatal(err)
		}
		if err := e.st.Delete(ctx, model.KindService, g.svc.ID, 0); err != nil {
			t.Fatalf("delete service after its referrer dropped it: %v", err)
		}
		// Delete the trigger: the workflow is referenced by the pipeline only.
		if err := e.st.Delete(ctx, model.KindTrigger, g.trigger.ID, g.trigger.Version); err != nil {
			t.Fatal(err)
		}
		err = e.st.Delete(ctx, model.KindWorkflow, g.rolling.ID, 0)
		if got := refsBy(err); len(got) != 1 || got[0].ID != g.pipeline.ID {
			t.Errorf("after the trigger is gone the workflow is referenced by %+v (%v)", got, err)
		}
		if err := e.st.Delete(ctx, model.KindPipeline, g.pipeline.ID, 0); err != nil {
			t.Fatal(err)
		}
		if err := e.st.Delete(ctx, model.KindWorkflow, g.rolling.ID, 0); err != nil {
			t.Errorf("delete workflow after its referrers are gone: %v", err)
		}
		// The application is referenced by everything still in it.
		err = e.st.Delete(ctx, model.KindApplication, g.app.ID, 0)
		if got := refsBy(err); len(got) == 0 {
			t.Errorf("delete app err = %v, want ErrReferenced naming its entities", err)
		}
	})
}

func TestReferenceMovesOnUpdate(t *testing.T) {
	suite(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		g := newGraph(t, e)
		// The pipeline referenced rolling and canary; point it at bluegreen
		// twice (two stages, one target).
		g.pipeline.Stages[0].WorkflowID = g.bluegreen.ID
		g.pipeline.Stages[2].WorkflowID = g.bluegreen.ID
		if err := e.st.Update(ctx, g.pipeline); err != nil {
			t.Fatal(err)
		}
		if err := e.st.Delete(ctx, model.KindWorkflow, g.canary.ID, 0); err != nil {
			t.Errorf("canary is no longer referenced, delete: %v", err)
		}
		err := e.st.Delete(ctx, model.KindWorkflow, g.bluegreen.ID, 0)
		got := refsBy(err)
		want := []model.Ref{{Kind: model.KindPipeline, ID: g.pipeline.ID, Field: "stages[0].workflowId"},
			{Kind: model.KindPipeline, ID: g.pipeline.ID, Field: "stages[2].workflowId"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("bluegreen referenced by %+v, want %+v", got, want)
		}
		// One referrer holding two fields counts once: removing it frees it.
		if err := e.st.Delete(ctx, model.KindPipeline, g.pipeline.ID, 0); err != nil {
			t.Fatal(err)
		}
		if err := e.st.Delete(ctx, model.KindWorkflow, g.bluegreen.ID, 0); err != nil {
			t.Errorf("delete bluegreen once the pipeline is gone: %v", err)
		}
	})
}

func TestPagination(t *testing.T) {
	suite(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		app := modeltest.Application()
		mustCreate(t, e, app)
		cp := modeltest.CloudProvider()
		mustCreate(t, e, cp)
		var ids []string
		for i := range 7 {
			env := modeltest.Environment(app.ID)
			env.Name = fmt.Sprintf("env-%d", i)
			mustCreate(t, e, env)
			ids = append(ids, env.ID)
		}
		var got []string
		cursor := ""
		pages := 0
		for {
			e.count.Reset()
			items, next, err := e.st.List(ctx, model.KindEnvironment, app.ID, store.Page{Limit: 3, Cursor: cursor})
			if err != nil {
				t.Fatalf("page %d: %v", pages, err)
			}
			if c := e.count.Counts(); c["Query"] != 1 || e.count.Total() != 1 {
				t.Errorf("page %d cost %v, want exactly 1 Query", pages, c)
			}
			pages++
			if len(items) > 3 {
				t.Errorf("page %d has %d items, limit 3", pages, len(items))
			}
			for _, it := range items {
				got = append(got, it.GetMeta().ID)
			}
			if next == "" {
				break
			}
			cursor = next
			if pages > 5 {
				t.Fatal("too many pages")
			}
		}
		if !reflect.DeepEqual(got, ids) {
			t.Errorf("paged ids = %v, want %v (creation order)", got, ids)
		}
		if pages < 3 {
			t.Errorf("%d pages, want at least 3", pages)
		}
		// Tampered, foreign and garbage cursors.
		_, next, err := e.st.List(ctx, model.KindEnvironment, app.ID, store.Page{Limit: 2})
		if err != nil || next == "" {
			t.Fatalf("first page: next %q, %v", next, err)
		}
		tampered := []byte(next)
		tampered[3] ^= 0x01
		cases := map[string]string{
			"tampered":      string(tampered),
			"garbage":       "not-a-cursor",
			"truncated":     next[:len(next)-2],
			"no checksum":   next[:len(next)-17],
			"other listing": next, // used below on another app
		}
		for name, c := range cases {
			appID := app.ID
			if name == "other listing" {
				appID = "app-" + "0000"
			}
			if _, _, err := e.st.List(ctx, model.KindEnvironment, appID, store.Page{Cursor: c}); !errors.Is(err, store.ErrBadCursor) {
				t.Errorf("%s cursor err = %v, want ErrBadCursor", name, err)
			}
		}
		if _, _, err := e.st.List(ctx, model.KindCloudProvider, "", store.Page{Cursor: next}); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("cursor of another kind err = %v, want ErrBadCursor", err)
		}
		// Account-level kinds list without an app.
		cps, _, err := e.st.List(ctx, model.KindCloudProvider, "", store.Page{})
		if err != nil || len(cps) != 1 || cps[0].GetMeta().ID != cp.ID {
			t.Errorf("list cloud providers = %v, %v", cps, err)
		}
	})
}

func TestListDeploymentsNewestFirst(t *testing.T) {
	suite(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		g := newGraph(t, e)
		env2 := modeltest.Environment(g.app.ID)
		env2.Name = "staging"
		mustCreate(t, e, env2)
		ids := []string{g.dep.ID}
		for i := range 4 {
			d := deployment(g)
			if i == 2 {
				d.EnvironmentID = env2.ID
			}
			if i == 3 {
				d.Status = model.StatusSucceeded
			}
			time.Sleep(2 * time.Millisecond) // distinct UUIDv7 milliseconds
			mustCreate(t, e, d)
			if i != 2 {
				ids = append(ids, d.ID)
			}
		}
		want := make([]string, len(ids))
		for i, id := range ids {
			want[len(ids)-1-i] = id
		}
		var got []string
		cursor := ""
		for {
			page, next, err := e.st.ListDeployments(ctx, store.DeploymentFilter{ServiceID: g.svc.ID, EnvironmentID: g.env.ID}, store.Page{Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range page {
				got = append(got, d.ID)
				if d.EnvironmentID != g.env.ID {
					t.Errorf("deployment %s of environment %s listed", d.ID, d.EnvironmentID)
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("service+env deployments = %v, want newest first %v", got, want)
		}
		all, _, err := e.st.ListDeployments(ctx, store.DeploymentFilter{AppID: g.app.ID}, store.Page{})
		if err != nil || len(all) != 5 {
			t.Fatalf("app deployments: %d, %v; want 5", len(all), err)
		}
		for i := 1; i < len(all); i++ {
			if all[i-1].ID < all[i].ID {
				t.Errorf("app deployments not newest first: %s before %s", all[i-1].ID, all[i].ID)
			}
		}
		oldest, _, err := e.st.ListDeployments(ctx, store.DeploymentFilter{ServiceID: g.svc.ID, EnvironmentID: g.env.ID, OldestFirst: true}, store.Page{Limit: 1})
		if err != nil || len(oldest) != 1 || oldest[0].ID != g.dep.ID {
			t.Errorf("oldest first = %v, %v; want %s", oldest, err, g.dep.ID)
		}
		done, _, err := e.st.ListDeployments(ctx, store.DeploymentFilter{ServiceID: g.svc.ID, EnvironmentID: g.env.ID, Status: model.StatusSucceeded}, store.Page{})
		if err != nil || len(done) != 1 || done[0].Status != model.StatusSucceeded {
			t.Errorf("succeeded deployments = %v, %v; want 1", done, err)
		}
		staging, _, err := e.st.ListDeployments(ctx, store.DeploymentFilter{AppID: g.app.ID, EnvironmentID: env2.ID}, store.Page{})
		if err != nil || len(staging) != 1 || staging[0].EnvironmentID != env2.ID {
			t.Errorf("staging deployments = %v, %v; want 1", staging, err)
		}
		if _, _, err := e.st.ListDeployments(ctx, store.DeploymentFilter{Status: model.StatusQueued}, store.Page{}); !errors.Is(err, store.ErrBadFilter) {
			t.Errorf("filter without app or service+env err = %v, want ErrBadFilter", err)
		}
	})
}

func TestFindTriggers(t *testing.T) {
	suite(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		g := newGraph(t, e)
		t2 := modeltest.Trigger(g.app.ID, g.as.ID, "", "")
		t2.Name = "nightly"
		t2.PipelineID = g.pipeline.ID
		mustCreate(t, e, t2)
		other := modeltest.Trigger(g.app.ID, g.as.ID, g.rolling.ID, "")
		other.Name = "api"
		other.Repository = "api"
		mustCreate(t, e, other)
		got, err := e.st.FindTriggers(ctx, g.as.ID, "web")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != g.trigger.ID || got[1].ID != t2.ID {
			t.Errorf("triggers for web = %v, want %s and %s", got, g.trigger.ID, t2.ID)
		}
		// Moving a trigger to another repository moves it in the index.
		t2.Repository = "api"
		if err := e.st.Update(ctx, t2); err != nil {
			t.Fatal(err)
		}
		got, err = e.st.FindTriggers(ctx, g.as.ID, "web")
		if err != nil || len(got) != 1 {
			t.Errorf("after the move, triggers for web = %d, %v; want 1", len(got), err)
		}
		got, err = e.st.FindTriggers(ctx, g.as.ID, "api")
		if err != nil || len(got) != 2 {
			t.Errorf("triggers for api = %d, %v; want 2", len(got), err)
		}
		got, err = e.st.FindTriggers(ctx, g.as.ID, "nothing")
		if err != nil || len(got) != 0 {
			t.Errorf("triggers for an unknown repository = %v, %v", got, err)
		}
	})
}

func TestLedger(t *testing.T) {
	suite(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		g := newGraph(t, e)
		t0 := e.clock.Now()
		// Two entries at the same instant keep their order by Seq; an
		// earlier At sorts first whatever its Seq.
		if err := e.st.AppendLedger(ctx, g.dep.ID,
			model.LedgerEntry{Kind: model.LedgerStatus, Message: "queued"},
			model.LedgerEntry{Kind: model.LedgerStep, Message: "register task definition", Data: json.RawMessage(`{"revision":7}`)},
		); err != nil {
			t.Fatal(err)
		}
		if err := e.st.AppendLedger(ctx, g.dep.ID,
			model.LedgerEntry{At: t0.Add(-time.Second), Kind: model.LedgerNote, Message: "earlier"},
			model.LedgerEntry{At: t0.Add(time.Second), Kind: model.LedgerTaskStopped, Message: "Essential container in task exited"},
		); err != nil {
			t.Fatal(err)
		}
		var got []model.LedgerEntry
		cursor := ""
		for {
			page, next, err := e.st.Ledger(ctx, g.dep.ID, store.Page{Limit: 3, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page...)
			if next == "" {
				break
			}
			cursor = next
		}
		msgs := make([]string, len(got))
		for i, le := range got {
			msgs[i] = fmt.Sprintf("%d:%s", le.Seq, le.Message)
			if le.DeploymentID != g.dep.ID {
				t.Errorf("entry %d deploymentId %q", i, le.DeploymentID)
			}
		}
		want := []string{"3:earlier", "1:queued", "2:register task definition", "4:Essential container in task exited"}
		if !reflect.DeepEqual(msgs, want) {
			t.Errorf("ledger = %v, want %v", msgs, want)
		}
		if string(got[2].Data) != `{"revision":7}` || !got[1].At.Equal(t0) {
			t.Errorf("entry data %s at %v", got[2].Data, got[1].At)
		}
		// The counter does not touch the deployment's version.
		d, err := store.Get[*model.Deployment](ctx, e.st, g.dep.ID)
		if err != nil || d.Version != 1 {
			t.Errorf("deployment after ledger appends: version %d, %v", d.Version, err)
		}
		if err := e.st.AppendLedger(ctx, model.NewID(model.KindDeployment), model.LedgerEntry{Message: "x"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ledger of a missing deployment err = %v, want ErrNotFound", err)
		}
		if _, _, err := e.st.Ledger(ctx, g.dep.ID, store.Page{Cursor: "bogus.cursor"}); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("bad ledger cursor err = %v, want ErrBadCursor", err)
		}
	})
}

func TestLeases(t *testing.T) {
	suite(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		const key = "prod/web"
		l, err := e.st.AcquireLease(ctx, key, "dep-a", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if l.Holder != "dep-a" || !l.Expires.Equal(e.clock.Now().Add(time.Minute)) {
			t.Errorf("lease = %+v", l)
		}
		_, err = e.st.AcquireLease(ctx, key, "dep-b", time.Minute)
		var held *store.LeaseHeldError
		if !errors.As(err, &held) || !errors.Is(err, store.ErrLeaseHeld) {
			t.Fatalf("second acquire err = %v, want *LeaseHeldError", err)
		}
		if held.Holder != "dep-a" || held.Key != key || !held.Expires.Equal(l.Expires) {
			t.Errorf("held error = %+v, want dep-a until %v", held, l.Expires)
		}
		if err := e.st.ReleaseLease(ctx, key, "dep-b"); !errors.Is(err, store.ErrLeaseHeld) {
			t.Errorf("release by a non-holder err = %v, want ErrLeaseHeld", err)
		}
		// Renewal by the holder.
		e.clock.Advance(30 * time.Second)
		l2, err := e.st.AcquireLease(ctx, key, "dep-a", time.Minute)
		if err != nil || !l2.Expires.Equal(e.clock.Now().Add(time.Minute)) {
			t.Errorf("renew = %+v, %v", l2, err)
		}
		got, held2, err := e.st.GetLease(ctx, key)
		if err != nil || !held2 || got.Holder != "dep-a" || !got.Expires.Equal(l2.Expires) {
			t.Errorf("get lease = %+v %v %v", got, held2, err)
		}
		// Expiry: dep-b takes over.
		e.clock.Advance(61 * time.Second)
		if _, held3, _ := e.st.GetLease(ctx, key); held3 {
			t.Error("expired lease reported as held")
		}
		l3, err := e.st.AcquireLease(ctx, key, "dep-b", time.Minute)
		if err != nil || l3.Holder != "dep-b" {
			t.Fatalf("takeover = %+v, %v", l3, err)
		}
		if err := e.st.ReleaseLease(ctx, key, "dep-a"); !errors.Is(err, store.ErrLeaseHeld) {
			t.Errorf("release by the former holder err = %v, want ErrLeaseHeld", err)
		}
		if err := e.st.ReleaseLease(ctx, key, "dep-b"); err != nil {
			t.Errorf("release: %v", err)
		}
		if _, held4, err := e.st.GetLease(ctx, key); held4 || err != nil {
			t.Errorf("released lease held=%v err=%v", held4, err)
		}
		if err := e.st.ReleaseLease(ctx, key, "dep-b"); err != nil {
			t.Errorf("release of a free lease: %v", err)
		}
		if _, err := e.st.AcquireLease(ctx, key, "dep-c", time.Minute); err != nil {
			t.Errorf("acquire after release: %v", err)
		}
	})
}

func TestConcurrentUpdates(t *testing.T) {
	suite(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		app := modeltest.Application()
		app.Tags = map[string]string{"writer": "none"}
		app.Description = "none"
		mustCreate(t, e, app)
		const writers = 20
		var wg sync.WaitGroup
		errs := make([]error, writers)
		stop := make(chan struct{})
		torn := make(chan string, 100)
		var readerWG sync.WaitGroup
		for range 2 {
			readerWG.Add(1)
			go func() {
				defer readerWG.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					got, err := store.Get[*model.Application](ctx, e.st, app.ID)
					if err != nil {
						torn <- err.Error()
						return
					}
					if got.Description != got.Tags["writer"] || (got.Version == 1) != (got.Description == "none") {
						torn <- fmt.Sprintf("version %d description %q writer tag %q", got.Version, got.Description, got.Tags["writer"])
					}
				}
			}()
		}
		start := make(chan struct{})
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mine := *app
				mine.Description = fmt.Sprintf("writer-%d", i)
				mine.Tags = map[string]string{"writer": mine.Description}
				<-start
				errs[i] = e.st.Update(ctx, &mine)
			}()
		}
		close(start)
		wg.Wait()
		close(stop)
		readerWG.Wait()
		close(torn)
		for msg := range torn {
			t.Errorf("reader saw a torn entity: %s", msg)
		}
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("writer %d: %v, want nil or ErrConflict", i, err)
			}
		}
		if ok != 1 {
			t.Errorf("%d writers succeeded, want exactly 1", ok)
		}
		got, err := store.Get[*model.Application](ctx, e.st, app.ID)
		if err != nil || got.Version != 2 || got.Description != got.Tags["writer"] {
			t.Errorf("final = %+v, %v", got, err)
		}
	})
}

func TestRoundTrips(t *testing.T) {
	suite(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		g := newGraph(t, e)
		e.count.Reset()
		svc := modeltest.Service(g.app.ID, g.as.ID)
		svc.Name = "counted"
		mustCreate(t, e, svc)
		if c := e.count.Counts(); c["TransactWriteItems"] != 1 || e.count.Total() != 1 {
			t.Errorf("create cost %v, want 1 TransactWriteItems", c)
		}
		e.count.Reset()
		if _, err := e.st.Get(ctx, model.KindService, svc.ID); err != nil {
			t.Fatal(err)
		}
		if c := e.count.Counts(); c["GetItem"] != 1 || e.count.Total() != 1 {
			t.Errorf("get cost %v, want 1 GetItem", c)
		}
		e.count.Reset()
		if _, _, err := e.st.List(ctx, model.KindService, g.app.ID, store.Page{}); err != nil {
			t.Fatal(err)
		}
		if c := e.count.Counts(); c["Query"] != 1 || e.count.Total() != 1 {
			t.Errorf("list cost %v, want 1 Query", c)
		}
		e.count.Reset()
		svc.Description = "x"
		if err := e.st.Update(ctx, svc); err != nil {
			t.Fatal(err)
		}
		if c := e.count.Counts(); c["GetItem"] != 1 || c["TransactWriteItems"] != 1 || e.count.Total() != 2 {
			t.Errorf("update cost %v, want 1 GetItem + 1 TransactWriteItems", c)
		}
	})
}
