package deploycontrol

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// RollbackOf returns the deployment d rolls back ("" when d is not a
// rollback redeploy).
func RollbackOf(d *model.Deployment) string {
	if d == nil || d.TriggeredBy.Kind != model.TriggeredByRollback {
		return ""
	}
	return d.TriggeredBy.ID
}

var _ api.RollbackRedeployer = (*Controller)(nil)

// PlanRollbackRedeploy answers a rollback request on a deployment that has
// ended SUCCEEDED (its waits, blue's bake included, are over, so there is
// nothing left to swap back): it returns a new QUEUED deployment, not yet
// recorded, that redeploys the last known good revision before it — the
// task definition and image of the newest successful deployment it
// replaced — through the same workflow, lease and queue, with that
// deployment's workflow variables (so ${workflow.variables.NAME} renders as
// it did for the revision redeployed; none when that deployment is gone).
// The caller records
// and starts it (the API's rollback route).
//
// It refuses with an error wrapping api.ErrWrongState (409), recorded in the
// original's ledger, when the deployment ended otherwise (FAILED,
// ROLLED_BACK, ABORTED: what it replaced is still or again in place), when a
// later deployment of the same service succeeded (roll that one back) or is
// in progress (a rollback redeploy of it included), and when there is
// nothing earlier to go back to (it was the service's first successful
// deployment). Two requests racing may both pass the checks; the second
// redeploy then queues behind the first on the service's lease and
// redeploys the same revision again.
func (c *Controller) PlanRollbackRedeploy(ctx context.Context, id, principal, comment string) (*model.Deployment, error) {
	r := request{id: id, principal: principal, comment: comment, action: "rollback", ledgerKind: model.LedgerRollback}
	d, err := c.load(ctx, id)
	if err != nil {
		return nil, err
	}
	return c.planRedeploy(ctx, r, d)
}

// RollbackOrPlanRedeploy answers a rollback request with one read of the
// deployment (and its waits, read at the same time): a deployment that has
// not ended is rolled back in place, as Rollback does, and nil is returned;
// for one that has ended, it answers as PlanRollbackRedeploy.
func (c *Controller) RollbackOrPlanRedeploy(ctx context.Context, id, principal, comment string) (*model.Deployment, error) {
	r := request{id: id, principal: principal, comment: comment, action: "rollback", ledgerKind: model.LedgerRollback}
	d, waits, err := c.loadWithWaits(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.Status.Final() {
		return c.planRedeploy(ctx, r, d)
	}
	return nil, c.stopLoaded(ctx, r, ErrRollbackRequired, d, waits)
}

func (c *Controller) planRedeploy(ctx context.Context, r request, d *model.Deployment) (*model.Deployment, error) {
	id, principal, comment := r.id, r.principal, r.comment
	if !d.Status.Final() {
		return nil, c.record(ctx, r, wrongState("rollback: deployment %s is %s, not ended: it is rolled back in place", id, d.Status), nil)
	}
	if d.Status != model.StatusSucceeded {
		return nil, c.record(ctx, r, wrongState("rollback: deployment %s ended %s: what it replaced was never taken down or is already restored; nothing to roll back", id, d.Status), nil)
	}
	if later, err := c.laterDeployment(ctx, d); err != nil {
		return nil, fmt.Errorf("rollback: %w", err)
	} else if later != nil {
		what := "succeeded after it: roll that one back instead"
		if !later.Status.Final() {
			what = "is " + string(later.Status) + " after it: wait for it to end"
			if RollbackOf(later) == d.ID {
				what = "is already rolling it back (" + string(later.Status) + ")"
			}
		}
		return nil, c.record(ctx, r, wrongState("rollback: deployment %s of the same service %s", later.ID, what), nil)
	}
	lkg := d.LastKnownGood
	if lkg == nil || lkg.TaskDefinitionARN == "" {
		return nil, c.record(ctx, r, wrongState("rollback: deployment %s was the first successful deployment of its service here: there is no earlier revision to go back to", id), nil)
	}
	wfe, err := c.st.Get(ctx, model.KindWorkflow, d.WorkflowID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, c.record(ctx, r, wrongState("rollback: the workflow %s of deployment %s no longer exists", d.WorkflowID, id), nil)
		}
		return nil, fmt.Errorf("rollback: load workflow %s: %w", d.WorkflowID, err)
	}
	wf, ok := wfe.(*model.Workflow)
	if !ok {
		return nil, fmt.Errorf("rollback: load workflow %s: store returned %T", d.WorkflowID, wfe)
	}
	art, vars, err := c.sourceOf(ctx, lkg)
	if err != nil {
		return nil, fmt.Errorf("rollback: %w", err)
	}
	nd := &model.Deployment{
		Meta:          model.Meta{ID: model.NewID(model.KindDeployment)},
		ApplicationID: d.ApplicationID, WorkflowID: d.WorkflowID, ServiceID: d.ServiceID,
		EnvironmentID: d.EnvironmentID, InfrastructureID: d.InfrastructureID,
		Status: model.StatusQueued, Strategy: wf.Strategy.Type, Artifact: art,
		TriggeredBy: model.TriggeredBy{Kind: model.TriggeredByRollback, ID: d.ID, Principal: principal},
		Reason:      "rollback of " + d.ID + " requested by " + principal + withComment(comment) + ": redeploys " + describe(lkg),
		Variables:   vars,
	}
	if err := nd.Validate(); err != nil {
		return nil, fmt.Errorf("rollback: the redeploy of %s: %w", describe(lkg), err)
	}
	return nd, nil
}

// RecordRollbackRedeploy writes, in the original's ledger, that nd was
// started to roll it back (or that starting it failed).
func (c *Controller) RecordRollbackRedeploy(ctx context.Context, original, principal, comment string, nd *model.Deployment, startErr error) {
	r := request{id: original, principal: principal, comment: comment, action: "rollback", ledgerKind: model.LedgerRollback,
		done: "redeploying " + nd.Artifact.Reference() + " as deployment " + nd.ID}
	data := map[string]any{"redeploy": nd.ID, "by": principal, "comment": comment, "artifact": nd.Artifact.Reference()}
	if startErr != nil {
		_ = c.record(ctx, r, fmt.Errorf("redeploy %s did not start: %w", nd.ID, startErr), data)
		return
	}
	_ = c.record(ctx, r, nil, data)
}

// laterDeployment is the first deployment of d's service, environment and
// infrastructure created after d that succeeded or has not ended (nil when
// there is none).
func (c *Controller) laterDeployment(ctx context.Context, d *model.Deployment) (*model.Deployment, error) {
	f := store.DeploymentFilter{ServiceID: d.ServiceID, EnvironmentID: d.EnvironmentID}
	cursor := ""
	for page := 0; page < 40; page++ {
		ds, next, err := c.st.ListDeployments(ctx, f, store.Page{Limit: 25, Cursor: cursor})
		if err != nil {
			return nil, fmt.Errorf("list deployments of the service: %w", err)
		}
		for _, x := range ds {
			if x.ID == d.ID {
				return nil, nil // newest first: everything after d was seen
			}
			if x.InfrastructureID == d.InfrastructureID && (x.Status == model.StatusSucceeded || !x.Status.Final()) {
				return x, nil
			}
		}
		if next == "" {
			return nil, nil
		}
		cursor = next
	}
	return nil, nil
}

// sourceOf is the artifact and the workflow variables (a copy) of the
// deployment that made rev, or, when that deployment is gone, an artifact
// built from the revision's image and no variables.
func (c *Controller) sourceOf(ctx context.Context, rev *model.Revision) (model.Artifact, map[string]string, error) {
	if rev.DeploymentID != "" {
		e, err := c.st.Get(ctx, model.KindDeployment, rev.DeploymentID)
		switch {
		case err == nil:
			if src, ok := e.(*model.Deployment); ok {
				return src.Artifact, maps.Clone(src.Variables), nil
			}
		case !errors.Is(err, store.ErrNotFound):
			return model.Artifact{}, nil, fmt.Errorf("load deployment %s: %w", rev.DeploymentID, err)
		}
	}
	return artifactFromImage(rev.Image), nil, nil
}

// artifactFromImage splits an image reference (image@digest, image:tag or
// image) into an artifact.
func artifactFromImage(ref string) model.Artifact {
	if img, dg, ok := strings.Cut(ref, "@"); ok {
		return model.Artifact{Image: img, Digest: dg}
	}
	slash := strings.LastIndexByte(ref, '/')
	if i := strings.LastIndexByte(ref, ':'); i > slash {
		return model.Artifact{Image: ref[:i], Tag: ref[i+1:]}
	}
	return model.Artifact{Image: ref}
}

func describe(rev *model.Revision) string {
	s := rev.TaskDefinitionARN
	if rev.Image != "" {
		s += " (" + rev.Image + ")"
	}
	if rev.DeploymentID != "" {
		s += " of deployment " + rev.DeploymentID
	}
	return s
}
