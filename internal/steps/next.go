package steps

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/strategy"
)

// NextInput is step-next's input.
type NextInput struct {
	Ref
	Index int `json:"index"`
}

// NextOutput is the step at the index, or Done.
type NextOutput struct {
	Done bool          `json:"done"`
	Step strategy.Step `json:"step"`
	// TimeoutSeconds bounds the step's wait (WAIT_STEADY, VERIFY,
	// APPROVAL); at least 1.
	TimeoutSeconds int32 `json:"timeoutSeconds"`
}

// Next returns the planned step at the index. It also ends the step record
// a wait left open (its task was completed, or its bake ran out) and moves a
// deployment that was waiting for approval back to RUNNING. It writes only
// when there is something to close.
func (e *Engine) Next(ctx context.Context, in NextInput) (NextOutput, error) {
	if err := in.check(); err != nil {
		return NextOutput{}, err
	}
	d, err := e.load(ctx, in.DeploymentID)
	if err != nil {
		return NextOutput{}, Classify(err)
	}
	plan, err := planOf(d)
	if err != nil {
		return NextOutput{}, err
	}
	if d.Status.Final() {
		return NextOutput{}, &Aborted{fmt.Errorf("deployment %s already ended %s", d.ID, d.Status)}
	}
	needs := d.Status == model.StatusWaitingApproval
	confirm := false
	for _, s := range d.Steps {
		needs = needs || s.EndedAt.IsZero()
		confirm = confirm || (s.EndedAt.IsZero() && s.Name == "WAIT_STEADY")
	}
	ctx, r := e.begin(ctx, "NEXT")
	if confirm {
		// An event ended the steady wait. Events can arrive out of order
		// (a circuit breaker's rollback completing before the failure is
		// seen), so confirm with one DescribeServices that the service
		// settled on this deployment's revision before moving on.
		if err := e.confirmSteady(ctx, d, in.Index-1); err != nil {
			return NextOutput{}, Classify(err)
		}
	}
	if needs {
		calls := r.calls.Counts()
		if _, err := e.mutateLoaded(ctx, d.ID, d, func(cur *model.Deployment) error {
			addUsage(&cur.Usage, calls, 0, 1, len(cur.Steps))
			closeOpen(cur, e.clock(), "OK", "", "")
			if cur.Status == model.StatusWaitingApproval {
				cur.Status = model.StatusRunning
			}
			return nil
		}); err != nil {
			return NextOutput{}, Classify(err)
		}
	}
	st, ok := strategy.At(plan, in.Index)
	out := NextOutput{Done: !ok, Step: st, TimeoutSeconds: 1}
	switch st.Kind {
	case strategy.WaitSteady:
		out.TimeoutSeconds = d.Runtime.SteadyTimeoutSeconds
	case strategy.Verify:
		out.TimeoutSeconds = st.BakeSeconds
		if st.BakeSeconds <= 0 {
			// No bake: verify checks the alarms once and completes its own
			// token; the timeout must not cut that Lambda short.
			out.TimeoutSeconds = 60
		}
	case strategy.Approval:
		out.TimeoutSeconds = approvalTimeout(st.Approval)
	}
	if out.TimeoutSeconds <= 0 {
		out.TimeoutSeconds = model.DefaultSteadyStateTimeoutSeconds
	}
	return out, nil
}

func planOf(d *model.Deployment) ([]strategy.Step, error) {
	if d.Runtime == nil || len(d.Runtime.Plan) == 0 {
		return nil, invalidf("deployment %s has no plan: prepare has not run", d.ID)
	}
	var plan []strategy.Step
	if err := json.Unmarshal(d.Runtime.Plan, &plan); err != nil {
		return nil, invalidf("deployment %s: stored plan: %v", d.ID, err)
	}
	return plan, nil
}

// stepAt is the plan's step at index, or Invalid.
func stepAt(d *model.Deployment, index int) (strategy.Step, error) {
	plan, err := planOf(d)
	if err != nil {
		return strategy.Step{}, err
	}
	st, ok := strategy.At(plan, index)
	if !ok {
		return strategy.Step{}, invalidf("deployment %s has no step %d", d.ID, index)
	}
	return st, nil
}

// confirmSteady fails NotStable when the service the wait at index watched
// (the new revision, or the old one draining) does not run the revision it
// expects or its rollout failed.
func (e *Engine) confirmSteady(ctx context.Context, d *model.Deployment, index int) error {
	t, err := targetOf(d)
	if err != nil {
		return err
	}
	c, err := e.clients(ctx, t)
	if err != nil {
		return err
	}
	name, want, _ := watched(d, index, false)
	st, err := c.CheckSteady(ctx, t.Cluster, name, want)
	if err != nil {
		return err
	}
	if st.State == ecsops.Failed {
		return notStablef("service %s/%s after its steady state: %s", t.Cluster, name, st.Reason)
	}
	return nil
}
