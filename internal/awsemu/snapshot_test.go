package awsemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// restartHarness is a second emulator on a clock that starts where the
// first one's state was saved, as `ecsflow local --data-dir` starts it.
func restartHarness(t *testing.T, start time.Time, scale float64, state []byte) (*harness, error) {
	t.Helper()
	clock := simclock.NewScaled(start, scale)
	sink := NewRecordingSink()
	emu := New(Options{Clock: clock, Sink: sink, Seed: 7})
	srv := httptest.NewServer(emu)
	h := &harness{t: t, emu: emu, srv: srv, clock: clock, sink: sink}
	h.cfg = aws.Config{Region: "us-east-1", Credentials: staticCreds(), BaseEndpoint: aws.String(srv.URL),
		Retryer: func() aws.Retryer { return retry.NewStandard() }}
	h.ecs = ecs.NewFromConfig(h.cfg)
	t.Cleanup(func() {
		srv.Close()
		emu.Close()
		clock.Close()
	})
	return h, emu.Load(bytes.NewReader(state))
}

// TestSaveLoadRestoresTheWorld: a world with a load-balanced service, an
// ECR image, an alarm in ALARM, scalable target and policy, Route 53
// weighted records and listener weights is saved and loaded into a new
// emulator; every resource reads back the same through the SDK, the
// service's tasks are RUNNING at its desired count and healthy in their
// target group, and the restored world still deploys: a new task
// definition rolls out to completion.
func TestSaveLoadRestoresTheWorld(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	if _, err := h.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	f := h.elbFixture(ctx)
	h.lbService(ctx, "web", "repo/web:v1", f.blue, 3, 0)
	h.waitStable(ctx, "prod", "web")
	h.waitFor(ctx, "3 healthy targets", func() bool { return len(healthyIDs(h.targetStates(ctx, f.client, f.blue))) == 3 })
	if _, err := f.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: aws.String(f.listener), DefaultActions: weighted(f.blue, 70, f.green, 30)}); err != nil {
		t.Fatalf("ModifyListener: %v", err)
	}
	digest, err := h.emu.PushImage(ctx, "web", "v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	cw := cloudwatch.NewFromConfig(h.cfg)
	if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String("web-5xx"), MetricName: aws.String("HTTPCode_Target_5XX_Count"), Namespace: aws.String("AWS/ApplicationELB"),
		Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(5),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("web-5xx"), StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("test")}); err != nil {
		t.Fatal(err)
	}
	as := applicationautoscaling.NewFromConfig(h.cfg)
	if _, err := as.RegisterScalableTarget(ctx, &applicationautoscaling.RegisterScalableTargetInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String("service/prod/web"),
		ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, MinCapacity: aws.Int32(2), MaxCapacity: aws.Int32(6),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := as.PutScalingPolicy(ctx, &applicationautoscaling.PutScalingPolicyInput{
		PolicyName: aws.String("cpu"), ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String("service/prod/web"),
		ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
		TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(60),
			PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeECSServiceAverageCPUUtilization}},
	}); err != nil {
		t.Fatal(err)
	}
	r53 := route53.NewFromConfig(h.cfg)
	hz, err := r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("example.com"), CallerReference: aws.String("ref-1")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: hz.HostedZone.Id, ChangeBatch: &r53types.ChangeBatch{
		Changes: []r53types.Change{{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &r53types.ResourceRecordSet{
			Name: aws.String("api.example.com"), Type: r53types.RRTypeCname, SetIdentifier: aws.String("blue"), Weight: aws.Int64(80), TTL: aws.Int64(30),
			ResourceRecords: []r53types.ResourceRecord{{Value: aws.String("blue.example.com")}},
		}}},
	}}); err != nil {
		t.Fatal(err)
	}
	before := h.describe(ctx, "prod", "web")
	ipsBefore := h.taskIPs(ctx, "web")

	var buf bytes.Buffer
	if err := h.emu.Save(&buf); err != nil {
		t.Fatalf("Save: %v", err)
	}
	savedAt, err := SavedAt(bytes.NewReader(buf.Bytes()))
	if err != nil || savedAt.Before(testStart) {
		t.Fatalf("SavedAt = %v, %v; want a time after %v", savedAt, err, testStart)
	}

	h2, err := restartHarness(t, savedAt, 1000, buf.Bytes())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	ctx2 := h2.ctx()
	after := h2.describe(ctx2, "prod", "web")
	if got, want := aws.ToString(after.TaskDefinition), aws.ToString(before.TaskDefinition); got != want {
		t.Errorf("task definition after restart = %s, want %s", got, want)
	}
	if after.DesiredCount != 3 || after.RunningCount != 3 || after.PendingCount != 0 {
		t.Errorf("counts after restart: desired %d running %d pending %d, want 3/3/0", after.DesiredCount, after.RunningCount, after.PendingCount)
	}
	if len(after.Deployments) != 1 || after.Deployments[0].RolloutState != ecstypes.DeploymentRolloutStateCompleted ||
		aws.ToString(after.Deployments[0].Id) != aws.ToString(before.Deployments[0].Id) {
		t.Errorf("deployments after restart = %+v, want the one COMPLETED deployment %s", after.Deployments, aws.ToString(before.Deployments[0].Id))
	}
	if got := h2.taskIPs(ctx2, "web"); strings.Join(got, ",") != strings.Join(ipsBefore, ",") {
		t.Errorf("task IPs after restart = %v, want the same tasks %v", got, ipsBefore)
	}
	f2 := elbFixture{client: elb.NewFromConfig(h2.cfg), listener: f.listener, blue: f.blue, green: f.green}
	if got := healthyIDs(h2.targetStates(ctx2, f2.client, f.blue)); strings.Join(got, ",") != strings.Join(ipsBefore, ",") {
		t.Errorf("healthy targets after restart = %v, want %v", got, ipsBefore)
	}
	ls, err := f2.client.DescribeListeners(ctx2, &elb.DescribeListenersInput{ListenerArns: []string{f.listener}})
	if err != nil {
		t.Fatalf("DescribeListeners: %v", err)
	}
	weights := map[string]int32{}
	for _, tg := range ls.Listeners[0].DefaultActions[0].ForwardConfig.TargetGroups {
		weights[aws.ToString(tg.TargetGroupArn)] = aws.ToInt32(tg.Weight)
	}
	if weights[f.blue] != 70 || weights[f.green] != 30 {
		t.Errorf("listener weights after restart = %v, want blue 70 green 30", weights)
	}
	imgs, err := ecr.NewFromConfig(h2.cfg).DescribeImages(ctx2, &ecr.DescribeImagesInput{RepositoryName: aws.String("web")})
	if err != nil || len(imgs.ImageDetails) != 1 || aws.ToString(imgs.ImageDetails[0].ImageDigest) != digest {
		t.Errorf("ECR images after restart = %+v, %v; want web:v1.0.0 %s", imgs, err, digest)
	}
	al, err := cloudwatch.NewFromConfig(h2.cfg).DescribeAlarms(ctx2, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"web-5xx"}})
	if err != nil || len(al.MetricAlarms) != 1 || al.MetricAlarms[0].StateValue != cwtypes.StateValueAlarm {
		t.Errorf("alarm after restart = %+v, %v; want web-5xx in ALARM", al, err)
	}
	as2 := applicationautoscaling.NewFromConfig(h2.cfg)
	st, err := as2.DescribeScalableTargets(ctx2, &applicationautoscaling.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceEcs})
	if err != nil || len(st.ScalableTargets) != 1 || aws.ToInt32(st.ScalableTargets[0].MaxCapacity) != 6 {
		t.Errorf("scalable targets after restart = %+v, %v", st, err)
	}
	pol, err := as2.DescribeScalingPolicies(ctx2, &applicationautoscaling.DescribeScalingPoliciesInput{ServiceNamespace: aastypes.ServiceNamespaceEcs})
	if err != nil || len(pol.ScalingPolicies) != 1 || aws.ToString(pol.ScalingPolicies[0].PolicyName) != "cpu" {
		t.Errorf("scaling policies after restart = %+v, %v", pol, err)
	}
	rr, err := route53.NewFromConfig(h2.cfg).ListResourceRecordSets(ctx2, &route53.ListResourceRecordSetsInput{HostedZoneId: hz.HostedZone.Id})
	found := false
	if err == nil {
		for _, r := range rr.ResourceRecordSets {
			found = found || (aws.ToString(r.SetIdentifier) == "blue" && aws.ToInt64(r.Weight) == 80)
		}
	}
	if !found {
		t.Errorf("weighted record after restart missing: %+v, %v", rr, err)
	}

	// The restored world keeps working: a rolling update to v2 completes
	// and replaces every task; new IDs do not collide with restored ones.
	v2 := h2.registerTD(ctx2, "web", "repo/web:v2")
	if aws.ToInt32(&v2.Revision) != 2 {
		t.Errorf("next revision after restart = %d, want 2", v2.Revision)
	}
	if _, err := h2.ecs.UpdateService(ctx2, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("web"), TaskDefinition: v2.TaskDefinitionArn}); err != nil {
		t.Fatalf("UpdateService after restart: %v", err)
	}
	h2.waitFor(ctx2, "the v2 rollout to complete", func() bool {
		s := h2.describe(ctx2, "prod", "web")
		return len(s.Deployments) == 1 && s.Deployments[0].RolloutState == ecstypes.DeploymentRolloutStateCompleted &&
			aws.ToString(s.TaskDefinition) == aws.ToString(v2.TaskDefinitionArn) && s.RunningCount == 3
	})
	if got := h2.taskIPs(ctx2, "web"); len(got) != 3 {
		t.Errorf("tasks after the v2 rollout = %v, want 3", got)
	}
}

func weighted(a string, wa int32, b string, wb int32) []elbtypes.Action {
	return []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, ForwardConfig: &elbtypes.ForwardActionConfig{TargetGroups: []elbtypes.TargetGroupTuple{
		{TargetGroupArn: aws.String(a), Weight: aws.Int32(wa)}, {TargetGroupArn: aws.String(b), Weight: aws.Int32(wb)}}}}}
}

// TestSaveLoadRelaunchesTasksInFlight: tasks still starting when the world
// is saved are not restored as such; the scheduler relaunches them, and
// the service reaches its desired count.
func TestSaveLoadRelaunchesTasksInFlight(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	h.fargateService(ctx, "dev", "api", "repo/api:v1", 2, true)
	var buf bytes.Buffer
	if err := h.emu.Save(&buf); err != nil { // at once: both tasks are PROVISIONING
		t.Fatal(err)
	}
	var st stateFile
	var ws worldState
	if err := json.Unmarshal(buf.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(st.ECS, &ws); err != nil {
		t.Fatal(err)
	}
	if n := len(ws.Clusters[0].Tasks); n != 0 {
		t.Fatalf("saved %d tasks that were not RUNNING, want 0", n)
	}
	h2, err := restartHarness(t, st.SavedAt, 1000, buf.Bytes())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	ctx2 := h2.ctx()
	h2.waitStable(ctx2, "dev", "api")
	if s := h2.describe(ctx2, "dev", "api"); s.RunningCount != 2 {
		t.Errorf("running after restart = %d, want 2", s.RunningCount)
	}
}

// TestLoadRefusesBadState: another format, another version, another
// account, a torn file or a dangling reference is refused with an error
// that says so, and the emulator is left as it was.
func TestLoadRefusesBadState(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	h.fargateService(ctx, "dev", "api", "repo/api:v1", 1, true)
	h.waitStable(ctx, "dev", "api")
	var buf bytes.Buffer
	if err := h.emu.Save(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	if !strings.Contains(good, `"service":"api"`) {
		t.Fatalf("the saved state has no running task of service api:\n%s", good)
	}
	tests := []struct {
		name, state, want string
		version           bool
	}{
		{"other version", strings.Replace(good, `"version":1,`, `"version":99,`, 1), "version 99, this build reads version 1", true},
		{"other format", strings.Replace(good, StateFormat, "something-else", 1), "not an emulator state file", true},
		{"other account", strings.Replace(good, `"accountId":"123456789012"`, `"accountId":"999999999999"`, 1), "account 999999999999", false},
		{"torn", good[:len(good)/2], "load emulator state", false},
		{"dangling service", strings.Replace(good, `"service":"api"`, `"service":"gone"`, 1), "service gone is not in cluster dev", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emu := New(Options{Clock: h.clock, Seed: 1})
			defer emu.Close()
			if _, err := emu.PushImage(ctx, "keep", "v1"); err != nil {
				t.Fatal(err)
			}
			err := emu.Load(strings.NewReader(tc.state))
			if err == nil {
				t.Fatalf("Load(%s) = nil, want an error", tc.name)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load(%s) = %v, want it to mention %q", tc.name, err, tc.want)
			}
			var ve *StateVersionError
			if errors.As(err, &ve) != tc.version {
				t.Errorf("Load(%s) = %v: StateVersionError %v, want %v", tc.name, err, !tc.version, tc.version)
			}
			if repos := emu.State().Repos; len(repos) != 1 || repos[0].Name != "keep" {
				t.Errorf("after a refused Load the world changed: repos %+v", repos)
			}
		})
	}
}

// FuzzLoad: any bytes given to Load are loaded or refused with an error,
// never a panic; a refused state leaves the world empty.
func FuzzLoad(f *testing.F) {
	clock := simclock.NewManual(testStart)
	emu := New(Options{Clock: clock, Seed: 3})
	emu.w.run(func() {
		_, _ = emu.w.createCluster(&ecs.CreateClusterInput{ClusterName: aws.String("dev")})
		_, _ = emu.w.pushImage("web", "v1")
	})
	var buf bytes.Buffer
	if err := emu.Save(&buf); err != nil {
		f.Fatal(err)
	}
	emu.Close()
	f.Add(buf.Bytes())
	f.Add([]byte(`{"format":"ecsflow-awsemu-state","version":1,"region":"us-east-1","accountId":"123456789012","ecs":{}}`))
	f.Add([]byte(`{"format":"ecsflow-awsemu-state","version":1,"region":"us-east-1","accountId":"123456789012","ecs":{"clusters":[{"name":"a","tasks":[{"id":"x"}]}]},"elbv2":{"version":1},"route53":{"version":1},"cloudwatch":{"version":1}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		emu := New(Options{Clock: clock, Seed: 3})
		defer emu.Close()
		if err := emu.Load(bytes.NewReader(b)); err != nil {
			if n := len(emu.State().Clusters); n != 0 {
				t.Fatalf("a refused Load left %d clusters", n)
			}
		}
	})
}
