package awsemu

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
)

type aasState struct {
	targets  map[string]*aastypes.ScalableTarget // key: namespace|resource|dimension
	order    []string
	policies map[string]*aastypes.ScalingPolicy // key: target key|name
	porder   []string
}

func newAASState() aasState {
	return aasState{targets: map[string]*aastypes.ScalableTarget{}, policies: map[string]*aastypes.ScalingPolicy{}}
}

var aasOps = map[string]opSpec{
	"RegisterScalableTarget":   writeOp((*world).aasRegister),
	"DescribeScalableTargets":  readOp((*world).aasDescribeTargets),
	"DeregisterScalableTarget": writeOp((*world).aasDeregister),
	"PutScalingPolicy":         writeOp((*world).aasPutPolicy),
	"DescribeScalingPolicies":  readOp((*world).aasDescribePolicies),
	"DeleteScalingPolicy":      writeOp((*world).aasDeletePolicy),
}

func aasKey(ns aastypes.ServiceNamespace, res string, dim aastypes.ScalableDimension) string {
	return string(ns) + "|" + res + "|" + string(dim)
}

const ecsDesiredCount = aastypes.ScalableDimension("ecs:service:DesiredCount")

// ecsServiceFor resolves "service/<cluster>/<service>".
func (w *world) ecsServiceFor(res string) *service {
	parts := strings.Split(res, "/")
	if len(parts) != 3 || parts[0] != "service" {
		return nil
	}
	c := w.clusters[parts[1]]
	if c == nil {
		return nil
	}
	s := c.services[parts[2]]
	if s == nil || aws.ToString(s.s.Status) != "ACTIVE" {
		return nil
	}
	return s
}

func (w *world) aasBounds(res string) (lo, hi int32, ok bool) {
	t := w.aas.targets[aasKey(aastypes.ServiceNamespaceEcs, res, ecsDesiredCount)]
	if t == nil {
		return 0, 0, false
	}
	return deref(t.MinCapacity), deref(t.MaxCapacity), true
}

func (w *world) aasRegister(in *aas.RegisterScalableTargetInput) (*aas.RegisterScalableTargetOutput, error) {
	res := aws.ToString(in.ResourceId)
	if in.ServiceNamespace == "" || res == "" || in.ScalableDimension == "" {
		return nil, errf(codeValidation, "ServiceNamespace, ResourceId and ScalableDimension are required.")
	}
	if in.ServiceNamespace != aastypes.ServiceNamespaceEcs {
		return nil, errf(codeValidation, "Unsupported service namespace %s; the emulator scales ECS services only.", in.ServiceNamespace)
	}
	if in.ScalableDimension != ecsDesiredCount {
		return nil, errf(codeValidation, "Unsupported scalable dimension %s for service namespace ecs.", in.ScalableDimension)
	}
	s := w.ecsServiceFor(res)
	if s == nil {
		return nil, errf(codeValidation, "ECS service doesn't exist: %s", res)
	}
	key := aasKey(in.ServiceNamespace, res, in.ScalableDimension)
	t, exists := w.aas.targets[key]
	if !exists {
		if in.MinCapacity == nil || in.MaxCapacity == nil {
			return nil, errf(codeValidation, "Minimum and maximum capacity are required when registering a new scalable target.")
		}
		t = &aastypes.ScalableTarget{
			ServiceNamespace:  in.ServiceNamespace,
			ResourceId:        aws.String(res),
			ScalableDimension: in.ScalableDimension,
			CreationTime:      ptrTime(w.now()),
			RoleARN:           aws.String(w.iamARN("role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService")),
			ScalableTargetARN: aws.String(w.arn("application-autoscaling", "scalable-target/"+w.hex(36))),
			SuspendedState:    &aastypes.SuspendedState{DynamicScalingInSuspended: aws.Bool(false), DynamicScalingOutSuspended: aws.Bool(false), ScheduledScalingSuspended: aws.Bool(false)},
		}
	}
	lo, hi := t.MinCapacity, t.MaxCapacity
	if in.MinCapacity != nil {
		lo = in.MinCapacity
	}
	if in.MaxCapacity != nil {
		hi = in.MaxCapacity
	}
	if *hi > maxTasksPerService {
		return nil, errf(codeValidation, "Maximum capacity %d exceeds the ECS limit of %d tasks per service.", *hi, maxTasksPerService)
	}
	if *lo < 0 || *hi < 0 || *lo > *hi {
		return nil, errf(codeValidation, "Minimum capacity cannot be greater than maximum capacity, and neither can be negative.")
	}
	t.MinCapacity, t.MaxCapacity = aws.Int32(*lo), aws.Int32(*hi)
	if in.RoleARN != nil {
		t.RoleARN = in.RoleARN
	}
	if in.SuspendedState != nil {
		t.SuspendedState = in.SuspendedState
	}
	if !exists {
		w.aas.targets[key] = t
		w.aas.order = append(w.aas.order, key)
	}
	before := s.s.DesiredCount
	w.clampDesired(s)
	if s.s.DesiredCount != before {
		w.svcEvent(s, "has updated its desired count from %d to %d.", before, s.s.DesiredCount)
		w.serviceAction(s, "INFO", "SERVICE_DESIRED_COUNT_UPDATED", nil)
		s.steady = false
		w.reconcile(s)
	}
	return &aas.RegisterScalableTargetOutput{ScalableTargetARN: t.ScalableTargetARN}, nil
}

func (w *world) aasDescribeTargets(in *aas.DescribeScalableTargetsInput) (*aas.DescribeScalableTargetsOutput, error) {
	if in.ServiceNamespace == "" {
		return nil, errf(codeValidation, "ServiceNamespace is required.")
	}
	var list []aastypes.ScalableTarget
	for _, k := range w.aas.order {
		t := w.aas.targets[k]
		if t.ServiceNamespace != in.ServiceNamespace {
			continue
		}
		if len(in.ResourceIds) > 0 && !hasField(in.ResourceIds, aws.ToString(t.ResourceId)) {
			continue
		}
		if in.ScalableDimension != "" && t.ScalableDimension != in.ScalableDimension {
			continue
		}
		list = append(list, *t)
	}
	s, e, next, err := page(len(list), in.NextToken, in.MaxResults, 50, 50)
	if err != nil {
		return nil, errf(codeValidation, "%s", err.(*apiError).Message)
	}
	return &aas.DescribeScalableTargetsOutput{ScalableTargets: append([]aastypes.ScalableTarget{}, list[s:e]...), NextToken: next}, nil
}

func (w *world) aasDeregister(in *aas.DeregisterScalableTargetInput) (*aas.DeregisterScalableTargetOutput, error) {
	key := aasKey(in.ServiceNamespace, aws.ToString(in.ResourceId), in.ScalableDimension)
	if _, ok := w.aas.targets[key]; !ok {
		return nil, errf("ObjectNotFoundException", "No scalable target registered for service namespace: %s, resource ID: %s, scalable dimension: %s", in.ServiceNamespace, aws.ToString(in.ResourceId), in.ScalableDimension)
	}
	delete(w.aas.targets, key)
	w.aas.order = removeString(w.aas.order, key)
	for _, pk := range append([]string(nil), w.aas.porder...) {
		if strings.HasPrefix(pk, key+"|") {
			delete(w.aas.policies, pk)
			w.aas.porder = removeString(w.aas.porder, pk)
		}
	}
	return &aas.DeregisterScalableTargetOutput{}, nil
}

func removeString(list []string, v string) []string {
	out := list[:0]
	for _, x := range list {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

func (w *world) aasPutPolicy(in *aas.PutScalingPolicyInput) (*aas.PutScalingPolicyOutput, error) {
	res := aws.ToString(in.ResourceId)
	key := aasKey(in.ServiceNamespace, res, in.ScalableDimension)
	if _, ok := w.aas.targets[key]; !ok {
		return nil, errf("ObjectNotFoundException", "No scalable target registered for service namespace: %s, resource ID: %s, scalable dimension: %s", in.ServiceNamespace, res, in.ScalableDimension)
	}
	name := aws.ToString(in.PolicyName)
	if name == "" || len(name) > 256 {
		return nil, errf(codeValidation, "PolicyName must be 1-256 characters.")
	}
	ptype := in.PolicyType
	if ptype == "" {
		ptype = aastypes.PolicyTypeStepScaling
	}
	switch ptype {
	case aastypes.PolicyTypeTargetTrackingScaling:
		if in.TargetTrackingScalingPolicyConfiguration == nil || in.TargetTrackingScalingPolicyConfiguration.TargetValue == nil {
			return nil, errf(codeValidation, "TargetTrackingScalingPolicyConfiguration with a TargetValue is required for TargetTrackingScaling.")
		}
	case aastypes.PolicyTypeStepScaling:
		if in.StepScalingPolicyConfiguration == nil {
			return nil, errf(codeValidation, "StepScalingPolicyConfiguration is required for StepScaling.")
		}
	default:
		return nil, errf(codeValidation, "Unsupported policy type %s.", ptype)
	}
	pk := key + "|" + name
	p, exists := w.aas.policies[pk]
	if !exists {
		p = &aastypes.ScalingPolicy{
			PolicyARN:         aws.String(w.arn("autoscaling", "scalingPolicy:"+w.uuid()+":resource/ecs/"+res+":policyName/"+name)),
			PolicyName:        aws.String(name),
			ResourceId:        aws.String(res),
			ScalableDimension: in.ScalableDimension,
			ServiceNamespace:  in.ServiceNamespace,
			CreationTime:      ptrTime(w.now()),
		}
		if ptype == aastypes.PolicyTypeTargetTrackingScaling {
			for _, hl := range []string{"AlarmHigh", "AlarmLow"} {
				n := "TargetTracking-" + res + "-" + hl + "-" + w.uuid()
				p.Alarms = append(p.Alarms, aastypes.Alarm{AlarmName: aws.String(n), AlarmARN: aws.String(w.arn("cloudwatch", "alarm:"+n))})
			}
		}
		w.aas.policies[pk] = p
		w.aas.porder = append(w.aas.porder, pk)
	}
	p.PolicyType = ptype
	p.StepScalingPolicyConfiguration = in.StepScalingPolicyConfiguration
	p.TargetTrackingScalingPolicyConfiguration = in.TargetTrackingScalingPolicyConfiguration
	return &aas.PutScalingPolicyOutput{PolicyARN: p.PolicyARN, Alarms: p.Alarms}, nil
}

func (w *world) aasDescribePolicies(in *aas.DescribeScalingPoliciesInput) (*aas.DescribeScalingPoliciesOutput, error) {
	if in.ServiceNamespace == "" {
		return nil, errf(codeValidation, "ServiceNamespace is required.")
	}
	var list []aastypes.ScalingPolicy
	for _, pk := range w.aas.porder {
		p := w.aas.policies[pk]
		if p.ServiceNamespace != in.ServiceNamespace {
			continue
		}
		if in.ResourceId != nil && aws.ToString(p.ResourceId) != *in.ResourceId {
			continue
		}
		if in.ScalableDimension != "" && p.ScalableDimension != in.ScalableDimension {
			continue
		}
		if len(in.PolicyNames) > 0 && !hasField(in.PolicyNames, aws.ToString(p.PolicyName)) {
			continue
		}
		list = append(list, *p)
	}
	s, e, next, err := page(len(list), in.NextToken, in.MaxResults, 10, 50)
	if err != nil {
		return nil, errf(codeValidation, "%s", err.(*apiError).Message)
	}
	return &aas.DescribeScalingPoliciesOutput{ScalingPolicies: append([]aastypes.ScalingPolicy{}, list[s:e]...), NextToken: next}, nil
}

func (w *world) aasDeletePolicy(in *aas.DeleteScalingPolicyInput) (*aas.DeleteScalingPolicyOutput, error) {
	pk := aasKey(in.ServiceNamespace, aws.ToString(in.ResourceId), in.ScalableDimension) + "|" + aws.ToString(in.PolicyName)
	if _, ok := w.aas.policies[pk]; !ok {
		return nil, errf("ObjectNotFoundException", "No scaling policy found for service namespace: %s, resource ID: %s, scalable dimension: %s, policy name: %s", in.ServiceNamespace, aws.ToString(in.ResourceId), in.ScalableDimension, aws.ToString(in.PolicyName))
	}
	delete(w.aas.policies, pk)
	w.aas.porder = removeString(w.aas.porder, pk)
	return &aas.DeleteScalingPolicyOutput{}, nil
}
