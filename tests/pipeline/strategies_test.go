package pipeline_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/ecsops/cwalarms"
	"github.com/ecsflow/ecsflow/internal/localstack"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/simclock"
	"github.com/ecsflow/ecsflow/internal/store"
)

// TestDevCanaryApprovalProdBlueGreen is the release path of issue 7 on the
// whole local stack (internal/localstack: the embedded ASL, step handlers,
// emulator, API): dev by canary, an approval through the API, prod by
// ELB blue/green with a test listener. The pipeline SUCCEEDS and each
// environment runs the artifact on its first revision.
func TestDevCanaryApprovalProdBlueGreen(t *testing.T) {
	clock := simclock.NewScaled(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), 200)
	t.Cleanup(clock.Close)
	timings := awsemu.Timings{Provision: time.Second, PullMin: time.Second, PullMax: time.Second, Start: time.Second,
		Stop: time.Second, LaunchBackoff: 2 * time.Second}
	s, err := localstack.Start(context.Background(), localstack.Config{Clock: clock, Timings: timings, Seed: 7, Logger: discard})
	if err != nil {
		t.Fatalf("start the local stack: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close the local stack: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := cwalarms.NewFactory(s.AWSConfig(), ecsops.WithLocalEndpoint(s.AWSURL()))
	c, err := f.Clients(ctx, ecsops.Target{Region: s.Region()})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error, what string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// Per environment: a cluster, a load balancer with blue and green
	// target groups, a production listener (blue 100, green 0) and a test
	// listener (green).
	lbs := map[string]*model.LoadBalancing{}
	for _, env := range []string{"dev", "prod"} {
		_, err := c.ECS.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(env)})
		must(err, "CreateCluster")
		lb, err := c.ELB.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String(env), Subnets: []string{"subnet-1", "subnet-2"}})
		must(err, "CreateLoadBalancer")
		var tgs []string
		for _, color := range []string{"blue", "green"} {
			tg, err := c.ELB.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String(env + "-" + color),
				Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(8080), VpcId: aws.String("vpc-1"), TargetType: elbtypes.TargetTypeEnumIp,
				HealthCheckIntervalSeconds: aws.Int32(6), HealthCheckTimeoutSeconds: aws.Int32(5), HealthyThresholdCount: aws.Int32(2),
				UnhealthyThresholdCount: aws.Int32(2)})
			must(err, "CreateTargetGroup")
			tgs = append(tgs, aws.ToString(tg.TargetGroups[0].TargetGroupArn))
		}
		lbs[env] = &model.LoadBalancing{TargetGroupARNs: tgs}
		for i, port := range []int32{80, 8080} {
			fwd := elbtypes.Action{Type: elbtypes.ActionTypeEnumForward, ForwardConfig: &elbtypes.ForwardActionConfig{TargetGroups: []elbtypes.TargetGroupTuple{
				{TargetGroupArn: aws.String(tgs[0]), Weight: aws.Int32(100)}, {TargetGroupArn: aws.String(tgs[1]), Weight: aws.Int32(0)}}}}
			if i == 1 {
				fwd = elbtypes.Action{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(tgs[1])}
			}
			l, err := c.ELB.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn,
				Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(port), DefaultActions: []elbtypes.Action{fwd}})
			must(err, "CreateListener")
			if i == 0 {
				lbs[env].ProdListenerARN = aws.ToString(l.Listeners[0].ListenerArn)
			} else {
				lbs[env].TestListenerARN = aws.ToString(l.Listeners[0].ListenerArn)
			}
		}
	}

	st := s.Store()
	mk := func(x model.Entity) string {
		t.Helper()
		must(st.Create(ctx, x), "create "+string(x.Kind()))
		return x.GetMeta().ID
	}
	app := mk(modeltest.Application())
	cp := mk(modeltest.CloudProvider())
	as := mk(modeltest.ArtifactServer(cp))
	svc := modeltest.Service(app, as)
	svc.ECS.ContainerDefinitions = json.RawMessage(`[{"name":"web","image":"${artifact.image}","essential":true,"portMappings":[{"containerPort":8080}]}]`)
	svc.ECS.Secrets = nil
	svcID := mk(svc)
	wfs := map[string]string{}
	for _, env := range []string{"dev", "prod"} {
		en := modeltest.Environment(app)
		en.Name = env
		envID := mk(en)
		inf := modeltest.Infrastructure(app, envID, cp)
		inf.Cluster, inf.LoadBalancing = env, lbs[env]
		infID := mk(inf)
		wf := &model.Workflow{ApplicationID: app, Name: env, EnvironmentID: envID, InfrastructureID: infID}
		if env == "dev" {
			wf.Strategy = model.Strategy{Type: model.StrategyCanary, Canary: &model.CanaryStrategy{Phases: []model.CanaryPhase{
				{Count: modeltest.Int32(1), TrafficWeight: modeltest.Int32(10), BakeSeconds: 10},
				{Percent: modeltest.Int32(100), TrafficWeight: modeltest.Int32(100)}}}}
		} else {
			wf.Strategy = model.Strategy{Type: model.StrategyBlueGreen, BlueGreen: &model.BlueGreenStrategy{Mode: model.BlueGreenELB,
				UseTestListener: true, StepBakeSeconds: 10, BlueBakeSeconds: 10}}
		}
		wfs[env] = mk(wf)
	}
	pl := mk(&model.Pipeline{ApplicationID: app, Name: "release", Stages: []model.Stage{
		{Name: "dev", Type: model.StageWorkflow, WorkflowID: wfs["dev"]},
		{Name: "approve", Type: model.StageApproval, Approval: &model.Approval{TimeoutSeconds: 3600}},
		{Name: "prod", Type: model.StageWorkflow, WorkflowID: wfs["prod"]},
	}})

	hs := &stack{}
	call := func(method, path string, body any, out any) int {
		t.Helper()
		return hs.callURL(t, s.URL(), method, path, body, out)
	}
	var x model.PipelineExecution
	if code := call(http.MethodPost, "/v1/pipelines/"+pl+"/executions", api.PipelineExecutionRequest{
		Artifact: api.ArtifactRequest{Tag: "v1"}, ServiceID: svcID}, &x); code != http.StatusCreated {
		t.Fatalf("start pipeline: %d", code)
	}
	deadline := time.Now().Add(40 * time.Second)
	for {
		var cur model.PipelineExecution
		if code := call(http.MethodGet, "/v1/pipeline-executions/"+x.ID, nil, &cur); code != http.StatusOK {
			t.Fatalf("get: %d", code)
		}
		if cur.Stages[1].Status == model.PipelineWaitingApproval {
			x = cur
			break
		}
		if cur.Status.Final() || time.Now().After(deadline) {
			t.Fatalf("pipeline %s (%s), stages %+v; want the approval waiting", cur.Status, cur.Reason, cur.Stages)
		}
		time.Sleep(10 * time.Millisecond)
	}
	dev, err := store.Get[*model.Deployment](ctx, st, x.Stages[0].DeploymentID)
	must(err, "dev deployment")
	if dev.Strategy != model.StrategyCanary || dev.Status != model.StatusSucceeded {
		t.Fatalf("dev deployment %s %s (%s)", dev.Strategy, dev.Status, dev.Reason)
	}
	if code := call(http.MethodPost, "/v1/pipeline-executions/"+x.ID+"/approve", api.ControlRequest{Comment: "go"}, nil); code != http.StatusOK {
		t.Fatalf("approve: %d", code)
	}
	ex, err := s.StepFunctions().WaitExecution(ctx, x.ExecutionARN)
	must(err, "wait for the pipeline")
	var fin model.PipelineExecution
	call(http.MethodGet, "/v1/pipeline-executions/"+x.ID, nil, &fin)
	if ex.Status != "SUCCEEDED" || fin.Status != model.PipelineSucceeded {
		t.Fatalf("pipeline: execution %s %s, record %s (%s), stages %+v", ex.Status, ex.Error, fin.Status, fin.Reason, fin.Stages)
	}
	prod, err := store.Get[*model.Deployment](ctx, st, fin.Stages[2].DeploymentID)
	must(err, "prod deployment")
	if prod.Strategy != model.StrategyBlueGreen || prod.Status != model.StatusSucceeded || prod.PipelineExecutionID != x.ID {
		t.Fatalf("prod deployment %s %s (%s), pipeline %q", prod.Strategy, prod.Status, prod.Reason, prod.PipelineExecutionID)
	}
	for _, env := range []string{"dev", "prod"} {
		out, err := c.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(env), Services: []string{"web__1"}})
		must(err, "DescribeServices")
		if len(out.Services) != 1 || out.Services[0].RunningCount != 4 {
			t.Fatalf("%s web__1: %+v, want 4 running", env, out.Services)
		}
		td, err := c.ECS.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: out.Services[0].TaskDefinition})
		must(err, "DescribeTaskDefinition")
		if img := aws.ToString(td.TaskDefinition.ContainerDefinitions[0].Image); !strings.HasSuffix(img, "/web:v1") {
			t.Fatalf("%s runs %s, want web:v1", env, img)
		}
	}
}
