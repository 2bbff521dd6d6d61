package steps

import (
	"context"
	"fmt"

	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/model"
)

// ActionSwapBack is a revisioned rollback that only moved traffic back:
// the old revision never stopped, so no task starts.
const ActionSwapBack = "SWAP_BACK"

// rollbackRevisions undoes a CANARY or BLUE_GREEN deployment after its
// setup: the old revision gets its count back (a rollback within the
// blue/green bake finds it at full size: no task starts) and its auto
// scaling; 100% of production traffic returns to it (ELB weights or DNS
// weights); then the new revision is removed (its auto scaling, its
// weighted record and the service). It waits only when the old revision's
// count had to change.
func (e *Engine) rollbackRevisions(ctx context.Context, r *run, d *model.Deployment, c *ecsops.Clients, cause string,
	out *RollbackOutput, setReason func(string, model.Status)) error {
	rv := d.Runtime.Revisions
	t := d.Runtime.Target
	// Both at once: a swap back is on the clock.
	var (
		wf     *model.Workflow
		wfErr  error
		wfDone = make(chan struct{})
	)
	go func() {
		defer close(wfDone)
		wf, wfErr = getAs[*model.Workflow](ctx, e.store, d.WorkflowID)
	}()
	infra, err := getAs[*model.InfrastructureDefinition](ctx, e.store, d.InfrastructureID)
	<-wfDone
	if err != nil {
		return err
	}
	if wfErr != nil {
		return wfErr
	}
	sc, err := ecsops.DecodeScaling(rv.OldScaling)
	if err != nil {
		return invalidf("deployment %s: %v", d.ID, err)
	}
	out.Result = string(model.StatusRolledBack)
	what := ""
	switch {
	case rv.Old != "" && !rv.OldDeleted:
		// Traffic first: a swap back must be quick.
		if needsTraffic(wf, infra, rv) {
			if err := setProductionWeight(ctx, r, c, infra, rv, 0, dnsMode(wf), true, nil); err != nil {
				return err
			}
		}
		if lb := infra.LoadBalancing; lb != nil && lb.TestListenerARN != "" && rv.OldTargetGroup != "" && wf.Strategy.BlueGreen != nil && wf.Strategy.BlueGreen.UseTestListener {
			if err := c.SetForwardWeights(ctx, lb.TestListenerARN, "", map[string]int32{rv.OldTargetGroup: 100}); err != nil {
				return err
			}
			r.traffic(TrafficChange{Target: "ELB_TEST", Resource: lb.TestListenerARN, Weights: map[string]int32{rv.Old: 100}, Rollback: true})
		}
		cur, ok, err := c.DescribeService(ctx, t.Cluster, rv.Old)
		if err != nil {
			return err
		}
		if !ok {
			out.Result = string(model.StatusFailed)
			setReason(fmt.Sprintf("%s; the old revision %s is gone: nothing to swap back to", cause, rv.Old), model.StatusRollingBack)
			return nil
		}
		out.Action, out.TaskDefinitionARN = ActionSwapBack, rv.OldTaskDefinition
		if cur.DesiredCount != rv.OldCount {
			if err := c.SetDesiredCount(ctx, t.Cluster, rv.Old, rv.OldCount); err != nil {
				return err
			}
			out.Action, out.Wait = ActionRestore, true
		}
		if rv.OldScalingRemoved && sc != nil {
			if err := c.ApplyScaling(ctx, t.Cluster, rv.Old, sc); err != nil {
				return err
			}
		}
		what = fmt.Sprintf("%s x%d on %s with 100%% of traffic", rv.Old, rv.OldCount, shortTD(rv.OldTaskDefinition))
		if out.Action == ActionSwapBack {
			what = "swapped back to " + what + " (no task starts)"
		} else {
			what = "restored " + what
		}
	case rv.OldDeleted:
		out.Result = string(model.StatusFailed)
		what = "the old revision " + rv.Old + " was deleted at cleanup: nothing to swap back to"
	default:
		out.Action = ActionDelete
		what = "first deployment with nothing to go back to"
	}
	if err := c.RemoveScaling(ctx, t.Cluster, rv.New); err != nil {
		return err
	}
	if dnsMode(wf) {
		svc, err := getAs[*model.Service](ctx, e.store, d.ServiceID)
		if err != nil {
			return err
		}
		if err := retireRegistry(ctx, c, svc, infra, rv.New); err != nil {
			return err
		}
	}
	if err := c.DeleteService(ctx, t.Cluster, rv.New); err != nil {
		return err
	}
	setReason(fmt.Sprintf("%s; %s; new revision %s removed", cause, what, rv.New), model.StatusRollingBack)
	r.result = out.Action + " " + rv.Old
	r.note(model.LedgerRollback, "rollback: %s", out.Reason)
	return nil
}

// needsTraffic reports whether the deployment sets production weights.
func needsTraffic(wf *model.Workflow, infra *model.InfrastructureDefinition, rv *model.Revisions) bool {
	if dnsMode(wf) {
		return infra.DNS != nil && infra.DNS.HostedZoneID != ""
	}
	lb := infra.LoadBalancing
	return lb != nil && lb.ProdListenerARN != "" && rv.NewTargetGroup != "" && rv.OldTargetGroup != ""
}
