package pipeline_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/pipeline"
	"github.com/ecsflow/ecsflow/internal/store"
)

// abort posts an abort and returns the status code.
func (s *stack) abort(t *testing.T, id, comment string) int {
	t.Helper()
	return s.call(t, http.MethodPost, "/v1/pipeline-executions/"+id+"/abort", api.ControlRequest{Comment: comment}, nil)
}

func checkAborted(t *testing.T, x *model.PipelineExecution, stage, comment string) {
	t.Helper()
	if x.Status != model.PipelineAborted || x.EndedAt == nil || x.Abort == nil || x.Abort.Principal != api.Anonymous ||
		x.Abort.Comment != comment || !strings.Contains(x.Reason, "aborted by "+api.Anonymous+": "+comment) {
		t.Fatalf("aborted execution: status %s, abort %+v, reason %q", x.Status, x.Abort, x.Reason)
	}
	seen := false
	for _, r := range x.Stages {
		switch {
		case r.Name == stage:
			seen = true
			if r.Status != model.PipelineAborted || r.EndedAt == nil {
				t.Errorf("stage %s: %+v, want ABORTED with an end", r.Name, r)
			}
		case seen && r.Status != model.PipelineSkipped:
			t.Errorf("stage %s after the aborted one is %s, want SKIPPED", r.Name, r.Status)
		}
	}
	if !seen {
		t.Fatalf("no stage %s", stage)
	}
}

// TestAbortPipelineExecution aborts executions through the API at each kind
// of stage: at an approval (its wait is failed), during a workflow stage
// (its deployment is aborted through the deployment abort path), and in a
// long WAIT stage (the execution is stopped). Each ends ABORTED recording
// who and why, its later stages SKIPPED, prod untouched; a second abort, or
// one of an ended execution, is 409; the pipeline's notifications end ABORTED.
func TestAbortPipelineExecution(t *testing.T) {
	s := newStack(t)

	// At the approval.
	x := s.start(t, "v1")
	s.waitStage(t, x.ID, "approve-prod", model.PipelineWaitingApproval)
	if code := s.abort(t, x.ID, "wrong build"); code != http.StatusOK {
		t.Fatalf("abort at the approval: %d", code)
	}
	ex, fin := s.finish(t, x)
	if ex.Status != "FAILED" {
		t.Fatalf("execution %s, want it ended FAILED (the pipeline did not succeed)", ex.Status)
	}
	checkAborted(t, fin, "approve-prod", "wrong build")
	if fin.Stages[0].Status != model.PipelineSucceeded {
		t.Errorf("dev stage %s, want SUCCEEDED (it ended before the abort)", fin.Stages[0].Status)
	}
	if img := s.image(t, "prod"); img != "" {
		t.Fatalf("prod runs %s after an abort before it", img)
	}
	if code := s.abort(t, x.ID, "again"); code != http.StatusConflict {
		t.Fatalf("abort of an ended execution: %d, want 409", code)
	}
	checkNotified(t, s.notifications(t), x.ID, []string{pipeline.NotifyStarted, pipeline.NotifyApprovalNeeded, pipeline.NotifyAborted}, nil)

	// During the dev workflow stage: its deployment is aborted.
	ctx := context.Background()
	y := s.start(t, "v2")
	got := s.waitStage(t, y.ID, "dev", model.PipelineRunning)
	deadline := time.Now().Add(20 * time.Second)
	running := func(id string) bool {
		d, err := store.Get[*model.Deployment](ctx, s.st, id)
		return err == nil && d.Status == model.StatusRunning
	}
	for got.Stages[0].DeploymentID == "" || !running(got.Stages[0].DeploymentID) {
		if time.Now().After(deadline) {
			t.Fatal("the dev deployment never ran")
		}
		time.Sleep(2 * time.Millisecond)
		got = s.get(t, y.ID)
	}
	if code := s.abort(t, y.ID, "stop dev"); code != http.StatusOK {
		t.Fatalf("abort during dev: %d", code)
	}
	if code := s.abort(t, y.ID, "twice"); code != http.StatusConflict {
		t.Fatalf("second abort: %d, want 409", code)
	}
	_, fin = s.finish(t, y)
	checkAborted(t, fin, "dev", "stop dev")
	d := s.deployment(t, fin.Stages[0].DeploymentID)
	if d.Status != model.StatusAborted || fin.Stages[0].DeploymentStatus != model.StatusAborted {
		t.Fatalf("dev deployment %s (stage says %s), want ABORTED: %s", d.Status, fin.Stages[0].DeploymentStatus, d.Reason)
	}
	if notes := strings.Join(deploymentNotes(t, s.notifications(t), d.ID), ","); notes != "STARTED,ABORTED" {
		t.Errorf("dev deployment notifications %q, want STARTED,ABORTED", notes)
	}

	// In a long WAIT stage: the execution is stopped and the record ended.
	long := &model.Pipeline{ApplicationID: s.ids.app, Name: "slow", Stages: []model.Stage{
		{Name: "hold", Type: model.StageWait, WaitSeconds: 86400},
		{Name: "prod", Type: model.StageWorkflow, WorkflowID: s.ids.workflows[1]},
	}}
	if err := s.st.Create(ctx, long); err != nil {
		t.Fatal(err)
	}
	var z model.PipelineExecution
	if code := s.call(t, http.MethodPost, "/v1/pipelines/"+long.ID+"/executions",
		api.PipelineExecutionRequest{Artifact: api.ArtifactRequest{Tag: "v3"}, ServiceID: s.ids.svc}, &z); code != http.StatusCreated {
		t.Fatalf("start the slow pipeline: %d", code)
	}
	s.waitStage(t, z.ID, "hold", model.PipelineRunning)
	if code := s.abort(t, z.ID, "not today"); code != http.StatusOK {
		t.Fatalf("abort in the wait: %d", code)
	}
	fz := s.get(t, z.ID)
	checkAborted(t, fz, "hold", "not today")
	ex, _ = s.finish(t, &z)
	if ex.Status != "ABORTED" {
		t.Fatalf("the slow pipeline's execution is %s, want ABORTED (stopped)", ex.Status)
	}
	checkNotified(t, s.notifications(t), z.ID, []string{pipeline.NotifyStarted, pipeline.NotifyAborted}, nil)
}
