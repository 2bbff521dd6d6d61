package localstack

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/memdynamo"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// TestFailExecution: a pipeline execution a restart interrupted ends
// FAILED at its running stage (ABORTED if an abort had been asked for);
// its running and waiting stages fail, its pending ones are skipped, its
// finished ones keep their status; one already ended is left alone.
func TestFailExecution(t *testing.T) {
	ctx := context.Background()
	now := func() time.Time { return time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC) }
	db := memdynamo.New()
	if err := store.CreateTable(ctx, db, "t"); err != nil {
		t.Fatal(err)
	}
	st := store.New(db, "t", store.WithClock(now))
	tests := []struct {
		name   string
		status model.PipelineStatus
		stages []model.PipelineStatus
		abort  bool
		want   model.PipelineStatus
		wantSt []model.PipelineStatus
		failed string
		ended  bool // already final: untouched
	}{
		{name: "running workflow stage", status: model.PipelineRunning,
			stages: []model.PipelineStatus{model.PipelineRunning, model.PipelinePending, model.PipelinePending},
			want:   model.PipelineFailed, wantSt: []model.PipelineStatus{model.PipelineFailed, model.PipelineSkipped, model.PipelineSkipped}, failed: "s0"},
		{name: "waiting approval", status: model.PipelineWaitingApproval,
			stages: []model.PipelineStatus{model.PipelineSucceeded, model.PipelineWaitingApproval, model.PipelinePending},
			want:   model.PipelineFailed, wantSt: []model.PipelineStatus{model.PipelineSucceeded, model.PipelineFailed, model.PipelineSkipped}, failed: "s1"},
		{name: "abort asked for", status: model.PipelineRunning, abort: true,
			stages: []model.PipelineStatus{model.PipelineSucceeded, model.PipelineSucceeded, model.PipelineRunning},
			want:   model.PipelineAborted, wantSt: []model.PipelineStatus{model.PipelineSucceeded, model.PipelineSucceeded, model.PipelineFailed}, failed: "s2"},
		{name: "already ended", status: model.PipelineSucceeded, ended: true,
			stages: []model.PipelineStatus{model.PipelineSucceeded, model.PipelineSucceeded, model.PipelineSucceeded},
			want:   model.PipelineSucceeded, wantSt: []model.PipelineStatus{model.PipelineSucceeded, model.PipelineSucceeded, model.PipelineSucceeded}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := &model.PipelineExecution{ApplicationID: model.NewID(model.KindApplication), PipelineID: model.NewID(model.KindPipeline),
				Artifact: model.Artifact{Tag: "v1"}, Status: tc.status}
			for i, s := range tc.stages {
				x.Stages = append(x.Stages, model.StageRecord{Name: "s" + string(rune('0'+i)), Type: model.StageWorkflow, Status: s})
			}
			if tc.abort {
				x.Abort = &model.AbortRequest{Principal: "bob", At: now()}
			}
			if err := st.Create(ctx, x); err != nil {
				t.Fatalf("create: %v", err)
			}
			in, err := failExecution(ctx, st, x.ID, now)
			if err != nil {
				t.Fatalf("failExecution: %v", err)
			}
			if (in == nil) != tc.ended {
				t.Errorf("reported %+v, want reported %v", in, !tc.ended)
			}
			got, err := store.Get[*model.PipelineExecution](ctx, st, x.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.want || got.FailedStage != tc.failed {
				t.Errorf("status %s at %q, want %s at %q", got.Status, got.FailedStage, tc.want, tc.failed)
			}
			for i, s := range got.Stages {
				if s.Status != tc.wantSt[i] {
					t.Errorf("stage %d: %s, want %s", i, s.Status, tc.wantSt[i])
				}
			}
			if !tc.ended && (got.EndedAt == nil || !strings.Contains(got.Reason, "Interrupted")) {
				t.Errorf("ended %v reason %q, want ended and Interrupted", got.EndedAt, got.Reason)
			}
		})
	}
}
