package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/client"
	"github.com/ecsflow/ecsflow/internal/localstack"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/simclock"
	"github.com/ecsflow/ecsflow/internal/steps"
	"github.com/ecsflow/ecsflow/tests/scenario"
)

// fastTimings make a task start in about 3 simulated seconds.
var fastTimings = awsemu.Timings{Provision: time.Second, PullMin: time.Second, PullMax: time.Second,
	Start: time.Second, Stop: time.Second, LaunchBackoff: 2 * time.Second}

// epoch is the simulated time every stack starts at.
var epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// realTimeout bounds every wait of a scenario in real time.
const realTimeout = 30 * time.Second

type options struct {
	scale   float64
	timings awsemu.Timings
	daemon  bool
	// workflow adjusts the workflow before it is created.
	workflow func(*model.Workflow)
	wrap     func(name string, h steps.Handler) steps.Handler
}

// harness is one local stack plus the user's view of it: the API over
// HTTP and SDK clients for the emulated AWS account.
type harness struct {
	tb     testing.TB
	s      *localstack.Stack
	clock  *simclock.Scaled
	http   *http.Client
	api    *client.Client
	ecs    *ecs.Client
	elb    *elb.Client
	cw     *cloudwatch.Client
	sfn    *sfn.Client
	ids    ids
	family string
	bake   int32 // the workflow's bake seconds
}

type ids struct{ app, cp, as, svc, env, infra, wf string }

const (
	cluster = "prod"
	service = "web"
	alarm   = "web-5xx"
)

func newHarness(tb testing.TB, o options) *harness {
	tb.Helper()
	if o.scale == 0 {
		o.scale = 200
	}
	if o.timings == (awsemu.Timings{}) {
		o.timings = fastTimings
	}
	clock := simclock.NewScaled(epoch, o.scale)
	logs := &scenario.LogBuffer{}
	s, err := localstack.Start(context.Background(), localstack.Config{
		Clock: clock, Timings: o.timings, WrapHandler: o.wrap, Seed: 7,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		clock.Close()
		tb.Fatalf("start the local stack: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("warnings and errors of the stack:\n%s", logs.String())
		}
		if err := s.Close(); err != nil {
			tb.Errorf("close the local stack: %v", err)
		}
		clock.Close()
	})
	cfg := s.AWSConfig()
	api, err := s.APIClient(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	h := &harness{tb: tb, s: s, clock: clock, http: &http.Client{Timeout: realTimeout}, api: api,
		ecs: ecs.NewFromConfig(cfg), elb: elb.NewFromConfig(cfg), cw: cloudwatch.NewFromConfig(cfg), sfn: sfn.NewFromConfig(cfg),
		family: "shop-web-prod"}
	h.world(o)
	h.entities(o)
	return h
}

func (h *harness) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), realTimeout)
}

// world creates, with the AWS SDK against the emulator, what the platform
// team has before ecsflow deploys: a cluster, a load balancer with a target
// group (or EC2 container instances for daemons), and an alarm.
func (h *harness) world(o options) {
	tb := h.tb
	tb.Helper()
	ctx, cancel := h.ctx()
	defer cancel()
	if _, err := h.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
		tb.Fatalf("CreateCluster: %v", err)
	}
	if o.daemon {
		for i := 0; i < 3; i++ {
			if _, err := h.ecs.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{Cluster: aws.String(cluster)}); err != nil {
				tb.Fatalf("RegisterContainerInstance: %v", err)
			}
		}
	}
	if _, err := h.cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String(alarm), Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("HTTPCode_Target_5XX_Count"),
		Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(5),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
	}); err != nil {
		tb.Fatalf("PutMetricAlarm: %v", err)
	}
}

// targetGroup creates a load balancer, one ip target group with fast
// health checks and short drains, and a listener forwarding to it.
func (h *harness) targetGroup() string {
	tb := h.tb
	tb.Helper()
	ctx, cancel := h.ctx()
	defer cancel()
	lb, err := h.elb.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("web"), Subnets: []string{"subnet-1", "subnet-2"}})
	if err != nil {
		tb.Fatalf("CreateLoadBalancer: %v", err)
	}
	tg, err := h.elb.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
		Name: aws.String("web"), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(8080), VpcId: aws.String("vpc-1"),
		TargetType: elbtypes.TargetTypeEnumIp, HealthCheckIntervalSeconds: aws.Int32(6), HealthCheckTimeoutSeconds: aws.Int32(5),
		HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2),
	})
	if err != nil {
		tb.Fatalf("CreateTargetGroup: %v", err)
	}
	arn := aws.ToString(tg.TargetGroups[0].TargetGroupArn)
	if _, err := h.elb.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(arn),
		Attributes: []elbtypes.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("5")}}}); err != nil {
		tb.Fatalf("ModifyTargetGroupAttributes: %v", err)
	}
	if _, err := h.elb.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn,
		Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(arn)}}}); err != nil {
		tb.Fatalf("CreateListener: %v", err)
	}
	return arn
}

// entities creates the delivery model through the REST API.
func (h *harness) entities(o options) {
	tb := h.tb
	tb.Helper()
	h.ids.cp = h.create(modeltest.CloudProvider())
	h.ids.as = h.create(modeltest.ArtifactServer(h.ids.cp))
	h.ids.app = h.create(modeltest.Application())
	svc := modeltest.Service(h.ids.app, h.ids.as)
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
	h.ids.svc = h.create(svc)
	env := modeltest.Environment(h.ids.app)
	env.Overrides.Variables = map[string]string{"LOG_LEVEL": "warn"}
	h.ids.env = h.create(env)
	inf := modeltest.Infrastructure(h.ids.app, h.ids.env, h.ids.cp)
	inf.Cluster = cluster
	if o.daemon {
		inf.LaunchType = model.LaunchEC2
		inf.LoadBalancing = nil
		inf.Network = model.Network{}
	} else {
		inf.LoadBalancing = &model.LoadBalancing{TargetGroupARNs: []string{h.targetGroup()}}
	}
	h.ids.infra = h.create(inf)
	wf := modeltest.RollingWorkflow(h.ids.app, h.ids.env, h.ids.infra)
	wf.Verification = model.Verification{Alarms: []string{alarm}, BakeSeconds: 30}
	if o.daemon {
		wf.Name = "daemon"
		wf.Strategy = model.Strategy{Type: model.StrategyDaemon, Daemon: &model.DaemonStrategy{MinimumHealthyPercent: 0, MaximumPercent: 100}}
	}
	if o.workflow != nil {
		o.workflow(wf)
	}
	h.bake = wf.Verification.BakeSeconds
	h.ids.wf = h.create(wf)
}

// setBake changes the workflow's bake through the API (GET, then PUT with
// If-Match).
func (h *harness) setBake(seconds int32) {
	h.tb.Helper()
	path := "/v1/applications/" + h.ids.app + "/workflows/" + h.ids.wf
	var wf model.Workflow
	if code, raw := h.call(http.MethodGet, path, nil, &wf); code != http.StatusOK {
		h.tb.Fatalf("GET %s: %d %s", path, code, raw)
	}
	wf.Verification.BakeSeconds = seconds
	code, raw := h.callWith(http.MethodPut, path, &wf, nil, map[string]string{"If-Match": fmt.Sprintf("%q", fmt.Sprint(wf.Version))})
	if code != http.StatusOK {
		h.tb.Fatalf("PUT %s: %d %s", path, code, raw)
	}
	h.bake = seconds
}

// call performs an API request and decodes a JSON answer into out (if not nil).
func (h *harness) call(method, path string, body any, out any) (int, []byte) {
	h.tb.Helper()
	return h.callWith(method, path, body, out, nil)
}

// callWith is call with request headers.
func (h *harness) callWith(method, path string, body any, out any, header map[string]string) (int, []byte) {
	tb := h.tb
	tb.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			tb.Fatalf("encode %s %s: %v", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := h.ctx()
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, h.s.URL()+path, rd)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read: %v", method, path, err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			tb.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, raw
}

// create POSTs an entity through the API client the CLI uses (the
// collection path follows from its kind and scope) and returns its id.
func (h *harness) create(e model.Entity) string {
	h.tb.Helper()
	got, err := h.api.Create(context.Background(), e)
	if err != nil || got.GetMeta().ID == "" {
		h.tb.Fatalf("create %s: %v, want 201 with an id", e.Kind(), err)
	}
	return got.GetMeta().ID
}

// deploy POSTs a deployment of tag and returns the answer's status and body.
func (h *harness) deploy(tag string) (int, model.Deployment, []byte) {
	h.tb.Helper()
	var d model.Deployment
	code, raw := h.call(http.MethodPost, "/v1/deployments", api.DeploymentRequest{AppID: h.ids.app, WorkflowID: h.ids.wf,
		ServiceID: h.ids.svc, Artifact: api.ArtifactRequest{Tag: tag}}, &d)
	return code, d, raw
}

// start deploys tag and expects 201.
func (h *harness) start(tag string) string {
	h.tb.Helper()
	code, d, raw := h.deploy(tag)
	if code != http.StatusCreated || d.ID == "" {
		h.tb.Fatalf("POST /v1/deployments %s: %d %s, want 201", tag, code, raw)
	}
	return d.ID
}

// get answers GET /v1/deployments/{id} with the whole ledger, through the
// API client the CLI uses (it follows the ledger cursors).
func (h *harness) get(id string) (*model.Deployment, []model.LedgerEntry) {
	h.tb.Helper()
	body, err := h.api.Deployment(context.Background(), id)
	if err != nil {
		h.tb.Fatalf("GET /v1/deployments/%s: %v", id, err)
	}
	return &body.Deployment, body.Ledger
}

// waitStatus polls the API (real time, bounded) until the deployment has
// status want; a final status other than want fails.
func (h *harness) waitStatus(id string, want model.Status) *model.Deployment {
	h.tb.Helper()
	deadline := time.Now().Add(realTimeout)
	for {
		d, _ := h.get(id)
		if d.Status == want {
			return d
		}
		if d.Status.Final() || time.Now().After(deadline) {
			h.dump(d)
			h.tb.Fatalf("deployment %s is %s (%s), want %s", id, d.Status, d.Reason, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// finish waits for the deployment to reach a final status and for its
// execution to end, then checks the invariants every scenario ends with.
func (h *harness) finish(id string, want model.Status) (*model.Deployment, []model.LedgerEntry) {
	h.tb.Helper()
	scenario.AwaitFinal(h.tb, id, want, realTimeout, func(id string) *model.Deployment { d, _ := h.get(id); return d }, h.dump)
	scenario.WaitExecutionsEnded(h.tb, h.sfn, realTimeout)
	d, ledger := h.get(id)
	h.checkEnded(d, ledger)
	return d, ledger
}

// execution describes the deployment's execution over the Step Functions API.
func (h *harness) execution(d *model.Deployment) *sfn.DescribeExecutionOutput {
	h.tb.Helper()
	if d.ExecutionARN == "" {
		h.tb.Fatalf("deployment %s has no execution ARN", d.ID)
	}
	ctx, cancel := h.ctx()
	defer cancel()
	x, err := h.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(d.ExecutionARN)})
	if err != nil {
		h.tb.Fatalf("DescribeExecution %s: %v", d.ExecutionARN, err)
	}
	return x
}

// checkEnded asserts what every scenario ends with (scenario.CheckEnded)
// and, when it ran, an ECS event in the ledger if it changed the service
// and FINISH last (PREPARE refused with LockHeld when it never held the
// lease).
func (h *harness) checkEnded(d *model.Deployment, ledger []model.LedgerEntry) {
	tb := h.tb
	tb.Helper()
	ctx, cancel := h.ctx()
	defer cancel()
	scenario.CheckEnded(ctx, tb, h.s.Store(), h.sfn, d, ledger)
	kinds := scenario.LedgerKinds(ledger)
	if d.Runtime != nil && len(d.Steps) > 0 { // it ran
		for _, s := range d.Steps {
			if s.Name == "UPDATE_SERVICE" && s.Error == "" && kinds[model.LedgerECSEvent] == 0 {
				tb.Fatalf("deployment %s changed the service but its ledger has no ECS event: %v", d.ID, kinds)
			}
		}
		last := d.Steps[len(d.Steps)-1]
		refused := last.Name == "PREPARE" && last.Error == "LockHeld" // REJECT: it never held the lease
		if last.Name != "FINISH" && !refused {
			tb.Fatalf("last step of %s is %s, want FINISH", d.ID, d.Steps[len(d.Steps)-1].Name)
		}
	}
}

// describe answers the service's task definition, desired and running counts.
func (h *harness) describe() (string, int32, int32) {
	h.tb.Helper()
	ctx, cancel := h.ctx()
	defer cancel()
	out, err := h.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{service}})
	if err != nil || len(out.Services) != 1 {
		h.tb.Fatalf("DescribeServices: %v (%d services)", err, len(out.Services))
	}
	s := out.Services[0]
	return aws.ToString(s.TaskDefinition), s.DesiredCount, s.RunningCount
}

// expectService asserts the service runs taskDef with want tasks, all running.
func (h *harness) expectService(taskDef string, want int32) {
	h.tb.Helper()
	td, desired, running := h.describe()
	if td != taskDef || desired != want || running != want {
		h.tb.Fatalf("service on %s x%d (%d running), want %s x%d", td, desired, running, taskDef, want)
	}
}

// faults installs a fault plan in the emulator.
func (h *harness) faults(rules ...awsemu.FaultRule) {
	h.tb.Helper()
	if err := h.s.Emulator().SetFaultPlan(awsemu.FaultPlan{Seed: 5, Rules: rules}); err != nil {
		h.tb.Fatalf("fault plan: %v", err)
	}
}

// control POSTs approve/reject/rollback/abort.
func (h *harness) control(id, action, comment string) (int, []byte) {
	h.tb.Helper()
	return h.call(http.MethodPost, "/v1/deployments/"+id+"/"+action, api.ControlRequest{Comment: comment}, nil)
}

// dump logs the deployment's steps, ledger and execution history.
func (h *harness) dump(d *model.Deployment) {
	h.tb.Helper()
	for _, s := range d.Steps {
		h.tb.Logf("step %s %s %s %s", s.Name, s.Result, s.Error, s.Cause)
	}
	_, ledger := h.get(d.ID)
	for _, l := range ledger {
		h.tb.Logf("ledger %s %s %s", l.At.Format(time.TimeOnly), l.Kind, l.Message)
	}
	if d.ExecutionARN == "" {
		return
	}
	hist, err := h.s.StepFunctions().GetExecutionHistory(context.Background(), d.ExecutionARN)
	if err != nil {
		h.tb.Logf("history: %v", err)
	}
	for _, e := range hist {
		h.tb.Log(e.String())
	}
}

func stepNames(d *model.Deployment) string {
	var names []string
	for _, s := range d.Steps {
		names = append(names, s.Name)
	}
	return strings.Join(names, ",")
}

func count(ledger []model.LedgerEntry, kind, substr string) int {
	n := 0
	for _, l := range ledger {
		if l.Kind == kind && strings.Contains(l.Message, substr) {
			n++
		}
	}
	return n
}
