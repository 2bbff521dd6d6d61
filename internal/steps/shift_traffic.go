package steps

import (
	"context"
	"strconv"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/strategy"
)

// ShiftOutput is the new revision's weight after the step.
type ShiftOutput struct {
	Kind      strategy.Kind `json:"kind"`
	NewWeight int32         `json:"newWeight"`
}

// ShiftTraffic carries out SET_WEIGHT (production traffic: the ELB
// listener's or rule's forward weights between the old and new target
// groups, or the weighted DNS records) and POINT_TEST_LISTENER (the test
// listener forwards to the new revision only). Every change is a TRAFFIC
// ledger entry with its time and weights.
func (e *Engine) ShiftTraffic(ctx context.Context, in StepInput) (ShiftOutput, error) {
	if err := in.check(); err != nil {
		return ShiftOutput{}, err
	}
	ctx, r := e.begin(ctx, "SHIFT_TRAFFIC")
	out, err := e.shiftTraffic(ctx, r, in)
	return out, r.end(ctx, in.DeploymentID, err)
}

func (e *Engine) shiftTraffic(ctx context.Context, r *run, in StepInput) (ShiftOutput, error) {
	d, err := e.load(ctx, in.DeploymentID)
	if err != nil {
		return ShiftOutput{}, err
	}
	st, err := stepAt(d, in.Index)
	if err != nil {
		return ShiftOutput{}, err
	}
	r.name = string(st.Kind)
	rv, err := revisionsOf(d)
	if err != nil {
		return ShiftOutput{}, err
	}
	infra, err := getAs[*model.InfrastructureDefinition](ctx, e.store, d.InfrastructureID)
	if err != nil {
		return ShiftOutput{}, err
	}
	c, err := e.clients(ctx, d.Runtime.Target)
	if err != nil {
		return ShiftOutput{}, err
	}
	out := ShiftOutput{Kind: st.Kind, NewWeight: rv.NewWeight}
	switch st.Kind {
	case strategy.SetWeight:
		if st.NewWeight < 0 || st.NewWeight > 100 {
			return out, invalidf("weight %d is not 0..100", st.NewWeight)
		}
		if err := setProductionWeight(ctx, r, c, infra, rv, st.NewWeight, st.Target == strategy.TargetRoute53, false, nil); err != nil {
			return out, err
		}
		w := st.NewWeight
		r.setRevisions(func(x *model.Revisions) { x.NewWeight = w })
		out.NewWeight = w
		r.result = "new revision at " + strconv.Itoa(int(w)) + "%"
	case strategy.PointTestListener:
		lb := infra.LoadBalancing
		if lb == nil || lb.TestListenerARN == "" || rv.NewTargetGroup == "" {
			return out, invalidf("infrastructure %s has no test listener or the new revision no target group", infra.ID)
		}
		if err := c.SetForwardWeights(ctx, lb.TestListenerARN, "", map[string]int32{rv.NewTargetGroup: 100}); err != nil {
			return out, err
		}
		r.traffic(TrafficChange{Target: "ELB_TEST", Resource: lb.TestListenerARN, Weights: map[string]int32{rv.New: 100}})
		r.result = "test listener on " + rv.New
	default:
		return out, invalidf("step %d is %s, not SET_WEIGHT or POINT_TEST_LISTENER", in.Index, st.Kind)
	}
	return out, nil
}
