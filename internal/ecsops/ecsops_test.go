package ecsops_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/ecsops/ecsopstest"
)

func taskDef(family, image string) *ecs.RegisterTaskDefinitionInput {
	return &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(family), NetworkMode: ecstypes.NetworkModeAwsvpc,
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		Cpu:                     aws.String("256"), Memory: aws.String("512"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("web"), Image: aws.String(image), Essential: aws.Bool(true),
			PortMappings: []ecstypes.PortMapping{{ContainerPort: aws.Int32(8080)}},
			HealthCheck:  &ecstypes.HealthCheck{Command: []string{"CMD-SHELL", "curl -f localhost:8080/"}, Interval: aws.Int32(5)}}},
		Tags: []ecstypes.Tag{{Key: aws.String(ecsops.TagDeploymentID), Value: aws.String("dep-1")}},
	}
}

func createInput(td string, token string) *ecs.CreateServiceInput {
	return &ecs.CreateServiceInput{
		Cluster: aws.String("prod"), ServiceName: aws.String("web"), TaskDefinition: aws.String(td),
		DesiredCount: aws.Int32(2), LaunchType: ecstypes.LaunchTypeFargate, ClientToken: aws.String(token),
		NetworkConfiguration:    &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}},
		DeploymentConfiguration: &ecstypes.DeploymentConfiguration{DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{Enable: true, Rollback: true}},
		Tags:                    []ecstypes.Tag{{Key: aws.String(ecsops.TagDeploymentID), Value: aws.String(token)}},
	}
}

func waitState(t *testing.T, c *ecsops.Clients, td string, want ecsops.Steadiness) ecsops.SteadyState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := c.CheckSteady(context.Background(), "prod", "web", td)
		if err != nil {
			t.Fatalf("CheckSteady: %v", err)
		}
		if st.State == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("state = %+v, want %s", st, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRegisterTaskDefinitionIsIdempotentPerDeployment(t *testing.T) {
	w := ecsopstest.New(t, ecsopstest.Options{})
	ctx := context.Background()
	first, created, err := w.Clients.RegisterTaskDefinition(ctx, "dep-1", taskDef("web-prod", "web:1"))
	if err != nil || !created {
		t.Fatalf("first register: created=%v err=%v", created, err)
	}
	again, created, err := w.Clients.RegisterTaskDefinition(ctx, "dep-1", taskDef("web-prod", "web:1"))
	if err != nil {
		t.Fatalf("retried register: %v", err)
	}
	if created || aws.ToString(again.TaskDefinitionArn) != aws.ToString(first.TaskDefinitionArn) {
		t.Fatalf("retried register: created=%v arn=%s, want the same revision %s", created, aws.ToString(again.TaskDefinitionArn), aws.ToString(first.TaskDefinitionArn))
	}
	other := taskDef("web-prod", "web:2")
	other.Tags[0].Value = aws.String("dep-2")
	next, created, err := w.Clients.RegisterTaskDefinition(ctx, "dep-2", other)
	if err != nil || !created || next.Revision != first.Revision+1 {
		t.Fatalf("another deployment: created=%v revision=%d err=%v, want revision %d", created, next.Revision, err, first.Revision+1)
	}
}

func TestCreateServiceRetryReturnsTheSameServiceAndRolloutBecomesSteady(t *testing.T) {
	w := ecsopstest.New(t, ecsopstest.Options{})
	w.Cluster(t, "prod")
	ctx := context.Background()
	counter := ecsops.NewCounter()
	cctx := ecsops.WithCounter(ctx, counter)
	td, _, err := w.Clients.RegisterTaskDefinition(cctx, "dep-1", taskDef("web-prod", "web:1"))
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(td.TaskDefinitionArn)
	s1, err := w.Clients.CreateService(cctx, createInput(arn, "dep-1"))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	s2, err := w.Clients.CreateService(cctx, createInput(arn, "dep-1"))
	if err != nil {
		t.Fatalf("retried create: %v", err)
	}
	if aws.ToString(s1.ServiceArn) != aws.ToString(s2.ServiceArn) {
		t.Fatalf("retried create returned %s, want %s", aws.ToString(s2.ServiceArn), aws.ToString(s1.ServiceArn))
	}
	if _, err := w.Clients.CreateService(cctx, createInput(arn, "dep-other")); err == nil {
		t.Fatal("create by another deployment succeeded, want an error")
	}
	// The emulator honours clientToken like ECS; only the create with
	// another token falls back to a describe, which finds another owner.
	got := counter.Counts()
	for op, n := range map[string]int64{"ecs:RegisterTaskDefinition": 1, "ecs:DescribeTaskDefinition": 1, "ecs:CreateService": 3, "ecs:DescribeServices": 1} {
		if got[op] != n {
			t.Errorf("count %s = %d, want %d (all: %v)", op, got[op], n, got)
		}
	}
	st := waitState(t, w.Clients, arn, ecsops.Steady)
	if st.Running != 2 || st.Desired != 2 {
		t.Fatalf("steady state %+v, want 2 of 2", st)
	}
}

func TestCheckSteadyReportsCircuitBreakerRollbackAsFailed(t *testing.T) {
	w := ecsopstest.New(t, ecsopstest.Options{})
	w.Cluster(t, "prod")
	ctx := context.Background()
	good, _, _ := w.Clients.RegisterTaskDefinition(ctx, "dep-1", taskDef("web-prod", "web:good"))
	if _, err := w.Clients.CreateService(ctx, createInput(aws.ToString(good.TaskDefinitionArn), "dep-1")); err != nil {
		t.Fatal(err)
	}
	waitState(t, w.Clients, aws.ToString(good.TaskDefinitionArn), ecsops.Steady)
	if err := w.Emu.SetFaultPlan(awsemu.FaultPlan{Rules: []awsemu.FaultRule{{Image: "*:bad", Behavior: awsemu.BehaviorCrash, AfterSeconds: 1}}}); err != nil {
		t.Fatal(err)
	}
	bad, _, _ := w.Clients.RegisterTaskDefinition(ctx, "dep-2", taskDef("web-prod", "web:bad"))
	badARN := aws.ToString(bad.TaskDefinitionArn)
	if _, err := w.Clients.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("web"), TaskDefinition: aws.String(badARN)}); err != nil {
		t.Fatal(err)
	}
	st := waitState(t, w.Clients, badARN, ecsops.Failed)
	if st.Reason == "" {
		t.Fatalf("failed state without a reason: %+v", st)
	}
}

func TestAlarmsFiringNamesAlarmsInAlarmAndRefusesUnknownOnes(t *testing.T) {
	w := ecsopstest.New(t, ecsopstest.Options{})
	w.Alarm(t, "web-5xx")
	w.Alarm(t, "web-latency")
	ctx := context.Background()
	got, err := w.Clients.AlarmsFiring(ctx, []string{"web-5xx", "web-latency"})
	if err != nil || len(got) != 0 {
		t.Fatalf("AlarmsFiring = %v, %v; want none", got, err)
	}
	w.SetAlarm(t, "web-latency", cwtypes.StateValueAlarm)
	got, err = w.Clients.AlarmsFiring(ctx, []string{"web-5xx", "web-latency"})
	if err != nil || len(got) != 1 || got[0] != "web-latency" {
		t.Fatalf("AlarmsFiring = %v, %v; want [web-latency]", got, err)
	}
	_, err = w.Clients.AlarmsFiring(ctx, []string{"web-5xx", "nope"})
	if !errors.Is(err, ecsops.ErrUnknownAlarms) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown alarm: err = %v, want ErrUnknownAlarms naming nope", err)
	}
}

func TestThrottledCallsAreRetriedBySDK(t *testing.T) {
	w := ecsopstest.New(t, ecsopstest.Options{})
	if err := w.Emu.SetFaultPlan(awsemu.FaultPlan{Seed: 3, Rules: []awsemu.FaultRule{{API: "ecs:DescribeTaskDefinition", ThrottleRate: 0.3}}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, _, err := w.Clients.RegisterTaskDefinition(ctx, "dep-1", taskDef("web-prod", "web:1")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, _, err := w.Clients.RegisterTaskDefinition(ctx, "dep-1", taskDef("web-prod", "web:1")); err != nil {
			t.Fatalf("call %d under 30%% throttling: %v", i, err)
		}
	}
}

// TestAssumesTheCloudProviderRoleWithExternalID runs the AWS path: the
// factory asks STS for the role with the external ID, caches the
// credentials, and signs ECS calls with them.
func TestAssumesTheCloudProviderRoleWithExternalID(t *testing.T) {
	w := ecsopstest.New(t, ecsopstest.Options{})
	var assumes atomic.Int32
	var lastAssume atomic.Value
	var ecsKeys atomic.Value
	front := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), "Action=AssumeRole") {
			assumes.Add(1)
			lastAssume.Store(string(body))
			rw.Header().Set("Content-Type", "text/xml")
			exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			_, _ = io.WriteString(rw, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>`+
				`<Credentials><AccessKeyId>ASIAASSUMED</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>tok</SessionToken>`+
				`<Expiration>`+exp+`</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::210987654321:assumed-role/deployer/ecsflow</Arn>`+
				`<AssumedRoleId>AROA:ecsflow</AssumedRoleId></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleResponse>`)
			return
		}
		ecsKeys.Store(r.Header.Get("Authorization"))
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		w.Emu.ServeHTTP(rw, r)
	}))
	defer front.Close()
	base := aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(front.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIALAMBDA", "s", "")}
	f := ecsops.NewFactory(base)
	c, err := f.Clients(context.Background(), ecsops.Target{Region: "us-east-1", RoleARN: "arn:aws:iam::210987654321:role/deployer", ExternalID: "ext-42"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := c.ECS.ListClusters(context.Background(), &ecs.ListClustersInput{}); err != nil {
			t.Fatalf("ListClusters: %v", err)
		}
	}
	if n := assumes.Load(); n != 1 {
		t.Fatalf("AssumeRole called %d times, want 1 (cached)", n)
	}
	req, _ := lastAssume.Load().(string)
	for _, want := range []string{"ExternalId=ext-42", "RoleArn=arn%3Aaws%3Aiam%3A%3A210987654321%3Arole%2Fdeployer", "RoleSessionName=ecsflow"} {
		if !strings.Contains(req, want) {
			t.Errorf("AssumeRole request %q lacks %q", req, want)
		}
	}
	if auth, _ := ecsKeys.Load().(string); !strings.Contains(auth, "Credential=ASIAASSUMED/") {
		t.Fatalf("ECS call signed with %q, want the assumed credentials", auth)
	}
	c2, _ := f.Clients(context.Background(), ecsops.Target{Region: "us-east-1", RoleARN: "arn:aws:iam::210987654321:role/deployer", ExternalID: "ext-42"})
	if c2 != c {
		t.Fatal("the factory built new clients for the same target")
	}
	if _, err := f.Clients(context.Background(), ecsops.Target{}); !errors.Is(err, ecsops.ErrNoRegion) {
		t.Fatalf("no region: err = %v, want ErrNoRegion", err)
	}
}
