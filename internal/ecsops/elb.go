package ecsops

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// ErrNoForward is returned when a listener or rule has no forward action.
var ErrNoForward = errors.New("no forward action")

// forwardAction is a forward action over weighted target groups, in a
// stable order. Target groups with weight 0 stay in the action so that a
// later shift is a weight change only.
func forwardAction(weights map[string]int32) elbtypes.Action {
	arns := make([]string, 0, len(weights))
	for arn := range weights {
		arns = append(arns, arn)
	}
	sort.Strings(arns)
	tgs := make([]elbtypes.TargetGroupTuple, 0, len(arns))
	for _, arn := range arns {
		tgs = append(tgs, elbtypes.TargetGroupTuple{TargetGroupArn: aws.String(arn), Weight: aws.Int32(weights[arn])})
	}
	return elbtypes.Action{Type: elbtypes.ActionTypeEnumForward, Order: aws.Int32(1),
		ForwardConfig: &elbtypes.ForwardActionConfig{TargetGroups: tgs}}
}

// SetForwardWeights makes the rule (when ruleARN is set) or else the
// listener's default action forward to the target groups with the given
// weights (0..999 each, ELB's range).
func (c *Clients) SetForwardWeights(ctx context.Context, listenerARN, ruleARN string, weights map[string]int32) error {
	if len(weights) == 0 {
		return fmt.Errorf("set forward weights: no target groups")
	}
	act := forwardAction(weights)
	if ruleARN != "" {
		if _, err := c.ELB.ModifyRule(ctx, &elbv2.ModifyRuleInput{RuleArn: aws.String(ruleARN), Actions: []elbtypes.Action{act}}); err != nil {
			return fmt.Errorf("modify rule %s: %w", ruleARN, err)
		}
		return nil
	}
	if _, err := c.ELB.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: aws.String(listenerARN), DefaultActions: []elbtypes.Action{act}}); err != nil {
		return fmt.Errorf("modify listener %s: %w", listenerARN, err)
	}
	return nil
}

// ForwardWeights reads the weights of the rule's (when ruleARN is set) or
// the listener's default forward action.
func (c *Clients) ForwardWeights(ctx context.Context, listenerARN, ruleARN string) (map[string]int32, error) {
	var acts []elbtypes.Action
	if ruleARN != "" {
		out, err := c.ELB.DescribeRules(ctx, &elbv2.DescribeRulesInput{RuleArns: []string{ruleARN}})
		if err != nil {
			return nil, fmt.Errorf("describe rule %s: %w", ruleARN, err)
		}
		if len(out.Rules) == 0 {
			return nil, fmt.Errorf("describe rule %s: not found", ruleARN)
		}
		acts = out.Rules[0].Actions
	} else {
		out, err := c.ELB.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{listenerARN}})
		if err != nil {
			return nil, fmt.Errorf("describe listener %s: %w", listenerARN, err)
		}
		if len(out.Listeners) == 0 {
			return nil, fmt.Errorf("describe listener %s: not found", listenerARN)
		}
		acts = out.Listeners[0].DefaultActions
	}
	for _, a := range acts {
		if a.Type != elbtypes.ActionTypeEnumForward {
			continue
		}
		w := map[string]int32{}
		if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
			for _, tg := range a.ForwardConfig.TargetGroups {
				w[aws.ToString(tg.TargetGroupArn)] = aws.ToInt32(tg.Weight)
			}
		} else if a.TargetGroupArn != nil {
			w[aws.ToString(a.TargetGroupArn)] = 1
		}
		return w, nil
	}
	return nil, fmt.Errorf("listener %s rule %q: %w", listenerARN, ruleARN, ErrNoForward)
}
