package steps

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/model"
)

// reuseLastKnownGood is REGISTER_TASK_DEFINITION for a rollback redeploy:
// the new revision is the very task definition of the last known good
// revision before the deployment being rolled back, not a new rendering
// of today's service definition. ok is false when the deployment is not a
// rollback redeploy, or when that task definition can no longer run
// (deregistered): then the deployment's artifact (that revision's image) is
// rendered and registered as usual.
func (e *Engine) reuseLastKnownGood(ctx context.Context, r *run, d *model.Deployment, t model.Target) (RegisterOutput, bool, error) {
	if d.TriggeredBy.Kind != model.TriggeredByRollback || d.TriggeredBy.ID == "" {
		return RegisterOutput{}, false, nil
	}
	orig, err := e.load(ctx, d.TriggeredBy.ID)
	if err != nil {
		return RegisterOutput{}, false, fmt.Errorf("the deployment rolled back: %w", err)
	}
	lkg := orig.LastKnownGood
	if lkg == nil || lkg.TaskDefinitionARN == "" {
		return RegisterOutput{}, false, invalidf("deployment %s rolls back %s, which has no last known good revision", d.ID, orig.ID)
	}
	c, err := e.clients(ctx, t)
	if err != nil {
		return RegisterOutput{}, false, err
	}
	out, err := c.ECS.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(lkg.TaskDefinitionARN)})
	switch {
	case ecsops.IsNotFound(err):
	case err != nil:
		return RegisterOutput{}, false, fmt.Errorf("describe task definition %s: %w", lkg.TaskDefinitionARN, err)
	case out.TaskDefinition != nil && out.TaskDefinition.Status == ecstypes.TaskDefinitionStatusActive:
		o, err := e.overridesOf(ctx, d)
		if err != nil {
			return RegisterOutput{}, false, err
		}
		rev := model.Revision{ServiceName: t.ServiceName, TaskDefinitionARN: lkg.TaskDefinitionARN, DesiredCount: o,
			DeploymentID: d.ID, Image: d.Artifact.Reference()}
		if t.Daemon {
			rev.DesiredCount = 0
		}
		r.change(func(cur *model.Deployment) error {
			cur.NewRevision = &rev
			return nil
		})
		r.result = fmt.Sprintf("reused %s, the last known good revision before %s (deployment %s)",
			fmtRevision(out.TaskDefinition), orig.ID, lkg.DeploymentID)
		return RegisterOutput{TaskDefinitionARN: lkg.TaskDefinitionARN}, true, nil
	}
	r.note(model.LedgerNote, "the last known good task definition %s is no longer active: registering %s again", lkg.TaskDefinitionARN, d.Artifact.Reference())
	return RegisterOutput{}, false, nil
}

// overridesOf is the service's desired count after environment overrides.
func (e *Engine) overridesOf(ctx context.Context, d *model.Deployment) (int32, error) {
	svc, err := getAs[*model.Service](ctx, e.store, d.ServiceID)
	if err != nil {
		return 0, err
	}
	env, err := getAs[*model.Environment](ctx, e.store, d.EnvironmentID)
	if err != nil {
		return 0, err
	}
	return applyOverrides(svc, env).desired, nil
}
