package steps_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/internal/ecsevents/localrules"
	"github.com/ecsflow/ecsflow/internal/ecsops/ecsopstest"
	"github.com/ecsflow/ecsflow/internal/eventbus"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/sfnlocal"
	"github.com/ecsflow/ecsflow/internal/steps"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
	"github.com/ecsflow/ecsflow/statemachines"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

const (
	region  = "us-east-1"
	account = "123456789012"
)

// localARN is the function ARN the local runner substitutes.
func localARN(fn string) string {
	return "arn:aws:lambda:" + region + ":" + account + ":function:ecsflow-" + fn
}

// pascal is the placeholder stem of a function name (step-prepare → StepPrepare).
func pascal(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// definition returns the named ASL with every function placeholder
// substituted by its local ARN.
func definition(t testing.TB, name string) string {
	t.Helper()
	d, ok := statemachines.Get(name)
	if !ok {
		t.Fatalf("no state machine %s", name)
	}
	vals := map[string]string{}
	for _, fn := range []string{steps.FnPrepare, steps.FnNext, steps.FnRegister, steps.FnUpdateService, steps.FnWaitSteady,
		steps.FnCheckSteady, steps.FnVerify, steps.FnApproval, steps.FnRollback, steps.FnFinish} {
		vals[pascal(fn)+"Arn"] = localARN(fn)
	}
	body, err := statemachines.Substitute(d.Body, vals)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return body
}

// env is the whole engine on one machine: the emulator over HTTP, the store
// on memdynamo over HTTP, sfnlocal running the real ASL with the step handlers, and the
// event bus delivering the emulator's events to the real ecs-events handler
// with the shared rule patterns.
type env struct {
	w      *ecsopstest.World
	st     *store.Store
	sfn    *sfnlocal.Service
	bus    *eventbus.Bus
	engine *steps.Engine
	ids    graphIDs
	tgs    []string
}

type graphIDs struct{ app, cp, as, svc, envID, infra, wf string }

type envOptions struct {
	scale   float64
	timings *awsemu.Timings
	daemon  bool
	// workflow adjusts the rolling (or daemon) workflow before it is stored.
	workflow func(*model.Workflow)
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{}
	var bus *eventbus.Bus
	sink := awsemu.SinkFunc(func(ctx context.Context, ev awsemu.Event) {
		raw, err := json.Marshal(ev)
		if err == nil && bus != nil {
			_, err = bus.PutEnvelope(ctx, raw)
		}
		if err != nil {
			t.Errorf("put emulator event on the bus: %v", err)
		}
	})
	if o.scale == 0 {
		o.scale = 200
	}
	e.w = ecsopstest.New(t, ecsopstest.Options{Scale: o.scale, Sink: sink, Timings: o.timings})
	clock := e.w.Clock
	b := dynamotest.MemHTTP()
	e.st = store.New(b.Client, dynamotest.Table(t, b), store.WithClock(clock.Now), store.WithLogger(discard))
	e.sfn = sfnlocal.New(sfnlocal.Options{Clock: clock, Logger: discard})
	t.Cleanup(e.sfn.Close)
	bus = eventbus.New(eventbus.Options{Clock: clock, Logger: discard})
	e.bus = bus
	evFn := localARN(ecsevents.FunctionECSEvents)
	bus.RegisterLambda(evFn, ecsevents.New(e.st, e.sfn, ecsevents.WithLogger(discard)).Handle)
	if err := localrules.Install(bus, func(f string) string {
		if f == ecsevents.FunctionECSEvents {
			return evFn
		}
		return ""
	}); err != nil {
		t.Fatal(err)
	}
	eng, err := steps.New(steps.Config{Store: e.st, AWS: e.w.Factory, Tasks: e.sfn, Now: clock.Now, Logger: discard,
		Executions: steps.ExecutionsFunc(func(ctx context.Context, arn string) (int64, error) {
			x, err := e.sfn.DescribeExecution(ctx, arn)
			return int64(x.StateTransitions), err
		})})
	if err != nil {
		t.Fatal(err)
	}
	e.engine = eng
	for name, h := range eng.Handlers() {
		e.sfn.RegisterLambda(localARN(name), sfnlocal.LambdaHandler(h))
	}
	e.w.Cluster(t, "prod")
	if o.daemon {
		e.w.ContainerInstances(t, "prod", 3)
	} else {
		e.tgs = e.w.TargetGroups(t, 1)
	}
	e.w.Alarm(t, "web-5xx")
	e.seed(t, o)
	return e
}

func (e *env) seed(t testing.TB, o envOptions) {
	t.Helper()
	ctx := context.Background()
	mk := func(x model.Entity) string {
		t.Helper()
		if err := e.st.Create(ctx, x); err != nil {
			t.Fatalf("create %s: %v", x.Kind(), err)
		}
		return x.GetMeta().ID
	}
	app := modeltest.Application()
	e.ids.app = mk(app)
	e.ids.cp = mk(modeltest.CloudProvider())
	e.ids.as = mk(modeltest.ArtifactServer(e.ids.cp))
	svc := modeltest.Service(e.ids.app, e.ids.as)
	svc.ECS.ContainerDefinitions = json.RawMessage(`[{"name":"web","image":"${artifact.image}","essential":true,
		"portMappings":[{"containerPort":8080}],
		"environment":[{"name":"ENV","value":"${env.name}"},{"name":"LOG_LEVEL","value":"${serviceVariable.LOG_LEVEL}"}]}]`)
	if o.daemon {
		svc.ECS.ContainerDefinitions = json.RawMessage(`[{"name":"web","image":"${artifact.image}","essential":true,
			"healthCheck":{"command":["CMD-SHELL","curl -f localhost/health"],"interval":5},
			"environment":[{"name":"ENV","value":"${env.name}"}]}]`)
		svc.ECS.SchedulingStrategy = model.SchedulingDaemon
		svc.ECS.DesiredCount = nil
		svc.ECS.LoadBalancer = nil
		svc.ECS.NetworkMode = model.NetworkBridge
		svc.ECS.RequiresCompatibilities = []string{"EC2"}
	}
	e.ids.svc = mk(svc)
	en := modeltest.Environment(e.ids.app)
	en.Overrides.Variables = map[string]string{"LOG_LEVEL": "warn"}
	e.ids.envID = mk(en)
	inf := modeltest.Infrastructure(e.ids.app, e.ids.envID, e.ids.cp)
	inf.Cluster = "prod"
	if o.daemon {
		inf.LaunchType = model.LaunchEC2
		inf.LoadBalancing = nil
		inf.Network = model.Network{}
	} else {
		inf.LoadBalancing = &model.LoadBalancing{TargetGroupARNs: e.tgs}
	}
	e.ids.infra = mk(inf)
	wf := modeltest.RollingWorkflow(e.ids.app, e.ids.envID, e.ids.infra)
	wf.Verification = model.Verification{Alarms: []string{"web-5xx"}, BakeSeconds: 30}
	if o.daemon {
		wf.Name = "daemon"
		wf.Strategy = model.Strategy{Type: model.StrategyDaemon, Daemon: &model.DaemonStrategy{MinimumHealthyPercent: 0, MaximumPercent: 100}}
	}
	if o.workflow != nil {
		o.workflow(wf)
	}
	e.ids.wf = mk(wf)
}

// deployment records a QUEUED deployment of tag, as the API does.
func (e *env) deployment(t testing.TB, tag string) *model.Deployment {
	t.Helper()
	d := &model.Deployment{ApplicationID: e.ids.app, WorkflowID: e.ids.wf, ServiceID: e.ids.svc, EnvironmentID: e.ids.envID,
		InfrastructureID: e.ids.infra, Status: model.StatusQueued, Strategy: model.StrategyRolling,
		Artifact:    model.Artifact{ServerID: e.ids.as, Repository: "web", Image: account + ".dkr.ecr." + region + ".amazonaws.com/web", Tag: tag},
		TriggeredBy: model.TriggeredBy{Kind: model.TriggeredByAPI, Principal: "test"}}
	if err := e.st.Create(context.Background(), d); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	return d
}

// machine creates the named state machine from the real ASL.
func (e *env) machine(t testing.TB, name string) string {
	t.Helper()
	arn, err := e.sfn.CreateStateMachine(context.Background(), "ecsflow-"+name, definition(t, name))
	if err != nil {
		t.Fatalf("create state machine %s: %v", name, err)
	}
	return arn
}

// start starts the deployment's execution (name = deployment ID).
func (e *env) start(t testing.TB, sm string, d *model.Deployment) string {
	t.Helper()
	in, _ := json.Marshal(map[string]string{"deploymentId": d.ID})
	arn, err := e.sfn.StartExecution(context.Background(), sm, d.ID, string(in))
	if err != nil {
		t.Fatalf("start execution: %v", err)
	}
	return arn
}

// wait waits for the execution to end (bounded in real time).
func (e *env) wait(t testing.TB, execARN string) sfnlocal.Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	x, err := e.sfn.WaitExecution(ctx, execARN)
	if err != nil {
		hist, _ := e.sfn.GetExecutionHistory(context.Background(), execARN)
		for _, h := range hist {
			t.Log(h.String())
		}
		t.Fatalf("execution did not end: %v", err)
	}
	return x
}

func (e *env) get(t testing.TB, id string) *model.Deployment {
	t.Helper()
	d, err := store.Get[*model.Deployment](context.Background(), e.st, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *env) ledger(t testing.TB, id string) []model.LedgerEntry {
	t.Helper()
	var all []model.LedgerEntry
	cursor := ""
	for {
		page, next, err := e.st.Ledger(context.Background(), id, store.Page{Limit: 100, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		cursor = next
	}
}

func dumpHistory(t *testing.T, e *env, arn string) {
	t.Helper()
	hist, _ := e.sfn.GetExecutionHistory(context.Background(), arn)
	for _, h := range hist {
		t.Log(h.String())
	}
}
