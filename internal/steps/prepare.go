package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/strategy"
)

// Prepare modes.
const (
	// ModeAcquire loads the graph, plans and takes the lease (the default).
	ModeAcquire = "acquire"
	// ModeEnqueue stores the waiting task's token in the lease queue.
	ModeEnqueue = "enqueue"
)

// PrepareInput is step-prepare's input.
type PrepareInput struct {
	Ref
	Mode         string `json:"mode,omitempty"`
	ExecutionARN string `json:"executionArn,omitempty"`
	// Token is the task token (ModeEnqueue).
	Token string `json:"token,omitempty"`
}

// State is the small state object the state machine carries.
type State struct {
	DeploymentID string `json:"deploymentId"`
	Index        int    `json:"index"`
	// Acquired is false when the lease is held and the policy is QUEUE.
	Acquired             bool  `json:"acquired"`
	HeartbeatSeconds     int   `json:"heartbeatSeconds"`
	SteadyTimeoutSeconds int32 `json:"steadyTimeoutSeconds"`
}

// leaseMargin is added to the planned waits to get the lease's TTL.
const leaseMargin = time.Hour

// queueWaitTTL is how long a queued deployment's token stays in the queue
// before its WaitForLease state times out and prepare tries again.
const queueWaitTTL = 15 * time.Minute

// Prepare resolves the deployment's target, takes the (cluster, service)
// lease and freezes the plan. With the lease held by another deployment it
// answers Acquired=false (QUEUE) or fails with LockHeld (REJECT) after
// marking the deployment FAILED.
func (e *Engine) Prepare(ctx context.Context, in PrepareInput) (State, error) {
	if err := in.check(); err != nil {
		return State{}, err
	}
	if in.Mode == ModeEnqueue {
		return State{DeploymentID: in.DeploymentID}, e.enqueue(ctx, in)
	}
	ctx, r := e.begin(ctx, "PREPARE")
	st, err := e.prepare(ctx, r, in)
	if errors.Is(err, errQueued) {
		// Not a step outcome: the deployment waits for the lease.
		return st, nil
	}
	if err := r.end(ctx, in.DeploymentID, err); err != nil {
		return State{}, err
	}
	return st, nil
}

var errQueued = errors.New("queued behind another deployment")

func (e *Engine) prepare(ctx context.Context, r *run, in PrepareInput) (State, error) {
	d, err := e.load(ctx, in.DeploymentID)
	if err != nil {
		return State{}, err
	}
	if d.Status.Final() {
		return State{}, invalidf("deployment %s already ended %s", d.ID, d.Status)
	}
	rt := d.Runtime
	var g *graph
	if rt == nil || rt.Target.Cluster == "" {
		g, err = e.loadGraph(ctx, d)
		if err != nil {
			return State{}, err
		}
		// A template naming a variable nobody set fails here, before the
		// lease is taken or anything changes (register would fail the same).
		if err := checkTemplate(g, d); err != nil {
			return State{}, err
		}
		rt = &model.Runtime{Target: g.target(), Policy: g.wf.EffectiveConcurrency(), SteadyTimeoutSeconds: g.wf.EffectiveSteadyStateTimeout()}
		saved := *rt
		if _, err := e.mutate(ctx, d.ID, func(cur *model.Deployment) error {
			if cur.Runtime == nil {
				cp := saved
				cur.Runtime = &cp
			}
			return nil
		}); err != nil {
			return State{}, err
		}
		r.writes++
	}
	st := State{DeploymentID: d.ID, HeartbeatSeconds: e.heartbeat, SteadyTimeoutSeconds: rt.SteadyTimeoutSeconds}
	t := rt.Target
	ttl := leaseMargin + time.Duration(rt.SteadyTimeoutSeconds)*time.Second*4
	if len(rt.Plan) > 0 {
		ttl = leaseTTL(rt)
	}
	_, err = e.store.AcquireLease(ctx, t.LeaseKey, d.ID, ttl)
	r.writes++
	var held *store.LeaseHeldError
	if errors.As(err, &held) {
		if rt.Policy == model.ConcurrencyReject {
			reason := fmt.Sprintf("service %s/%s is being deployed by %s (concurrency policy REJECT)", t.Cluster, t.ServiceName, held.Holder)
			failedNow := false
			failed, merr := e.mutate(ctx, d.ID, func(cur *model.Deployment) error {
				failedNow = !cur.Status.Final()
				if failedNow {
					now := e.clock()
					cur.Status, cur.Reason, cur.EndedAt = model.StatusFailed, reason, &now
				}
				return nil
			})
			if merr != nil {
				return State{}, merr
			}
			if failedNow {
				e.notify(ctx, failed, NotifyFailed)
			}
			r.note(model.LedgerStatus, "FAILED: %s", reason)
			return State{}, &LockHeld{errors.New(reason)}
		}
		_ = e.store.AppendLedger(ctx, d.ID, model.LedgerEntry{At: e.clock(), Kind: model.LedgerStatus,
			Message: fmt.Sprintf("QUEUED behind deployment %s for service %s/%s", held.Holder, t.Cluster, t.ServiceName)})
		return st, errQueued
	}
	if err != nil {
		return State{}, err
	}
	st.Acquired = true
	if len(rt.Plan) == 0 {
		if g == nil {
			if g, err = e.loadGraph(ctx, d); err != nil {
				return State{}, err
			}
		}
		raw, err := e.plan(ctx, r, d, g)
		if err != nil {
			return State{}, err
		}
		planned := *rt
		planned.Plan = raw
		if _, err := e.store.AcquireLease(ctx, t.LeaseKey, d.ID, leaseTTL(&planned)); err != nil {
			return State{}, err
		}
		r.writes++
		r.result = "planned"
	} else {
		r.result = "resumed"
	}
	exec := in.ExecutionARN
	started := ""
	e.notifyAfter(r, d.ID, &started)
	r.change(func(cur *model.Deployment) error {
		started = ""
		if cur.Status == model.StatusQueued {
			started = NotifyStarted
			if err := model.Transition(cur.Status, model.StatusRunning); err != nil {
				return &Invalid{err}
			}
			now := e.clock()
			cur.Status, cur.StartedAt = model.StatusRunning, &now
		}
		if cur.ExecutionARN == "" && exec != "" {
			cur.ExecutionARN = exec
		}
		return nil
	})
	r.note(model.LedgerStatus, "RUNNING: lease %s taken", t.LeaseKey)
	return st, nil
}

// plan describes what runs now, plans the strategy and records the
// revisions rollback will need.
func (e *Engine) plan(ctx context.Context, r *run, d *model.Deployment, g *graph) (json.RawMessage, error) {
	t := g.target()
	c, err := e.clients(ctx, t)
	if err != nil {
		return nil, err
	}
	svc, exists, err := runningService(ctx, c, t, g.wf)
	if err != nil {
		return nil, err
	}
	sizing := strategy.Sizing{Default: desiredCount(g.svc, g.env)}
	var prev *model.Revision
	if exists {
		sizing.Running = svc.DesiredCount
		prev = &model.Revision{ServiceName: aws.ToString(svc.ServiceName), TaskDefinitionARN: aws.ToString(svc.TaskDefinition), DesiredCount: svc.DesiredCount}
	}
	plan, err := strategy.Plan(g.wf, sizing)
	if err != nil {
		return nil, &Invalid{fmt.Errorf("plan: %w", err)}
	}
	raw, err := json.Marshal(plan)
	if err != nil {
		return nil, fmt.Errorf("encode plan: %w", err)
	}
	lkg, err := e.lastKnownGood(ctx, d)
	if err != nil {
		return nil, err
	}
	r.change(func(cur *model.Deployment) error {
		if cur.Runtime == nil {
			cur.Runtime = &model.Runtime{Target: t}
		}
		cur.Runtime.Plan = raw
		cur.Runtime.Existed = exists
		cur.PreviousRevision = prev
		cur.LastKnownGood = lkg
		return nil
	})
	kinds := make([]string, len(plan))
	for i, s := range plan {
		kinds[i] = string(s.Kind)
	}
	what := "creates the service"
	if exists {
		what = fmt.Sprintf("updates the service running %s x%d", prev.TaskDefinitionARN, prev.DesiredCount)
	}
	lk := "none"
	if lkg != nil {
		lk = lkg.TaskDefinitionARN + " (deployment " + lkg.DeploymentID + ")"
	}
	r.note(model.LedgerNote, "plan: %s; %s; last known good: %s", strings.Join(kinds, " → "), what, lk)
	return raw, nil
}

// lastKnownGood is the revision of the newest SUCCEEDED deployment of the
// same service and environment on the same infrastructure: the pointer that
// finish moves only on success.
func (e *Engine) lastKnownGood(ctx context.Context, d *model.Deployment) (*model.Revision, error) {
	f := store.DeploymentFilter{ServiceID: d.ServiceID, EnvironmentID: d.EnvironmentID, Status: model.StatusSucceeded}
	cursor := ""
	for page := 0; page < 20; page++ {
		ds, next, err := e.store.ListDeployments(ctx, f, store.Page{Limit: 25, Cursor: cursor})
		if err != nil {
			return nil, fmt.Errorf("last known good: %w", err)
		}
		for _, x := range ds {
			if x.ID != d.ID && x.InfrastructureID == d.InfrastructureID && x.NewRevision != nil && x.NewRevision.TaskDefinitionARN != "" {
				rev := *x.NewRevision
				return &rev, nil
			}
		}
		if next == "" {
			return nil, nil
		}
		cursor = next
	}
	return nil, nil
}

// leaseTTL covers every planned wait plus a rollback and a margin.
func leaseTTL(rt *model.Runtime) time.Duration {
	var plan []strategy.Step
	_ = json.Unmarshal(rt.Plan, &plan)
	steady := time.Duration(rt.SteadyTimeoutSeconds) * time.Second
	total := leaseMargin + steady // the rollback's wait
	for _, s := range plan {
		switch s.Kind {
		case strategy.WaitSteady:
			total += steady
		case strategy.Verify:
			total += time.Duration(s.BakeSeconds) * time.Second
		case strategy.Approval:
			total += time.Duration(approvalTimeout(s.Approval)) * time.Second
		}
	}
	return total
}

// enqueue stores the waiting task's token in the lease queue; if the lease
// was released meanwhile, it resumes the task at once.
func (e *Engine) enqueue(ctx context.Context, in PrepareInput) error {
	if in.Token == "" {
		return invalidf("enqueue needs the task token")
	}
	d, err := e.load(ctx, in.DeploymentID)
	if err != nil {
		return Classify(err)
	}
	t, err := targetOf(d)
	if err != nil {
		return err
	}
	w := store.Wait{Token: in.Token, DeploymentID: d.ID, Cluster: t.Cluster, Service: t.ServiceName,
		Kind: store.WaitLease, Expires: e.clock().Add(queueWaitTTL)}
	if err := e.store.PutWait(ctx, w); err != nil {
		return Classify(err)
	}
	l, held, err := e.store.GetLease(ctx, t.LeaseKey)
	if err != nil {
		return Classify(err)
	}
	if !held || l.Holder == d.ID {
		if err := e.tasks.SendTaskSuccess(ctx, in.Token, `{"resumed":"lease free"}`); err != nil {
			return Classify(fmt.Errorf("resume queued task: %w", err))
		}
		return Classify(e.store.DeleteWait(ctx, w))
	}
	return nil
}

// graph is what prepare reads to resolve a deployment.
type graph struct {
	app   *model.Application
	wf    *model.Workflow
	svc   *model.Service
	env   *model.Environment
	infra *model.InfrastructureDefinition
	cp    *model.CloudProvider
}

func (e *Engine) loadGraph(ctx context.Context, d *model.Deployment) (*graph, error) {
	g := &graph{}
	get := func(kind model.Kind, id string, into any) error {
		ent, err := e.store.Get(ctx, kind, id)
		if err != nil {
			return fmt.Errorf("load %s: %w", kind, err)
		}
		switch p := into.(type) {
		case **model.Application:
			*p, _ = ent.(*model.Application)
		case **model.Workflow:
			*p, _ = ent.(*model.Workflow)
		case **model.Service:
			*p, _ = ent.(*model.Service)
		case **model.Environment:
			*p, _ = ent.(*model.Environment)
		case **model.InfrastructureDefinition:
			*p, _ = ent.(*model.InfrastructureDefinition)
		case **model.CloudProvider:
			*p, _ = ent.(*model.CloudProvider)
		}
		return nil
	}
	if err := get(model.KindWorkflow, d.WorkflowID, &g.wf); err != nil {
		return nil, err
	}
	svcID := d.ServiceID
	if svcID == "" {
		svcID = g.wf.ServiceID
	}
	for _, x := range []struct {
		kind model.Kind
		id   string
		into any
	}{
		{model.KindApplication, d.ApplicationID, &g.app},
		{model.KindService, svcID, &g.svc},
		{model.KindEnvironment, g.wf.EnvironmentID, &g.env},
		{model.KindInfrastructure, g.wf.InfrastructureID, &g.infra},
	} {
		if err := get(x.kind, x.id, x.into); err != nil {
			return nil, err
		}
	}
	if err := get(model.KindCloudProvider, g.infra.CloudProviderID, &g.cp); err != nil {
		return nil, err
	}
	if g.app == nil || g.wf == nil || g.svc == nil || g.env == nil || g.infra == nil || g.cp == nil {
		return nil, invalidf("deployment %s: the graph has an entity of the wrong kind", d.ID)
	}
	if err := model.ValidateGraph(model.Graph{Workflow: g.wf, Environment: g.env, Infrastructure: g.infra,
		CloudProvider: g.cp, Service: g.svc, Deployment: d}); err != nil {
		return nil, &Invalid{fmt.Errorf("deployment graph: %w", err)}
	}
	return g, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// Family is the task definition family of a service in an environment:
// <app>-<service>-<env>, with characters ECS refuses replaced by "-".
func Family(app, service, env string) string {
	f := unsafeName.ReplaceAllString(app+"-"+service+"-"+env, "-")
	if len(f) > 255 {
		f = f[:255]
	}
	return f
}

func (g *graph) target() model.Target {
	return model.Target{
		Region: g.infra.Region, AccountID: g.cp.AccountID, CloudProviderID: g.cp.ID,
		RoleARN: g.cp.RoleARN, ExternalID: g.cp.ExternalID,
		Cluster: g.infra.Cluster, ServiceName: g.svc.Name,
		Family:   Family(g.app.Name, g.svc.Name, g.env.Name),
		LeaseKey: model.LeaseKey(g.cp.AccountID, g.infra.Region, g.infra.Cluster, g.svc.Name),
		Daemon:   g.svc.ECS.SchedulingStrategy == model.SchedulingDaemon,
	}
}

// desiredCount is the service's count after environment overrides
// (service-specific over environment-wide over the service's own).
func desiredCount(s *model.Service, env *model.Environment) int32 {
	n := int32(1)
	if s.ECS.DesiredCount != nil {
		n = *s.ECS.DesiredCount
	}
	if env.Overrides.DesiredCount != nil {
		n = *env.Overrides.DesiredCount
	}
	if o, ok := env.ServiceOverrides[s.ID]; ok && o.DesiredCount != nil {
		n = *o.DesiredCount
	}
	return n
}

func approvalTimeout(a *model.Approval) int32 {
	if a != nil && a.TimeoutSeconds > 0 {
		return a.TimeoutSeconds
	}
	return model.DefaultApprovalTimeoutSeconds
}

// checkTemplate renders the service's container definitions with the
// deployment's values, as register will, and returns the error it would
// meet (an Invalid wrapping *UnresolvedError for an unknown variable).
func checkTemplate(g *graph, d *model.Deployment) error {
	o := applyOverrides(g.svc, g.env)
	_, err := RenderContainers(g.svc.ECS.ContainerDefinitions, RenderValues{
		App: g.app.Name, Service: g.svc.Name, Env: g.env.Name, Artifact: d.Artifact,
		Variables: o.variables, WorkflowVariables: d.Variables, EnvVars: o.envVars, Secrets: g.svc.ECS.Secrets,
	})
	return err
}
