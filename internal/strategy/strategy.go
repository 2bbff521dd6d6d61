// Package strategy plans deployments as data. A workflow's strategy becomes an
// ordered list of typed steps; the state machine carries a step index and asks
// for the step at that index, so every strategy runs through the same loop and
// a deployment can be resumed, inspected or rolled back from any step.
//
// Planning is pure: no I/O, no clocks. Counts that depend on what is running
// (Harness's "same as already running") come in through Sizing.
package strategy

import (
	"fmt"

	"github.com/ecsflow/ecsflow/internal/model"
)

// Kind is what a step does.
type Kind string

// Step kinds. Each is carried out by one step Lambda.
const (
	// RegisterTaskDefinition renders the service's template and registers it.
	RegisterTaskDefinition Kind = "REGISTER_TASK_DEFINITION"
	// UpdateService creates the long-lived service or updates it in place
	// (Rolling, Daemon).
	UpdateService Kind = "UPDATE_SERVICE"
	// SetupService creates the new revisioned service <service>__<n> at zero
	// (Canary, Blue/Green), copying auto scaling from the old one.
	SetupService Kind = "SETUP_SERVICE"
	// Scale sets the new and old revisions' desired counts.
	Scale Kind = "SCALE"
	// WaitSteady waits, event-driven, for the services to reach a steady state.
	WaitSteady Kind = "WAIT_STEADY"
	// SetWeight sets the production traffic weights (ELB listener or Route 53).
	SetWeight Kind = "SET_WEIGHT"
	// PointTestListener points the test listener at the new revision.
	PointTestListener Kind = "POINT_TEST_LISTENER"
	// Verify watches alarms for the bake time.
	Verify Kind = "VERIFY"
	// Approval waits for a person.
	Approval Kind = "APPROVAL"
	// Cleanup downsizes or deletes the old revision and removes its auto scaling.
	Cleanup Kind = "CLEANUP"
)

// Target is where traffic weights are set.
type Target string

// Weight targets.
const (
	TargetELB     Target = "ELB"
	TargetRoute53 Target = "ROUTE53"
)

// Step is one planned action. Only the fields its Kind uses are set.
type Step struct {
	Kind Kind `json:"kind"`
	// Phase is the 1-based canary phase or blue/green step the step belongs
	// to; 0 outside phases.
	Phase int `json:"phase,omitempty"`
	// NewCount and OldCount are the desired counts for Scale.
	NewCount int32 `json:"newCount"`
	OldCount int32 `json:"oldCount"`
	// NewWeight is the new revision's traffic weight, 0..100, for SetWeight.
	NewWeight int32  `json:"newWeight"`
	Target    Target `json:"target,omitempty"`
	// BakeSeconds and Alarms are for Verify.
	BakeSeconds int32    `json:"bakeSeconds,omitempty"`
	Alarms      []string `json:"alarms,omitempty"`
	// Approval is for Approval steps.
	Approval *model.Approval `json:"approval,omitempty"`
	// DeleteOld makes Cleanup delete the old revision instead of scaling it to zero.
	DeleteOld bool `json:"deleteOld,omitempty"`
}

// Sizing is what the planner needs to know about what is running.
type Sizing struct {
	// Running is the old revision's desired count now (0 on a first deployment).
	Running int32
	// Default is the count to use when nothing runs and the setup is not
	// FIXED: the service's desired count after environment overrides.
	Default int32
}

// FullCount is the new revision's full size for a service setup.
func FullCount(setup model.ServiceSetup, s Sizing) int32 {
	if setup.CountMode == model.CountFixed && setup.FixedCount != nil {
		return *setup.FixedCount
	}
	if s.Running > 0 {
		return s.Running
	}
	if s.Default > 0 {
		return s.Default
	}
	return 1
}

// PhaseCount is a canary phase's size for the new revision: its count, or its
// percent of full rounded up, never above full and never below 1.
func PhaseCount(p model.CanaryPhase, full int32) int32 {
	var n int32
	switch {
	case p.Count != nil:
		n = *p.Count
	case p.Percent != nil:
		n = int32((int64(*p.Percent)*int64(full) + 99) / 100)
	}
	if n > full {
		n = full
	}
	if n < 1 {
		n = 1
	}
	return n
}

// Plan lays out every step of a workflow. It fails on a strategy that
// model validation would refuse.
func Plan(w *model.Workflow, s Sizing) ([]Step, error) {
	st := w.Strategy
	steps := []Step{{Kind: RegisterTaskDefinition}}
	switch st.Type {
	case model.StrategyRolling, model.StrategyDaemon:
		steps = append(steps, Step{Kind: UpdateService}, Step{Kind: WaitSteady})
		steps = appendVerification(steps, 0, w.Verification.BakeSeconds, w.Verification.Alarms, w.Verification.Approval)
	case model.StrategyCanary:
		c := st.Canary
		if c == nil || len(c.Phases) == 0 {
			return nil, fmt.Errorf("canary strategy has no phases")
		}
		full := FullCount(c.Setup, s)
		steps = append(steps, Step{Kind: SetupService})
		prevNew := int32(0)
		for i, ph := range c.Phases {
			n := PhaseCount(ph, full)
			if n < prevNew {
				return nil, fmt.Errorf("canary phase %d shrinks the new revision from %d to %d", i+1, prevNew, n)
			}
			prevNew = n
			// NEW_FIRST (the default) adds the new tasks and keeps the old
			// revision at full size until cleanup; OLD_FIRST gives up as many
			// old tasks first, for clusters without spare capacity.
			if c.Setup.Resize == model.ResizeOldFirst && s.Running > 0 {
				old := s.Running - n
				if old < 0 {
					old = 0
				}
				steps = append(steps,
					Step{Kind: Scale, Phase: i + 1, NewCount: prevScaleNew(steps), OldCount: old},
					Step{Kind: WaitSteady, Phase: i + 1},
					Step{Kind: Scale, Phase: i + 1, NewCount: n, OldCount: old},
					Step{Kind: WaitSteady, Phase: i + 1})
			} else {
				steps = append(steps,
					Step{Kind: Scale, Phase: i + 1, NewCount: n, OldCount: s.Running},
					Step{Kind: WaitSteady, Phase: i + 1})
			}
			if ph.TrafficWeight != nil {
				steps = append(steps, Step{Kind: SetWeight, Phase: i + 1, NewWeight: *ph.TrafficWeight, Target: TargetELB})
			}
			alarms := append(append([]string(nil), w.Verification.Alarms...), ph.Alarms...)
			steps = appendVerification(steps, i+1, ph.BakeSeconds, alarms, ph.Approval)
		}
		if last := c.Phases[len(c.Phases)-1]; last.TrafficWeight != nil && *last.TrafficWeight != 100 {
			steps = append(steps, Step{Kind: SetWeight, Phase: len(c.Phases), NewWeight: 100, Target: TargetELB})
		}
		steps = appendVerification(steps, 0, w.Verification.BakeSeconds, w.Verification.Alarms, w.Verification.Approval)
		steps = append(steps, Step{Kind: Cleanup, OldCount: 0})
	case model.StrategyBlueGreen:
		b := st.BlueGreen
		if b == nil {
			return nil, fmt.Errorf("blue/green strategy has no settings")
		}
		full := FullCount(b.Setup, s)
		target := TargetELB
		if b.Mode == model.BlueGreenRoute53 {
			target = TargetRoute53
		}
		steps = append(steps, Step{Kind: SetupService},
			Step{Kind: Scale, NewCount: full, OldCount: s.Running},
			Step{Kind: WaitSteady})
		if b.UseTestListener {
			steps = append(steps, Step{Kind: PointTestListener})
			steps = appendVerification(steps, 0, b.StepBakeSeconds, w.Verification.Alarms, w.Verification.Approval)
		}
		weights := b.LinearSteps
		if len(weights) == 0 {
			weights = []int32{100}
		}
		for i, wt := range weights {
			steps = append(steps, Step{Kind: SetWeight, Phase: i + 1, NewWeight: wt, Target: target})
			if wt < 100 {
				steps = appendVerification(steps, i+1, b.StepBakeSeconds, w.Verification.Alarms, nil)
			}
		}
		// Blue stays at full size for the bake, so rolling back is a swap back.
		steps = appendVerification(steps, 0, b.BlueBakeSeconds, w.Verification.Alarms, approvalUnlessTested(b, w))
		steps = append(steps, Step{Kind: Cleanup, DeleteOld: b.DeleteBlue})
	default:
		return nil, fmt.Errorf("unknown strategy type %q", st.Type)
	}
	return steps, nil
}

// approvalUnlessTested puts the workflow's approval after the swap when no
// test listener was used to gate it before.
func approvalUnlessTested(b *model.BlueGreenStrategy, w *model.Workflow) *model.Approval {
	if b.UseTestListener {
		return nil
	}
	return w.Verification.Approval
}

func appendVerification(steps []Step, phase int, bake int32, alarms []string, approval *model.Approval) []Step {
	if bake > 0 || len(alarms) > 0 {
		steps = append(steps, Step{Kind: Verify, Phase: phase, BakeSeconds: bake, Alarms: alarms})
	}
	if approval != nil {
		steps = append(steps, Step{Kind: Approval, Phase: phase, Approval: approval})
	}
	return steps
}

// prevScaleNew and prevScaleOld are the counts set by the last Scale step.
func prevScaleNew(steps []Step) int32 {
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].Kind == Scale {
			return steps[i].NewCount
		}
	}
	return 0
}

// At returns the step at index and whether there is one: the state machine's
// loop ends when ok is false.
func At(steps []Step, index int) (Step, bool) {
	if index < 0 || index >= len(steps) {
		return Step{}, false
	}
	return steps[index], true
}
