package awsemu

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	sd "github.com/aws/aws-sdk-go-v2/service/servicediscovery"
	sdtypes "github.com/aws/aws-sdk-go-v2/service/servicediscovery/types"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func TestCircuitBreakerRollsBackCrashingImage(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	h.fargateService(ctx, "prod", "api", "repo/web:v1", 4, true)
	h.waitStable(ctx, "prod", "api")
	good := aws.ToString(h.describe(ctx, "prod", "api").TaskDefinition)

	if err := h.emu.SetFaultPlan(FaultPlan{Seed: 1, Rules: []FaultRule{{Image: "repo/web:crash*", Behavior: BehaviorCrash, AfterSeconds: 5}}}); err != nil {
		t.Fatalf("SetFaultPlan: %v", err)
	}
	bad := h.registerTD(ctx, "api", "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo/web:crash-1")
	up, err := h.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("api"), TaskDefinition: bad.TaskDefinitionArn})
	if err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	failedID := aws.ToString(up.Service.Deployments[0].Id)

	failed, ok := h.sink.Wait(ctx, func(ev Event) bool {
		if ev.DetailType != DetailTypeDeploymentStateChange {
			return false
		}
		m := detailOf(t, ev)
		return m["eventName"] == "SERVICE_DEPLOYMENT_FAILED" && m["deploymentId"] == failedID
	})
	if !ok {
		t.Fatalf("no SERVICE_DEPLOYMENT_FAILED for %s\nstate: %s", failedID, h.stateJSON())
	}
	if m := detailOf(t, failed); m["eventType"] != "ERROR" || !strings.Contains(m["reason"].(string), "circuit breaker") {
		t.Fatalf("failed event detail = %v", m)
	}
	// The rollback deployment completes and the service is stable on the good revision.
	h.waitStable(ctx, "prod", "api")
	svc := h.describe(ctx, "prod", "api")
	if aws.ToString(svc.TaskDefinition) != good {
		t.Fatalf("after rollback the service runs %s, want %s", aws.ToString(svc.TaskDefinition), good)
	}
	d := svc.Deployments[0]
	if !strings.Contains(aws.ToString(d.RolloutStateReason), "rolling back to deploymentId") && d.RolloutState != ecstypes.DeploymentRolloutStateCompleted {
		t.Fatalf("rollback deployment = %+v", d)
	}
	if _, ok := h.sink.Wait(ctx, func(ev Event) bool {
		if ev.DetailType != DetailTypeDeploymentStateChange {
			return false
		}
		m := detailOf(t, ev)
		return m["eventName"] == "SERVICE_DEPLOYMENT_IN_PROGRESS" && strings.Contains(m["reason"].(string), "rolling back")
	}); !ok {
		t.Fatal("no SERVICE_DEPLOYMENT_IN_PROGRESS event for the rollback")
	}
	// Stopped tasks of the failed revision carry their reason and exit code.
	st, err := h.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("prod"), DesiredStatus: ecstypes.DesiredStatusStopped, Family: aws.String("api")})
	if err != nil {
		t.Fatalf("ListTasks: %v", err)
	}
	dt, err := h.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("prod"), Tasks: st.TaskArns})
	if err != nil {
		t.Fatalf("DescribeTasks: %v", err)
	}
	crashed := 0
	for _, tk := range dt.Tasks {
		if aws.ToString(tk.TaskDefinitionArn) != aws.ToString(bad.TaskDefinitionArn) {
			continue
		}
		if tk.StopCode == ecstypes.TaskStopCodeEssentialContainerExited {
			crashed++
			if aws.ToString(tk.StoppedReason) != "Essential container in task exited" || aws.ToInt32(tk.Containers[0].ExitCode) != 1 {
				t.Errorf("crashed task: reason %q exit %v", aws.ToString(tk.StoppedReason), tk.Containers[0].ExitCode)
			}
		}
	}
	if crashed < 3 {
		t.Fatalf("crashed tasks of the bad revision = %d, want at least the threshold 3", crashed)
	}
	// The service deployment record says the rollback succeeded.
	lsd, err := h.ecs.ListServiceDeployments(ctx, &ecs.ListServiceDeploymentsInput{Cluster: aws.String("prod"), Service: aws.String("api")})
	if err != nil {
		t.Fatalf("ListServiceDeployments: %v", err)
	}
	if len(lsd.ServiceDeployments) != 2 || lsd.ServiceDeployments[0].Status != ecstypes.ServiceDeploymentStatusRollbackSuccessful {
		t.Fatalf("service deployments = %+v, want newest ROLLBACK_SUCCESSFUL", lsd.ServiceDeployments)
	}
	dsd, err := h.ecs.DescribeServiceDeployments(ctx, &ecs.DescribeServiceDeploymentsInput{ServiceDeploymentArns: []string{aws.ToString(lsd.ServiceDeployments[0].ServiceDeploymentArn)}})
	if err != nil || len(dsd.ServiceDeployments) != 1 {
		t.Fatalf("DescribeServiceDeployments: %v %+v", err, dsd)
	}
	if cb := dsd.ServiceDeployments[0].DeploymentCircuitBreaker; cb == nil || cb.FailureCount < 3 || cb.Threshold != 3 {
		t.Fatalf("circuit breaker = %+v, want failureCount >= 3 and threshold 3", cb)
	}
}

func TestFailureThreshold(t *testing.T) {
	for _, tc := range []struct {
		desired int32
		want    int
	}{{1, 3}, {4, 3}, {7, 4}, {10, 5}, {100, 50}, {1000, 200}} {
		if got := failureThreshold(tc.desired); got != tc.want {
			t.Errorf("failureThreshold(%d) = %d, want %d", tc.desired, got, tc.want)
		}
	}
}

func TestDaemonOneTaskPerInstance(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	if _, err := h.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("ec2")}); err != nil {
		t.Fatal(err)
	}
	register := func(id string) {
		doc := fmt.Sprintf(`{"instanceId":%q,"region":"us-east-1"}`, id)
		if _, err := h.ecs.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{Cluster: aws.String("ec2"), InstanceIdentityDocument: aws.String(doc)}); err != nil {
			t.Fatalf("RegisterContainerInstance: %v", err)
		}
	}
	for _, id := range []string{"i-1", "i-2", "i-3"} {
		register(id)
	}
	td, err := h.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("agent"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name: aws.String("agent"), Image: aws.String("repo/agent:1"), Memory: aws.Int32(128),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.ecs.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String("ec2"), ServiceName: aws.String("agent"), TaskDefinition: td.TaskDefinition.TaskDefinitionArn,
		SchedulingStrategy: ecstypes.SchedulingStrategyDaemon, LaunchType: ecstypes.LaunchTypeEc2,
	}); err != nil {
		t.Fatalf("CreateService DAEMON: %v", err)
	}
	h.waitStable(ctx, "ec2", "agent")
	perInstance := func() map[string]int {
		lt, err := h.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("ec2"), ServiceName: aws.String("agent")})
		if err != nil {
			t.Fatal(err)
		}
		dt, err := h.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("ec2"), Tasks: lt.TaskArns})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int{}
		for _, tk := range dt.Tasks {
			m[aws.ToString(tk.ContainerInstanceArn)]++
		}
		return m
	}
	m := perInstance()
	if len(m) != 3 {
		t.Fatalf("tasks on %d instances, want 3: %v", len(m), m)
	}
	for ci, n := range m {
		if n != 1 {
			t.Fatalf("instance %s runs %d tasks, want 1", ci, n)
		}
	}
	register("i-4")
	h.waitFor(ctx, "a task on the fourth instance", func() bool { return len(perInstance()) == 4 })
	h.waitStable(ctx, "ec2", "agent")
	if svc := h.describe(ctx, "ec2", "agent"); svc.DesiredCount != 4 || svc.RunningCount != 4 {
		t.Fatalf("daemon desired/running = %d/%d, want 4/4", svc.DesiredCount, svc.RunningCount)
	}
	_, err = h.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("ec2"), Service: aws.String("agent"), DesiredCount: aws.Int32(2)})
	var ipe *ecstypes.InvalidParameterException
	if !errors.As(err, &ipe) {
		t.Fatalf("setting desiredCount on a DAEMON service: %v, want InvalidParameterException", err)
	}
	// Removing an instance (forced) stops its daemon task and shrinks the service.
	lci, err := h.ecs.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String("ec2")})
	if err != nil || len(lci.ContainerInstanceArns) != 4 {
		t.Fatalf("ListContainerInstances: %v %v", err, lci)
	}
	_, err = h.ecs.DeregisterContainerInstance(ctx, &ecs.DeregisterContainerInstanceInput{Cluster: aws.String("ec2"), ContainerInstance: aws.String(lci.ContainerInstanceArns[3])})
	if !errors.As(err, &ipe) {
		t.Fatalf("deregistering a busy instance without force: %v, want InvalidParameterException", err)
	}
	if _, err := h.ecs.DeregisterContainerInstance(ctx, &ecs.DeregisterContainerInstanceInput{Cluster: aws.String("ec2"), ContainerInstance: aws.String(lci.ContainerInstanceArns[3]), Force: aws.Bool(true)}); err != nil {
		t.Fatalf("DeregisterContainerInstance force: %v", err)
	}
	h.waitFor(ctx, "the daemon to shrink to 3", func() bool {
		svc := h.describe(ctx, "ec2", "agent")
		return svc.DesiredCount == 3 && svc.RunningCount == 3 && len(perInstance()) == 3
	})
	_, err = h.ecs.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("ec2")})
	if err == nil || !strings.Contains(err.Error(), "ClusterContainsServicesException") {
		t.Fatalf("DeleteCluster with an active service: %v", err)
	}
}

func TestThrottlingRetriedAndTyped(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	if _, err := h.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("t")}); err != nil {
		t.Fatal(err)
	}
	if err := h.emu.SetFaultPlan(FaultPlan{Seed: 42, Rules: []FaultRule{{API: "ecs:DescribeClusters", ThrottleRate: 0.5}}}); err != nil {
		t.Fatal(err)
	}
	var attempts int
	retrying := ecs.NewFromConfig(h.cfg, func(o *ecs.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 12
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		})
		o.APIOptions = append(o.APIOptions, func(st *smithyMiddlewareStack) error { return countAttempts(st, &attempts) })
	})
	for i := 0; i < 20; i++ {
		if _, err := retrying.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"t"}}); err != nil {
			t.Fatalf("call %d with the standard retryer: %v", i, err)
		}
	}
	if attempts <= 20 {
		t.Fatalf("attempts = %d for 20 calls at throttle rate 0.5; the retryer absorbed nothing", attempts)
	}
	plain := ecs.NewFromConfig(h.cfg, func(o *ecs.Options) { o.Retryer = aws.NopRetryer{} })
	throttled := 0
	for i := 0; i < 20; i++ {
		_, err := plain.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"t"}})
		if err == nil {
			continue
		}
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ThrottlingException" {
			t.Fatalf("error %v, want ThrottlingException", err)
		}
		var re *smithyhttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusBadRequest {
			t.Fatalf("throttle status: %v", err)
		}
		if !(retry.ThrottleErrorCode{Codes: retry.DefaultThrottleErrorCodes}).IsErrorThrottle(err).Bool() {
			t.Fatalf("the SDK does not classify %v as a throttle", err)
		}
		throttled++
	}
	if throttled == 0 || throttled == 20 {
		t.Fatalf("throttled %d of 20 at rate 0.5", throttled)
	}
	h.emu.ClearFaults()
	if _, err := plain.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"t"}}); err != nil {
		t.Fatalf("after ClearFaults: %v", err)
	}
}

func TestECRPushEmitsImageAction(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	client := ecr.NewFromConfig(h.cfg)
	if _, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/web")}); err != nil {
		t.Fatalf("CreateRepository: %v", err)
	}
	_, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/web")})
	var exists *ecrtypes.RepositoryAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Fatalf("second CreateRepository: %v, want RepositoryAlreadyExistsException", err)
	}
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7,"digest":"sha256:00"},"layers":[]}`
	put, err := client.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("team/web"), ImageManifest: aws.String(manifest), ImageTag: aws.String("v1")})
	if err != nil {
		t.Fatalf("PutImage: %v", err)
	}
	digest := aws.ToString(put.Image.ImageId.ImageDigest)
	if !strings.HasPrefix(digest, "sha256:") || len(digest) != 71 {
		t.Fatalf("digest = %q", digest)
	}
	ev, ok := h.sink.Wait(ctx, func(ev Event) bool { return ev.DetailType == DetailTypeECRImageAction })
	if !ok {
		t.Fatal("no ECR Image Action event")
	}
	m := detailOf(t, ev)
	if ev.Source != "aws.ecr" || m["action-type"] != "PUSH" || m["result"] != "SUCCESS" || m["repository-name"] != "team/web" || m["image-tag"] != "v1" || m["image-digest"] != digest {
		t.Fatalf("ECR event = %s %v", ev.Source, m)
	}
	// The control-API push stores an image the SDK can read back.
	pushed, err := h.emu.PushImage(ctx, "team/web", "v2")
	if err != nil {
		t.Fatalf("PushImage: %v", err)
	}
	di, err := client.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/web")})
	if err != nil {
		t.Fatalf("DescribeImages: %v", err)
	}
	var tags []string
	for _, d := range di.ImageDetails {
		tags = append(tags, d.ImageTags...)
		if d.ImagePushedAt == nil || d.ImageSizeInBytes == nil {
			t.Errorf("image detail lacks pushedAt/size: %+v", d)
		}
	}
	sort.Strings(tags)
	if strings.Join(tags, ",") != "v1,v2" {
		t.Fatalf("tags = %v, want v1,v2", tags)
	}
	bg, err := client.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("team/web"), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v2")}, {ImageTag: aws.String("nope")}}})
	if err != nil {
		t.Fatalf("BatchGetImage: %v", err)
	}
	if len(bg.Images) != 1 || aws.ToString(bg.Images[0].ImageId.ImageDigest) != pushed || len(bg.Failures) != 1 || bg.Failures[0].FailureCode != ecrtypes.ImageFailureCodeImageNotFound {
		t.Fatalf("BatchGetImage = %+v failures %+v", bg.Images, bg.Failures)
	}
	li, err := client.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("team/web")})
	if err != nil || len(li.ImageIds) != 2 {
		t.Fatalf("ListImages: %v %+v", err, li)
	}
	del, err := client.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("team/web"), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	if err != nil || len(del.ImageIds) != 1 || aws.ToString(del.ImageIds[0].ImageDigest) != digest {
		t.Fatalf("BatchDeleteImage: %v %+v", err, del)
	}
	if li, err = client.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("team/web")}); err != nil || len(li.ImageIds) != 1 || aws.ToString(li.ImageIds[0].ImageTag) != "v2" {
		t.Fatalf("ListImages after delete: %v %+v", err, li)
	}
	auth, err := client.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil || len(auth.AuthorizationData) != 1 || auth.AuthorizationData[0].ExpiresAt == nil {
		t.Fatalf("GetAuthorizationToken: %v %+v", err, auth)
	}
	_, err = client.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"missing"}})
	var rnf *ecrtypes.RepositoryNotFoundException
	if !errors.As(err, &rnf) {
		t.Fatalf("DescribeRepositories missing: %v", err)
	}
}

func TestAutoScalingClampsDesiredCount(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	h.fargateService(ctx, "prod", "web", "repo/web:v1", 1, false)
	client := aas.NewFromConfig(h.cfg)
	_, err := client.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String("service/prod/web"),
		ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, MinCapacity: aws.Int32(3), MaxCapacity: aws.Int32(5),
	})
	if err != nil {
		t.Fatalf("RegisterScalableTarget: %v", err)
	}
	if got := h.describe(ctx, "prod", "web").DesiredCount; got != 3 {
		t.Fatalf("desired after registering min 3 = %d, want 3", got)
	}
	if _, err := h.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("web"), DesiredCount: aws.Int32(9)}); err != nil {
		t.Fatal(err)
	}
	if got := h.describe(ctx, "prod", "web").DesiredCount; got != 5 {
		t.Fatalf("desired after UpdateService 9 with max 5 = %d, want 5", got)
	}
	h.waitStable(ctx, "prod", "web")
	dst, err := client.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceEcs})
	if err != nil || len(dst.ScalableTargets) != 1 || aws.ToInt32(dst.ScalableTargets[0].MaxCapacity) != 5 {
		t.Fatalf("DescribeScalableTargets: %v %+v", err, dst)
	}
	pol, err := client.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{
		PolicyName: aws.String("cpu"), ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String("service/prod/web"),
		ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
		TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{
			TargetValue:                   aws.Float64(60),
			PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeECSServiceAverageCPUUtilization},
		},
	})
	if err != nil || aws.ToString(pol.PolicyARN) == "" || len(pol.Alarms) != 2 {
		t.Fatalf("PutScalingPolicy: %v %+v", err, pol)
	}
	dp, err := client.DescribeScalingPolicies(ctx, &aas.DescribeScalingPoliciesInput{ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String("service/prod/web")})
	if err != nil || len(dp.ScalingPolicies) != 1 || aws.ToFloat64(dp.ScalingPolicies[0].TargetTrackingScalingPolicyConfiguration.TargetValue) != 60 {
		t.Fatalf("DescribeScalingPolicies: %v %+v", err, dp)
	}
	if _, err := client.DeleteScalingPolicy(ctx, &aas.DeleteScalingPolicyInput{PolicyName: aws.String("cpu"), ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String("service/prod/web"), ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount}); err != nil {
		t.Fatalf("DeleteScalingPolicy: %v", err)
	}
	if _, err := client.DeregisterScalableTarget(ctx, &aas.DeregisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String("service/prod/web"), ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount}); err != nil {
		t.Fatalf("DeregisterScalableTarget: %v", err)
	}
	if _, err := h.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("web"), DesiredCount: aws.Int32(9)}); err != nil {
		t.Fatal(err)
	}
	if got := h.describe(ctx, "prod", "web").DesiredCount; got != 9 {
		t.Fatalf("desired after deregistering the target = %d, want 9", got)
	}
	_, err = client.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String("service/prod/missing"),
		ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(2),
	})
	var ve *aastypes.ValidationException
	if !errors.As(err, &ve) {
		t.Fatalf("RegisterScalableTarget for a missing service: %v, want ValidationException", err)
	}
}

func TestCloudMapInstancesFollowTasks(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	client := sd.NewFromConfig(h.cfg)
	ns, err := client.CreatePrivateDnsNamespace(ctx, &sd.CreatePrivateDnsNamespaceInput{Name: aws.String("svc.local"), Vpc: aws.String("vpc-1")})
	if err != nil {
		t.Fatalf("CreatePrivateDnsNamespace: %v", err)
	}
	op, err := client.GetOperation(ctx, &sd.GetOperationInput{OperationId: ns.OperationId})
	if err != nil || op.Operation.Status != sdtypes.OperationStatusSuccess {
		t.Fatalf("GetOperation: %v %+v", err, op)
	}
	nsID := op.Operation.Targets["NAMESPACE"]
	cs, err := client.CreateService(ctx, &sd.CreateServiceInput{
		Name: aws.String("web"), NamespaceId: aws.String(nsID),
		DnsConfig: &sdtypes.DnsConfig{DnsRecords: []sdtypes.DnsRecord{{Type: sdtypes.RecordTypeA, TTL: aws.Int64(10)}}},
	})
	if err != nil {
		t.Fatalf("CreateService: %v", err)
	}
	if _, err := h.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	td := h.registerTD(ctx, "web", "repo/web:v1")
	if _, err := h.ecs.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String("prod"), ServiceName: aws.String("web"), TaskDefinition: td.TaskDefinitionArn, DesiredCount: aws.Int32(3),
		LaunchType:           ecstypes.LaunchTypeFargate,
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}},
		ServiceRegistries:    []ecstypes.ServiceRegistry{{RegistryArn: cs.Service.Arn}},
	}); err != nil {
		t.Fatalf("ECS CreateService with a registry: %v", err)
	}
	h.waitStable(ctx, "prod", "web")
	runningIDs := func() []string {
		lt, err := h.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("prod"), ServiceName: aws.String("web")})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range lt.TaskArns {
			ids = append(ids, lastSegment(a))
		}
		sort.Strings(ids)
		return ids
	}
	instanceIDs := func() []string {
		li, err := client.ListInstances(ctx, &sd.ListInstancesInput{ServiceId: cs.Service.Id})
		if err != nil {
			t.Fatalf("ListInstances: %v", err)
		}
		var ids []string
		for _, in := range li.Instances {
			ids = append(ids, aws.ToString(in.Id))
			if in.Attributes["AWS_INSTANCE_IPV4"] == "" || in.Attributes["ECS_SERVICE_NAME"] != "web" {
				t.Errorf("instance attributes = %v", in.Attributes)
			}
		}
		sort.Strings(ids)
		return ids
	}
	if got, want := instanceIDs(), runningIDs(); strings.Join(got, ",") != strings.Join(want, ",") || len(got) != 3 {
		t.Fatalf("Cloud Map instances %v, running tasks %v", got, want)
	}
	// Scale in: the instances follow.
	if _, err := h.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("web"), DesiredCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	h.waitStable(ctx, "prod", "web")
	if got, want := instanceIDs(), runningIDs(); strings.Join(got, ",") != strings.Join(want, ",") || len(got) != 1 {
		t.Fatalf("after scale-in: Cloud Map instances %v, running tasks %v", got, want)
	}
	// DiscoverInstances (the SDK's data- host prefix is disabled for loopback).
	di, err := client.DiscoverInstances(ctx, &sd.DiscoverInstancesInput{NamespaceName: aws.String("svc.local"), ServiceName: aws.String("web")}, func(o *sd.Options) {
		o.APIOptions = append(o.APIOptions, disableHostPrefix)
	})
	if err != nil || len(di.Instances) != 1 || di.Instances[0].HealthStatus != sdtypes.HealthStatusHealthy {
		t.Fatalf("DiscoverInstances: %v %+v", err, di)
	}
	_, err = client.GetService(ctx, &sd.GetServiceInput{Id: aws.String("srv-missing")})
	var snf *sdtypes.ServiceNotFound
	if !errors.As(err, &snf) {
		t.Fatalf("GetService missing: %v, want ServiceNotFound", err)
	}
}

var _ = context.Background

func TestEC2PlacementWaitsForInstances(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	if _, err := h.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("ec2")}); err != nil {
		t.Fatal(err)
	}
	td, err := h.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("api"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name: aws.String("api"), Image: aws.String("repo/api:1"), Memory: aws.Int32(256),
			PortMappings: []ecstypes.PortMapping{{ContainerPort: aws.Int32(8080)}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.ecs.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("ec2"), ServiceName: aws.String("api"), TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(2)}); err != nil {
		t.Fatalf("CreateService (EC2 by default): %v", err)
	}
	if _, ok := h.sink.Wait(ctx, func(ev Event) bool {
		return ev.DetailType == DetailTypeServiceAction && detailOf(t, ev)["eventName"] == "SERVICE_TASK_PLACEMENT_FAILURE"
	}); !ok {
		t.Fatal("no SERVICE_TASK_PLACEMENT_FAILURE without container instances")
	}
	svc := h.describe(ctx, "ec2", "api")
	if svc.LaunchType != ecstypes.LaunchTypeEc2 || svc.RunningCount != 0 || !strings.Contains(aws.ToString(svc.Events[0].Message), "unable to place a task") {
		t.Fatalf("service without instances: launch %s running %d events %+v", svc.LaunchType, svc.RunningCount, svc.Events)
	}
	for _, id := range []string{"i-a", "i-b"} {
		if _, err := h.ecs.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{Cluster: aws.String("ec2"), InstanceIdentityDocument: aws.String(`{"instanceId":"` + id + `"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	h.waitFor(ctx, "tasks placed on the new instances", func() bool { return h.describe(ctx, "ec2", "api").RunningCount == 2 })
	lt, err := h.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("ec2"), ServiceName: aws.String("api")})
	if err != nil {
		t.Fatal(err)
	}
	dt, err := h.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("ec2"), Tasks: lt.TaskArns})
	if err != nil {
		t.Fatal(err)
	}
	spread := map[string]bool{}
	for _, tk := range dt.Tasks {
		spread[aws.ToString(tk.ContainerInstanceArn)] = true
		if len(tk.Containers[0].NetworkBindings) != 1 || aws.ToInt32(tk.Containers[0].NetworkBindings[0].HostPort) < 32768 {
			t.Errorf("bridge-mode task lacks a dynamic host port: %+v", tk.Containers[0].NetworkBindings)
		}
	}
	if len(spread) != 2 {
		t.Fatalf("2 tasks on %d instances, want spread over 2", len(spread))
	}
}

func TestEC2PlacementRespectsResources(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	if _, err := h.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("small")}); err != nil {
		t.Fatal(err)
	}
	small := []ecstypes.Resource{
		{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: 1024},
		{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: 2048},
	}
	reg := func(id string) string {
		out, err := h.ecs.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{Cluster: aws.String("small"), InstanceIdentityDocument: aws.String(`{"instanceId":"` + id + `"}`), TotalResources: small})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ContainerInstance.ContainerInstanceArn)
	}
	first := reg("i-small-1")
	td, err := h.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("big"), Cpu: aws.String("256"), Memory: aws.String("1024"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("big"), Image: aws.String("repo/big:1")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.ecs.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("small"), ServiceName: aws.String("big"), TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(3), LaunchType: ecstypes.LaunchTypeEc2}); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.sink.Wait(ctx, func(ev Event) bool {
		return ev.DetailType == DetailTypeServiceAction && detailOf(t, ev)["eventName"] == "SERVICE_TASK_PLACEMENT_FAILURE"
	}); !ok {
		t.Fatal("the third task found room on a full instance")
	}
	h.waitFor(ctx, "two tasks running", func() bool { return h.describe(ctx, "small", "big").RunningCount == 2 })
	ci, err := h.ecs.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String("small"), ContainerInstances: []string{first}})
	if err != nil {
		t.Fatal(err)
	}
	if got := resource(ci.ContainerInstances[0].RemainingResources, "MEMORY"); got != 0 {
		t.Fatalf("remaining memory on the full instance = %d, want 0", got)
	}
	if got := resource(ci.ContainerInstances[0].RemainingResources, "CPU"); got != 512 {
		t.Fatalf("remaining CPU on the full instance = %d, want 512", got)
	}
	reg("i-small-2")
	h.waitFor(ctx, "the third task on the new instance", func() bool { return h.describe(ctx, "small", "big").RunningCount == 3 })
}

// A fault rule written for a tag also hits a task definition that pins
// that push to its digest, as deployments started by a trigger do.
func TestImageFaultByTagHitsDigestPinnedImage(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	h.fargateService(ctx, "prod", "api", "repo/web:v1", 3, true)
	h.waitStable(ctx, "prod", "api")
	good := aws.ToString(h.describe(ctx, "prod", "api").TaskDefinition)

	digest, err := h.emu.PushImage(ctx, "repo/web", "v2-broken")
	if err != nil {
		t.Fatalf("PushImage: %v", err)
	}
	if err := h.emu.SetFaultPlan(FaultPlan{Seed: 1, Rules: []FaultRule{{Image: "repo/web:v2-broken", Behavior: BehaviorCrash, AfterSeconds: 2}}}); err != nil {
		t.Fatalf("SetFaultPlan: %v", err)
	}
	pinned := h.registerTD(ctx, "api", "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo/web@"+digest)
	up, err := h.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("api"), TaskDefinition: pinned.TaskDefinitionArn})
	if err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	failedID := aws.ToString(up.Service.Deployments[0].Id)
	if _, ok := h.sink.Wait(ctx, func(ev Event) bool {
		m := detailOf(t, ev)
		return ev.DetailType == DetailTypeDeploymentStateChange && m["eventName"] == "SERVICE_DEPLOYMENT_FAILED" && m["deploymentId"] == failedID
	}); !ok {
		t.Fatalf("the digest-pinned image of a faulted tag did not crash: no SERVICE_DEPLOYMENT_FAILED for %s\nstate: %s", failedID, h.stateJSON())
	}
	h.waitStable(ctx, "prod", "api")
	if got := aws.ToString(h.describe(ctx, "prod", "api").TaskDefinition); got != good {
		t.Fatalf("after the circuit breaker the service runs %s, want %s", got, good)
	}
}
