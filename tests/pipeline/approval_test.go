package pipeline_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/pipeline"
)

// TestApprovalTimeoutDefaultsAndApprovers: nobody answers an approval whose
// default is APPROVE (the pipeline goes on), then one whose default is
// REJECT (the pipeline fails naming it, later stages SKIPPED); an approval
// that names its approvers refuses anyone else.
func TestApprovalTimeoutDefaultsAndApprovers(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	pl := &model.Pipeline{ApplicationID: s.ids.app, Name: "gates", Stages: []model.Stage{
		{Name: "auto-yes", Type: model.StageApproval, Approval: &model.Approval{TimeoutSeconds: 20, OnTimeout: model.ApprovalDefaultApprove}},
		{Name: "auto-no", Type: model.StageApproval, Approval: &model.Approval{TimeoutSeconds: 20}},
		{Name: "never", Type: model.StageWait, WaitSeconds: 1},
	}}
	if err := s.st.Create(ctx, pl); err != nil {
		t.Fatal(err)
	}
	s.ids.pipeline = pl.ID
	x := s.start(t, "v1")
	ex, fin := s.finish(t, x)
	if ex.Status != "FAILED" || fin.Status != model.PipelineFailed || fin.FailedStage != "auto-no" {
		t.Fatalf("execution %s %s, record %s failed stage %q (%s)", ex.Status, ex.Error, fin.Status, fin.FailedStage, fin.Reason)
	}
	yes, no, never := fin.Stages[0], fin.Stages[1], fin.Stages[2]
	if yes.Status != model.PipelineSucceeded || len(yes.Approvals) != 1 || !yes.Approvals[0].Approved || !yes.Approvals[0].Default {
		t.Fatalf("APPROVE-default stage %+v", yes)
	}
	if no.Status != model.PipelineFailed || len(no.Approvals) != 1 || no.Approvals[0].Approved || !no.Approvals[0].Default ||
		!strings.Contains(fin.Reason, "timed out") {
		t.Fatalf("REJECT-default stage %+v (reason %s)", no, fin.Reason)
	}
	if never.Status != model.PipelineSkipped || never.StartedAt != nil {
		t.Fatalf("stage after the failure %+v, want SKIPPED", never)
	}

	// Named approvers.
	pl2 := &model.Pipeline{ApplicationID: s.ids.app, Name: "named", Stages: []model.Stage{
		{Name: "alice-only", Type: model.StageApproval, Approval: &model.Approval{TimeoutSeconds: 3600, Approvers: []string{"alice"}}},
	}}
	if err := s.st.Create(ctx, pl2); err != nil {
		t.Fatal(err)
	}
	s.ids.pipeline = pl2.ID
	x2 := s.start(t, "v1")
	s.waitStage(t, x2.ID, "alice-only", model.PipelineWaitingApproval)
	if code := s.call(t, http.MethodPost, "/v1/pipeline-executions/"+x2.ID+"/approve", nil, nil); code != http.StatusConflict {
		t.Fatalf("approve by a non-approver: %d, want 409", code)
	}
	ctl := pipeline.NewController(s.st, s.sfn, s.w.Clock.Now)
	if err := ctl.ApproveStage(ctx, x2.ID, "arn:aws:iam::123456789012:user/alice", "ok"); err != nil {
		t.Fatalf("approve by alice: %v", err)
	}
	ex, fin = s.finish(t, x2)
	if ex.Status != "SUCCEEDED" || fin.Status != model.PipelineSucceeded {
		t.Fatalf("alice's approval: execution %s %s, record %s (%s)", ex.Status, ex.Error, fin.Status, fin.Reason)
	}
	if a := fin.Stages[0].Approvals; len(a) != 1 || a[0].Principal != "arn:aws:iam::123456789012:user/alice" || a[0].Default {
		t.Fatalf("approvals %+v, want alice's only", a)
	}
}
