package pipeline_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/trigger"
)

func pushEvent(id, tag string) []byte {
	b, _ := json.Marshal(map[string]any{"version": "0", "id": id, "detail-type": "ECR Image Action", "source": "aws.ecr",
		"account": account, "time": "2026-11-26T01:00:00Z", "region": region, "resources": []string{},
		"detail": map[string]any{"result": "SUCCESS", "repository-name": "web", "action-type": "PUSH", "image-tag": tag,
			"image-digest": "sha256:" + strings.Repeat("ab", 32)}})
	return b
}

// TestPushStartsThePipelineOnce: a push matching a pipeline trigger,
// delivered 3 times at once, starts one pipeline execution pinned to the
// digest; a tag the filter refuses starts nothing.
func TestPushStartsThePipelineOnce(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	tr := &model.Trigger{ApplicationID: s.ids.app, Name: "release", ArtifactServerID: s.ids.as, Repository: "web",
		TagFilter: `v[0-9]+`, PipelineID: s.ids.pipeline, ServiceID: s.ids.svc}
	if err := s.st.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	h := trigger.New(s.st, trigger.NewAPICreator(s.st, api.UnavailableStarter{Reason: "no deployments in this test"}),
		api.UnavailableStarter{Reason: "no deployments in this test"},
		trigger.WithPipelines(s.launcher), trigger.WithLogger(discard), trigger.WithClock(s.w.Clock.Now))

	var wg sync.WaitGroup
	outs := make([]trigger.Outcome, 3)
	errs := make([]error, 3)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = h.HandleEvent(ctx, pushEvent("evt-1", "v7"))
		}()
	}
	wg.Wait()
	var started []string
	dups := 0
	for i := range outs {
		if errs[i] != nil {
			t.Fatalf("delivery %d: %v", i, errs[i])
		}
		started = append(started, outs[i].Deployments...)
		dups += outs[i].Duplicates
	}
	if len(started) != 1 || dups != 2 || !strings.HasPrefix(started[0], "plx-") {
		t.Fatalf("started %v with %d duplicates, want one pipeline execution and 2 duplicates", started, dups)
	}
	if out, err := h.HandleEvent(ctx, pushEvent("evt-2", "latest")); err != nil || out.Matched != 0 || len(out.Deployments) != 0 {
		t.Fatalf("non-matching tag: %+v, %v", out, err)
	}
	var list api.ListBody[*model.PipelineExecution]
	if code := s.call(t, http.MethodGet, "/v1/pipelines/"+s.ids.pipeline+"/executions", nil, &list); code != http.StatusOK || len(list.Items) != 1 {
		t.Fatalf("executions %d %v, want exactly one", code, idsOf(list.Items))
	}
	x := s.waitStage(t, started[0], "approve-prod", model.PipelineWaitingApproval)
	if x.TriggeredBy.Kind != model.TriggeredByTrigger || x.TriggeredBy.ID != tr.ID || x.Artifact.Digest != "sha256:"+strings.Repeat("ab", 32) || x.Artifact.Tag != "v7" {
		t.Fatalf("execution attributed %+v, artifact %+v", x.TriggeredBy, x.Artifact)
	}
	if d := s.deployment(t, x.Stages[0].DeploymentID); d.Artifact.Digest != x.Artifact.Digest || d.Status != model.StatusSucceeded {
		t.Fatalf("dev deployment %s with artifact %+v, want SUCCEEDED pinned to the digest", d.Status, d.Artifact)
	}
	if code := s.call(t, http.MethodPost, "/v1/pipeline-executions/"+x.ID+"/reject", nil, nil); code != http.StatusOK {
		t.Fatalf("reject: %d", code)
	}
	if _, fin := s.finish(t, x); fin.Status != model.PipelineFailed || fin.FailedStage != "approve-prod" {
		t.Fatalf("after the rejection: %s %q", fin.Status, fin.FailedStage)
	}
	// A redelivery after the execution ended starts nothing new.
	if out, err := h.HandleEvent(ctx, pushEvent("evt-1", "v7")); err != nil || len(out.Deployments) != 0 || out.Duplicates != 1 {
		t.Fatalf("late redelivery: %+v, %v", out, err)
	}
}
