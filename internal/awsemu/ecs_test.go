package awsemu

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

func TestRollingUpdateServicesStableWaiter(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	h.fargateService(ctx, "prod", "web", "repo/web:v1", 4, true)
	h.waitStable(ctx, "prod", "web")

	td2 := h.registerTD(ctx, "web", "repo/web:v2")
	up, err := h.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("web"), TaskDefinition: td2.TaskDefinitionArn})
	if err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	if got := len(up.Service.Deployments); got != 2 {
		t.Fatalf("deployments right after UpdateService = %d, want 2 (PRIMARY and ACTIVE)", got)
	}
	newID := aws.ToString(up.Service.Deployments[0].Id)
	if s := aws.ToString(up.Service.Deployments[0].Status); s != "PRIMARY" {
		t.Fatalf("first deployment status = %q, want PRIMARY", s)
	}
	h.waitStable(ctx, "prod", "web")

	svc := h.describe(ctx, "prod", "web")
	if len(svc.Deployments) != 1 {
		t.Fatalf("deployments after stable = %d, want 1", len(svc.Deployments))
	}
	d := svc.Deployments[0]
	if aws.ToString(d.Id) != newID || d.RolloutState != ecstypes.DeploymentRolloutStateCompleted || d.RunningCount != 4 {
		t.Fatalf("deployment = %s %s running %d, want %s COMPLETED running 4", aws.ToString(d.Id), d.RolloutState, d.RunningCount, newID)
	}
	if aws.ToString(svc.TaskDefinition) != aws.ToString(td2.TaskDefinitionArn) {
		t.Fatalf("service task definition = %s, want %s", aws.ToString(svc.TaskDefinition), aws.ToString(td2.TaskDefinitionArn))
	}
	var sawSteady bool
	for _, ev := range svc.Events {
		if strings.Contains(aws.ToString(ev.Message), "has reached a steady state") {
			sawSteady = true
		}
	}
	if !sawSteady {
		t.Fatalf("service events lack a steady-state message: %+v", svc.Events)
	}

	// The running tasks are all on the new revision.
	lt, err := h.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("prod"), ServiceName: aws.String("web")})
	if err != nil {
		t.Fatalf("ListTasks: %v", err)
	}
	if len(lt.TaskArns) != 4 {
		t.Fatalf("running tasks = %d, want 4", len(lt.TaskArns))
	}
	dt, err := h.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("prod"), Tasks: lt.TaskArns})
	if err != nil {
		t.Fatalf("DescribeTasks: %v", err)
	}
	for _, tk := range dt.Tasks {
		if aws.ToString(tk.TaskDefinitionArn) != aws.ToString(td2.TaskDefinitionArn) || aws.ToString(tk.LastStatus) != "RUNNING" {
			t.Errorf("task %s: %s %s, want RUNNING on %s", aws.ToString(tk.TaskArn), aws.ToString(tk.TaskDefinitionArn), aws.ToString(tk.LastStatus), aws.ToString(td2.TaskDefinitionArn))
		}
	}
	// The replaced tasks stopped with a scheduler reason.
	st, err := h.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("prod"), ServiceName: aws.String("web"), DesiredStatus: ecstypes.DesiredStatusStopped})
	if err != nil {
		t.Fatalf("ListTasks STOPPED: %v", err)
	}
	if len(st.TaskArns) != 4 {
		t.Fatalf("stopped tasks = %d, want 4", len(st.TaskArns))
	}
	ds, err := h.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("prod"), Tasks: st.TaskArns})
	if err != nil {
		t.Fatalf("DescribeTasks stopped: %v", err)
	}
	for _, tk := range ds.Tasks {
		if tk.StopCode != ecstypes.TaskStopCodeServiceSchedulerInitiated || !strings.Contains(aws.ToString(tk.StoppedReason), "Scaling activity") {
			t.Errorf("stopped task %s: stopCode %s reason %q", aws.ToString(tk.TaskArn), tk.StopCode, aws.ToString(tk.StoppedReason))
		}
	}
	// Deployment state change events for the new deployment.
	if _, ok := h.sink.Wait(ctx, func(ev Event) bool {
		return ev.DetailType == DetailTypeDeploymentStateChange && detailOf(t, ev)["eventName"] == "SERVICE_DEPLOYMENT_COMPLETED" && detailOf(t, ev)["deploymentId"] == newID
	}); !ok {
		t.Fatal("no SERVICE_DEPLOYMENT_COMPLETED event")
	}
	var names []string
	for _, ev := range h.sink.Events() {
		if ev.DetailType != DetailTypeDeploymentStateChange {
			continue
		}
		m := detailOf(t, ev)
		if m["deploymentId"] == newID {
			names = append(names, m["eventName"].(string))
		}
	}
	if strings.Join(names, ",") != "SERVICE_DEPLOYMENT_IN_PROGRESS,SERVICE_DEPLOYMENT_COMPLETED" {
		t.Fatalf("deployment events for %s = %v", newID, names)
	}
}

func TestECSErrorsAreTyped(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	_, err := h.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("nope"), Services: []string{"x"}})
	var cnf *ecstypes.ClusterNotFoundException
	if !errors.As(err, &cnf) {
		t.Fatalf("DescribeServices on a missing cluster: %v, want ClusterNotFoundException", err)
	}
	if _, err := h.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("c")}); err != nil {
		t.Fatal(err)
	}
	_, err = h.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("ghost"), DesiredCount: aws.Int32(1)})
	var snf *ecstypes.ServiceNotFoundException
	if !errors.As(err, &snf) {
		t.Fatalf("UpdateService on a missing service: %v, want ServiceNotFoundException", err)
	}
	_, err = h.ecs.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("c"), ServiceName: aws.String("bad name!"), TaskDefinition: aws.String("x")})
	var ipe *ecstypes.InvalidParameterException
	if !errors.As(err, &ipe) {
		t.Fatalf("CreateService with a bad name: %v, want InvalidParameterException", err)
	}
	// CreateService is idempotent for the same client token, not otherwise.
	tdx := h.registerTD(ctx, "tok", "repo/x:1")
	create := func(token string) (*ecs.CreateServiceOutput, error) {
		return h.ecs.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("c"), ServiceName: aws.String("tok"), TaskDefinition: tdx.TaskDefinitionArn,
			DesiredCount: aws.Int32(0), LaunchType: ecstypes.LaunchTypeFargate, ClientToken: aws.String(token),
			NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"s"}}}})
	}
	first, err := create("tok-1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := create("tok-1")
	if err != nil || aws.ToString(again.Service.ServiceArn) != aws.ToString(first.Service.ServiceArn) {
		t.Fatalf("retried CreateService with the same token: %v", err)
	}
	if _, err := create("tok-2"); !errors.As(err, &ipe) || !strings.Contains(err.Error(), "not idempotent") {
		t.Fatalf("CreateService with another token: %v, want InvalidParameterException (not idempotent)", err)
	}
	h.fargateService(ctx, "c", "gone", "repo/x:1", 0, false)
	if _, err := h.ecs.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String("c"), Service: aws.String("gone")}); err != nil {
		t.Fatalf("DeleteService: %v", err)
	}
	inactive := ecs.NewServicesInactiveWaiter(h.ecs, func(o *ecs.ServicesInactiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
	})
	if err := inactive.Wait(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"gone"}}, 10*time.Second); err != nil {
		t.Fatalf("ServicesInactive waiter: %v", err)
	}
	_, err = h.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("gone"), DesiredCount: aws.Int32(1)})
	var sna *ecstypes.ServiceNotActiveException
	if !errors.As(err, &sna) {
		t.Fatalf("UpdateService on a deleted service: %v, want ServiceNotActiveException", err)
	}
	h.fargateService(ctx, "c", "huge", "repo/x:1", 1, false)
	_, err = h.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("huge"), DesiredCount: aws.Int32(1 << 30)})
	if !errors.As(err, &ipe) {
		t.Fatalf("UpdateService to 2^30 tasks: %v, want InvalidParameterException", err)
	}
	_, err = h.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("missing:3")})
	var ce *ecstypes.ClientException
	if !errors.As(err, &ce) {
		t.Fatalf("DescribeTaskDefinition missing: %v, want ClientException", err)
	}
}
