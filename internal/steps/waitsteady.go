package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/strategy"
)

// WaitSteadyInput is step-wait-steady's input; the state machine invokes it
// with lambda:invoke.waitForTaskToken.
type WaitSteadyInput struct {
	Ref
	Index int    `json:"index"`
	Token string `json:"token"`
	// Rollback waits for the rollback's revision instead of the new one.
	Rollback bool `json:"rollback,omitempty"`
}

// WaitSteadyOutput is the Lambda's own answer (the state machine waits for
// the token instead).
type WaitSteadyOutput struct {
	Waiting bool               `json:"waiting"`
	State   ecsops.SteadyState `json:"state"`
}

// WaitSteady stores the task token for functions/ecs-events (keyed by
// cluster, service and deployment) and returns: the ECS events complete the
// task. Because the rollout may already have settled before the token was
// stored, it checks once (one DescribeServices) after storing it and
// completes the token itself when the service is already steady (success)
// or failed (NotStable). The step's deadline (steady-state timeout) is set
// on its first invocation and kept when the state machine comes back after
// a heartbeat check.
func (e *Engine) WaitSteady(ctx context.Context, in WaitSteadyInput) (WaitSteadyOutput, error) {
	if err := in.check(); err != nil {
		return WaitSteadyOutput{}, err
	}
	if in.Token == "" {
		return WaitSteadyOutput{}, invalidf("wait-steady needs the task token")
	}
	name := "WAIT_STEADY"
	if in.Rollback {
		name = "WAIT_ROLLBACK_STEADY"
	}
	ctx, r := e.begin(ctx, name)
	r.open = true
	out, err := e.waitSteady(ctx, r, in, name)
	return out, r.end(ctx, in.DeploymentID, err)
}

func (e *Engine) waitSteady(ctx context.Context, r *run, in WaitSteadyInput, name string) (WaitSteadyOutput, error) {
	d, err := e.load(ctx, in.DeploymentID)
	if err != nil {
		return WaitSteadyOutput{}, err
	}
	t, err := targetOf(d)
	if err != nil {
		return WaitSteadyOutput{}, err
	}
	svcName, want, drain := watched(d, in.Index, in.Rollback)
	now := e.clock()
	key := deadlineKey(in.Index, in.Rollback)
	deadline := time.Unix(d.Runtime.StepDeadline, 0)
	again := d.Runtime.DeadlineStep == key && d.Runtime.StepDeadline > 0
	if !again {
		deadline = now.Add(time.Duration(d.Runtime.SteadyTimeoutSeconds) * time.Second)
		r.change(func(cur *model.Deployment) error {
			if cur.Runtime != nil {
				cur.Runtime.StepDeadline, cur.Runtime.DeadlineStep = deadline.Unix(), key
			}
			return nil
		})
		r.result = "waiting for " + shortTD(want)
		if drain {
			r.result = "waiting for " + svcName + " to drain (old first)"
		}
	} else {
		// The same wait again after a heartbeat check: its record is open.
		r.result = "waiting again for " + shortTD(want)
	}
	w := store.Wait{Token: in.Token, DeploymentID: d.ID, Cluster: t.Cluster, Service: svcName,
		Kind: store.WaitSteady, Expires: deadline.Add(time.Minute)}
	if in.Rollback && d.Runtime != nil {
		// Only the rollback's own ECS deployment decides its wait (see
		// pinRollbackDeployment); check-steady remains the safety net.
		w.ECSDeployment = d.Runtime.RollbackECSDeployment
	}
	if err := e.store.PutWait(ctx, w); err != nil {
		return WaitSteadyOutput{}, err
	}
	r.writes++
	// The wait a heartbeat check replaced goes after the new one is in: an
	// ECS event handled in between finds one of them and reaches the ledger.
	if err := e.clearOtherSteadyWaits(ctx, r, d.ID, in.Token); err != nil {
		return WaitSteadyOutput{}, err
	}
	c, err := e.clients(ctx, t)
	if err != nil {
		return WaitSteadyOutput{}, err
	}
	st, err := check(ctx, c, t.Cluster, svcName, want, drain)
	if err != nil {
		// The token is stored: events or the heartbeat check will decide.
		e.log.WarnContext(ctx, "steadiness check after storing the token", "deployment_id", d.ID, "error", err)
		return WaitSteadyOutput{Waiting: true}, nil
	}
	switch st.State {
	case ecsops.Steady:
		body, _ := json.Marshal(st)
		r.open, r.skipRecord = false, false
		r.result = "already steady on " + shortTD(want)
		if again {
			r.change(func(cur *model.Deployment) error {
				closeOpen(cur, e.clock(), "steady on "+shortTD(want), "", "")
				return nil
			})
			r.skipRecord = true
		}
		r.after(func(ctx context.Context) error {
			e.keepWatching(ctx, w)
			_ = e.store.DeleteWait(ctx, w)
			// A spent token: the heartbeat timed out first and the
			// check-steady path carries on.
			if err := e.tasks.SendTaskSuccess(ctx, in.Token, string(body)); err != nil && !ecsevents.TokenSpent(err) {
				return fmt.Errorf("complete steady wait: %w", err)
			}
			return nil
		})
		return WaitSteadyOutput{State: st}, nil
	case ecsops.Failed:
		r.result = "failed: " + st.Reason
		r.after(func(ctx context.Context) error {
			e.keepWatching(ctx, w)
			_ = e.store.DeleteWait(ctx, w)
			if err := e.tasks.SendTaskFailure(ctx, in.Token, ErrNotStable, st.Reason); err != nil && !ecsevents.TokenSpent(err) {
				return fmt.Errorf("fail steady wait: %w", err)
			}
			return nil
		})
		if again {
			r.skipRecord = true
		}
		return WaitSteadyOutput{State: st}, nil
	}
	if again {
		// Do not add a second record for the same wait.
		r.skipRecord = true
	}
	return WaitSteadyOutput{Waiting: true, State: st}, nil
}

// clearOtherSteadyWaits deletes the deployment's STEADY waits other than
// the one with token keep.
func (e *Engine) clearOtherSteadyWaits(ctx context.Context, r *run, id, keep string) error {
	ws, err := e.store.WaitsForDeployment(ctx, id)
	if err != nil {
		return err
	}
	for _, w := range ws {
		if w.Kind != store.WaitSteady || w.Token == keep {
			continue
		}
		if err := e.store.DeleteWait(ctx, w); err != nil {
			return err
		}
		r.writes++
	}
	return nil
}

// keepWatching leaves a WATCH on the service of a steady wait this step
// answers itself (the service settled before the wait was stored), as
// internal/ecsevents does for the waits it answers: the events ECS sends
// as it settles still reach the deployment's ledger.
func (e *Engine) keepWatching(ctx context.Context, w store.Wait) {
	watch := store.Wait{Token: store.WatchToken(w.DeploymentID), DeploymentID: w.DeploymentID, Kind: store.WaitWatch,
		Cluster: w.Cluster, Service: w.Service, Expires: e.clock().Add(ecsevents.DefaultWatch)}
	if err := e.store.PutWait(ctx, watch); err != nil {
		e.log.WarnContext(ctx, "could not keep watching the service for the ledger", "deployment_id", w.DeploymentID, "error", err)
	}
}

func deadlineKey(index int, rollback bool) string {
	if rollback {
		return "rollback"
	}
	return fmt.Sprintf("step-%d", index)
}

// wantTaskDef is the revision a steady wait expects.
func wantTaskDef(d *model.Deployment, rollback bool) string {
	if rollback {
		if d.Runtime != nil {
			return d.Runtime.RollbackTaskDefinition
		}
		return ""
	}
	if d.NewRevision != nil {
		return d.NewRevision.TaskDefinitionARN
	}
	return ""
}

// watched is the service a steady wait watches and the task definition it
// expects: the new revision (or the rollback's), except for the first wait
// of an OLD_FIRST canary phase — SCALE gave up old tasks, the next SCALE
// adds new ones — which waits for the old revision to drain (drain), so
// the new tasks find the capacity the old ones freed.
func watched(d *model.Deployment, index int, rollback bool) (service, taskDef string, drain bool) {
	service, taskDef = steadyService(d, rollback), wantTaskDef(d, rollback)
	if rollback || d.Runtime == nil || d.Runtime.Revisions == nil || d.Runtime.Revisions.Old == "" {
		return service, taskDef, false
	}
	plan, err := planOf(d)
	if err != nil || index <= 0 || index+1 >= len(plan) {
		return service, taskDef, false
	}
	prev, cur, next := plan[index-1], plan[index], plan[index+1]
	if cur.Kind == strategy.WaitSteady && prev.Kind == strategy.Scale && next.Kind == strategy.Scale &&
		prev.Phase == next.Phase && next.NewCount > prev.NewCount {
		rv := d.Runtime.Revisions
		return rv.Old, rv.OldTaskDefinition, true
	}
	return service, taskDef, false
}

func check(ctx context.Context, c *ecsops.Clients, cluster, service, taskDef string, drain bool) (ecsops.SteadyState, error) {
	if drain {
		return c.CheckDrained(ctx, cluster, service, taskDef)
	}
	return c.CheckSteady(ctx, cluster, service, taskDef)
}

// CheckSteadyInput is step-check-steady's input.
type CheckSteadyInput struct {
	Ref
	Index    int  `json:"index"`
	Rollback bool `json:"rollback,omitempty"`
}

// CheckSteady is the safety net after a heartbeat timeout (ECS was silent
// for a whole heartbeat period): one DescribeServices call. It answers
// STEADY or IN_PROGRESS; a failed rollout, or the step's deadline passing,
// is NotStable.
func (e *Engine) CheckSteady(ctx context.Context, in CheckSteadyInput) (ecsops.SteadyState, error) {
	if err := in.check(); err != nil {
		return ecsops.SteadyState{}, err
	}
	ctx, r := e.begin(ctx, "CHECK_STEADY")
	out, err := e.checkSteady(ctx, r, in)
	return out, r.end(ctx, in.DeploymentID, err)
}

func (e *Engine) checkSteady(ctx context.Context, r *run, in CheckSteadyInput) (ecsops.SteadyState, error) {
	d, err := e.load(ctx, in.DeploymentID)
	if err != nil {
		return ecsops.SteadyState{}, err
	}
	t, err := targetOf(d)
	if err != nil {
		return ecsops.SteadyState{}, err
	}
	c, err := e.clients(ctx, t)
	if err != nil {
		return ecsops.SteadyState{}, err
	}
	svcName, want, drain := watched(d, in.Index, in.Rollback)
	st, err := check(ctx, c, t.Cluster, svcName, want, drain)
	if err != nil {
		return ecsops.SteadyState{}, err
	}
	r.result = string(st.State)
	switch st.State {
	case ecsops.Failed:
		return st, notStablef("service %s/%s: %s", t.Cluster, svcName, st.Reason)
	case ecsops.InProgress:
		if dl := d.Runtime.StepDeadline; dl > 0 && d.Runtime.DeadlineStep == deadlineKey(in.Index, in.Rollback) && !e.clock().Before(time.Unix(dl, 0)) {
			return st, notStablef("service %s/%s did not reach a steady state on %s within %ds (%s)",
				t.Cluster, svcName, shortTD(want), d.Runtime.SteadyTimeoutSeconds, st.Reason)
		}
	case ecsops.Steady:
		r.change(func(cur *model.Deployment) error {
			closeOpen(cur, e.clock(), "steady on "+shortTD(want), "", "")
			return nil
		})
	}
	return st, nil
}
