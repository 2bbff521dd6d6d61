package awsemu

import (
	"context"
	"errors"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

type elbFixture struct {
	client      *elb.Client
	listener    string
	blue, green string
}

func (h *harness) elbFixture(ctx context.Context) elbFixture {
	h.t.Helper()
	c := elb.NewFromConfig(h.cfg)
	lb, err := c.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("web"), Subnets: []string{"subnet-1", "subnet-2"}})
	if err != nil {
		h.t.Fatalf("CreateLoadBalancer: %v", err)
	}
	mkTG := func(name string) string {
		out, err := c.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
			Name: aws.String(name), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(8080), VpcId: aws.String("vpc-1"),
			TargetType: elbtypes.TargetTypeEnumIp, HealthCheckIntervalSeconds: aws.Int32(10), HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2),
		})
		if err != nil {
			h.t.Fatalf("CreateTargetGroup: %v", err)
		}
		arn := aws.ToString(out.TargetGroups[0].TargetGroupArn)
		if _, err := c.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{
			TargetGroupArn: aws.String(arn), Attributes: []elbtypes.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("600")}},
		}); err != nil {
			h.t.Fatalf("ModifyTargetGroupAttributes: %v", err)
		}
		return arn
	}
	f := elbFixture{client: c, blue: mkTG("blue"), green: mkTG("green")}
	ls, err := c.CreateListener(ctx, &elb.CreateListenerInput{
		LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, ForwardConfig: &elbtypes.ForwardActionConfig{
			TargetGroups: []elbtypes.TargetGroupTuple{{TargetGroupArn: aws.String(f.blue), Weight: aws.Int32(100)}, {TargetGroupArn: aws.String(f.green), Weight: aws.Int32(0)}},
		}}},
	})
	if err != nil {
		h.t.Fatalf("CreateListener: %v", err)
	}
	f.listener = aws.ToString(ls.Listeners[0].ListenerArn)
	return f
}

func (h *harness) lbService(ctx context.Context, name, image, tg string, desired, grace int32) {
	h.t.Helper()
	td := h.registerTD(ctx, name, image)
	if _, err := h.ecs.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String("prod"), ServiceName: aws.String(name), TaskDefinition: td.TaskDefinitionArn, DesiredCount: aws.Int32(desired),
		LaunchType:                    ecstypes.LaunchTypeFargate,
		NetworkConfiguration:          &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}},
		LoadBalancers:                 []ecstypes.LoadBalancer{{TargetGroupArn: aws.String(tg), ContainerName: aws.String("app"), ContainerPort: aws.Int32(8080)}},
		HealthCheckGracePeriodSeconds: aws.Int32(grace),
		DeploymentConfiguration:       &ecstypes.DeploymentConfiguration{DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{Enable: true, Rollback: true}},
	}); err != nil {
		h.t.Fatalf("CreateService %s: %v", name, err)
	}
}

func (h *harness) targetStates(ctx context.Context, c *elb.Client, tg string) map[string]string {
	h.t.Helper()
	out, err := c.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)})
	if err != nil {
		h.t.Fatalf("DescribeTargetHealth: %v", err)
	}
	m := map[string]string{}
	for _, d := range out.TargetHealthDescriptions {
		m[aws.ToString(d.Target.Id)] = string(d.TargetHealth.State)
	}
	return m
}

func (h *harness) taskIPs(ctx context.Context, svc string) []string {
	h.t.Helper()
	lt, err := h.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("prod"), ServiceName: aws.String(svc)})
	if err != nil {
		h.t.Fatal(err)
	}
	if len(lt.TaskArns) == 0 {
		return nil
	}
	dt, err := h.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("prod"), Tasks: lt.TaskArns})
	if err != nil {
		h.t.Fatal(err)
	}
	var ips []string
	for _, tk := range dt.Tasks {
		for _, kv := range tk.Attachments[0].Details {
			if aws.ToString(kv.Name) == "privateIPv4Address" {
				ips = append(ips, aws.ToString(kv.Value))
			}
		}
	}
	sort.Strings(ips)
	return ips
}

func healthyIDs(m map[string]string) []string {
	var ids []string
	for id, st := range m {
		if st == "healthy" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func TestELBWeightsAndTargetHealth(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	if _, err := h.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	f := h.elbFixture(ctx)
	h.lbService(ctx, "blue", "repo/web:v1", f.blue, 2, 30)
	// Green's long grace period keeps failing targets visible as unhealthy
	// for several simulated minutes before ECS replaces the tasks.
	h.lbService(ctx, "green", "repo/web:v2", f.green, 2, 600)
	h.waitStable(ctx, "prod", "blue")
	h.waitStable(ctx, "prod", "green")

	// DescribeTargetHealth shows exactly the running tasks, healthy. (The
	// waiter alone does not promise that: a first deployment has a single
	// deployment from the start, so it is "stable" once tasks run.)
	for svc, tg := range map[string]string{"blue": f.blue, "green": f.green} {
		h.waitFor(ctx, svc+" targets healthy", func() bool { return len(healthyIDs(h.targetStates(ctx, f.client, tg))) == 2 })
		if got, want := healthyIDs(h.targetStates(ctx, f.client, tg)), h.taskIPs(ctx, svc); strings.Join(got, ",") != strings.Join(want, ",") || len(got) != 2 {
			t.Fatalf("%s healthy targets %v, task IPs %v", svc, got, want)
		}
	}
	share := h.emu.ELB().TrafficShare(f.listener)
	if share[f.blue] != 1 || share[f.green] != 0 {
		t.Fatalf("traffic at 100/0 = %v", share)
	}
	// Weights move traffic.
	shift := func(blue, green int32) {
		if _, err := f.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: aws.String(f.listener), DefaultActions: []elbtypes.Action{{
			Type: elbtypes.ActionTypeEnumForward, ForwardConfig: &elbtypes.ForwardActionConfig{TargetGroups: []elbtypes.TargetGroupTuple{
				{TargetGroupArn: aws.String(f.blue), Weight: aws.Int32(blue)}, {TargetGroupArn: aws.String(f.green), Weight: aws.Int32(green)},
			}},
		}}}); err != nil {
			t.Fatalf("ModifyListener: %v", err)
		}
	}
	shift(20, 80)
	share = h.emu.ELB().TrafficShare(f.listener)
	if math.Abs(share[f.blue]-0.2) > 1e-9 || math.Abs(share[f.green]-0.8) > 1e-9 {
		t.Fatalf("traffic at 20/80 = %v", share)
	}
	// Scaling blue in drains one target for the deregistration delay.
	if _, err := h.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("blue"), DesiredCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	h.waitFor(ctx, "a draining blue target", func() bool {
		for _, st := range h.targetStates(ctx, f.client, f.blue) {
			if st == "draining" {
				return true
			}
		}
		return false
	})
	h.waitStable(ctx, "prod", "blue")
	h.waitFor(ctx, "the drained target to leave", func() bool { return len(h.targetStates(ctx, f.client, f.blue)) == 1 })
	if got := h.targetStates(ctx, f.client, f.blue); len(got) != 1 || len(healthyIDs(got)) != 1 {
		t.Fatalf("blue targets after scale-in = %v, want one healthy", got)
	}
	// A green revision that fails the ELB health check: its targets go
	// unhealthy, the tasks are stopped with the ELB reason, and the circuit
	// breaker rolls green back, while traffic stays with healthy targets.
	if err := h.emu.SetFaultPlan(FaultPlan{Seed: 5, Rules: []FaultRule{{Image: "*:sick*", Behavior: BehaviorELBUnhealthy}}}); err != nil {
		t.Fatal(err)
	}
	sick := h.registerTD(ctx, "green", "repo/web:sick-1")
	if _, err := h.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("green"), TaskDefinition: sick.TaskDefinitionArn}); err != nil {
		t.Fatal(err)
	}
	h.waitFor(ctx, "an unhealthy green target", func() bool {
		for _, st := range h.targetStates(ctx, f.client, f.green) {
			if st == "unhealthy" {
				return true
			}
		}
		return false
	})
	if _, ok := h.sink.Wait(ctx, func(ev Event) bool {
		if ev.DetailType != DetailTypeTaskStateChange {
			return false
		}
		m := detailOf(t, ev)
		r, _ := m["stoppedReason"].(string)
		return m["lastStatus"] == "STOPPED" && strings.HasPrefix(r, "Task failed ELB health checks in (target-group "+f.green)
	}); !ok {
		t.Fatalf("no task stopped for failing ELB health checks\nstate: %s", h.stateJSON())
	}
	if _, ok := h.sink.Wait(ctx, func(ev Event) bool {
		return ev.DetailType == DetailTypeDeploymentStateChange && detailOf(t, ev)["eventName"] == "SERVICE_DEPLOYMENT_FAILED"
	}); !ok {
		t.Fatal("no SERVICE_DEPLOYMENT_FAILED for the sick revision")
	}
	h.waitStable(ctx, "prod", "green")
	if got, want := healthyIDs(h.targetStates(ctx, f.client, f.green)), h.taskIPs(ctx, "green"); strings.Join(got, ",") != strings.Join(want, ",") || len(got) != 2 {
		t.Fatalf("green after rollback: healthy targets %v, task IPs %v", got, want)
	}
	shift(0, 100)
	if share := h.emu.ELB().TrafficShare(f.listener); share[f.green] != 1 {
		t.Fatalf("traffic at 0/100 = %v", share)
	}
	// A target group without a load balancer is refused, as ECS does.
	lone, err := f.client.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String("lone"), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String("vpc-1"), TargetType: elbtypes.TargetTypeEnumIp})
	if err != nil {
		t.Fatal(err)
	}
	td := h.registerTD(ctx, "lone", "repo/web:v1")
	_, err = h.ecs.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String("prod"), ServiceName: aws.String("lone"), TaskDefinition: td.TaskDefinitionArn, DesiredCount: aws.Int32(1), LaunchType: ecstypes.LaunchTypeFargate,
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}},
		LoadBalancers:        []ecstypes.LoadBalancer{{TargetGroupArn: lone.TargetGroups[0].TargetGroupArn, ContainerName: aws.String("app"), ContainerPort: aws.Int32(8080)}},
	})
	var ipe *ecstypes.InvalidParameterException
	if !errors.As(err, &ipe) || !strings.Contains(err.Error(), "does not have an associated load balancer") {
		t.Fatalf("CreateService with a lone target group: %v", err)
	}
	// ELBv2's own typed errors come through the dispatcher.
	_, err = f.client.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(f.blue + "x")})
	var tgnf *elbtypes.TargetGroupNotFoundException
	if !errors.As(err, &tgnf) {
		t.Fatalf("DescribeTargetHealth on a missing group: %v, want TargetGroupNotFoundException", err)
	}
}
