package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/ecsflow/ecsflow/internal/client"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/strategy"
)

// refreshRate is how often progress bars are redrawn.
const refreshRate = 100 * time.Millisecond

// pollInterval is how often --watch reads the deployment.
var pollInterval = 250 * time.Millisecond

func newStatusCmd(g *apiFlags) *cobra.Command {
	var watch bool
	cmd := &cobra.Command{
		Use:   "status <deployment-id> [--watch]",
		Short: "Show a deployment: phase, counts, traffic weight, newest ECS events, elapsed time",
		Long: `Status shows where a deployment is. --watch follows it to its end: progress bars on a
terminal, timestamped lines otherwise. The exit code is non-zero when the deployment
did not succeed (with --watch), or has ended without success.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, asJSON, err := g.session(ctx)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if watch {
				return watchDeployment(ctx, g, c, args[0], out)
			}
			d, err := c.Deployment(ctx, args[0])
			if err != nil {
				return err
			}
			return writeResult(out, asJSON, d, func() { writeStatus(out, d, asOf(d)) }, outcome(&d.Deployment))
		},
	}
	cmd.Flags().BoolVar(&watch, "watch", false, "follow the deployment to its end")
	return cmd
}

// outcome is nil unless the deployment ended without success.
func outcome(d *model.Deployment) error {
	if !d.Status.Final() || d.Status == model.StatusSucceeded {
		return nil
	}
	if d.Reason != "" {
		return fmt.Errorf("deployment %s ended %s: %s", d.ID, d.Status, d.Reason)
	}
	return fmt.Errorf("deployment %s ended %s", d.ID, d.Status)
}

// progress is what a deployment's record says about where it is.
type progress struct {
	planSteps int
	done      int
	phase     int
	phases    int
	newCount  int32
	oldCount  int32
	weight    int32 // -1: no traffic shifting
	events    []model.LedgerEntry
}

// progressOf derives the progress from the plan, the step records and the ledger.
func progressOf(d *client.DeploymentBody) progress {
	p := progress{weight: -1}
	var plan []strategy.Step
	if d.Runtime != nil && len(d.Runtime.Plan) > 0 {
		_ = json.Unmarshal(d.Runtime.Plan, &plan)
	}
	p.planSteps = len(plan)
	for _, s := range plan {
		if s.Phase > p.phases {
			p.phases = s.Phase
		}
	}
	// Plan steps run in order; each finished one leaves a step record named
	// by its kind. Count finished records that match the next plan step.
	for _, r := range d.Steps {
		if p.done >= len(plan) {
			break
		}
		if r.Result == "FAILED" || r.EndedAt.IsZero() {
			continue
		}
		if stepMatches(r.Name, plan[p.done].Kind) {
			p.done++
		}
	}
	if d.Status == model.StatusSucceeded {
		p.done = p.planSteps
	}
	// Replay the finished steps for the phase, counts and weight.
	for _, s := range plan[:p.done] {
		switch s.Kind {
		case strategy.Scale:
			p.newCount, p.oldCount = s.NewCount, s.OldCount
		case strategy.SetWeight:
			p.weight = s.NewWeight
		case strategy.Cleanup:
			p.oldCount = 0
		}
		if s.Phase > 0 {
			p.phase = s.Phase
		}
	}
	for _, e := range d.Ledger {
		if e.Kind == model.LedgerECSEvent || e.Kind == model.LedgerTaskStopped {
			p.events = append(p.events, e)
		}
	}
	if len(p.events) > 3 {
		p.events = p.events[len(p.events)-3:]
	}
	return p
}

func stepMatches(name string, k strategy.Kind) bool {
	n := strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(name))
	want := strings.ReplaceAll(strings.ToLower(string(k)), "_", "")
	return strings.HasSuffix(n, want)
}

// asOf is the deployment's own latest time: its last update or ledger
// entry. Elapsed times of a running deployment are measured to it, so that
// they are on the engine's clock (simulated locally, real on AWS).
func asOf(d *client.DeploymentBody) time.Time {
	t := d.UpdatedAt
	for _, e := range d.Ledger {
		if e.At.After(t) {
			t = e.At
		}
	}
	return t
}

func elapsed(d *model.Deployment, now time.Time) time.Duration {
	start := d.CreatedAt
	if d.StartedAt != nil {
		start = *d.StartedAt
	}
	end := now
	if d.EndedAt != nil {
		end = *d.EndedAt
	}
	if start.IsZero() || end.Before(start) {
		return 0
	}
	return end.Sub(start).Round(time.Second)
}

// summary is the one-line state: status, phase, counts, weight.
func summary(d *client.DeploymentBody, p progress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", d.Status)
	if p.phases > 0 {
		fmt.Fprintf(&b, "  phase %d/%d", p.phase, p.phases)
	}
	if p.planSteps > 0 {
		fmt.Fprintf(&b, "  step %d/%d", p.done, p.planSteps)
	}
	if p.newCount > 0 || p.oldCount > 0 {
		fmt.Fprintf(&b, "  new %d old %d", p.newCount, p.oldCount)
	}
	if p.weight >= 0 {
		fmt.Fprintf(&b, "  traffic new %d%% old %d%%", p.weight, 100-p.weight)
	}
	return b.String()
}

// writeStatus prints a deployment as text.
func writeStatus(w io.Writer, d *client.DeploymentBody, now time.Time) {
	p := progressOf(d)
	fmt.Fprintf(w, "deployment  %s\n", d.ID)
	fmt.Fprintf(w, "strategy    %s  workflow %s\n", d.Strategy, d.WorkflowID)
	fmt.Fprintf(w, "artifact    %s\n", d.Artifact.Reference())
	fmt.Fprintf(w, "state       %s\n", summary(d, p))
	fmt.Fprintf(w, "elapsed     %s\n", elapsed(&d.Deployment, now))
	if d.Reason != "" {
		fmt.Fprintf(w, "reason      %s\n", d.Reason)
	}
	if len(p.events) > 0 {
		fmt.Fprintln(w, "ecs events")
		for _, e := range p.events {
			fmt.Fprintf(w, "  %s  %s\n", e.At.UTC().Format(time.RFC3339), e.Message)
		}
	}
	if d.Status.Final() {
		fmt.Fprintf(w, "usage       %d state transitions, %d AWS calls, est. $%.6f\n",
			d.Usage.StateTransitions, sumCalls(d.Usage.APICalls), d.Usage.EstimatedCostUSD)
	}
}

func sumCalls(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// ledgerLine is one timestamped line of --watch's plain output.
func ledgerLine(e model.LedgerEntry) string {
	return fmt.Sprintf("%s  %-12s %s", e.At.UTC().Format(time.RFC3339), e.Kind, e.Message)
}

// settled re-reads an ended deployment until its ledger records the end
// (the engine writes the deployment's status before the ledger entries),
// for at most 20 polls; then it returns what it has.
func settled(ctx context.Context, c *client.Client, d *client.DeploymentBody) (*client.DeploymentBody, error) {
	for range 20 {
		for _, e := range d.Ledger {
			if e.Kind == model.LedgerStatus && strings.HasPrefix(e.Message, string(d.Status)) {
				return d, nil
			}
		}
		select {
		case <-ctx.Done():
			return d, nil
		case <-time.After(pollInterval):
		}
		next, err := c.Deployment(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		d = next
	}
	return d, nil
}

// watchDeployment follows a deployment to its end. With -o json it prints
// the final deployment; on a terminal it draws a progress bar; otherwise
// it prints one timestamped line per ledger entry and state change.
func watchDeployment(ctx context.Context, g *apiFlags, c *client.Client, id string, w io.Writer) error {
	asJSON, err := g.json()
	if err != nil {
		return err
	}
	var bar *mpb.Bar
	var pb *mpb.Progress
	var label atomic.Value
	label.Store("")
	lines := w
	if !asJSON && g.isTTY(w) {
		pb = mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithRefreshRate(refreshRate), mpb.WithAutoRefresh())
		defer func() {
			if pb != nil {
				pb.Shutdown()
			}
		}()
		lines = pb
	}
	seen := map[int64]bool{}
	lastSummary := ""
	for {
		d, err := c.Deployment(ctx, id)
		if err == nil && d.Status.Final() {
			d, err = settled(ctx, c, d)
		}
		if err != nil {
			if bar != nil {
				bar.Abort(false)
			}
			return err
		}
		p := progressOf(d)
		if !asJSON {
			for _, e := range d.Ledger {
				if seen[e.Seq] {
					continue
				}
				seen[e.Seq] = true
				fmt.Fprintln(lines, ledgerLine(e))
			}
			s := summary(d, p)
			if pb != nil {
				label.Store(s + "  elapsed " + elapsed(&d.Deployment, asOf(d)).String())
				if bar == nil && (p.planSteps > 0 || d.Status.Final()) {
					// Made once the plan is known (mpb completes a bar when
					// it reaches its first total), with one more than the
					// plan's steps: it completes only when the deployment
					// has succeeded.
					total := int64(p.planSteps + 1)
					bar = pb.New(total, mpb.BarStyle(),
						mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return label.Load().(string) })))
				}
				if bar != nil {
					bar.SetCurrent(int64(p.done))
				}
			} else if s != lastSummary {
				at := asOf(d)
				fmt.Fprintf(w, "%s  %-12s %s  elapsed %s\n", at.UTC().Format(time.RFC3339), "STATE", s, elapsed(&d.Deployment, at))
			}
			lastSummary = s
		}
		if d.Status.Final() {
			if bar != nil {
				if d.Status == model.StatusSucceeded {
					bar.SetTotal(int64(p.planSteps+1), true)
				} else {
					bar.Abort(false)
				}
				// Let one refresh draw the final state and flush the
				// lines written above the bar.
				time.Sleep(2 * refreshRate)
			}
			return writeResult(w, asJSON, d, func() {
				if pb != nil {
					pb.Wait()
					pb = nil
				}
				fmt.Fprintf(w, "deployment %s %s after %s (simulated): %d state transitions, %d AWS calls, est. $%.6f\n",
					d.ID, d.Status, elapsed(&d.Deployment, asOf(d)), d.Usage.StateTransitions, sumCalls(d.Usage.APICalls), d.Usage.EstimatedCostUSD)
			}, outcome(&d.Deployment))
		}
		select {
		case <-ctx.Done():
			if bar != nil {
				bar.Abort(false)
			}
			return fmt.Errorf("watch deployment %s: %w", id, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}
