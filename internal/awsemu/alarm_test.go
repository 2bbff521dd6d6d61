package awsemu

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// TestAlarmFaultFailsWatchingDeployment: a fault plan drives a CloudWatch
// alarm to ALARM; a deployment that watches it through
// deploymentConfiguration.alarms fails and rolls back, and the alarm's
// state change is an EventBridge event.
func TestAlarmFaultFailsWatchingDeployment(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	cw := cloudwatch.NewFromConfig(h.cfg)
	if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String("web-5xx"), MetricName: aws.String("HTTPCode_Target_5XX_Count"), Namespace: aws.String("AWS/ApplicationELB"),
		Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(5),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
	}); err != nil {
		t.Fatalf("PutMetricAlarm: %v", err)
	}
	if _, err := h.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	v1 := h.registerTD(ctx, "web", "repo/web:v1")
	if _, err := h.ecs.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String("prod"), ServiceName: aws.String("web"), TaskDefinition: v1.TaskDefinitionArn, DesiredCount: aws.Int32(2),
		LaunchType:           ecstypes.LaunchTypeFargate,
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}},
		DeploymentConfiguration: &ecstypes.DeploymentConfiguration{
			Alarms: &ecstypes.DeploymentAlarms{AlarmNames: []string{"web-5xx"}, Enable: true, Rollback: true},
		},
	}); err != nil {
		t.Fatal(err)
	}
	h.waitStable(ctx, "prod", "web")
	// v2 starts slowly, so its deployment is still in progress when the
	// alarm fires 60 simulated seconds after the second plan is set (tasks
	// keep the behaviour they started with when a plan is replaced).
	slow := FaultRule{Image: "*:slow*", Behavior: BehaviorSlowStart, AfterSeconds: 3600}
	if err := h.emu.SetFaultPlan(FaultPlan{Seed: 4, Rules: []FaultRule{slow}}); err != nil {
		t.Fatal(err)
	}
	v2 := h.registerTD(ctx, "web", "repo/web:slow-2")
	up, err := h.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("web"), TaskDefinition: v2.TaskDefinitionArn})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.emu.SetFaultPlan(FaultPlan{Seed: 4, Rules: []FaultRule{slow, {Alarm: "web-5xx", State: "ALARM", AtSeconds: 60}}}); err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(up.Service.Deployments[0].Id)
	alarmEv, ok := h.sink.Wait(ctx, func(ev Event) bool { return ev.DetailType == DetailTypeAlarmStateChange })
	if !ok {
		t.Fatal("no CloudWatch Alarm State Change event")
	}
	if m := detailOf(t, alarmEv); m["alarmName"] != "web-5xx" || m["state"].(map[string]any)["value"] != "ALARM" || alarmEv.Source != "aws.cloudwatch" {
		t.Fatalf("alarm event = %s %v", alarmEv.Source, m)
	}
	failed, ok := h.sink.Wait(ctx, func(ev Event) bool {
		return ev.DetailType == DetailTypeDeploymentStateChange && detailOf(t, ev)["eventName"] == "SERVICE_DEPLOYMENT_FAILED" && detailOf(t, ev)["deploymentId"] == id
	})
	if !ok {
		t.Fatalf("the watching deployment did not fail\nstate: %s", h.stateJSON())
	}
	if r := detailOf(t, failed)["reason"].(string); !strings.Contains(r, "web-5xx") {
		t.Fatalf("failure reason %q does not name the alarm", r)
	}
	h.waitStable(ctx, "prod", "web")
	if svc := h.describe(ctx, "prod", "web"); aws.ToString(svc.TaskDefinition) != aws.ToString(v1.TaskDefinitionArn) {
		t.Fatalf("after the alarm rollback the service runs %s, want %s", aws.ToString(svc.TaskDefinition), aws.ToString(v1.TaskDefinitionArn))
	}
	da, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"web-5xx"}})
	if err != nil || len(da.MetricAlarms) != 1 || da.MetricAlarms[0].StateValue != cwtypes.StateValueAlarm {
		t.Fatalf("DescribeAlarms: %v %+v", err, da)
	}
}
