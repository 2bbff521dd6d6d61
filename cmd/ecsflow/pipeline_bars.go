package main

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/ecsflow/ecsflow/internal/client"
	"github.com/ecsflow/ecsflow/internal/model"
)

// barTotal is the scale of a stage bar: a stage's progress in percent.
const barTotal = 100

// barLineWidth is the width of a stage's line (0: the terminal's); the
// bar itself is stageBarWidth wide and the label takes the rest.
var barLineWidth = 0

const stageBarWidth = 24

// stageBar is one stage's progress bar and the label drawn after it.
type stageBar struct {
	bar   *mpb.Bar
	label atomic.Value // string
	ended bool
}

// stageProgress is how far a stage is (0..barTotal-1 while it runs) and
// what its label says: its status, or for a running workflow stage its
// deployment's status, phase, counts, traffic weights and elapsed time.
func stageProgress(ctx context.Context, c *client.Client, x *model.PipelineExecution, s model.StageRecord) (int64, string) {
	label := string(s.Status)
	switch {
	case s.Status == model.PipelineWaitingApproval:
		return 0, label + "  approve: ecsflow approve " + x.ID + " (or reject)"
	case s.Status == model.PipelineRunning && s.DeploymentID != "":
		d, err := c.Deployment(ctx, s.DeploymentID)
		if err != nil {
			return 0, label + "  deployment " + s.DeploymentID
		}
		p := progressOf(d)
		var cur int64
		if p.planSteps > 0 {
			cur = int64(p.done) * barTotal / int64(p.planSteps+1)
		}
		return cur, fmt.Sprintf("%s  %s  elapsed %s", d.ID, summary(d, p), elapsed(&d.Deployment, asOf(d)))
	case s.DeploymentID != "" && s.DeploymentStatus != "":
		return 0, fmt.Sprintf("%s  %s %s", label, s.DeploymentID, s.DeploymentStatus)
	}
	if s.Error != "" {
		label += "  " + s.Error + ": " + s.Cause
	}
	return 0, label
}

// watchPipelineBars follows a pipeline execution on a terminal: a bar per
// stage with its state (the running stage's deployment phase, counts and
// weights after it), stage changes as timestamped lines above the bars,
// and the outcome line at the end. It returns pipelineOutcome's verdict.
func watchPipelineBars(ctx context.Context, c *client.Client, id string, w io.Writer) error {
	pb := mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithRefreshRate(refreshRate), mpb.WithAutoRefresh(), mpb.WithWidth(barLineWidth))
	var bars []*stageBar
	finish := func(x *model.PipelineExecution) {
		for i, b := range bars {
			if b.ended {
				continue
			}
			if x != nil && i < len(x.Stages) && x.Stages[i].Status == model.PipelineSucceeded {
				b.bar.SetTotal(barTotal, true)
			} else {
				b.bar.Abort(false)
			}
			b.ended = true
		}
		// Let one refresh draw the final state and flush the lines above.
		time.Sleep(2 * refreshRate)
		pb.Wait()
	}
	last := map[string]string{}
	for {
		x, err := c.PipelineExecution(ctx, id)
		if err != nil {
			finish(nil)
			return err
		}
		if bars == nil && len(x.Stages) > 0 {
			width := 0
			for _, s := range x.Stages {
				width = max(width, len(s.Name)+len(s.Type)+1)
			}
			for _, s := range x.Stages {
				b := &stageBar{}
				b.label.Store(string(s.Status))
				name := fmt.Sprintf("%-*s", width, s.Name+" "+string(s.Type))
				b.bar = pb.New(barTotal, mpb.BarStyle(), mpb.BarWidth(stageBarWidth),
					mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR)),
					mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return b.label.Load().(string) })))
				bars = append(bars, b)
			}
		}
		at := x.UpdatedAt.UTC().Format(time.RFC3339)
		for i, s := range x.Stages {
			if line := stageLine(s); last[s.Name] != line {
				last[s.Name] = line
				fmt.Fprintf(pb, "%s  STAGE        %s\n", at, line)
			}
			if i >= len(bars) || bars[i].ended {
				continue
			}
			b := bars[i]
			cur, label := stageProgress(ctx, c, x, s)
			b.label.Store(label)
			switch {
			case s.Status == model.PipelineSucceeded:
				b.bar.SetTotal(barTotal, true)
				b.ended = true
			case s.Status.Final():
				b.bar.Abort(false)
				b.ended = true
			default:
				b.bar.SetCurrent(cur)
			}
		}
		if x.Status.Final() {
			finish(x)
			fmt.Fprintf(w, "pipeline execution %s %s\n", x.ID, x.Status)
			return pipelineOutcome(x)
		}
		select {
		case <-ctx.Done():
			finish(nil)
			return fmt.Errorf("watch pipeline execution %s: %w", id, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}
