package pipeline_test

import (
	"context"
	"net/http"
	"testing"

	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
)

// TestParallelWorkflowStages: a stage marked parallelWithPrevious runs with
// the WORKFLOW stage before it (an ASL Map of nested executions): dev and
// prod deploy at the same time, and the stage after them waits for both.
// When one of the group fails (prod's alarm fires), the other still
// finishes, the pipeline ends FAILED naming the failed one, and the stage
// after the group is SKIPPED. A parallel stage after an APPROVAL is refused.
func TestParallelWorkflowStages(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	pl := &model.Pipeline{ApplicationID: s.ids.app, Name: "fanout", Stages: []model.Stage{
		{Name: "dev", Type: model.StageWorkflow, WorkflowID: s.ids.workflows[0]},
		{Name: "prod", Type: model.StageWorkflow, WorkflowID: s.ids.workflows[1], ParallelWithPrevious: true},
		{Name: "after", Type: model.StageWait, WaitSeconds: 5},
	}}
	if err := s.st.Create(ctx, pl); err != nil {
		t.Fatal(err)
	}
	start := func(tag string) *model.PipelineExecution {
		t.Helper()
		var x model.PipelineExecution
		if code := s.call(t, http.MethodPost, "/v1/pipelines/"+pl.ID+"/executions",
			api.PipelineExecutionRequest{Artifact: api.ArtifactRequest{Tag: tag}, ServiceID: s.ids.svc}, &x); code != http.StatusCreated {
			t.Fatalf("start: %d", code)
		}
		return &x
	}

	x := start("v1")
	ex, fin := s.finish(t, x)
	if ex.Status != "SUCCEEDED" || fin.Status != model.PipelineSucceeded {
		t.Fatalf("parallel pipeline: execution %s, record %s (%s) %+v", ex.Status, fin.Status, fin.Reason, fin.Stages)
	}
	dev, prod, after := fin.Stages[0], fin.Stages[1], fin.Stages[2]
	if dev.DeploymentStatus != model.StatusSucceeded || prod.DeploymentStatus != model.StatusSucceeded || after.Status != model.PipelineSucceeded {
		t.Fatalf("stages %+v", fin.Stages)
	}
	dd, pd := s.deployment(t, dev.DeploymentID), s.deployment(t, prod.DeploymentID)
	if !dd.StartedAt.Before(*pd.EndedAt) || !pd.StartedAt.Before(*dd.EndedAt) {
		t.Errorf("dev ran %s–%s and prod %s–%s: not at the same time", dd.StartedAt, dd.EndedAt, pd.StartedAt, pd.EndedAt)
	}
	if after.StartedAt.Before(*dd.EndedAt) || after.StartedAt.Before(*pd.EndedAt) {
		t.Errorf("the stage after the group started at %s, before both ended (%s, %s)", after.StartedAt, dd.EndedAt, pd.EndedAt)
	}
	if img := s.image(t, "dev"); img != image+":v1" {
		t.Errorf("dev runs %q", img)
	}
	if img := s.image(t, "prod"); img != image+":v1" {
		t.Errorf("prod runs %q", img)
	}

	// prod fails: dev still finishes, the pipeline fails naming prod.
	s.w.SetAlarm(t, "prod-5xx", cwtypes.StateValueAlarm)
	y := start("v2")
	ex, fin = s.finish(t, y)
	if ex.Status != "FAILED" || fin.Status != model.PipelineFailed || fin.FailedStage != "prod" {
		t.Fatalf("failing group: execution %s, record %s at %q (%s)", ex.Status, fin.Status, fin.FailedStage, fin.Reason)
	}
	if fin.Stages[0].Status != model.PipelineSucceeded || fin.Stages[0].DeploymentStatus != model.StatusSucceeded ||
		fin.Stages[1].Status != model.PipelineFailed || fin.Stages[1].DeploymentStatus != model.StatusRolledBack ||
		fin.Stages[2].Status != model.PipelineSkipped {
		t.Fatalf("stages after a failing group %+v", fin.Stages)
	}
	if img := s.image(t, "prod"); img != image+":v1" {
		t.Errorf("prod runs %q after its rollback, want v1", img)
	}

	// Only a WORKFLOW stage after a WORKFLOW stage may be parallel.
	bad := map[string]any{"name": "bad", "stages": []map[string]any{
		{"name": "ok", "type": "APPROVAL", "approval": map[string]any{"timeoutSeconds": 60}},
		{"name": "par", "type": "WORKFLOW", "workflowId": s.ids.workflows[0], "parallelWithPrevious": true}}}
	if code := s.call(t, http.MethodPost, "/v1/applications/"+s.ids.app+"/pipelines", bad, nil); code != http.StatusBadRequest {
		t.Fatalf("a parallel stage after an approval: %d, want 400", code)
	}
}
