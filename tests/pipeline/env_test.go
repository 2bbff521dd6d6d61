package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/deploycontrol"
	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/internal/ecsevents/localrules"
	"github.com/ecsflow/ecsflow/internal/ecsops/ecsopstest"
	"github.com/ecsflow/ecsflow/internal/eventbus"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/pipeline"
	"github.com/ecsflow/ecsflow/internal/sfnlocal"
	"github.com/ecsflow/ecsflow/internal/steps"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
	"github.com/ecsflow/ecsflow/internal/trigger"
	"github.com/ecsflow/ecsflow/statemachines"
)

var discard = slog.New(slog.DiscardHandler)

const (
	region  = "us-east-1"
	account = "123456789012"
)

func localARN(fn string) string {
	return "arn:aws:lambda:" + region + ":" + account + ":function:ecsflow-" + fn
}

func pascal(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// definition is the named real ASL with its function placeholders filled
// with local ARNs.
func definition(t testing.TB, name string) string {
	t.Helper()
	d, ok := statemachines.Get(name)
	if !ok {
		t.Fatalf("no state machine %s", name)
	}
	vals := map[string]string{}
	for _, p := range d.Placeholders {
		fn := strings.TrimSuffix(p, "Arn")
		for _, name := range append([]string{steps.FnPrepare, steps.FnNext, steps.FnRegister, steps.FnUpdateService, steps.FnWaitSteady,
			steps.FnCheckSteady, steps.FnVerify, steps.FnApproval, steps.FnRollback, steps.FnFinish}, pipeline.Functions...) {
			if pascal(name) == fn {
				vals[p] = localARN(name)
			}
		}
	}
	body, err := statemachines.Substitute(d.Body, vals)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return body
}

// stack is the engine on one machine: the AWS emulator over HTTP, the store
// on minidyn, sfnlocal (served over HTTP too) running the real rolling and
// pipeline ASL with the real step handlers, the local event bus (over HTTP)
// carrying ECS events to ecs-events and the notifications to a recorder,
// and the REST API on an httptest server.
type stack struct {
	w   *ecsopstest.World
	st  *store.Store
	sfn *sfnlocal.Service
	bus *eventbus.Bus
	api *httptest.Server
	ids ids
	// launcher starts pipeline executions as triggers do.
	launcher *pipeline.Launcher
	mu       sync.Mutex
	sent     []notification
}

type ids struct {
	app, as, svc, apiSvc, pipeline string
	// workflows are the dev and prod rolling workflows.
	workflows []string
}

// notification is a status event the bus delivered.
type notification struct {
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Detail     json.RawMessage `json:"detail"`
}

func newStack(t testing.TB) *stack {
	t.Helper()
	s := &stack{}
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
	s.w = ecsopstest.New(t, ecsopstest.Options{Scale: 200, Sink: sink})
	clock := s.w.Clock
	b := dynamotest.Mini()
	s.st = store.New(b.Client, dynamotest.Table(t, b), store.WithClock(clock.Now), store.WithLogger(discard))
	s.sfn = sfnlocal.New(sfnlocal.Options{Clock: clock, Logger: discard, Region: region, AccountID: account})
	t.Cleanup(s.sfn.Close)
	bus = eventbus.New(eventbus.Options{Clock: clock, Logger: discard})
	s.bus = bus
	t.Cleanup(bus.Close)
	evFn := localARN(ecsevents.FunctionECSEvents)
	bus.RegisterLambda(evFn, ecsevents.New(s.st, s.sfn, ecsevents.WithLogger(discard)).Handle)
	if err := localrules.Install(bus, func(f string) string {
		if f == ecsevents.FunctionECSEvents {
			return evFn
		}
		return ""
	}); err != nil {
		t.Fatal(err)
	}
	// Notifications: a rule on the ecsflow source, delivered to a recorder.
	recFn := localARN("notification-recorder")
	bus.RegisterLambda(recFn, func(_ context.Context, ev json.RawMessage) error {
		var n notification
		if err := json.Unmarshal(ev, &n); err != nil {
			return err
		}
		s.mu.Lock()
		s.sent = append(s.sent, n)
		s.mu.Unlock()
		return nil
	})
	if _, err := bus.PutRule(eventbus.Rule{Name: "ecsflow-status", EventPattern: `{"source":["ecsflow"]}`}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.PutTargets("ecsflow-status", "", []eventbus.Target{{Id: "recorder", Arn: recFn}}); err != nil {
		t.Fatal(err)
	}

	// Step Functions and EventBridge are reached with the real SDK clients.
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")
	busSrv := httptest.NewServer(bus)
	t.Cleanup(busSrv.Close)
	ebClient := eventbridge.New(eventbridge.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(busSrv.URL)})

	eng, err := steps.New(steps.Config{Store: s.st, AWS: s.w.Factory, Tasks: s.sfn, Now: clock.Now, Logger: discard,
		Notifier: steps.NewEventNotifier(ebClient, "", clock.Now),
		Executions: steps.ExecutionsFunc(func(ctx context.Context, arn string) (int64, error) {
			x, err := s.sfn.DescribeExecution(ctx, arn)
			return int64(x.StateTransitions), err
		})})
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range eng.Handlers() {
		s.sfn.RegisterLambda(localARN(name), sfnlocal.LambdaHandler(h))
	}
	ctx := context.Background()
	rolling, err := s.sfn.CreateStateMachine(ctx, "ecsflow-rolling", definition(t, "rolling"))
	if err != nil {
		t.Fatalf("create rolling: %v", err)
	}
	machines := map[model.StrategyType]string{model.StrategyRolling: rolling}

	sfnSrv := httptest.NewServer(s.sfn)
	t.Cleanup(sfnSrv.Close)
	sfnClient := sfn.New(sfn.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(sfnSrv.URL)})

	creator := trigger.NewAPICreator(s.st, pipeline.NewNestedStarter(machines), api.WithLogger(discard), api.WithClock(clock.Now))
	pe, err := pipeline.New(pipeline.Config{Store: s.st, Creator: creator, StateMachines: machines,
		Notifier: pipeline.NewNotifier(ebClient, "", discard, clock.Now), Now: clock.Now, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range pe.Handlers() {
		s.sfn.RegisterLambda(localARN(name), sfnlocal.LambdaHandler(h))
	}
	plSM, err := s.sfn.CreateStateMachine(ctx, "ecsflow-pipeline", definition(t, "pipeline"))
	if err != nil {
		t.Fatalf("create pipeline: %v", err)
	}
	h := api.New(s.st, api.NewSFNStarter(sfnClient, machines),
		api.WithController(deploycontrol.New(s.st, s.sfn, deploycontrol.WithClock(clock.Now))),
		api.WithPipelines(pipeline.NewSFNStarter(sfnClient, plSM), pipeline.NewController(s.st, s.sfn, clock.Now).
			WithAbort(deploycontrol.New(s.st, s.sfn, deploycontrol.WithClock(clock.Now)), sfnClient, pipeline.NewNotifier(ebClient, "", discard, clock.Now))),
		api.WithClock(clock.Now), api.WithLogger(discard))
	s.launcher = pipeline.NewLauncher(s.st, pipeline.NewSFNStarter(sfnClient, plSM), clock.Now)
	s.api = httptest.NewServer(h)
	t.Cleanup(s.api.Close)

	s.w.Cluster(t, "dev")
	s.w.Cluster(t, "prod")
	tg := s.w.TargetGroups(t, 1)[0]
	tgs := []string{tg, tg} // one load balancer in the emulated account; both clusters register in it
	s.w.Alarm(t, "dev-5xx")
	s.w.Alarm(t, "prod-5xx")
	s.seed(t, tgs)
	return s
}

func (s *stack) seed(t testing.TB, tgs []string) {
	t.Helper()
	ctx := context.Background()
	mk := func(x model.Entity) string {
		t.Helper()
		if err := s.st.Create(ctx, x); err != nil {
			t.Fatalf("create %s: %v", x.Kind(), err)
		}
		return x.GetMeta().ID
	}
	s.ids.app = mk(modeltest.Application())
	cp := mk(modeltest.CloudProvider())
	as := mk(modeltest.ArtifactServer(cp))
	s.ids.as = as
	svc := modeltest.Service(s.ids.app, as)
	svc.ECS.Secrets = nil
	s.ids.svc = mk(svc)
	// api renders workflow variables: ${workflow.variables.BUILD} must be
	// set by the pipeline, RELEASE defaults to the service's variable.
	apiSvc := modeltest.Service(s.ids.app, as)
	apiSvc.Name, apiSvc.ECS.Secrets = "api", nil
	apiSvc.Variables = map[string]string{"RELEASE": "unreleased"}
	apiSvc.ECS.ContainerDefinitions = json.RawMessage(`[{"name":"web","image":"${artifact.image}","essential":true,` +
		`"portMappings":[{"containerPort":8080}],"environment":[{"name":"BUILD","value":"${workflow.variables.BUILD}"},` +
		`{"name":"RELEASE","value":"${serviceVariable.RELEASE}"},{"name":"WHERE","value":"${service.name}@${env.name}"}]}]`)
	s.ids.apiSvc = mk(apiSvc)
	var wfs []string
	for i, name := range []string{"dev", "prod"} {
		en := modeltest.Environment(s.ids.app)
		en.Name = name
		if name == "dev" {
			en.Type = model.EnvNonProd
		}
		envID := mk(en)
		inf := modeltest.Infrastructure(s.ids.app, envID, cp)
		inf.Cluster = name
		inf.LoadBalancing = &model.LoadBalancing{TargetGroupARNs: []string{tgs[i]}}
		infID := mk(inf)
		wf := modeltest.RollingWorkflow(s.ids.app, envID, infID)
		wf.Name = name + "-rolling"
		wf.Verification = model.Verification{Alarms: []string{name + "-5xx"}, BakeSeconds: 30}
		wfs = append(wfs, mk(wf))
	}
	s.ids.workflows = wfs
	pl := &model.Pipeline{ApplicationID: s.ids.app, Name: "release", Stages: []model.Stage{
		{Name: "dev", Type: model.StageWorkflow, WorkflowID: wfs[0]},
		{Name: "soak", Type: model.StageWait, WaitSeconds: 60},
		{Name: "approve-prod", Type: model.StageApproval, Approval: &model.Approval{TimeoutSeconds: 3600, Message: "release to prod?"}},
		{Name: "prod", Type: model.StageWorkflow, WorkflowID: wfs[1]},
	}}
	s.ids.pipeline = mk(pl)
}

// call sends a JSON request to the API and decodes the answer into out.
func (s *stack) call(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	return s.callURL(t, s.api.URL, method, path, body, out)
}

// callURL sends a JSON request to the API at base.
func (s *stack) callURL(t *testing.T, base, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	if resp.StatusCode >= 300 {
		t.Logf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

// start starts the pipeline for tag through the API.
func (s *stack) start(t *testing.T, tag string) *model.PipelineExecution {
	t.Helper()
	var x model.PipelineExecution
	if code := s.call(t, http.MethodPost, "/v1/pipelines/"+s.ids.pipeline+"/executions",
		api.PipelineExecutionRequest{Artifact: api.ArtifactRequest{Tag: tag}, ServiceID: s.ids.svc}, &x); code != http.StatusCreated {
		t.Fatalf("start pipeline: %d", code)
	}
	return &x
}

func (s *stack) get(t *testing.T, id string) *model.PipelineExecution {
	t.Helper()
	var x model.PipelineExecution
	if code := s.call(t, http.MethodGet, "/v1/pipeline-executions/"+id, nil, &x); code != http.StatusOK {
		t.Fatalf("get pipeline execution: %d", code)
	}
	return &x
}

// waitStage polls the API (bounded in real time) until stage name has status.
func (s *stack) waitStage(t *testing.T, id, name string, status model.PipelineStatus) *model.PipelineExecution {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		x := s.get(t, id)
		for _, r := range x.Stages {
			if r.Name == name && r.Status == status {
				return x
			}
		}
		if x.Status.Final() || time.Now().After(deadline) {
			t.Fatalf("pipeline %s is %s (%s), stages %+v; want stage %s %s", id, x.Status, x.Reason, x.Stages, name, status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// finish waits for the pipeline's Step Functions execution to end.
func (s *stack) finish(t *testing.T, x *model.PipelineExecution) (sfnlocal.Execution, *model.PipelineExecution) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	ex, err := s.sfn.WaitExecution(ctx, x.ExecutionARN)
	if err != nil {
		hist, _ := s.sfn.GetExecutionHistory(context.Background(), x.ExecutionARN)
		for _, h := range hist {
			t.Log(h.String())
		}
		t.Fatalf("pipeline execution did not end: %v", err)
	}
	return ex, s.get(t, x.ID)
}

func (s *stack) deployment(t *testing.T, id string) *model.Deployment {
	t.Helper()
	d, err := store.Get[*model.Deployment](context.Background(), s.st, id)
	if err != nil {
		t.Fatalf("get deployment %s: %v", id, err)
	}
	return d
}

// image is the image the cluster's web service runs ("" when there is none).
func (s *stack) image(t *testing.T, cluster string) string {
	t.Helper()
	ctx := context.Background()
	out, err := s.w.Clients.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{"web"}})
	if err != nil {
		t.Fatalf("DescribeServices: %v", err)
	}
	if len(out.Services) == 0 || aws.ToString(out.Services[0].Status) != "ACTIVE" {
		return ""
	}
	td, err := s.w.Clients.ECS.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: out.Services[0].TaskDefinition})
	if err != nil {
		t.Fatalf("DescribeTaskDefinition: %v", err)
	}
	return aws.ToString(td.TaskDefinition.ContainerDefinitions[0].Image)
}

// notifications returns the status events delivered so far, after the bus
// has drained.
func (s *stack) notifications(t *testing.T) []notification {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.bus.Drain(ctx); err != nil {
		t.Fatalf("drain the bus: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notification(nil), s.sent...)
}
