package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsflow/ecsflow/internal/localstack"
	"github.com/ecsflow/ecsflow/internal/model"
)

// exampleWorld creates the world of examples/ecsflow.yaml in the emulator
// (per environment: cluster, ALB, two target groups, listeners, alarm) and
// returns a copy of the example with the emulator's ARNs in place of its
// own and, when asked, its trigger disabled (pushes start no pipeline).
func exampleWorld(t *testing.T, s *localstack.Stack, disableTrigger bool) string {
	t.Helper()
	ctx := context.Background()
	cfg := s.AWSConfig()
	lbc := elb.NewFromConfig(cfg)
	const arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
	var pairs []string
	for _, env := range []struct {
		name, alarm, stable, canary, prod, test string
	}{
		{"dev", "dev-web-5xx", "targetgroup/dev-web-stable/1a2b3c4d5e6f7a8b", "targetgroup/dev-web-canary/8b7a6f5e4d3c2b1a",
			"listener/app/dev-shop/0123456789abcdef/1111111111111111", ""},
		{"prod", "prod-web-5xx", "targetgroup/prod-web-blue/0123456789abcdef", "targetgroup/prod-web-green/fedcba9876543210",
			"listener/app/prod-shop/0123456789abcdef/2222222222222222", "listener/app/prod-shop/0123456789abcdef/3333333333333333"},
	} {
		if _, err := ecs.NewFromConfig(cfg).CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(env.name)}); err != nil {
			t.Fatalf("CreateCluster: %v", err)
		}
		lb, err := lbc.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String(env.name + "-shop"), Subnets: []string{"subnet-1", "subnet-2"}})
		if err != nil {
			t.Fatalf("CreateLoadBalancer: %v", err)
		}
		var tgs []string
		for _, n := range []string{env.name + "-web-a", env.name + "-web-b"} {
			tg, err := lbc.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String(n), Protocol: elbtypes.ProtocolEnumHttp,
				Port: aws.Int32(8080), VpcId: aws.String("vpc-1"), TargetType: elbtypes.TargetTypeEnumIp,
				HealthCheckIntervalSeconds: aws.Int32(6), HealthCheckTimeoutSeconds: aws.Int32(5), HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2)})
			if err != nil {
				t.Fatalf("CreateTargetGroup: %v", err)
			}
			tgs = append(tgs, aws.ToString(tg.TargetGroups[0].TargetGroupArn))
		}
		pairs = append(pairs, arn+env.stable, tgs[0], arn+env.canary, tgs[1])
		for i, l := range []string{env.prod, env.test} {
			if l == "" {
				continue
			}
			got, err := lbc.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn,
				Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(int32(80 + i)),
				DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(tgs[i])}}})
			if err != nil {
				t.Fatalf("CreateListener: %v", err)
			}
			pairs = append(pairs, arn+l, aws.ToString(got.Listeners[0].ListenerArn))
		}
		if _, err := cloudwatch.NewFromConfig(cfg).PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String(env.alarm),
			Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("HTTPCode_Target_5XX_Count"), Statistic: cwtypes.StatisticSum,
			Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(5),
			ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold}); err != nil {
			t.Fatalf("PutMetricAlarm: %v", err)
		}
	}
	if disableTrigger {
		pairs = append(pairs, "pipelineId: web-release\n", "pipelineId: web-release\n        disabled: true\n")
	}
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "ecsflow.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := string(src)
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(out, pairs[i]) {
			t.Fatalf("the example lacks %s", pairs[i])
		}
		out = strings.ReplaceAll(out, pairs[i], pairs[i+1])
	}
	path := filepath.Join(t.TempDir(), "ecsflow.yaml")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestExampleCanaryShowsPhasesAndWeights deploys the example's web service
// to dev twice; the second deployment is the 3-phase canary, and the
// watch shows its phases, counts and traffic weights.
func TestExampleCanaryShowsPhasesAndWeights(t *testing.T) {
	c, s := newCLI(t)
	c.must("apply", "-f", exampleWorld(t, s, true))
	c.must("push", "web:v1.0.0")
	c.must("push", "web:v1.1.0")
	out := c.must("deploy", "shop/web", "--env", "dev", "--image", "v1.0.0", "--watch")
	if !strings.Contains(out, "SUCCEEDED after") {
		t.Fatalf("first deployment:\n%s", out)
	}
	out = c.must("deploy", "shop/web", "--env", "dev", "--image", "v1.1.0", "--watch")
	t.Logf("canary:\n%s", out)
	for _, re := range []string{
		`STATE +RUNNING  phase 1/3  step \d+/\d+  new 1 old 2  traffic new 10% old 90%`,
		`STATE +RUNNING  phase 2/3  step \d+/\d+  new 1 old 2  traffic new 50% old 50%`,
		`STATE +SUCCEEDED  phase 3/3  step 14/14  new 2 old 0  traffic new 100% old 0%`,
		`TRAFFIC`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("canary watch lacks %s", re)
		}
	}
}

// TestExamplePipelineFromPushThroughApprovalToProd: a push of web:v1.0.0
// starts the example's pipeline through its trigger; it deploys dev, waits
// for approval, is approved from the CLI, and deploys prod.
func TestExamplePipelineFromPushThroughApprovalToProd(t *testing.T) {
	c, s := newCLI(t)
	c.must("apply", "-f", exampleWorld(t, s, false))
	c.must("push", "web:v1.0.0")
	var id string
	deadline := time.Now().Add(20 * time.Second)
	for id == "" && time.Now().Before(deadline) {
		var xs []model.PipelineExecution
		if err := json.Unmarshal([]byte(c.must("pipeline", "list", "shop/web-release", "-o", "json")), &xs); err != nil {
			t.Fatal(err)
		}
		if len(xs) > 0 {
			id = xs[0].ID
		}
		time.Sleep(20 * time.Millisecond)
	}
	if id == "" {
		t.Fatal("the push started no pipeline execution")
	}
	for time.Now().Before(deadline) {
		var x model.PipelineExecution
		if err := json.Unmarshal([]byte(c.must("pipeline", "status", id, "-o", "json")), &x); err != nil {
			t.Fatal(err)
		}
		if x.Status == model.PipelineWaitingApproval {
			break
		}
		if x.Status.Final() {
			t.Fatalf("pipeline ended %s before its approval: %s", x.Status, c.must("pipeline", "status", id))
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := c.must("pipeline", "status", id)
	t.Logf("at the approval:\n%s", st)
	if !regexp.MustCompile(`dev +WORKFLOW +SUCCEEDED  deployment dep-\S+ SUCCEEDED`).MatchString(st) ||
		!regexp.MustCompile(`approve-prod +APPROVAL +WAITING_APPROVAL`).MatchString(st) {
		t.Fatalf("pipeline status at the approval:\n%s", st)
	}
	if out := c.must("approve", id, "--comment", "dev looks good"); !strings.Contains(out, "approve accepted: pipeline execution "+id) {
		t.Errorf("approve: %s", out)
	}
	out, err := c.run("pipeline", "status", id, "--watch")
	t.Logf("pipeline status --watch:\n%s", out)
	if err != nil {
		t.Fatalf("pipeline status --watch: %v", err)
	}
	for _, re := range []string{`approve-prod +APPROVAL +SUCCEEDED  approved by \S+ \(dev looks good\)`,
		`prod +WORKFLOW +SUCCEEDED  deployment dep-\S+ SUCCEEDED`, `pipeline execution ` + id + ` SUCCEEDED`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("pipeline watch lacks %s", re)
		}
	}
	if _, err := c.run("rollback", id); err == nil || !strings.Contains(err.Error(), "can only be approved or rejected") {
		t.Errorf("rollback of a pipeline execution: %v", err)
	}
}
