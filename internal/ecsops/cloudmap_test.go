package ecsops_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	sd "github.com/aws/aws-sdk-go-v2/service/servicediscovery"
	sdtypes "github.com/aws/aws-sdk-go-v2/service/servicediscovery/types"

	"github.com/aws/smithy-go"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/ecsops/ecsopstest"
)

func TestRevisionRegistryLifecycle(t *testing.T) {
	w := ecsopstest.New(t, ecsopstest.Options{})
	w.Cluster(t, "prod")
	ctx := context.Background()
	c := w.Clients
	counter := ecsops.NewCounter()
	ctx = ecsops.WithCounter(ctx, counter)
	// The test sets Cloud Map up with the SDK; ecsops makes its own calls.
	cm := sd.New(sd.Options{Region: ecsopstest.Region, BaseEndpoint: aws.String(w.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	if _, err := cm.CreatePrivateDnsNamespace(ctx, &sd.CreatePrivateDnsNamespaceInput{Name: aws.String("web.local"), Vpc: aws.String("vpc-1")}); err != nil {
		t.Fatal(err)
	}
	nss, err := cm.ListNamespaces(ctx, &sd.ListNamespacesInput{})
	if err != nil || len(nss.Namespaces) != 1 {
		t.Fatalf("namespaces %+v, %v", nss, err)
	}
	base, err := cm.CreateService(ctx, &sd.CreateServiceInput{Name: aws.String("web"), NamespaceId: nss.Namespaces[0].Id,
		DnsConfig: &sdtypes.DnsConfig{DnsRecords: []sdtypes.DnsRecord{{Type: sdtypes.RecordTypeA, TTL: aws.Int64(10)}}}})
	if err != nil {
		t.Fatal(err)
	}
	baseARN := aws.ToString(base.Service.Arn)

	reg, created, err := c.RevisionRegistry(ctx, baseARN, "web--2", "dep-1")
	if err != nil || !created {
		t.Fatalf("RevisionRegistry = %+v, created %v, %v; want a new registry", reg, created, err)
	}
	if reg.DNSName() != "web--2.web.local" || reg.NamespaceID != aws.ToString(nss.Namespaces[0].Id) {
		t.Fatalf("registry %+v (name %s), want web--2.web.local in the base's namespace", reg, reg.DNSName())
	}
	got, err := cm.GetService(ctx, &sd.GetServiceInput{Id: aws.String(reg.ID)})
	if err != nil || got.Service.DnsConfig == nil || len(got.Service.DnsConfig.DnsRecords) != 1 || aws.ToInt64(got.Service.DnsConfig.DnsRecords[0].TTL) != 10 {
		t.Fatalf("registry %+v, %v: want the base's DNS records (A, TTL 10)", got, err)
	}
	again, created, err := c.RevisionRegistry(ctx, baseARN, "web--2", "dep-1")
	if err != nil || created || again.ID != reg.ID {
		t.Fatalf("a retried RevisionRegistry = %+v, created %v, %v; want the same registry found", again, created, err)
	}
	if n := counter.Counts()["servicediscovery:CreateService"]; n != 1 { // the retry created nothing
		t.Fatalf("calls %v, want one CreateService counted", counter.Counts())
	}

	// ECS registers the revision's tasks in it.
	td, _, err := c.RegisterTaskDefinition(ctx, "", taskDef("web", "web:v2"))
	if err != nil {
		t.Fatal(err)
	}
	in := createInput(aws.ToString(td.TaskDefinitionArn), "tok-2")
	in.ServiceName = aws.String("web__2")
	in.ServiceRegistries = []ecstypes.ServiceRegistry{{RegistryArn: aws.String(reg.ARN)}}
	if _, err := c.CreateService(ctx, in); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		inst, err := c.RegistryInstances(ctx, reg.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(inst) == 2 {
			for id, attrs := range inst {
				if attrs["ECS_SERVICE_NAME"] != "web__2" || attrs["AWS_INSTANCE_IPV4"] == "" {
					t.Fatalf("instance %s %v, want a web__2 task with its address", id, attrs)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry has %d instances, want web__2's 2 tasks", len(inst))
		}
		time.Sleep(5 * time.Millisecond)
	}
	found, ok, err := c.FindRegistry(ctx, baseARN, "web--2")
	if err != nil || !ok || found.ID != reg.ID {
		t.Fatalf("FindRegistry = %+v, %v, %v", found, ok, err)
	}
	// Deleting it with tasks still registered deregisters them first.
	if err := c.DeleteRegistry(ctx, reg.ID); err != nil {
		t.Fatalf("DeleteRegistry: %v", err)
	}
	if _, ok, err := c.FindRegistry(ctx, baseARN, "web--2"); err != nil || ok {
		t.Fatalf("FindRegistry after delete = %v, %v; want none", ok, err)
	}
	if err := c.DeleteRegistry(ctx, reg.ID); err != nil {
		t.Fatalf("DeleteRegistry of a missing registry = %v, want nil", err)
	}
	// Cloud Map's errors come back typed.
	_, _, err = c.FindRegistry(ctx, "arn:aws:servicediscovery:us-east-1:1:service/srv-missing", "web--2")
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceNotFound" {
		t.Fatalf("FindRegistry with a missing base = %v, want ServiceNotFound", err)
	}
	if _, _, err := c.RevisionRegistry(ctx, "arn:aws:ecs:us-east-1:1:service/prod/web", "web--3", "dep-3"); err == nil {
		t.Fatal("RevisionRegistry with a non-Cloud Map base ARN succeeded")
	}
}

func TestCloudMapCallsRetryThrottling(t *testing.T) {
	w := ecsopstest.New(t, ecsopstest.Options{})
	ctx := context.Background()
	cm := sd.New(sd.Options{Region: ecsopstest.Region, BaseEndpoint: aws.String(w.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	ns, err := cm.CreateHttpNamespace(ctx, &sd.CreateHttpNamespaceInput{Name: aws.String("apps")})
	if err != nil {
		t.Fatal(err)
	}
	op, err := cm.GetOperation(ctx, &sd.GetOperationInput{OperationId: ns.OperationId})
	if err != nil {
		t.Fatal(err)
	}
	base, err := cm.CreateService(ctx, &sd.CreateServiceInput{Name: aws.String("web"), NamespaceId: aws.String(op.Operation.Targets["NAMESPACE"])})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(base.Service.Arn)
	// Every GetService throttled: the typed error comes back after the retries.
	if err := w.Emu.SetFaultPlan(awsemu.FaultPlan{Rules: []awsemu.FaultRule{{API: "servicediscovery:GetService", ThrottleRate: 1}}}); err != nil {
		t.Fatal(err)
	}
	_, _, err = w.Clients.FindRegistry(ctx, arn, "web--1")
	var ae smithy.APIError
	if !errors.As(err, &ae) || !strings.Contains(ae.ErrorCode(), "Throttl") {
		t.Fatalf("FindRegistry under full throttling = %v, want a typed throttling error", err)
	}
	// 30% of them throttled (the throttling scenario's rate): the retries
	// get through.
	if err := w.Emu.SetFaultPlan(awsemu.FaultPlan{Seed: 3, Rules: []awsemu.FaultRule{{API: "servicediscovery:*", ThrottleRate: 0.3}}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		reg, created, err := w.Clients.RevisionRegistry(ctx, arn, "web--1", "dep-1")
		if err != nil || reg.Name != "web--1" || (i == 0) != created {
			t.Fatalf("RevisionRegistry #%d under 30%% throttling = %+v, created %v, %v", i, reg, created, err)
		}
	}
}
