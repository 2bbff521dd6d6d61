package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
)

// TestECRPushTriggersRollingDeployment: an image pushed to the emulator's
// ECR reaches the trigger through the local bus (the shared ecr-push rule)
// and starts the trigger's workflow, which deploys the pushed tag.
func TestECRPushTriggersRollingDeployment(t *testing.T) {
	h := newHarness(t, options{})
	h.create(modeltest.Trigger(h.ids.app, h.ids.as, h.ids.wf, h.ids.svc))
	ctx, cancel := h.ctx()
	defer cancel()
	if _, err := h.s.Emulator().PushImage(ctx, "web", "latest"); err != nil { // does not match the tag filter
		t.Fatal(err)
	}
	if _, err := h.s.Emulator().PushImage(ctx, "web", "v1.2.3"); err != nil {
		t.Fatal(err)
	}
	var id string
	deadline := time.Now().Add(realTimeout)
	for id == "" {
		var list struct {
			Items []model.Deployment `json:"items"`
		}
		if code, raw := h.call(http.MethodGet, "/v1/deployments?appId="+h.ids.app, nil, &list); code != http.StatusOK {
			t.Fatalf("list deployments: %d %s", code, raw)
		}
		switch {
		case len(list.Items) > 1:
			t.Fatalf("%d deployments from one matching push", len(list.Items))
		case len(list.Items) == 1:
			id = list.Items[0].ID
		case time.Now().After(deadline):
			t.Fatal("no deployment started by the push")
		default:
			time.Sleep(5 * time.Millisecond)
		}
	}
	d, _ := h.finish(id, model.StatusSucceeded)
	if d.TriggeredBy.Kind != model.TriggeredByTrigger || d.Artifact.Tag != "v1.2.3" {
		t.Fatalf("deployment triggered by %+v of %+v, want the trigger deploying v1.2.3", d.TriggeredBy, d.Artifact)
	}
	h.expectService(d.NewRevision.TaskDefinitionARN, 4)
}

// TestPipelineRunsWorkflowStage: a pipeline started through the API runs
// its workflow stage as a nested execution of the rolling state machine,
// then its approval stage, which times out to its APPROVE default.
func TestPipelineRunsWorkflowStage(t *testing.T) {
	h := newHarness(t, options{})
	pl := h.create(&model.Pipeline{ApplicationID: h.ids.app, Name: "release", Stages: []model.Stage{
		{Name: "deploy", Type: model.StageWorkflow, WorkflowID: h.ids.wf},
		{Name: "sign-off", Type: model.StageApproval, Approval: &model.Approval{TimeoutSeconds: 60, OnTimeout: model.ApprovalDefaultApprove}},
	}})
	var pe model.PipelineExecution
	code, raw := h.call(http.MethodPost, "/v1/pipelines/"+pl+"/executions",
		api.PipelineExecutionRequest{Artifact: api.ArtifactRequest{Tag: "v1"}, ServiceID: h.ids.svc}, &pe)
	if code != http.StatusCreated || pe.ID == "" {
		t.Fatalf("start pipeline: %d %s", code, raw)
	}
	deadline := time.Now().Add(realTimeout)
	for !pe.Status.Final() {
		if time.Now().After(deadline) {
			t.Fatalf("pipeline execution still %s", pe.Status)
		}
		time.Sleep(10 * time.Millisecond)
		if code, raw := h.call(http.MethodGet, "/v1/pipeline-executions/"+pe.ID, nil, &pe); code != http.StatusOK {
			t.Fatalf("get pipeline execution: %d %s", code, raw)
		}
	}
	if pe.Status != model.PipelineSucceeded || len(pe.Stages) != 2 || pe.Stages[0].DeploymentID == "" {
		t.Fatalf("pipeline execution %s (%s), stages %+v; want SUCCEEDED with a deployment in stage 1", pe.Status, pe.Reason, pe.Stages)
	}
	d, _ := h.finish(pe.Stages[0].DeploymentID, model.StatusSucceeded)
	h.expectService(d.NewRevision.TaskDefinitionARN, 4)
}
