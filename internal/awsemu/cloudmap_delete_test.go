package awsemu

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sd "github.com/aws/aws-sdk-go-v2/service/servicediscovery"
	sdtypes "github.com/aws/aws-sdk-go-v2/service/servicediscovery/types"
	"github.com/aws/smithy-go"
)

func TestCloudMapDeleteServiceRefusesRegisteredInstances(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	client := sd.NewFromConfig(h.cfg)
	ns, err := client.CreateHttpNamespace(ctx, &sd.CreateHttpNamespaceInput{Name: aws.String("apps")})
	if err != nil {
		t.Fatal(err)
	}
	op, err := client.GetOperation(ctx, &sd.GetOperationInput{OperationId: ns.OperationId})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := client.CreateService(ctx, &sd.CreateServiceInput{Name: aws.String("web--2"), NamespaceId: aws.String(op.Operation.Targets["NAMESPACE"])})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.RegisterInstance(ctx, &sd.RegisterInstanceInput{ServiceId: cs.Service.Id, InstanceId: aws.String("i-1"),
		Attributes: map[string]string{"AWS_INSTANCE_IPV4": "10.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	_, err = client.DeleteService(ctx, &sd.DeleteServiceInput{Id: cs.Service.Id})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ResourceInUse" {
		t.Fatalf("DeleteService with an instance = %v, want ResourceInUse", err)
	}
	if _, err := client.DeregisterInstance(ctx, &sd.DeregisterInstanceInput{ServiceId: cs.Service.Id, InstanceId: aws.String("i-1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeleteService(ctx, &sd.DeleteServiceInput{Id: cs.Service.Id}); err != nil {
		t.Fatalf("DeleteService of an empty service: %v", err)
	}
	list, err := client.ListServices(ctx, &sd.ListServicesInput{})
	if err != nil || len(list.Services) != 0 {
		t.Fatalf("services after the delete: %+v, %v; want none", list, err)
	}
	_, err = client.DeleteService(ctx, &sd.DeleteServiceInput{Id: cs.Service.Id})
	var snf *sdtypes.ServiceNotFound
	if !errors.As(err, &snf) {
		t.Fatalf("DeleteService again = %v, want ServiceNotFound", err)
	}
}
