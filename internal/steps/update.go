package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/model"
)

// UpdateInput is step-update-service's input.
type UpdateInput struct {
	Ref
	Index int `json:"index"`
}

// UpdateOutput says what the step did.
type UpdateOutput struct {
	Created           bool   `json:"created"`
	Updated           bool   `json:"updated"`
	TaskDefinitionARN string `json:"taskDefinitionArn"`
}

// UpdateService creates the service on the first deployment (awsvpc
// networking, launch type or capacity providers, Cloud Map registry, the
// infrastructure's first target group, the circuit breaker, tags with
// propagation) or updates its task definition in place with the strategy's
// minimum/maximum percent. A DAEMON service never gets a desired count. The
// create's client token is the deployment ID; an update that finds the
// service already on the new revision does nothing.
func (e *Engine) UpdateService(ctx context.Context, in UpdateInput) (UpdateOutput, error) {
	if err := in.check(); err != nil {
		return UpdateOutput{}, err
	}
	ctx, r := e.begin(ctx, "UPDATE_SERVICE")
	out, err := e.update(ctx, r, in)
	return out, r.end(ctx, in.DeploymentID, err)
}

func (e *Engine) update(ctx context.Context, r *run, in UpdateInput) (UpdateOutput, error) {
	d, err := e.load(ctx, in.DeploymentID)
	if err != nil {
		return UpdateOutput{}, err
	}
	t, err := targetOf(d)
	if err != nil {
		return UpdateOutput{}, err
	}
	if d.NewRevision == nil || d.NewRevision.TaskDefinitionARN == "" {
		return UpdateOutput{}, invalidf("deployment %s has no registered task definition", d.ID)
	}
	tdARN := d.NewRevision.TaskDefinitionARN
	wf, err := getAs[*model.Workflow](ctx, e.store, d.WorkflowID)
	if err != nil {
		return UpdateOutput{}, err
	}
	dc := deploymentConfig(wf)
	c, err := e.clients(ctx, t)
	if err != nil {
		return UpdateOutput{}, err
	}
	cur, exists, err := c.DescribeService(ctx, t.Cluster, t.ServiceName)
	if err != nil {
		return UpdateOutput{}, err
	}
	out := UpdateOutput{TaskDefinitionARN: tdARN}
	if !exists {
		svc, err := getAs[*model.Service](ctx, e.store, d.ServiceID)
		if err != nil {
			return UpdateOutput{}, err
		}
		infra, err := getAs[*model.InfrastructureDefinition](ctx, e.store, d.InfrastructureID)
		if err != nil {
			return UpdateOutput{}, err
		}
		input := createInput(d, t, svc, infra, dc, tdARN)
		if _, err := c.CreateService(ctx, input); err != nil {
			return UpdateOutput{}, err
		}
		out.Created = true
		r.result = "created service " + t.ServiceName + " on " + shortTD(tdARN)
	} else {
		prim := primaryTaskDef(cur)
		if aws.ToString(cur.TaskDefinition) == tdARN && prim == tdARN {
			r.result = "service already on " + shortTD(tdARN)
		} else {
			input := &ecs.UpdateServiceInput{
				Cluster: aws.String(t.Cluster), Service: aws.String(t.ServiceName),
				TaskDefinition: aws.String(tdARN), DeploymentConfiguration: dc,
			}
			if _, err := c.UpdateService(ctx, input); err != nil {
				return UpdateOutput{}, err
			}
			out.Updated = true
			r.result = fmt.Sprintf("updated service %s from %s to %s", t.ServiceName, shortTD(aws.ToString(cur.TaskDefinition)), shortTD(tdARN))
		}
		if !t.Daemon {
			n := cur.DesiredCount
			r.change(func(x *model.Deployment) error {
				if x.NewRevision != nil {
					x.NewRevision.DesiredCount = n
				}
				return nil
			})
		}
	}
	return out, nil
}

// deploymentConfig is the strategy's min/max percent and circuit breaker.
// The circuit breaker is on by default: it is what makes ECS report a
// failed rollout (and roll it back) instead of retrying forever.
func deploymentConfig(wf *model.Workflow) *ecstypes.DeploymentConfiguration {
	dc := &ecstypes.DeploymentConfiguration{
		DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{Enable: true, Rollback: true},
	}
	switch {
	case wf.Strategy.Rolling != nil:
		r := wf.Strategy.Rolling
		dc.MinimumHealthyPercent, dc.MaximumPercent = aws.Int32(r.MinimumHealthyPercent), aws.Int32(r.MaximumPercent)
		if r.CircuitBreaker != nil {
			dc.DeploymentCircuitBreaker = &ecstypes.DeploymentCircuitBreaker{Enable: r.CircuitBreaker.Enable, Rollback: r.CircuitBreaker.Rollback}
		}
	case wf.Strategy.Daemon != nil:
		dm := wf.Strategy.Daemon
		dc.MinimumHealthyPercent, dc.MaximumPercent = aws.Int32(dm.MinimumHealthyPercent), aws.Int32(dm.MaximumPercent)
	}
	if dc.MaximumPercent != nil && *dc.MaximumPercent == 0 {
		dc.MaximumPercent = nil
	}
	return dc
}

func createInput(d *model.Deployment, t model.Target, svc *model.Service, infra *model.InfrastructureDefinition,
	dc *ecstypes.DeploymentConfiguration, tdARN string) *ecs.CreateServiceInput {
	in := &ecs.CreateServiceInput{
		Cluster: aws.String(t.Cluster), ServiceName: aws.String(t.ServiceName), TaskDefinition: aws.String(tdARN),
		ClientToken:             aws.String(clientToken(d.ID)),
		DeploymentConfiguration: dc,
		DeploymentController:    &ecstypes.DeploymentController{Type: ecstypes.DeploymentControllerTypeEcs},
		PropagateTags:           ecstypes.PropagateTagsService,
		EnableECSManagedTags:    true,
		Tags: []ecstypes.Tag{
			{Key: aws.String(ecsops.TagDeploymentID), Value: aws.String(clientToken(d.ID))},
			{Key: aws.String("ecsflow:service"), Value: aws.String(svc.Name)},
			{Key: aws.String("ecsflow:app-id"), Value: aws.String(d.ApplicationID)},
			{Key: aws.String("ecsflow:env-id"), Value: aws.String(d.EnvironmentID)},
		},
	}
	if t.Daemon {
		in.SchedulingStrategy = ecstypes.SchedulingStrategyDaemon
	} else {
		in.SchedulingStrategy = ecstypes.SchedulingStrategyReplica
		n := int32(1)
		if d.NewRevision != nil {
			n = d.NewRevision.DesiredCount
		}
		in.DesiredCount = aws.Int32(n)
	}
	if len(infra.CapacityProviderStrategy) > 0 {
		for _, cp := range infra.CapacityProviderStrategy {
			in.CapacityProviderStrategy = append(in.CapacityProviderStrategy, ecstypes.CapacityProviderStrategyItem{
				CapacityProvider: aws.String(cp.CapacityProvider), Weight: cp.Weight, Base: cp.Base})
		}
	} else if infra.LaunchType != "" {
		in.LaunchType = ecstypes.LaunchType(infra.LaunchType)
	}
	if svc.ECS.NetworkMode == model.NetworkAWSVPC {
		assign := ecstypes.AssignPublicIpDisabled
		if infra.Network.AssignPublicIP {
			assign = ecstypes.AssignPublicIpEnabled
		}
		in.NetworkConfiguration = &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{
			Subnets: infra.Network.Subnets, SecurityGroups: infra.Network.SecurityGroups, AssignPublicIp: assign}}
	}
	if r := svc.ECS.ServiceRegistry; r != nil {
		reg := ecstypes.ServiceRegistry{RegistryArn: aws.String(r.RegistryARN)}
		if r.ContainerName != "" {
			reg.ContainerName = aws.String(r.ContainerName)
		}
		if r.ContainerPort != 0 {
			reg.ContainerPort = aws.Int32(r.ContainerPort)
		}
		in.ServiceRegistries = []ecstypes.ServiceRegistry{reg}
	}
	if lb := svc.ECS.LoadBalancer; lb != nil && infra.LoadBalancing != nil && len(infra.LoadBalancing.TargetGroupARNs) > 0 {
		in.LoadBalancers = []ecstypes.LoadBalancer{{TargetGroupArn: aws.String(infra.LoadBalancing.TargetGroupARNs[0]),
			ContainerName: aws.String(lb.ContainerName), ContainerPort: aws.Int32(lb.ContainerPort)}}
		if svc.ECS.HealthCheckGracePeriodSeconds > 0 {
			in.HealthCheckGracePeriodSeconds = aws.Int32(svc.ECS.HealthCheckGracePeriodSeconds)
		}
	}
	return in
}

// clientToken is the deployment ID cut to ECS's 36-character limit.
func clientToken(id string) string {
	if len(id) > 36 {
		return id[:36]
	}
	return id
}

func primaryTaskDef(s *ecstypes.Service) string {
	for _, d := range s.Deployments {
		if aws.ToString(d.Status) == "PRIMARY" {
			return aws.ToString(d.TaskDefinition)
		}
	}
	return ""
}

// shortTD is family:revision of a task definition ARN.
func shortTD(arn string) string {
	if i := strings.LastIndex(arn, "/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}
