package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/ecsops/cwalarms"
	"github.com/ecsflow/ecsflow/internal/ecsops/ecsopstest"
	"github.com/ecsflow/ecsflow/internal/eventbus"
	"github.com/ecsflow/ecsflow/internal/localstack"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/pipeline"
	"github.com/ecsflow/ecsflow/internal/sfnlocal"
	"github.com/ecsflow/ecsflow/internal/simclock"
	"github.com/ecsflow/ecsflow/internal/store"
)

var discard = slog.New(slog.DiscardHandler)

// The emulated account (localstack's defaults).
const (
	region  = localstack.DefaultRegion
	account = localstack.DefaultAccountID
)

// stack is the whole local system of `ecsflow local` (internal/localstack:
// the AWS emulator, sfnlocal running the real strategy and pipeline ASL
// with the real step handlers, the local event bus carrying ECS events to
// ecs-events and ecsflow's notifications to a log, memdynamo, the REST API
// over HTTP), with ecsopstest's helpers on its emulator, and this
// package's application, environments and pipeline in its store.
type stack struct {
	local *localstack.Stack
	w     *ecsopstest.World
	st    *store.Store
	sfn   *sfnlocal.Service
	bus   *eventbus.Bus
	// apiURL is the REST API's base URL.
	apiURL string
	ids    ids
	// launcher starts pipeline executions as triggers do.
	launcher *pipeline.Launcher
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
	clock := simclock.NewScaled(ecsopstest.Start, 200)
	t.Cleanup(clock.Close)
	ls, err := localstack.Start(context.Background(), localstack.Config{Clock: clock, Timings: ecsopstest.FastTimings, Seed: 11, Logger: discard})
	if err != nil {
		t.Fatalf("start the local stack: %v", err)
	}
	t.Cleanup(func() {
		if err := ls.Close(); err != nil {
			t.Errorf("close the local stack: %v", err)
		}
	})
	if ls.PipelineStateMachineARN() == "" {
		t.Fatal("the local stack runs no pipeline state machine")
	}
	f := cwalarms.NewFactory(ls.AWSConfig(), ecsops.WithLocalEndpoint(ls.AWSURL()))
	clients, err := f.Clients(context.Background(), ecsops.Target{Region: ls.Region()})
	if err != nil {
		t.Fatalf("clients: %v", err)
	}
	s := &stack{local: ls, st: ls.Store(), sfn: ls.StepFunctions(), bus: ls.Bus(), apiURL: ls.URL(),
		w: &ecsopstest.World{Emu: ls.Emulator(), URL: ls.AWSURL(), Clock: clock, Factory: f, Clients: clients}}
	s.launcher = pipeline.NewLauncher(s.st, pipeline.NewSFNStarter(sfn.NewFromConfig(ls.AWSConfig()), ls.PipelineStateMachineARN()), clock.Now)

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
	return s.callURL(t, s.apiURL, method, path, body, out)
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
	var out []notification
	for _, ev := range s.local.Notifications().Since(0).Events {
		out = append(out, notification{DetailType: ev.DetailType, Source: ev.Source, Detail: ev.Detail})
	}
	return out
}
