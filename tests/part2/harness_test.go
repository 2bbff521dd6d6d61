package part2

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/servicediscovery"
	sdtypes "github.com/aws/aws-sdk-go-v2/service/servicediscovery/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/client"
	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/ecsops/cwalarms"
	"github.com/ecsflow/ecsflow/internal/localstack"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/simclock"
	"github.com/ecsflow/ecsflow/internal/steps"
	"github.com/ecsflow/ecsflow/tests/scenario"
)

var fastTimings = awsemu.Timings{Provision: time.Second, PullMin: time.Second, PullMax: time.Second,
	Start: time.Second, Stop: time.Second, LaunchBackoff: 2 * time.Second}

var epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

const (
	realTimeout = 40 * time.Second
	cluster     = "prod"
	service     = "web"
	alarm       = "web-5xx"
	zoneName    = "example.com"
	recordName  = "web.example.com"
)

type options struct {
	// route53 gives the infrastructure a hosted zone and no load balancer.
	route53  bool
	workflow func(*model.Workflow)
	wrap     func(name string, h steps.Handler) steps.Handler
	// timings default to fastTimings.
	timings *awsemu.Timings
	// soleForward: the production listener forwards to the first target
	// group only (as a platform team sets it up before any deployment, and
	// as examples/ecsflow.yaml's world does) and there is no test listener,
	// so the second target group has no load balancer until the engine
	// puts it in the production forward action.
	soleForward bool
	// prodRule: production traffic goes through a rule of the production
	// listener (path /*), whose default action is a fixed 404; the rule
	// forwards as the default action would otherwise.
	prodRule bool
}

type harness struct {
	tb    testing.TB
	s     *localstack.Stack
	clock *simclock.Scaled
	http  *http.Client
	api   *client.Client
	aws   *ecsops.Clients
	sfn   *sfn.Client
	ids   struct{ app, cp, as, svc, env, infra, wf string }
	tgs   []string
	prod  string // production listener
	rule  string // production rule (options.prodRule), or ""
	test  string // test listener
	zone  string
	// registry is the service's Cloud Map service (DNS blue/green), in
	// namespace.
	registry, namespace string
	started             time.Time
}

func newHarness(tb testing.TB, o options) *harness {
	tb.Helper()
	clock := simclock.NewScaled(epoch, 200)
	logs := &scenario.LogBuffer{}
	timings := fastTimings
	if o.timings != nil {
		timings = *o.timings
	}
	s, err := localstack.Start(context.Background(), localstack.Config{Clock: clock, Timings: timings, WrapHandler: o.wrap, Seed: 7,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
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
	f := cwalarms.NewFactory(s.AWSConfig(), ecsops.WithLocalEndpoint(s.AWSURL()))
	c, err := f.Clients(context.Background(), ecsops.Target{Region: s.Region()})
	if err != nil {
		tb.Fatal(err)
	}
	api, err := s.APIClient(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	for _, st := range []model.StrategyType{model.StrategyCanary, model.StrategyBlueGreen} {
		if s.StateMachineARN(st) == "" {
			tb.Fatalf("no state machine for %s", st)
		}
	}
	h := &harness{tb: tb, s: s, clock: clock, http: &http.Client{Timeout: realTimeout}, api: api, aws: c, sfn: sfn.NewFromConfig(s.AWSConfig())}
	h.world(o)
	h.entities(o)
	return h
}

func (h *harness) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), realTimeout)
}

func (h *harness) must(err error, what string) {
	h.tb.Helper()
	if err != nil {
		h.tb.Fatalf("%s: %v", what, err)
	}
}

// world creates what the platform team has: a cluster, an alarm, a load
// balancer with two target groups (blue and green), a production listener
// and a test listener; or a hosted zone for DNS blue/green.
func (h *harness) world(o options) {
	ctx, cancel := h.ctx()
	defer cancel()
	_, err := h.aws.ECS.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(cluster)})
	h.must(err, "CreateCluster")
	_, err = cwalarms.Client(h.aws).PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String(alarm), Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("HTTPCode_Target_5XX_Count"),
		Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(5),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold})
	h.must(err, "PutMetricAlarm")
	if o.route53 {
		hz, err := h.aws.Route53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String(zoneName), CallerReference: aws.String("part2")})
		h.must(err, "CreateHostedZone")
		h.zone = aws.ToString(hz.HostedZone.Id)
		h.cloudMap(ctx)
		return
	}
	lb, err := h.aws.ELB.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("web"), Subnets: []string{"subnet-1", "subnet-2"}})
	h.must(err, "CreateLoadBalancer")
	for _, name := range []string{"web-blue", "web-green"} {
		tg, err := h.aws.ELB.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
			Name: aws.String(name), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(8080), VpcId: aws.String("vpc-1"),
			TargetType: elbtypes.TargetTypeEnumIp, HealthCheckIntervalSeconds: aws.Int32(6), HealthCheckTimeoutSeconds: aws.Int32(5),
			HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2)})
		h.must(err, "CreateTargetGroup")
		arn := aws.ToString(tg.TargetGroups[0].TargetGroupArn)
		_, err = h.aws.ELB.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(arn),
			Attributes: []elbtypes.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("5")}}})
		h.must(err, "ModifyTargetGroupAttributes")
		h.tgs = append(h.tgs, arn)
	}
	// Production forwards to blue (green at weight 0, so the load balancer
	// uses both target groups); the test listener forwards to green.
	ports := []int32{80, 8080}
	if o.soleForward {
		ports = ports[:1]
	}
	for i, port := range ports {
		fwd := elbtypes.Action{Type: elbtypes.ActionTypeEnumForward, ForwardConfig: &elbtypes.ForwardActionConfig{TargetGroups: []elbtypes.TargetGroupTuple{
			{TargetGroupArn: aws.String(h.tgs[0]), Weight: aws.Int32(100)}, {TargetGroupArn: aws.String(h.tgs[1]), Weight: aws.Int32(0)}}}}
		if o.soleForward {
			fwd = elbtypes.Action{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(h.tgs[0])}
		}
		if i == 1 {
			fwd = elbtypes.Action{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(h.tgs[1])}
		}
		def := fwd
		if i == 0 && o.prodRule {
			def = elbtypes.Action{Type: elbtypes.ActionTypeEnumFixedResponse,
				FixedResponseConfig: &elbtypes.FixedResponseActionConfig{StatusCode: aws.String("404")}}
		}
		l, err := h.aws.ELB.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn,
			Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(port), DefaultActions: []elbtypes.Action{def}})
		h.must(err, "CreateListener")
		if i == 0 {
			h.prod = aws.ToString(l.Listeners[0].ListenerArn)
			if o.prodRule {
				r, err := h.aws.ELB.CreateRule(ctx, &elb.CreateRuleInput{ListenerArn: aws.String(h.prod), Priority: aws.Int32(10),
					Conditions: []elbtypes.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/*"}}},
					Actions:    []elbtypes.Action{fwd}})
				h.must(err, "CreateRule")
				h.rule = aws.ToString(r.Rules[0].RuleArn)
			}
		} else {
			h.test = aws.ToString(l.Listeners[0].ListenerArn)
		}
	}
}

func (h *harness) entities(o options) {
	h.ids.cp = h.create(modeltest.CloudProvider())
	h.ids.as = h.create(modeltest.ArtifactServer(h.ids.cp))
	h.ids.app = h.create(modeltest.Application())
	svc := modeltest.Service(h.ids.app, h.ids.as)
	svc.ECS.ContainerDefinitions = json.RawMessage(`[{"name":"web","image":"${artifact.image}","essential":true,"portMappings":[{"containerPort":8080}]}]`)
	if o.route53 {
		svc.ECS.ServiceRegistry = &model.ServiceRegistry{RegistryARN: h.registry}
	}
	h.ids.svc = h.create(svc)
	h.ids.env = h.create(modeltest.Environment(h.ids.app))
	inf := modeltest.Infrastructure(h.ids.app, h.ids.env, h.ids.cp)
	inf.Cluster = cluster
	if o.route53 {
		inf.LoadBalancing = nil
		inf.DNS = &model.DNS{HostedZoneID: h.zone, RecordName: recordName, TTL: 30}
	} else {
		inf.LoadBalancing = &model.LoadBalancing{TargetGroupARNs: h.tgs, ProdListenerARN: h.prod, ProdListenerRuleARN: h.rule, TestListenerARN: h.test}
	}
	h.ids.infra = h.create(inf)
	wf := modeltest.RollingWorkflow(h.ids.app, h.ids.env, h.ids.infra)
	wf.Verification = model.Verification{Alarms: []string{alarm}}
	if o.workflow != nil {
		o.workflow(wf)
	}
	h.ids.wf = h.create(wf)
}

func (h *harness) call(method, path string, body any, out any) (int, []byte) {
	h.tb.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		h.must(err, "encode")
		rd = bytes.NewReader(b)
	}
	ctx, cancel := h.ctx()
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, h.s.URL()+path, rd)
	h.must(err, method+" "+path)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.http.Do(req)
	h.must(err, method+" "+path)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	h.must(err, "read "+path)
	if out != nil && resp.StatusCode < 300 {
		h.must(json.Unmarshal(raw, out), "decode "+path)
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

func (h *harness) start(tag string) string {
	h.tb.Helper()
	var d model.Deployment
	code, raw := h.call(http.MethodPost, "/v1/deployments", api.DeploymentRequest{AppID: h.ids.app, WorkflowID: h.ids.wf,
		ServiceID: h.ids.svc, Artifact: api.ArtifactRequest{Tag: tag}}, &d)
	if code != http.StatusCreated || d.ID == "" {
		h.tb.Fatalf("POST /v1/deployments %s: %d %s", tag, code, raw)
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

func (h *harness) dump(d *model.Deployment) {
	h.tb.Helper()
	_, ledger := h.get(d.ID)
	for _, l := range ledger {
		h.tb.Logf("%s %-12s %s", l.At.Format("15:04:05"), l.Kind, l.Message)
	}
}

// finish waits for a final status and checks the ending invariants
// (scenario.CheckEnded: no execution RUNNING, the lease released, no wait
// left, every step record complete and in the ledger) and FINISH last.
func (h *harness) finish(id string, want model.Status) (*model.Deployment, []model.LedgerEntry) {
	h.tb.Helper()
	scenario.AwaitFinal(h.tb, id, want, realTimeout, func(id string) *model.Deployment { d, _ := h.get(id); return d }, h.dump)
	scenario.WaitExecutionsEnded(h.tb, h.sfn, realTimeout)
	d, ledger := h.get(id)
	if d.Runtime == nil {
		h.tb.Fatalf("deployment %s ended %s without a runtime (it never ran)", d.ID, d.Status)
	}
	ctx, cancel := h.ctx()
	defer cancel()
	scenario.CheckEnded(ctx, h.tb, h.s.Store(), h.sfn, d, ledger)
	if len(d.Steps) == 0 || d.Steps[len(d.Steps)-1].Name != "FINISH" {
		h.tb.Fatalf("deployment %s has step records %v, want FINISH last", d.ID, d.Steps)
	}
	return d, ledger
}

// revisions answers the revisioned services and their desired counts:
// exactly what exists, so orphans show.
func (h *harness) revisions() map[string]int32 {
	h.tb.Helper()
	ctx, cancel := h.ctx()
	defer cancel()
	svcs, err := h.aws.RevisionServices(ctx, cluster, service)
	h.must(err, "revisions")
	got := map[string]int32{}
	for _, s := range svcs {
		got[aws.ToString(s.ServiceName)] = s.DesiredCount
	}
	return got
}

// steadyRevisions polls until the revisions' running counts match their
// desired counts (cleanup's downsizing drains after the deployment ends).
func (h *harness) expectRevisions(want map[string]int32) {
	h.tb.Helper()
	deadline := time.Now().Add(realTimeout)
	for {
		ctx, cancel := h.ctx()
		svcs, err := h.aws.RevisionServices(ctx, cluster, service)
		cancel()
		h.must(err, "revisions")
		got := map[string]int32{}
		settled := true
		for _, s := range svcs {
			got[aws.ToString(s.ServiceName)] = s.DesiredCount
			settled = settled && s.RunningCount == s.DesiredCount
		}
		if equalCounts(got, want) && settled {
			return
		}
		if time.Now().After(deadline) {
			h.tb.Fatalf("revisions %v (settled %v), want %v", got, settled, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func equalCounts(a, b map[string]int32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func (h *harness) weights(listener string) map[string]int32 {
	h.tb.Helper()
	ctx, cancel := h.ctx()
	defer cancel()
	rule := ""
	if listener == h.prod {
		rule = h.rule
	}
	w, err := h.aws.ForwardWeights(ctx, listener, rule)
	h.must(err, "ForwardWeights")
	return w
}

// autoScaling gives a revision a scalable target (min 2, max 8) and a
// target tracking policy, as the platform team would.
func (h *harness) autoScaling(svc string) {
	h.tb.Helper()
	ctx, cancel := h.ctx()
	defer cancel()
	res := ecsops.ScalingResource(cluster, svc)
	_, err := h.aws.AutoScale.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceEcs,
		ResourceId: aws.String(res), ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, MinCapacity: aws.Int32(2), MaxCapacity: aws.Int32(8)})
	h.must(err, "RegisterScalableTarget")
	_, err = h.aws.AutoScale.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{ServiceNamespace: aastypes.ServiceNamespaceEcs,
		ResourceId: aws.String(res), ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, PolicyName: aws.String("cpu60"),
		PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
		TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(60),
			PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeECSServiceAverageCPUUtilization}}})
	h.must(err, "PutScalingPolicy")
}

// expectScaling checks the revision has the harness's auto scaling (or none).
func (h *harness) expectScaling(svc string, want bool) {
	h.tb.Helper()
	ctx, cancel := h.ctx()
	defer cancel()
	s, err := h.aws.ScalingOf(ctx, cluster, svc)
	h.must(err, "ScalingOf")
	switch {
	case !want && s != nil:
		h.tb.Fatalf("%s has auto scaling %+v, want none", svc, s)
	case want && (s == nil || s.Min != 2 || s.Max != 8 || len(s.Policies) != 1 || s.Policies[0].Name != "cpu60"):
		h.tb.Fatalf("%s auto scaling %+v, want min 2, max 8, policy cpu60", svc, s)
	}
}

// traffic is the deployment's TRAFFIC ledger entries, in order, checked to
// carry their data and ascending times.
func traffic(tb testing.TB, ledger []model.LedgerEntry) []steps.TrafficChange {
	tb.Helper()
	var out []steps.TrafficChange
	var last time.Time
	for _, l := range ledger {
		if l.Kind != model.LedgerTraffic {
			continue
		}
		var tc steps.TrafficChange
		if err := json.Unmarshal(l.Data, &tc); err != nil || l.At.IsZero() || l.At.Before(last) {
			tb.Fatalf("traffic entry %+v: data %v, time not ascending", l, err)
		}
		last = l.At
		out = append(out, tc)
	}
	return out
}

// newWeights is the new revision's weight in each production traffic change.
func newWeights(tcs []steps.TrafficChange, rev string, target string) []int32 {
	var out []int32
	for _, tc := range tcs {
		if tc.Target == target {
			out = append(out, tc.Weights[rev])
		}
	}
	return out
}

// stepNames lists the step records, without the heartbeat safety net's
// CHECK_STEADY records (they appear when a steady wait's heartbeat times
// out first, which depends on the machine's load).
func stepNames(d *model.Deployment) string {
	var n []string
	for _, s := range d.Steps {
		if s.Name != "CHECK_STEADY" {
			n = append(n, s.Name)
		}
	}
	return strings.Join(n, ",")
}

// tasks lists the service's task ARNs, sorted.
func (h *harness) tasks(svc string) []string {
	h.tb.Helper()
	ctx, cancel := h.ctx()
	defer cancel()
	out, err := h.aws.ECS.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(cluster), ServiceName: aws.String(svc)})
	h.must(err, "ListTasks")
	sort.Strings(out.TaskArns)
	return out.TaskArns
}

func (h *harness) faults(rules ...awsemu.FaultRule) {
	h.tb.Helper()
	h.must(h.s.Emulator().SetFaultPlan(awsemu.FaultPlan{Rules: rules}), "SetFaultPlan")
}

func ptr(v int32) *int32 { return &v }

// cloudMap creates the private DNS namespace and the service's registry
// ("web", A records) that DNS blue/green makes each revision's registry
// next to.
func (h *harness) cloudMap(ctx context.Context) {
	cm := h.cloudMapClient()
	h.namespace = "web.local"
	_, err := cm.CreatePrivateDnsNamespace(ctx, &servicediscovery.CreatePrivateDnsNamespaceInput{Name: aws.String(h.namespace), Vpc: aws.String("vpc-1")})
	h.must(err, "CreatePrivateDnsNamespace")
	nss, err := cm.ListNamespaces(ctx, &servicediscovery.ListNamespacesInput{})
	h.must(err, "ListNamespaces")
	var nsID string
	for _, ns := range nss.Namespaces {
		if aws.ToString(ns.Name) == h.namespace {
			nsID = aws.ToString(ns.Id)
		}
	}
	out, err := cm.CreateService(ctx, &servicediscovery.CreateServiceInput{Name: aws.String(service), NamespaceId: aws.String(nsID),
		DnsConfig: &sdtypes.DnsConfig{DnsRecords: []sdtypes.DnsRecord{{Type: sdtypes.RecordTypeA, TTL: aws.Int64(10)}}}})
	h.must(err, "CreateService (Cloud Map)")
	h.registry = aws.ToString(out.Service.Arn)
}

// registries answers the Cloud Map services of the namespace, by name, with
// the ECS services of the tasks registered in each.
func (h *harness) registries() map[string][]string {
	h.tb.Helper()
	ctx, cancel := h.ctx()
	defer cancel()
	out, err := h.cloudMapClient().ListServices(ctx, &servicediscovery.ListServicesInput{})
	h.must(err, "ListServices (Cloud Map)")
	got := map[string][]string{}
	for _, s := range out.Services {
		inst, err := h.aws.RegistryInstances(ctx, aws.ToString(s.Id))
		h.must(err, "RegistryInstances")
		owners := []string{}
		for _, attrs := range inst {
			owners = append(owners, attrs["ECS_SERVICE_NAME"])
		}
		sort.Strings(owners)
		got[aws.ToString(s.Name)] = owners
	}
	return got
}

// cloudMapClient is an SDK Cloud Map client on the emulator (the engine
// makes its own few calls: ecsops.Clients.RevisionRegistry and friends).
func (h *harness) cloudMapClient() *servicediscovery.Client {
	cfg := h.s.AWSConfig()
	cfg.BaseEndpoint = aws.String(h.s.AWSURL())
	return servicediscovery.NewFromConfig(cfg)
}
