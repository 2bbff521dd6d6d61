package ecsops

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
)

const ecsDesiredCount = aastypes.ScalableDimensionECSServiceDesiredCount

// ScalingPolicy is one scaling policy of a service, as copied between
// revisions.
type ScalingPolicy struct {
	Name           string                                             `json:"name"`
	Type           aastypes.PolicyType                                `json:"type"`
	TargetTracking *aastypes.TargetTrackingScalingPolicyConfiguration `json:"targetTracking,omitempty"`
	StepScaling    *aastypes.StepScalingPolicyConfiguration           `json:"stepScaling,omitempty"`
}

// Scaling is a service's Application Auto Scaling setup: its scalable
// target's bounds and its policies.
type Scaling struct {
	Min      int32           `json:"min"`
	Max      int32           `json:"max"`
	Policies []ScalingPolicy `json:"policies,omitempty"`
}

// Encode is s as JSON (nil for no scaling).
func (s *Scaling) Encode() json.RawMessage {
	if s == nil {
		return nil
	}
	b, _ := json.Marshal(s)
	return b
}

// DecodeScaling reads Encode's output; empty input is no scaling.
func DecodeScaling(raw json.RawMessage) (*Scaling, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s Scaling
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("decode scaling: %w", err)
	}
	return &s, nil
}

// ScalingResource is the Application Auto Scaling resource ID of a service.
func ScalingResource(cluster, service string) string { return "service/" + cluster + "/" + service }

// ScalingOf returns the service's auto scaling, or nil when it has none.
func (c *Clients) ScalingOf(ctx context.Context, cluster, service string) (*Scaling, error) {
	res := ScalingResource(cluster, service)
	out, err := c.AutoScale.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceEcs,
		ResourceIds: []string{res}, ScalableDimension: ecsDesiredCount})
	if err != nil {
		return nil, fmt.Errorf("describe scalable target %s: %w", res, err)
	}
	if len(out.ScalableTargets) == 0 {
		return nil, nil
	}
	t := out.ScalableTargets[0]
	s := &Scaling{Min: aws.ToInt32(t.MinCapacity), Max: aws.ToInt32(t.MaxCapacity)}
	p := aas.NewDescribeScalingPoliciesPaginator(c.AutoScale, &aas.DescribeScalingPoliciesInput{ServiceNamespace: aastypes.ServiceNamespaceEcs,
		ResourceId: aws.String(res), ScalableDimension: ecsDesiredCount})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe scaling policies of %s: %w", res, err)
		}
		for _, sp := range page.ScalingPolicies {
			s.Policies = append(s.Policies, ScalingPolicy{Name: aws.ToString(sp.PolicyName), Type: sp.PolicyType,
				TargetTracking: sp.TargetTrackingScalingPolicyConfiguration, StepScaling: sp.StepScalingPolicyConfiguration})
		}
	}
	return s, nil
}

// ApplyScaling registers the service's scalable target with s's bounds and
// puts s's policies on it (PutScalingPolicy overwrites by name, so applying
// twice is harmless).
func (c *Clients) ApplyScaling(ctx context.Context, cluster, service string, s *Scaling) error {
	if s == nil {
		return nil
	}
	res := ScalingResource(cluster, service)
	if _, err := c.AutoScale.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceEcs,
		ResourceId: aws.String(res), ScalableDimension: ecsDesiredCount, MinCapacity: aws.Int32(s.Min), MaxCapacity: aws.Int32(s.Max)}); err != nil {
		return fmt.Errorf("register scalable target %s: %w", res, err)
	}
	for _, p := range s.Policies {
		if _, err := c.AutoScale.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{ServiceNamespace: aastypes.ServiceNamespaceEcs,
			ResourceId: aws.String(res), ScalableDimension: ecsDesiredCount, PolicyName: aws.String(p.Name), PolicyType: p.Type,
			TargetTrackingScalingPolicyConfiguration: p.TargetTracking, StepScalingPolicyConfiguration: p.StepScaling}); err != nil {
			return fmt.Errorf("put scaling policy %s on %s: %w", p.Name, res, err)
		}
	}
	return nil
}

// RemoveScaling deregisters the service's scalable target (which deletes
// its policies); a service without one is not an error.
func (c *Clients) RemoveScaling(ctx context.Context, cluster, service string) error {
	res := ScalingResource(cluster, service)
	_, err := c.AutoScale.DeregisterScalableTarget(ctx, &aas.DeregisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceEcs,
		ResourceId: aws.String(res), ScalableDimension: ecsDesiredCount})
	if err != nil && !IsNotFound(err) && !isAASMissing(err) {
		return fmt.Errorf("deregister scalable target %s: %w", res, err)
	}
	return nil
}

func isAASMissing(err error) bool {
	var nf *aastypes.ObjectNotFoundException
	return asErr(err, &nf)
}
