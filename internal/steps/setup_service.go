package steps

import (
	"context"
	"errors"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/strategy"
)

// SetupOutput says which revision the setup made or found.
type SetupOutput struct {
	Service     string `json:"service"`
	Created     bool   `json:"created"`
	Old         string `json:"old,omitempty"`
	TargetGroup string `json:"targetGroup,omitempty"`
}

// TagRevision is the tag with a revisioned service's number.
const TagRevision = "ecsflow:revision"

// SetupService is Harness's ECS Service Setup: it creates the new revision
// <service>__<n> at zero tasks next to the live one, with the service's
// awsvpc networking, launch type or capacity providers, Cloud Map registry,
// the target group the live revision does not use (blue/green slots and the
// canary group alternate), the circuit breaker and tags. It records the live
// revision's task definition, count, target group and auto scaling for the
// later steps and the rollback. A retried setup finds the service it made
// (tagged with the deployment ID) instead of making a second one. In DNS
// blue/green the new revision registers in a Cloud Map service of its own,
// <service>--<n> next to the service's registry, and the weighted records
// (live 100, new 0) point at each revision's name.
func (e *Engine) SetupService(ctx context.Context, in StepInput) (SetupOutput, error) {
	if err := in.check(); err != nil {
		return SetupOutput{}, err
	}
	ctx, r := e.begin(ctx, "SETUP_SERVICE")
	out, err := e.setupService(ctx, r, in)
	return out, r.end(ctx, in.DeploymentID, err)
}

func (e *Engine) setupService(ctx context.Context, r *run, in StepInput) (SetupOutput, error) {
	d, err := e.load(ctx, in.DeploymentID)
	if err != nil {
		return SetupOutput{}, err
	}
	t, err := targetOf(d)
	if err != nil {
		return SetupOutput{}, err
	}
	if d.NewRevision == nil || d.NewRevision.TaskDefinitionARN == "" {
		return SetupOutput{}, invalidf("deployment %s has no registered task definition", d.ID)
	}
	wf, err := getAs[*model.Workflow](ctx, e.store, d.WorkflowID)
	if err != nil {
		return SetupOutput{}, err
	}
	svc, err := getAs[*model.Service](ctx, e.store, d.ServiceID)
	if err != nil {
		return SetupOutput{}, err
	}
	infra, err := getAs[*model.InfrastructureDefinition](ctx, e.store, d.InfrastructureID)
	if err != nil {
		return SetupOutput{}, err
	}
	c, err := e.clients(ctx, t)
	if err != nil {
		return SetupOutput{}, err
	}
	revs, err := c.RevisionServices(ctx, t.Cluster, t.ServiceName)
	if err != nil {
		return SetupOutput{}, err
	}
	rv := model.Revisions{}
	if d.Runtime.Revisions != nil {
		rv = *d.Runtime.Revisions
	}
	var old *ecstypes.Service
	if p := d.PreviousRevision; p != nil && p.ServiceName != "" {
		for i := range revs {
			if serviceName(&revs[i]) == p.ServiceName {
				old = &revs[i]
			}
		}
	}
	if old != nil && rv.Old == "" {
		rv.Old, rv.OldTaskDefinition, rv.OldCount = serviceName(old), aws.ToString(old.TaskDefinition), old.DesiredCount
		rv.OldTargetGroup = ecsops.TargetGroupOf(old)
		// The old revision's auto scaling, before anything changes it.
		sc, err := c.ScalingOf(ctx, t.Cluster, rv.Old)
		if err != nil {
			return SetupOutput{}, err
		}
		rv.OldScaling = sc.Encode()
	}
	if lb := infra.LoadBalancing; lb != nil && svc.ECS.LoadBalancer != nil {
		for _, tg := range lb.TargetGroupARNs {
			if tg != rv.OldTargetGroup {
				rv.NewTargetGroup = tg
				break
			}
		}
	}
	dns := dnsMode(wf)
	if dns && (svc.ECS.ServiceRegistry == nil || svc.ECS.ServiceRegistry.RegistryARN == "") {
		return SetupOutput{}, invalidf("DNS blue/green needs the service's Cloud Map registry (ecs.serviceRegistry): " +
			"each revision registers in a Cloud Map service of its own in that namespace, which the weighted records point at")
	}
	hosts := map[string]string{}
	token := clientToken(d.ID)
	out := SetupOutput{Old: rv.Old, TargetGroup: rv.NewTargetGroup}
	if mine := ecsops.RevisionOf(revs, token); mine != nil {
		rv.New = serviceName(mine)
		rv.NewTargetGroup = ecsops.TargetGroupOf(mine)
		r.result = "found " + rv.New + " set up by this deployment"
	} else {
		n := ecsops.NextRevision(t.ServiceName, revs)
		tt := t
		tt.ServiceName = ecsops.RevisionName(t.ServiceName, n)
		dc := deploymentConfig(wf)
		// The revision is removed on failure: nothing for ECS to roll back to.
		dc.DeploymentCircuitBreaker = &ecstypes.DeploymentCircuitBreaker{Enable: true, Rollback: false}
		input := createInput(d, tt, svc, infra, dc, d.NewRevision.TaskDefinitionARN)
		// Created at the first SCALE's count: ECS watches a service's
		// deployment (circuit breaker, SERVICE_TASK_START_IMPAIRED), not a
		// later change of its count, so a crash loop shows in the first
		// phase's steady wait.
		input.DesiredCount = aws.Int32(firstScale(d, in.Index))
		if len(input.LoadBalancers) > 0 && rv.NewTargetGroup != "" {
			input.LoadBalancers[0].TargetGroupArn = aws.String(rv.NewTargetGroup)
			if err := attachTargetGroup(ctx, r, c, infra.LoadBalancing, rv.NewTargetGroup); err != nil {
				return SetupOutput{}, err
			}
		}
		input.Tags = append(input.Tags, ecstypes.Tag{Key: aws.String(TagRevision), Value: aws.String(strconv.Itoa(n))})
		if dns {
			// The revision's own name: a Cloud Map service next to the
			// service's registry, which ECS keeps filled with its tasks.
			reg, _, err := c.RevisionRegistry(ctx, svc.ECS.ServiceRegistry.RegistryARN, revisionRegistryName(tt.ServiceName), token)
			if err != nil {
				return SetupOutput{}, err
			}
			if len(input.ServiceRegistries) > 0 {
				input.ServiceRegistries[0].RegistryArn = aws.String(reg.ARN)
			}
			hosts[tt.ServiceName] = reg.DNSName()
			r.note(model.LedgerNote, "revision %s answers on %s (Cloud Map service %s)", tt.ServiceName, reg.DNSName(), reg.ID)
		}
		if _, err := c.CreateService(ctx, input); err != nil {
			return SetupOutput{}, err
		}
		rv.New, out.Created = tt.ServiceName, true
		r.result = "created " + rv.New + " at " + strconv.Itoa(int(aws.ToInt32(input.DesiredCount))) + " on " + shortTD(d.NewRevision.TaskDefinitionARN)
	}
	out.Service, out.TargetGroup = rv.New, rv.NewTargetGroup
	saved := rv
	r.change(func(cur *model.Deployment) error {
		cp := saved
		cur.Runtime.Revisions = &cp
		if cur.NewRevision != nil {
			cur.NewRevision.ServiceName = saved.New
		}
		return nil
	})
	if dns {
		if _, ok := hosts[rv.New]; !ok {
			// Found (a retried setup): its registry was made before.
			reg, found, err := c.FindRegistry(ctx, svc.ECS.ServiceRegistry.RegistryARN, revisionRegistryName(rv.New))
			if err != nil {
				return out, err
			}
			if found {
				hosts[rv.New] = reg.DNSName()
			}
		}
		if err := setProductionWeight(ctx, r, c, infra, &rv, 0, true, false, hosts); err != nil {
			return out, err
		}
	}
	if rv.Old != "" {
		r.note(model.LedgerNote, "revisions: new %s (target group %s) next to %s x%d on %s (target group %s, auto scaling %v)",
			rv.New, shortTG(rv.NewTargetGroup), rv.Old, rv.OldCount, shortTD(rv.OldTaskDefinition), shortTG(rv.OldTargetGroup), len(rv.OldScaling) > 0)
	} else {
		r.note(model.LedgerNote, "revisions: new %s (target group %s), no live revision", rv.New, shortTG(rv.NewTargetGroup))
	}
	return out, nil
}

// attachTargetGroup makes the production listener (or its rule) forward
// to tg, at weight 0, when it does not yet: ECS creates a service with a
// target group only if a load balancer uses it. A listener set up to
// forward to one target group, or a first deployment that ended before
// its first SET_WEIGHT (which writes both groups), leaves the other group
// unused; the weights of the groups already there do not change. A
// listener without a forward action is left alone (CreateService then
// says what is wrong).
func attachTargetGroup(ctx context.Context, r *run, c *ecsops.Clients, lb *model.LoadBalancing, tg string) error {
	if lb == nil || lb.ProdListenerARN == "" || tg == "" {
		return nil
	}
	w, err := c.ForwardWeights(ctx, lb.ProdListenerARN, lb.ProdListenerRuleARN)
	if errors.Is(err, ecsops.ErrNoForward) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, ok := w[tg]; ok {
		return nil
	}
	w[tg] = 0
	if err := c.SetForwardWeights(ctx, lb.ProdListenerARN, lb.ProdListenerRuleARN, w); err != nil {
		return err
	}
	res := lb.ProdListenerARN
	if lb.ProdListenerRuleARN != "" {
		res = lb.ProdListenerRuleARN
	}
	r.note(model.LedgerNote, "target group %s added at weight 0 to the production forward action of %s (ECS registers a service only with a target group a load balancer uses)",
		shortTG(tg), res)
	return nil
}

func shortTG(arn string) string {
	if arn == "" {
		return "none"
	}
	return shortTD(arn)
}

// firstScale is the new revision's count in the first SCALE after index.
func firstScale(d *model.Deployment, index int) int32 {
	plan, err := planOf(d)
	if err != nil {
		return 0
	}
	for i := index + 1; i < len(plan); i++ {
		if plan[i].Kind == strategy.Scale {
			return plan[i].NewCount
		}
	}
	return 0
}
