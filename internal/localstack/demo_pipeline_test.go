package localstack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/model"
)

func exampleSource(t *testing.T) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", ExamplePath))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestDemoPipeline runs `make demo`'s script: the release pipeline from a
// push to prod through an approval, then the broken push rolled back.
func TestDemoPipeline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s, err := Start(ctx, Config{ClockScale: DemoClockScale, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer s.Close()
	var out bytes.Buffer
	rep, err := DemoPipeline(ctx, s, exampleSource(t), &out)
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	type row struct {
		stage, image string
		strategy     model.StrategyType
		status       model.Status
	}
	want := []row{
		{"dev", "v1.0.0", model.StrategyCanary, model.StatusSucceeded},
		{"prod", "v1.0.0", model.StrategyBlueGreen, model.StatusSucceeded},
		{"dev", "v1.0.1-broken", model.StrategyCanary, model.StatusRolledBack},
	}
	if len(rep.Rows) != len(want) {
		t.Fatalf("got %d deployments, want %d: %+v", len(rep.Rows), len(want), rep.Rows)
	}
	for i, w := range want {
		g := rep.Rows[i]
		if got := (row{g.Stage, g.Image, g.Strategy, g.Status}); got != w {
			t.Errorf("deployment %d: got %+v, want %+v", i, got, w)
		}
		if g.Simulated <= 0 || g.Real <= 0 || g.APICalls == 0 || g.Transitions == 0 || g.CostUSD <= 0 {
			t.Errorf("deployment %d (%s): incomplete figures %+v", i, g.DeploymentID, g)
		}
	}
	if len(rep.Pipelines) != 2 || rep.Pipelines[0].Status != model.PipelineSucceeded || rep.Pipelines[1].Status != model.PipelineFailed {
		t.Errorf("pipelines: got %+v, want SUCCEEDED then FAILED", rep.Pipelines)
	}
	for _, s := range []string{"APPROVED     approve-prod", "ROLLBACK     dev  rollback:", "STAGE        prod          WORKFLOW   SKIPPED",
		"Demo finished: every step ended as expected"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q", s)
		}
	}
}

// TestDemoPipelineNamesTheFailedStep: an example whose trigger is off
// starts no pipeline, and the demo says which step that broke.
func TestDemoPipelineNamesTheFailedStep(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Start(ctx, Config{ClockScale: DemoClockScale, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer s.Close()
	old := demoPushWait
	demoPushWait = 2 * time.Second
	t.Cleanup(func() { demoPushWait = old })
	src := bytes.Replace(exampleSource(t), []byte("tagFilter: v.*"), []byte("tagFilter: release-.*"), 1)
	var out bytes.Buffer
	_, err = DemoPipeline(ctx, s, src, &out)
	var se *DemoStepError
	if !errors.As(err, &se) || !strings.HasPrefix(se.Step, "Push web:v1.0.0") || !strings.Contains(err.Error(), "started no pipeline execution") {
		t.Fatalf("got %v, want a DemoStepError naming the push of v1.0.0", err)
	}
	if !strings.Contains(out.String(), "DEMO FAILED at step") {
		t.Errorf("output lacks the failure line:\n%s", out.String())
	}
}

func TestCreateExampleWorldRefusesAnEditedExample(t *testing.T) {
	s, err := Start(context.Background(), Config{ClockScale: DemoClockScale, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer s.Close()
	src := bytes.ReplaceAll(exampleSource(t), []byte("targetgroup/prod-web-green/fedcba9876543210"), []byte("targetgroup/other/1"))
	if _, err := CreateExampleWorld(context.Background(), s, src, ExampleOptions{}); err == nil || !strings.Contains(err.Error(), "prod-web-green") {
		t.Fatalf("got %v, want an error naming the missing target group", err)
	}
}
