package ecsops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
)

// TagDeploymentID is the tag that names the deployment that registered a
// task definition or created a service.
const TagDeploymentID = "ecsflow:deployment-id"

// RegisterTaskDefinition registers in and returns the new revision. It is
// made idempotent by the caller's tag: when the family's latest ACTIVE
// revision already carries TagDeploymentID = deploymentID (a retried
// step), that revision is returned and nothing is registered.
func (c *Clients) RegisterTaskDefinition(ctx context.Context, deploymentID string, in *ecs.RegisterTaskDefinitionInput) (*ecstypes.TaskDefinition, bool, error) {
	if deploymentID != "" {
		out, err := c.ECS.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{
			TaskDefinition: in.Family, Include: []ecstypes.TaskDefinitionField{ecstypes.TaskDefinitionFieldTags},
		})
		switch {
		case err == nil:
			for _, t := range out.Tags {
				if aws.ToString(t.Key) == TagDeploymentID && aws.ToString(t.Value) == deploymentID &&
					out.TaskDefinition != nil && out.TaskDefinition.Status == ecstypes.TaskDefinitionStatusActive {
					return out.TaskDefinition, false, nil
				}
			}
		case IsNotFound(err):
		default:
			return nil, false, fmt.Errorf("describe task definition %s: %w", aws.ToString(in.Family), err)
		}
	}
	out, err := c.ECS.RegisterTaskDefinition(ctx, in)
	if err != nil {
		return nil, false, fmt.Errorf("register task definition %s: %w", aws.ToString(in.Family), err)
	}
	return out.TaskDefinition, true, nil
}

// DescribeService returns the service and whether it exists (ACTIVE or
// DRAINING; an INACTIVE service counts as absent).
func (c *Clients) DescribeService(ctx context.Context, cluster, name string) (*ecstypes.Service, bool, error) {
	out, err := c.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster: aws.String(cluster), Services: []string{name},
		Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags},
	})
	if err != nil {
		return nil, false, fmt.Errorf("describe service %s/%s: %w", cluster, name, err)
	}
	for i := range out.Services {
		s := &out.Services[i]
		if aws.ToString(s.ServiceName) == name && aws.ToString(s.Status) != "INACTIVE" {
			return s, true, nil
		}
	}
	return nil, false, nil
}

// CreateService creates the service. ECS makes a create with the same
// clientToken idempotent; because an emulator or an older API may answer
// "not idempotent" instead, a create that fails because the service exists
// returns the existing service when it was created with the same token
// (tagged with TagDeploymentID = token).
func (c *Clients) CreateService(ctx context.Context, in *ecs.CreateServiceInput) (*ecstypes.Service, error) {
	out, err := c.ECS.CreateService(ctx, in)
	if err == nil {
		return out.Service, nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && strings.Contains(ae.ErrorMessage(), "idempotent") {
		s, ok, derr := c.DescribeService(ctx, aws.ToString(in.Cluster), aws.ToString(in.ServiceName))
		if derr == nil && ok && tagValue(s.Tags, TagDeploymentID) == aws.ToString(in.ClientToken) {
			return s, nil
		}
	}
	return nil, fmt.Errorf("create service %s: %w", aws.ToString(in.ServiceName), err)
}

// UpdateService applies in.
func (c *Clients) UpdateService(ctx context.Context, in *ecs.UpdateServiceInput) (*ecstypes.Service, error) {
	out, err := c.ECS.UpdateService(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("update service %s: %w", aws.ToString(in.Service), err)
	}
	return out.Service, nil
}

// DeleteService scales nothing and deletes the service (force).
func (c *Clients) DeleteService(ctx context.Context, cluster, name string) error {
	_, err := c.ECS.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String(cluster), Service: aws.String(name), Force: aws.Bool(true)})
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("delete service %s/%s: %w", cluster, name, err)
	}
	return nil
}

// Steadiness is where a service's rollout stands.
type Steadiness string

// Steadiness values.
const (
	Steady     Steadiness = "STEADY"
	InProgress Steadiness = "IN_PROGRESS"
	Failed     Steadiness = "FAILED"
)

// SteadyState is the result of one steadiness check.
type SteadyState struct {
	State  Steadiness `json:"state"`
	Reason string     `json:"reason,omitempty"`
	// Running and Desired are the primary deployment's counts.
	Running int32 `json:"running"`
	Desired int32 `json:"desired"`
	// TaskDefinition is what the primary deployment runs.
	TaskDefinition string `json:"taskDefinition,omitempty"`
}

// CheckSteady decides, with one DescribeServices call, whether the service
// has settled on wantTaskDef: its primary deployment runs wantTaskDef, its
// rollout COMPLETED, no other deployment remains, and its running count is
// the desired count. A primary that is not wantTaskDef (the circuit breaker
// rolled back) or a FAILED rollout is Failed; a missing service is Failed.
func (c *Clients) CheckSteady(ctx context.Context, cluster, name, wantTaskDef string) (SteadyState, error) {
	s, ok, err := c.DescribeService(ctx, cluster, name)
	if err != nil {
		return SteadyState{}, err
	}
	if !ok {
		return SteadyState{State: Failed, Reason: fmt.Sprintf("service %s/%s does not exist", cluster, name)}, nil
	}
	return Assess(s, wantTaskDef), nil
}

// Assess is CheckSteady's decision on a described service.
func Assess(s *ecstypes.Service, wantTaskDef string) SteadyState {
	var prim *ecstypes.Deployment
	for i := range s.Deployments {
		if aws.ToString(s.Deployments[i].Status) == "PRIMARY" {
			prim = &s.Deployments[i]
		}
	}
	if prim == nil {
		return SteadyState{State: InProgress, Reason: "the service has no primary deployment yet"}
	}
	st := SteadyState{Running: prim.RunningCount, Desired: prim.DesiredCount, TaskDefinition: aws.ToString(prim.TaskDefinition)}
	if wantTaskDef == "" && prim.DesiredCount == 0 {
		// Scaled to zero: settled once nothing runs, whatever the rollout's state.
		for _, d := range s.Deployments {
			if d.RunningCount > 0 || d.PendingCount > 0 {
				st.State, st.Reason = InProgress, "tasks are still stopping"
				return st
			}
		}
		st.State = Steady
		return st
	}
	if wantTaskDef != "" && st.TaskDefinition != wantTaskDef {
		st.State = Failed
		st.Reason = fmt.Sprintf("the primary deployment runs %s, not %s", st.TaskDefinition, wantTaskDef)
		if r := aws.ToString(prim.RolloutStateReason); r != "" {
			st.Reason += ": " + r
		}
		return st
	}
	switch prim.RolloutState {
	case ecstypes.DeploymentRolloutStateFailed:
		st.State, st.Reason = Failed, aws.ToString(prim.RolloutStateReason)
	case ecstypes.DeploymentRolloutStateCompleted:
		if len(s.Deployments) == 1 && prim.RunningCount == prim.DesiredCount {
			st.State = Steady
		} else {
			st.State, st.Reason = InProgress, "old deployments are still draining"
		}
	default:
		st.State = InProgress
		st.Reason = fmt.Sprintf("%d of %d tasks running", prim.RunningCount, prim.DesiredCount)
	}
	return st
}

// ErrUnknownAlarms is wrapped by AlarmsFiring when an alarm does not exist.
var ErrUnknownAlarms = errors.New("unknown alarms")

// AlarmReader reads CloudWatch alarm states (*cwalarms.Reader). It is an
// interface so that only the Lambdas that read alarms link the CloudWatch
// client (cwalarms.Service wires it).
type AlarmReader interface {
	// AlarmsFiring is as Clients.AlarmsFiring.
	AlarmsFiring(ctx context.Context, names []string) ([]string, error)
}

// ErrNoAlarmReader is returned by AlarmsFiring on clients built without
// cwalarms.Service.
var ErrNoAlarmReader = errors.New("these clients have no alarm reader (wire cwalarms.Service)")

// AlarmsFiring returns the named alarms that are in ALARM. Names that match
// no alarm are an error wrapping ErrUnknownAlarms, so a typo cannot pass
// verification silently.
func (c *Clients) AlarmsFiring(ctx context.Context, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	if c.Alarms == nil {
		return nil, fmt.Errorf("alarms: %w", ErrNoAlarmReader)
	}
	return c.Alarms.AlarmsFiring(ctx, names)
}

// IsNotFound reports whether err says the resource does not exist.
func IsNotFound(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ServiceNotFoundException", "ClusterNotFoundException", "ResourceNotFoundException", "ResourceNotFound":
		return true
	case "ClientException", "InvalidParameterException":
		m := strings.ToLower(ae.ErrorMessage())
		return strings.Contains(m, "not found") || strings.Contains(m, "unable to describe") || strings.Contains(m, "does not exist")
	}
	return false
}

func tagValue(tags []ecstypes.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}
