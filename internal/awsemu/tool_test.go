package awsemu

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// TestIndependentToolWithEndpointURL plays an unmodified deployment tool:
// it configures the SDK only through the environment (AWS_ENDPOINT_URL),
// then registers a task definition, updates a service, waits with the
// SDK's waiter and inspects the result.
func TestIndependentToolWithEndpointURL(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	h.fargateService(ctx, "prod", "web", "repo/web:v1", 3, true)

	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL":            h.srv.URL,
		"AWS_ACCESS_KEY_ID":           "AKIDTOOL",
		"AWS_SECRET_ACCESS_KEY":       "tool-secret",
		"AWS_REGION":                  "us-east-1",
		"AWS_CONFIG_FILE":             empty,
		"AWS_SHARED_CREDENTIALS_FILE": empty,
		"AWS_PROFILE":                 "",
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatalf("LoadDefaultConfig: %v", err)
	}
	tool := ecs.NewFromConfig(cfg)

	// The tool copies the current task definition with a new image.
	svcOut, err := tool.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("prod"), Services: []string{"web"}})
	if err != nil {
		t.Fatalf("DescribeServices: %v", err)
	}
	cur, err := tool.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: svcOut.Services[0].TaskDefinition, Include: []ecstypes.TaskDefinitionField{ecstypes.TaskDefinitionFieldTags}})
	if err != nil {
		t.Fatalf("DescribeTaskDefinition: %v", err)
	}
	cds := cur.TaskDefinition.ContainerDefinitions
	cds[0].Image = aws.String("repo/web:v2")
	reg, err := tool.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: cur.TaskDefinition.Family, ContainerDefinitions: cds, Cpu: cur.TaskDefinition.Cpu, Memory: cur.TaskDefinition.Memory,
		NetworkMode: cur.TaskDefinition.NetworkMode, RequiresCompatibilities: cur.TaskDefinition.RequiresCompatibilities,
	})
	if err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	if reg.TaskDefinition.Revision != cur.TaskDefinition.Revision+1 {
		t.Fatalf("new revision = %d, want %d", reg.TaskDefinition.Revision, cur.TaskDefinition.Revision+1)
	}
	if _, err := tool.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("web"), TaskDefinition: reg.TaskDefinition.TaskDefinitionArn}); err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	waiter := ecs.NewServicesStableWaiter(tool, func(o *ecs.ServicesStableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, 50*time.Millisecond
	})
	if err := waiter.Wait(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("prod"), Services: []string{"web"}}, 15*time.Second); err != nil {
		t.Fatalf("waiter: %v", err)
	}
	got, err := tool.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web")})
	if err != nil || aws.ToString(got.TaskDefinition.ContainerDefinitions[0].Image) != "repo/web:v2" {
		t.Fatalf("DescribeTaskDefinition latest: %v %+v", err, got)
	}
	lt, err := tool.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("prod"), ServiceName: aws.String("web")})
	if err != nil || len(lt.TaskArns) != 3 {
		t.Fatalf("ListTasks: %v %v", err, lt)
	}
	dt, err := tool.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("prod"), Tasks: lt.TaskArns})
	if err != nil {
		t.Fatalf("DescribeTasks: %v", err)
	}
	for _, tk := range dt.Tasks {
		if aws.ToString(tk.TaskDefinitionArn) != aws.ToString(reg.TaskDefinition.TaskDefinitionArn) || tk.StartedAt == nil || tk.PullStartedAt == nil || tk.Containers[0].RuntimeId == nil {
			t.Errorf("task %s is not a running v2 task: %+v", aws.ToString(tk.TaskArn), tk)
		}
	}
	// The per-service variable takes precedence, as the SDK documents.
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL_ECS", h.srv.URL)
	cfg2, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ecs.NewFromConfig(cfg2).ListClusters(ctx, &ecs.ListClustersInput{}); err != nil {
		t.Fatalf("ListClusters via AWS_ENDPOINT_URL_ECS: %v", err)
	}
}

func TestTaskSetsForExternalController(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	if _, err := h.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ecs.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String("prod"), ServiceName: aws.String("ext"), DesiredCount: aws.Int32(4),
		DeploymentController: &ecstypes.DeploymentController{Type: ecstypes.DeploymentControllerTypeExternal},
	}); err != nil {
		t.Fatalf("CreateService EXTERNAL: %v", err)
	}
	v1 := h.registerTD(ctx, "ext", "repo/ext:v1")
	v2 := h.registerTD(ctx, "ext", "repo/ext:v2")
	nc := &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}}
	blue, err := h.ecs.CreateTaskSet(ctx, &ecs.CreateTaskSetInput{Cluster: aws.String("prod"), Service: aws.String("ext"), TaskDefinition: v1.TaskDefinitionArn, LaunchType: ecstypes.LaunchTypeFargate, NetworkConfiguration: nc, Scale: &ecstypes.Scale{Unit: ecstypes.ScaleUnitPercent, Value: 100}, ExternalId: aws.String("blue")})
	if err != nil {
		t.Fatalf("CreateTaskSet: %v", err)
	}
	if s := aws.ToString(blue.TaskSet.Status); s != "PRIMARY" || blue.TaskSet.ComputedDesiredCount != 4 {
		t.Fatalf("first task set: status %s computed %d", s, blue.TaskSet.ComputedDesiredCount)
	}
	green, err := h.ecs.CreateTaskSet(ctx, &ecs.CreateTaskSetInput{Cluster: aws.String("prod"), Service: aws.String("ext"), TaskDefinition: v2.TaskDefinitionArn, LaunchType: ecstypes.LaunchTypeFargate, NetworkConfiguration: nc, Scale: &ecstypes.Scale{Unit: ecstypes.ScaleUnitPercent, Value: 50}, ExternalId: aws.String("green")})
	if err != nil {
		t.Fatalf("CreateTaskSet green: %v", err)
	}
	steadyBoth := func() bool {
		out, err := h.ecs.DescribeTaskSets(ctx, &ecs.DescribeTaskSetsInput{Cluster: aws.String("prod"), Service: aws.String("ext")})
		if err != nil {
			t.Fatal(err)
		}
		for _, ts := range out.TaskSets {
			if ts.StabilityStatus != ecstypes.StabilityStatusSteadyState || ts.RunningCount != ts.ComputedDesiredCount {
				return false
			}
		}
		return len(out.TaskSets) == 2
	}
	h.waitFor(ctx, "both task sets steady", steadyBoth)
	if svc := h.describe(ctx, "prod", "ext"); svc.RunningCount != 6 || len(svc.TaskSets) != 2 {
		t.Fatalf("service running %d with %d task sets, want 6 and 2", svc.RunningCount, len(svc.TaskSets))
	}
	if _, err := h.ecs.UpdateServicePrimaryTaskSet(ctx, &ecs.UpdateServicePrimaryTaskSetInput{Cluster: aws.String("prod"), Service: aws.String("ext"), PrimaryTaskSet: green.TaskSet.TaskSetArn}); err != nil {
		t.Fatalf("UpdateServicePrimaryTaskSet: %v", err)
	}
	if _, err := h.ecs.UpdateTaskSet(ctx, &ecs.UpdateTaskSetInput{Cluster: aws.String("prod"), Service: aws.String("ext"), TaskSet: green.TaskSet.TaskSetArn, Scale: &ecstypes.Scale{Unit: ecstypes.ScaleUnitPercent, Value: 100}}); err != nil {
		t.Fatalf("UpdateTaskSet: %v", err)
	}
	if _, err := h.ecs.DeleteTaskSet(ctx, &ecs.DeleteTaskSetInput{Cluster: aws.String("prod"), Service: aws.String("ext"), TaskSet: blue.TaskSet.TaskSetArn}); err != nil {
		t.Fatalf("DeleteTaskSet: %v", err)
	}
	h.waitFor(ctx, "blue drained and green at 4", func() bool {
		out, err := h.ecs.DescribeTaskSets(ctx, &ecs.DescribeTaskSetsInput{Cluster: aws.String("prod"), Service: aws.String("ext")})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.TaskSets) == 1 && aws.ToString(out.TaskSets[0].Status) == "PRIMARY" && out.TaskSets[0].RunningCount == 4
	})
	svc := h.describe(ctx, "prod", "ext")
	if aws.ToString(svc.TaskDefinition) != aws.ToString(v2.TaskDefinitionArn) {
		t.Fatalf("service task definition = %s, want the primary task set's %s", aws.ToString(svc.TaskDefinition), aws.ToString(v2.TaskDefinitionArn))
	}
	_, err = h.ecs.UpdateTaskSet(ctx, &ecs.UpdateTaskSetInput{Cluster: aws.String("prod"), Service: aws.String("ext"), TaskSet: blue.TaskSet.TaskSetArn, Scale: &ecstypes.Scale{Unit: ecstypes.ScaleUnitPercent, Value: 10}})
	var tsnf *ecstypes.TaskSetNotFoundException
	if !errors.As(err, &tsnf) {
		t.Fatalf("UpdateTaskSet on a deleted task set: %v, want TaskSetNotFoundException", err)
	}
	// Task sets on an ECS-controlled service are refused.
	h.fargateService(ctx, "prod", "plain", "repo/x:1", 1, false)
	_, err = h.ecs.CreateTaskSet(ctx, &ecs.CreateTaskSetInput{Cluster: aws.String("prod"), Service: aws.String("plain"), TaskDefinition: v1.TaskDefinitionArn, LaunchType: ecstypes.LaunchTypeFargate, NetworkConfiguration: nc})
	var ipe *ecstypes.InvalidParameterException
	if !errors.As(err, &ipe) {
		t.Fatalf("CreateTaskSet on an ECS service: %v, want InvalidParameterException", err)
	}
}

func TestRunStopTaskAndTags(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	if _, err := h.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("batch")}); err != nil {
		t.Fatal(err)
	}
	td := h.registerTD(ctx, "job", "repo/job:1")
	run, err := h.ecs.RunTask(ctx, &ecs.RunTaskInput{
		Cluster: aws.String("batch"), TaskDefinition: aws.String("job"), Count: aws.Int32(2), LaunchType: ecstypes.LaunchTypeFargate,
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}},
		StartedBy:            aws.String("nightly"), Tags: []ecstypes.Tag{{Key: aws.String("team"), Value: aws.String("data")}},
	})
	if err != nil || len(run.Tasks) != 2 {
		t.Fatalf("RunTask: %v %+v", err, run)
	}
	if aws.ToString(run.Tasks[0].LastStatus) != "PROVISIONING" || aws.ToString(run.Tasks[0].Group) != "family:job" {
		t.Fatalf("new task = %s group %s", aws.ToString(run.Tasks[0].LastStatus), aws.ToString(run.Tasks[0].Group))
	}
	arn := aws.ToString(run.Tasks[0].TaskArn)
	h.waitFor(ctx, "the task to run", func() bool {
		dt, err := h.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("batch"), Tasks: []string{arn}})
		return err == nil && aws.ToString(dt.Tasks[0].LastStatus) == "RUNNING"
	})
	lt, err := h.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("batch"), StartedBy: aws.String("nightly")})
	if err != nil || len(lt.TaskArns) != 2 {
		t.Fatalf("ListTasks startedBy: %v %v", err, lt)
	}
	if _, err := h.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("batch"), Task: aws.String(arn), Reason: aws.String("operator said so")}); err != nil {
		t.Fatalf("StopTask: %v", err)
	}
	h.waitFor(ctx, "the task to stop", func() bool {
		dt, err := h.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("batch"), Tasks: []string{arn}})
		return err == nil && aws.ToString(dt.Tasks[0].LastStatus) == "STOPPED"
	})
	dt, err := h.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("batch"), Tasks: []string{arn, "0123456789abcdef0123456789abcdef"}, Include: []ecstypes.TaskField{ecstypes.TaskFieldTags}})
	if err != nil {
		t.Fatal(err)
	}
	tk := dt.Tasks[0]
	if tk.StopCode != ecstypes.TaskStopCodeUserInitiated || aws.ToString(tk.StoppedReason) != "operator said so" || tk.StoppedAt == nil || aws.ToInt32(tk.Containers[0].ExitCode) != 0 {
		t.Fatalf("stopped task: %s %q %v", tk.StopCode, aws.ToString(tk.StoppedReason), tk.StoppedAt)
	}
	if len(tk.Tags) != 1 || aws.ToString(tk.Tags[0].Value) != "data" {
		t.Fatalf("task tags = %+v", tk.Tags)
	}
	if len(dt.Failures) != 1 || aws.ToString(dt.Failures[0].Reason) != "MISSING" {
		t.Fatalf("failures = %+v, want one MISSING", dt.Failures)
	}
	// Tags on a task definition.
	if _, err := h.ecs.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: td.TaskDefinitionArn, Tags: []ecstypes.Tag{{Key: aws.String("owner"), Value: aws.String("me")}}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	tags, err := h.ecs.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: td.TaskDefinitionArn})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "owner" {
		t.Fatalf("ListTagsForResource: %v %+v", err, tags)
	}
	_, err = h.ecs.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:ecs:us-east-1:123456789012:service/batch/none")})
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("ListTagsForResource on a missing resource: %v", err)
	}
	// Deregistered revisions leave the ACTIVE list.
	if _, err := h.ecs.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: td.TaskDefinitionArn}); err != nil {
		t.Fatal(err)
	}
	ltd, err := h.ecs.ListTaskDefinitions(ctx, &ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String("job")})
	if err != nil || len(ltd.TaskDefinitionArns) != 0 {
		t.Fatalf("ListTaskDefinitions after deregister: %v %v", err, ltd)
	}
}
