package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/model"
)

func TestSettle(t *testing.T) {
	now := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	st := func(ss ...model.PipelineStatus) []model.StageRecord {
		out := make([]model.StageRecord, len(ss))
		for i, s := range ss {
			out[i] = model.StageRecord{Name: string(rune('a' + i)), Status: s}
		}
		return out
	}
	abort := &model.AbortRequest{Principal: "ops", Comment: "bad build", At: now}
	tests := []struct {
		name       string
		x          model.PipelineExecution
		want       model.PipelineStatus
		wantStages string
		wantReason string
	}{
		{name: "all succeeded", x: model.PipelineExecution{Stages: st(model.PipelineSucceeded, model.PipelineSucceeded)},
			want: model.PipelineSucceeded, wantStages: "SUCCEEDED,SUCCEEDED"},
		{name: "a failed stage", x: model.PipelineExecution{FailedStage: "a", Reason: "stage a failed",
			Stages: st(model.PipelineFailed, model.PipelinePending)},
			want: model.PipelineFailed, wantStages: "FAILED,SKIPPED", wantReason: "stage a failed"},
		{name: "aborted while a stage ran", x: model.PipelineExecution{Abort: abort,
			Stages: st(model.PipelineSucceeded, model.PipelineRunning, model.PipelinePending)},
			want: model.PipelineAborted, wantStages: "SUCCEEDED,ABORTED,SKIPPED", wantReason: "aborted by ops: bad build"},
		{name: "aborted at an approval", x: model.PipelineExecution{Abort: abort, Reason: "aborted by ops: bad build",
			Stages: st(model.PipelineWaitingApproval)},
			want: model.PipelineAborted, wantStages: "ABORTED", wantReason: "aborted by ops: bad build"},
		{name: "a stage left running", x: model.PipelineExecution{Stages: st(model.PipelineSucceeded, model.PipelineRunning)},
			want: model.PipelineFailed, wantStages: "SUCCEEDED,FAILED", wantReason: "stage b did not finish"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := tc.x
			settle(&x, now)
			var got []string
			for _, r := range x.Stages {
				got = append(got, string(r.Status))
			}
			if x.Status != tc.want || strings.Join(got, ",") != tc.wantStages || x.EndedAt == nil || !x.EndedAt.Equal(now) {
				t.Fatalf("status %s stages %v ended %v; want %s %s", x.Status, got, x.EndedAt, tc.want, tc.wantStages)
			}
			if x.Reason != tc.wantReason {
				t.Errorf("reason %q, want %q", x.Reason, tc.wantReason)
			}
		})
	}
}
