package main

import (
	"context"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/client"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// TestScheduledTriggerOnTheLocalStack: a trigger with a schedule, created
// through the API, deploys its artifact tag when ecsflow local's simulated
// clock reaches a minute its cron names; a trigger with a bad schedule is
// refused.
func TestScheduledTriggerOnTheLocalStack(t *testing.T) {
	c, s := newCLI(t)
	c.must("apply", "-f", exampleWorld(t, s, true))
	c.must("push", "web:v1.0.0")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	api, err := s.APIClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	find := func(kind model.Kind, scope client.Scope, name string) model.Entity {
		t.Helper()
		e, err := findByName(ctx, api, kind, scope, name)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	app := find(model.KindApplication, client.Scope{}, "shop").GetMeta().ID
	wf := find(model.KindWorkflow, client.Scope{AppID: app}, "web-dev-canary").GetMeta().ID
	svc := find(model.KindService, client.Scope{AppID: app}, "web").GetMeta().ID
	as := find(model.KindArtifactServer, client.Scope{}, "ecr").GetMeta().ID
	tr := &model.Trigger{ApplicationID: app, Name: "every-minute", ArtifactServerID: as, Repository: "web",
		WorkflowID: wf, ServiceID: svc, Schedule: "* * * * *", ArtifactTag: "v1.0.0"}
	if _, err := api.Create(ctx, &model.Trigger{ApplicationID: app, Name: "bad", ArtifactServerID: as, Repository: "web",
		WorkflowID: wf, ServiceID: svc, Schedule: "every day", ArtifactTag: "v1.0.0"}); err == nil {
		t.Fatal("a trigger with a bad schedule was accepted")
	}
	created, err := api.Create(ctx, tr)
	if err != nil {
		t.Fatal(err)
	}
	id := created.GetMeta().ID
	for {
		ds, _, err := s.Store().ListDeployments(ctx, store.DeploymentFilter{AppID: app}, store.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.TriggeredBy.Kind == model.TriggeredByTrigger && d.TriggeredBy.ID == id {
				if d.Artifact.Tag != "v1.0.0" || d.WorkflowID != wf {
					t.Fatalf("scheduled deployment %+v", d)
				}
				return
			}
		}
		if ctx.Err() != nil {
			t.Fatal("no scheduled deployment within 30 s (100 simulated minutes)")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
