package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/trigger"
)

// TestScheduledPipelineTrigger: a scheduled pipeline trigger starts the
// pipeline with its artifact tag at its minute, once however often the
// tick arrives; the pipeline runs dev with that tag.
func TestScheduledPipelineTrigger(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	tr := &model.Trigger{ApplicationID: s.ids.app, Name: "nightly", ArtifactServerID: s.ids.as, Repository: "web",
		PipelineID: s.ids.pipeline, ServiceID: s.ids.svc, Schedule: "15 2 * * *", ArtifactTag: "stable"}
	if err := s.st.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	h := trigger.New(s.st, trigger.NewAPICreator(s.st, api.UnavailableStarter{Reason: "no deployments in this test"}),
		api.UnavailableStarter{Reason: "no deployments in this test"},
		trigger.WithPipelines(s.launcher), trigger.WithLogger(discard), trigger.WithClock(s.w.Clock.Now))
	at := time.Date(2026, 11, 27, 2, 15, 0, 0, time.UTC)
	var started []string
	for _, tick := range []time.Time{at.Add(-time.Minute), at, at.Add(30 * time.Second)} {
		out, err := h.Tick(ctx, tick)
		if err != nil {
			t.Fatalf("tick %s: %v", tick, err)
		}
		started = append(started, out.Deployments...)
	}
	if len(started) != 1 {
		t.Fatalf("ticks started %v, want one pipeline execution", started)
	}
	x := s.waitStage(t, started[0], "approve-prod", model.PipelineWaitingApproval)
	if x.TriggeredBy.ID != tr.ID || x.Artifact.Tag != "stable" {
		t.Fatalf("execution attributed %+v, artifact %+v", x.TriggeredBy, x.Artifact)
	}
	if img := s.image(t, "dev"); img != image+":stable" {
		t.Fatalf("dev runs %q, want %s:stable", img, image)
	}
}
