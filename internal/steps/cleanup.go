package steps

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/strategy"
)

// CleanupOutput says what happened to the old revision.
type CleanupOutput struct {
	Old     string   `json:"old,omitempty"`
	Deleted bool     `json:"deleted"`
	Removed []string `json:"removed,omitempty"`
}

// Cleanup ends a revisioned deployment: the old revision's auto scaling is
// removed and the new revision gets the same (min, max, policies); the old
// revision is scaled to zero (kept for a later rollback) or deleted; older
// revisions left at zero are deleted, so only the live revision and the one
// before it remain.
func (e *Engine) Cleanup(ctx context.Context, in StepInput) (CleanupOutput, error) {
	if err := in.check(); err != nil {
		return CleanupOutput{}, err
	}
	ctx, r := e.begin(ctx, "CLEANUP")
	out, err := e.cleanup(ctx, r, in)
	return out, r.end(ctx, in.DeploymentID, err)
}

func (e *Engine) cleanup(ctx context.Context, r *run, in StepInput) (CleanupOutput, error) {
	d, err := e.load(ctx, in.DeploymentID)
	if err != nil {
		return CleanupOutput{}, err
	}
	st, err := stepAt(d, in.Index)
	if err != nil {
		return CleanupOutput{}, err
	}
	if st.Kind != strategy.Cleanup {
		return CleanupOutput{}, invalidf("step %d is %s, not CLEANUP", in.Index, st.Kind)
	}
	rv, err := revisionsOf(d)
	if err != nil {
		return CleanupOutput{}, err
	}
	t := d.Runtime.Target
	c, err := e.clients(ctx, t)
	if err != nil {
		return CleanupOutput{}, err
	}
	sc, err := ecsops.DecodeScaling(rv.OldScaling)
	if err != nil {
		return CleanupOutput{}, invalidf("deployment %s: %v", d.ID, err)
	}
	out := CleanupOutput{Old: rv.Old}
	if rv.Old != "" {
		if err := c.RemoveScaling(ctx, t.Cluster, rv.Old); err != nil {
			return out, err
		}
		if st.DeleteOld {
			if err := c.DeleteService(ctx, t.Cluster, rv.Old); err != nil {
				return out, err
			}
			out.Deleted = true
		} else if err := c.SetDesiredCount(ctx, t.Cluster, rv.Old, st.OldCount); err != nil && !ecsops.IsNotFound(err) {
			return out, err
		}
	}
	if err := c.ApplyScaling(ctx, t.Cluster, rv.New, sc); err != nil {
		return out, err
	}
	// Older revisions at zero are history: the previous revision is enough
	// to roll back to.
	revs, err := c.RevisionServices(ctx, t.Cluster, t.ServiceName)
	if err != nil {
		return out, err
	}
	for _, s := range revs {
		name := aws.ToString(s.ServiceName)
		if name == rv.New || name == rv.Old || s.DesiredCount > 0 || name == t.ServiceName {
			continue
		}
		if err := c.RemoveScaling(ctx, t.Cluster, name); err != nil {
			return out, err
		}
		if err := c.DeleteService(ctx, t.Cluster, name); err != nil {
			return out, err
		}
		out.Removed = append(out.Removed, name)
	}
	if len(out.Removed) > 0 || rv.Old != "" {
		// DNS blue/green: the retired revisions' own names go last, once
		// nothing above failed (a rollback still needs the old one's).
		if err := e.retireNames(ctx, d, c, append([]string{rv.Old}, out.Removed...)); err != nil {
			return out, err
		}
	}
	deleted := out.Deleted
	r.setRevisions(func(x *model.Revisions) { x.CleanedUp, x.OldDeleted, x.OldScalingRemoved = true, deleted, x.Old != "" })
	what := "no old revision"
	if rv.Old != "" {
		what = fmt.Sprintf("%s scaled to %d", rv.Old, st.OldCount)
		if out.Deleted {
			what = rv.Old + " deleted"
		}
	}
	r.result = fmt.Sprintf("%s; auto scaling on %s: %v", what, rv.New, sc != nil)
	if len(out.Removed) > 0 {
		r.result += fmt.Sprintf("; removed old revisions %v", out.Removed)
	}
	r.note(model.LedgerNote, "cleanup: %s", r.result)
	return out, nil
}

// retireNames removes the own names (weighted record, Cloud Map service)
// of retired revisions, in DNS blue/green; other workflows have none.
func (e *Engine) retireNames(ctx context.Context, d *model.Deployment, c *ecsops.Clients, revisions []string) error {
	wf, err := getAs[*model.Workflow](ctx, e.store, d.WorkflowID)
	if err != nil || !dnsMode(wf) {
		return err
	}
	svc, err := getAs[*model.Service](ctx, e.store, d.ServiceID)
	if err != nil {
		return err
	}
	infra, err := getAs[*model.InfrastructureDefinition](ctx, e.store, d.InfrastructureID)
	if err != nil {
		return err
	}
	for _, rev := range revisions {
		if rev == "" {
			continue
		}
		if err := retireRegistry(ctx, c, svc, infra, rev); err != nil {
			return err
		}
	}
	return nil
}
