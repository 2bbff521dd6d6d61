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

// RegisterInput is step-register-taskdef's input.
type RegisterInput struct {
	Ref
	Index int `json:"index"`
}

// RegisterOutput names the registered revision.
type RegisterOutput struct {
	TaskDefinitionARN string `json:"taskDefinitionArn"`
	// Registered is false when a retry found the revision already registered.
	Registered bool `json:"registered"`
}

// RegisterTaskDefinition renders the service's template with the
// deployment's artifact and the environment's overrides, and registers it
// in the family <app>-<service>-<env>, tagged with the deployment ID. The
// revision becomes the deployment's NewRevision.
func (e *Engine) RegisterTaskDefinition(ctx context.Context, in RegisterInput) (RegisterOutput, error) {
	if err := in.check(); err != nil {
		return RegisterOutput{}, err
	}
	ctx, r := e.begin(ctx, "REGISTER_TASK_DEFINITION")
	out, err := e.register(ctx, r, in)
	return out, r.end(ctx, in.DeploymentID, err)
}

func (e *Engine) register(ctx context.Context, r *run, in RegisterInput) (RegisterOutput, error) {
	d, err := e.load(ctx, in.DeploymentID)
	if err != nil {
		return RegisterOutput{}, err
	}
	t, err := targetOf(d)
	if err != nil {
		return RegisterOutput{}, err
	}
	if out, ok, err := e.reuseLastKnownGood(ctx, r, d, t); err != nil || ok {
		return out, err
	}
	svc, err := getAs[*model.Service](ctx, e.store, d.ServiceID)
	if err != nil {
		return RegisterOutput{}, err
	}
	env, err := getAs[*model.Environment](ctx, e.store, d.EnvironmentID)
	if err != nil {
		return RegisterOutput{}, err
	}
	app, err := getAs[*model.Application](ctx, e.store, d.ApplicationID)
	if err != nil {
		return RegisterOutput{}, err
	}
	o := applyOverrides(svc, env)
	defs, err := RenderContainers(svc.ECS.ContainerDefinitions, RenderValues{
		App: app.Name, Service: svc.Name, Env: env.Name, Artifact: d.Artifact,
		Variables: o.variables, WorkflowVariables: d.Variables, EnvVars: o.envVars, Secrets: svc.ECS.Secrets,
	})
	if err != nil {
		return RegisterOutput{}, err
	}
	input := &ecs.RegisterTaskDefinitionInput{
		Family:               aws.String(t.Family),
		ContainerDefinitions: defs,
		Tags: []ecstypes.Tag{
			{Key: aws.String(ecsops.TagDeploymentID), Value: aws.String(d.ID)},
			{Key: aws.String("ecsflow:app"), Value: aws.String(app.Name)},
			{Key: aws.String("ecsflow:service"), Value: aws.String(svc.Name)},
			{Key: aws.String("ecsflow:env"), Value: aws.String(env.Name)},
		},
	}
	if o.cpu != "" {
		input.Cpu = aws.String(o.cpu)
	}
	if o.memory != "" {
		input.Memory = aws.String(o.memory)
	}
	if svc.ECS.TaskRoleARN != "" {
		input.TaskRoleArn = aws.String(svc.ECS.TaskRoleARN)
	}
	if svc.ECS.ExecutionRoleARN != "" {
		input.ExecutionRoleArn = aws.String(svc.ECS.ExecutionRoleARN)
	}
	if svc.ECS.NetworkMode != "" {
		input.NetworkMode = ecstypes.NetworkMode(svc.ECS.NetworkMode)
	}
	for _, c := range svc.ECS.RequiresCompatibilities {
		input.RequiresCompatibilities = append(input.RequiresCompatibilities, ecstypes.Compatibility(c))
	}
	c, err := e.clients(ctx, t)
	if err != nil {
		return RegisterOutput{}, err
	}
	td, created, err := c.RegisterTaskDefinition(ctx, d.ID, input)
	if err != nil {
		return RegisterOutput{}, err
	}
	arn := aws.ToString(td.TaskDefinitionArn)
	rev := model.Revision{ServiceName: t.ServiceName, TaskDefinitionARN: arn, DesiredCount: o.desired,
		DeploymentID: d.ID, Image: d.Artifact.Reference()}
	if t.Daemon {
		rev.DesiredCount = 0
	}
	r.change(func(cur *model.Deployment) error {
		cur.NewRevision = &rev
		return nil
	})
	r.result = "registered " + fmtRevision(td)
	if !created {
		r.result = "found " + fmtRevision(td) + " registered by this deployment"
	}
	return RegisterOutput{TaskDefinitionARN: arn, Registered: created}, nil
}

// getAs reads an entity of a known type.
func getAs[T model.Entity](ctx context.Context, s Store, id string) (T, error) {
	var zero T
	k, ok := model.KindOfID(id)
	if !ok {
		return zero, invalidf("%q is not an entity id", id)
	}
	ent, err := s.Get(ctx, k, id)
	if err != nil {
		return zero, fmt.Errorf("load %s: %w", k, err)
	}
	v, ok := ent.(T)
	if !ok {
		return zero, invalidf("%s is a %s", id, k)
	}
	return v, nil
}
