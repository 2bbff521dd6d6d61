package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsflow/ecsflow/internal/localstack"
)

// exampleWorld creates the dev side of examples/ecsflow.yaml in the
// emulator (cluster, ALB, stable and canary target groups, listener, alarm)
// and returns the example with the emulator's ARNs in place of its own, and
// its trigger disabled so that pushes do not start the pipeline.
func exampleWorld(t *testing.T, s *localstack.Stack) string {
	t.Helper()
	ctx := context.Background()
	cfg := s.AWSConfig()
	if _, err := ecs.NewFromConfig(cfg).CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("dev")}); err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	lbc := elb.NewFromConfig(cfg)
	lb, err := lbc.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("dev-shop"), Subnets: []string{"subnet-0dev0001", "subnet-0dev0002"}})
	if err != nil {
		t.Fatalf("CreateLoadBalancer: %v", err)
	}
	var tgs []string
	for _, n := range []string{"dev-web-stable", "dev-web-canary"} {
		tg, err := lbc.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String(n), Protocol: elbtypes.ProtocolEnumHttp,
			Port: aws.Int32(8080), VpcId: aws.String("vpc-1"), TargetType: elbtypes.TargetTypeEnumIp,
			HealthCheckIntervalSeconds: aws.Int32(6), HealthCheckTimeoutSeconds: aws.Int32(5), HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2)})
		if err != nil {
			t.Fatalf("CreateTargetGroup: %v", err)
		}
		tgs = append(tgs, aws.ToString(tg.TargetGroups[0].TargetGroupArn))
	}
	l, err := lbc.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn,
		Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(tgs[0])}}})
	if err != nil {
		t.Fatalf("CreateListener: %v", err)
	}
	if _, err := cloudwatch.NewFromConfig(cfg).PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("dev-web-5xx"),
		Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("HTTPCode_Target_5XX_Count"), Statistic: cwtypes.StatisticSum,
		Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(5),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold}); err != nil {
		t.Fatalf("PutMetricAlarm: %v", err)
	}
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "ecsflow.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := strings.NewReplacer(
		"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/dev-web-stable/1a2b3c4d5e6f7a8b", tgs[0],
		"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/dev-web-canary/8b7a6f5e4d3c2b1a", tgs[1],
		"arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/dev-shop/0123456789abcdef/1111111111111111", aws.ToString(l.Listeners[0].ListenerArn),
		"pipelineId: web-release\n", "pipelineId: web-release\n        disabled: true\n",
	).Replace(string(src))
	if out == string(src) {
		t.Fatal("the example's ARNs were not found to replace")
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
	c.must("apply", "-f", exampleWorld(t, s))
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
