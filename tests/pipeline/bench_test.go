package pipeline_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
)

// BenchmarkPipelineOverheadPerStage measures the orchestration cost of a
// pipeline: five 1-second WAIT stages (5 ms real each at the stack's x200 clock), launched and run to the end on
// sfnlocal with the real ASL and step handlers on the embedded store. It
// reports state transitions per stage (the Step Functions cost figure) and
// real time per stage.
func BenchmarkPipelineOverheadPerStage(b *testing.B) {
	s := newStack(b)
	ctx := context.Background()
	const stages = 5
	pl := &model.Pipeline{ApplicationID: s.ids.app, Name: "waits"}
	for i := range stages {
		pl.Stages = append(pl.Stages, model.Stage{Name: fmt.Sprintf("w%d", i), Type: model.StageWait, WaitSeconds: 1})
	}
	if err := s.st.Create(ctx, pl); err != nil {
		b.Fatal(err)
	}
	var transitions int64
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		x, err := s.launcher.Launch(ctx, pl.ID, api.PipelineExecutionRequest{Artifact: api.ArtifactRequest{Tag: "v1"}},
			model.NewID(model.KindPipelineExecution), model.TriggeredBy{Kind: model.TriggeredByAPI})
		if err != nil {
			b.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		ex, err := s.sfn.WaitExecution(wctx, x.ExecutionARN)
		cancel()
		if err != nil || ex.Status != "SUCCEEDED" {
			b.Fatalf("execution %s %s: %v", ex.Status, ex.Error, err)
		}
		transitions += int64(ex.StateTransitions)
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(transitions)/float64(b.N*stages), "transitions/stage")
	b.ReportMetric(float64(elapsed.Microseconds())/float64(b.N*stages), "µs/stage")
}
