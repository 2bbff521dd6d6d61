package steps

import (
	"context"
	"fmt"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/strategy"
)

// ScaleOutput is the counts the step set.
type ScaleOutput struct {
	New      string `json:"new"`
	NewCount int32  `json:"newCount"`
	Old      string `json:"old,omitempty"`
	OldCount int32  `json:"oldCount"`
}

// Scale is Harness's Upgrade Containers: it sets the new revision's desired
// count and the old revision's, as planned. Before the old revision is
// downsized its auto scaling is removed (it would hold the count up); the
// snapshot taken at setup restores it on rollback.
func (e *Engine) Scale(ctx context.Context, in StepInput) (ScaleOutput, error) {
	if err := in.check(); err != nil {
		return ScaleOutput{}, err
	}
	ctx, r := e.begin(ctx, "SCALE")
	out, err := e.scale(ctx, r, in)
	return out, r.end(ctx, in.DeploymentID, err)
}

func (e *Engine) scale(ctx context.Context, r *run, in StepInput) (ScaleOutput, error) {
	d, err := e.load(ctx, in.DeploymentID)
	if err != nil {
		return ScaleOutput{}, err
	}
	st, err := stepAt(d, in.Index)
	if err != nil {
		return ScaleOutput{}, err
	}
	if st.Kind != strategy.Scale {
		return ScaleOutput{}, invalidf("step %d is %s, not SCALE", in.Index, st.Kind)
	}
	rv, err := revisionsOf(d)
	if err != nil {
		return ScaleOutput{}, err
	}
	t := d.Runtime.Target
	c, err := e.clients(ctx, t)
	if err != nil {
		return ScaleOutput{}, err
	}
	out := ScaleOutput{New: rv.New, NewCount: st.NewCount, Old: rv.Old, OldCount: st.OldCount}
	if rv.Old != "" {
		cur, ok, err := c.DescribeService(ctx, t.Cluster, rv.Old)
		if err != nil {
			return out, err
		}
		if ok && cur.DesiredCount != st.OldCount {
			removed := false
			if st.OldCount < cur.DesiredCount && !rv.OldScalingRemoved && len(rv.OldScaling) > 0 {
				if err := c.RemoveScaling(ctx, t.Cluster, rv.Old); err != nil {
					return out, err
				}
				removed = true
				r.setRevisions(func(x *model.Revisions) { x.OldScalingRemoved = true })
			}
			if err := c.SetDesiredCount(ctx, t.Cluster, rv.Old, st.OldCount); err != nil {
				return out, err
			}
			r.note(model.LedgerNote, "scaled %s from %d to %d (auto scaling removed: %v)", rv.Old, cur.DesiredCount, st.OldCount, removed)
		}
	}
	if err := c.SetDesiredCount(ctx, t.Cluster, rv.New, st.NewCount); err != nil {
		return out, err
	}
	n := st.NewCount
	r.change(func(cur *model.Deployment) error {
		if cur.NewRevision != nil {
			cur.NewRevision.DesiredCount = n
		}
		return nil
	})
	r.result = fmt.Sprintf("%s x%d", rv.New, st.NewCount)
	if rv.Old != "" {
		r.result += fmt.Sprintf(", %s x%d", rv.Old, st.OldCount)
	}
	return out, nil
}
