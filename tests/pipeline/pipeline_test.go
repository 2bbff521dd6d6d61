// Package pipeline_test runs pipelines end to end: the real pipeline and
// rolling ASL on sfnlocal, the real step handlers against the AWS
// emulator, the REST API over HTTP, notifications through the local bus.
package pipeline_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/pipeline"
)

const image = account + ".dkr.ecr." + region + ".amazonaws.com/web"

// TestPipelineDevApprovalProd runs three executions of one pipeline
// (dev → wait → approval → prod) on one stack, in order:
//  1. approved through the API: SUCCEEDED, prod runs v1;
//  2. rejected through the API: FAILED naming the approval, prod untouched;
//  3. approved, but prod's alarm is in ALARM: prod rolls back, FAILED
//     naming prod, prod back on v1.
func TestPipelineDevApprovalProd(t *testing.T) {
	s := newStack(t)

	// 1. Approved.
	x1 := s.start(t, "v1")
	if x1.Status != model.PipelinePending && x1.Status != model.PipelineRunning || x1.ExecutionARN == "" {
		t.Fatalf("started: status %s, arn %q", x1.Status, x1.ExecutionARN)
	}
	if len(x1.Stages) != 4 {
		t.Fatalf("stages %+v, want 4", x1.Stages)
	}
	got := s.waitStage(t, x1.ID, "approve-prod", model.PipelineWaitingApproval)
	dev := got.Stages[0]
	if dev.Status != model.PipelineSucceeded || dev.DeploymentID == "" || dev.DeploymentStatus != model.StatusSucceeded ||
		dev.StartedAt == nil || dev.EndedAt == nil {
		t.Fatalf("dev stage while waiting for approval: %+v", dev)
	}
	if got.Stages[1].Status != model.PipelineSucceeded || got.Stages[1].EndedAt.Sub(*got.Stages[1].StartedAt).Seconds() < 60 {
		t.Fatalf("soak stage %+v, want SUCCEEDED after at least 60 simulated seconds", got.Stages[1])
	}
	if got.Stages[3].Status != model.PipelinePending || got.Stages[3].DeploymentID != "" {
		t.Fatalf("prod stage before the approval: %+v", got.Stages[3])
	}
	if got.Stages[2].ApprovalToken != "" {
		t.Fatal("the API shows the approval's task token")
	}
	if img := s.image(t, "prod"); img != "" {
		t.Fatalf("prod runs %s before the approval", img)
	}
	dd := s.deployment(t, dev.DeploymentID)
	if dd.TriggeredBy.Kind != model.TriggeredByPipeline || dd.TriggeredBy.ID != x1.ID || dd.PipelineExecutionID != x1.ID ||
		dd.Artifact.Tag != "v1" || !strings.HasSuffix(dd.ExecutionARN, ":execution:ecsflow-rolling:"+dd.ID) {
		t.Fatalf("dev deployment: triggeredBy %+v, pipeline %s, artifact %+v, execution %s", dd.TriggeredBy, dd.PipelineExecutionID, dd.Artifact, dd.ExecutionARN)
	}
	if img := s.image(t, "dev"); img != image+":v1" {
		t.Fatalf("dev runs %q, want %s:v1", img, image)
	}
	var after model.PipelineExecution
	if code := s.call(t, http.MethodPost, "/v1/pipeline-executions/"+x1.ID+"/approve", api.ControlRequest{Comment: "ship it"}, &after); code != http.StatusOK {
		t.Fatalf("approve: %d", code)
	}
	ex, fin := s.finish(t, x1)
	if ex.Status != "SUCCEEDED" || fin.Status != model.PipelineSucceeded || fin.EndedAt == nil {
		t.Fatalf("approved pipeline: execution %s %s, record %s (%s)", ex.Status, ex.Error, fin.Status, fin.Reason)
	}
	appr := fin.Stages[2]
	if appr.Status != model.PipelineSucceeded || len(appr.Approvals) != 1 || !appr.Approvals[0].Approved ||
		appr.Approvals[0].Principal != api.Anonymous || appr.Approvals[0].Comment != "ship it" {
		t.Fatalf("approval stage %+v", appr)
	}
	prod := fin.Stages[3]
	if prod.Status != model.PipelineSucceeded || prod.DeploymentStatus != model.StatusSucceeded {
		t.Fatalf("prod stage %+v", prod)
	}
	if img := s.image(t, "prod"); img != image+":v1" {
		t.Fatalf("prod runs %q after the pipeline, want %s:v1", img, image)
	}
	// A second approval finds nothing waiting.
	if code := s.call(t, http.MethodPost, "/v1/pipeline-executions/"+x1.ID+"/approve", nil, nil); code != http.StatusConflict {
		t.Fatalf("approve of an ended pipeline: %d, want 409", code)
	}
	checkNotified(t, s.notifications(t), x1.ID, []string{pipeline.NotifyStarted, pipeline.NotifyApprovalNeeded, pipeline.NotifySucceeded},
		[]string{dev.DeploymentID, prod.DeploymentID})

	// 2. Rejected: the pipeline fails naming the approval stage; prod is not touched.
	x2 := s.start(t, "v2")
	s.waitStage(t, x2.ID, "approve-prod", model.PipelineWaitingApproval)
	if code := s.call(t, http.MethodPost, "/v1/pipeline-executions/"+x2.ID+"/reject", api.ControlRequest{Comment: "not today"}, nil); code != http.StatusOK {
		t.Fatalf("reject: %d", code)
	}
	ex, fin = s.finish(t, x2)
	if ex.Status != "FAILED" || ex.Error != "PipelineFailed" || fin.Status != model.PipelineFailed || fin.FailedStage != "approve-prod" ||
		!strings.Contains(fin.Reason, "not today") {
		t.Fatalf("rejected pipeline: execution %s %s, record %s failed stage %q (%s)", ex.Status, ex.Error, fin.Status, fin.FailedStage, fin.Reason)
	}
	if r := fin.Stages[2]; r.Status != model.PipelineFailed || len(r.Approvals) != 1 || r.Approvals[0].Approved || r.Approvals[0].Comment != "not today" {
		t.Fatalf("rejected stage %+v", r)
	}
	if r := fin.Stages[3]; r.Status != model.PipelineSkipped || r.DeploymentID != "" {
		t.Fatalf("prod stage after the rejection %+v, want SKIPPED without a deployment", r)
	}
	if img := s.image(t, "prod"); img != image+":v1" {
		t.Fatalf("prod runs %q after the rejection, want still %s:v1", img, image)
	}
	if img := s.image(t, "dev"); img != image+":v2" {
		t.Fatalf("dev runs %q, want %s:v2", img, image)
	}

	// 3. A failing prod stage: its workflow rolls back and the pipeline fails naming it.
	x3 := s.start(t, "v3")
	s.waitStage(t, x3.ID, "approve-prod", model.PipelineWaitingApproval)
	s.w.SetAlarm(t, "prod-5xx", cwtypes.StateValueAlarm)
	if code := s.call(t, http.MethodPost, "/v1/pipeline-executions/"+x3.ID+"/approve", nil, nil); code != http.StatusOK {
		t.Fatalf("approve: %d", code)
	}
	ex, fin = s.finish(t, x3)
	prod = fin.Stages[3]
	if ex.Status != "FAILED" || fin.Status != model.PipelineFailed || fin.FailedStage != "prod" ||
		prod.Status != model.PipelineFailed || prod.DeploymentStatus != model.StatusRolledBack || !strings.Contains(fin.Reason, "ROLLED_BACK") {
		t.Fatalf("failed prod: execution %s %s, record %s stage %q (%s), prod stage %+v", ex.Status, ex.Error, fin.Status, fin.FailedStage, fin.Reason, prod)
	}
	if img := s.image(t, "prod"); img != image+":v1" {
		t.Fatalf("prod runs %q after its rollback, want %s:v1", img, image)
	}
	checkNotified(t, s.notifications(t), x3.ID, []string{pipeline.NotifyStarted, pipeline.NotifyApprovalNeeded, pipeline.NotifyFailed},
		nil)
	rolledBack := false
	for _, n := range s.notifications(t) {
		var d pipeline.DeploymentDetail
		_ = json.Unmarshal(n.Detail, &d)
		rolledBack = rolledBack || n.DetailType == pipeline.DetailTypeDeployment && d.DeploymentID == prod.DeploymentID && d.Status == pipeline.NotifyRolledBack
	}
	if !rolledBack {
		t.Error("no ROLLED_BACK deployment notification for the prod deployment")
	}

	// History: newest first.
	var list api.ListBody[*model.PipelineExecution]
	if code := s.call(t, http.MethodGet, "/v1/pipelines/"+s.ids.pipeline+"/executions?limit=2", nil, &list); code != http.StatusOK {
		t.Fatalf("list: %d", code)
	}
	if len(list.Items) != 2 || list.Items[0].ID != x3.ID || list.Items[1].ID != x2.ID || list.NextCursor == "" {
		t.Fatalf("first page %v (next %q), want [%s %s] and a cursor", idsOf(list.Items), list.NextCursor, x3.ID, x2.ID)
	}
	if code := s.call(t, http.MethodGet, "/v1/pipelines/"+s.ids.pipeline+"/executions?limit=2&cursor="+list.NextCursor, nil, &list); code != http.StatusOK {
		t.Fatalf("list page 2: %d", code)
	}
	if len(list.Items) != 1 || list.Items[0].ID != x1.ID {
		t.Fatalf("second page %v, want [%s]", idsOf(list.Items), x1.ID)
	}
}

func idsOf(xs []*model.PipelineExecution) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.ID
	}
	return out
}

// checkNotified checks that the pipeline's status events came in order and
// that each deployment was announced STARTED then SUCCEEDED.
func checkNotified(t *testing.T, got []notification, execID string, want []string, deployments []string) {
	t.Helper()
	var seen []string
	statuses := map[string][]string{}
	for _, n := range got {
		if n.Source != pipeline.EventSource {
			t.Errorf("source %q", n.Source)
		}
		switch n.DetailType {
		case pipeline.DetailTypePipeline:
			var d pipeline.PipelineDetail
			if err := json.Unmarshal(n.Detail, &d); err != nil {
				t.Fatalf("pipeline detail: %v", err)
			}
			if d.PipelineExecutionID == execID {
				seen = append(seen, d.Status)
			}
		case pipeline.DetailTypeDeployment:
			var d pipeline.DeploymentDetail
			if err := json.Unmarshal(n.Detail, &d); err != nil {
				t.Fatalf("deployment detail: %v", err)
			}
			statuses[d.DeploymentID] = append(statuses[d.DeploymentID], d.Status)
		}
	}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("pipeline %s notifications %v, want %v", execID, seen, want)
	}
	for _, id := range deployments {
		if got := strings.Join(statuses[id], ","); got != pipeline.NotifyStarted+","+pipeline.NotifySucceeded {
			t.Errorf("deployment %s notifications %q, want STARTED then SUCCEEDED", id, got)
		}
	}
}
