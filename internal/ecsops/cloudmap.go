package ecsops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	sd "github.com/aws/aws-sdk-go-v2/service/servicediscovery"
	sdtypes "github.com/aws/aws-sdk-go-v2/service/servicediscovery/types"
	"github.com/aws/smithy-go"
)

// Registry is a Cloud Map service: where ECS registers a service's tasks,
// and the DNS name they answer on.
type Registry struct {
	ARN, ID, Name string
	NamespaceID   string
	// NamespaceName is the namespace's DNS name ("" for an HTTP namespace).
	NamespaceName string
}

// DNSName is the name the registry's tasks answer on: <name>.<namespace>.
func (r Registry) DNSName() string {
	return r.Name + "." + strings.TrimSuffix(r.NamespaceName, ".")
}

// ErrNoCloudMap is returned when the Clients have no ECS client to take
// the Cloud Map client's settings from.
var ErrNoCloudMap = errors.New("no client to build the Cloud Map client from")

// cloudMap holds a Cloud Map client per Clients.
var cloudMap sync.Map // *Clients -> *sd.Client

// CloudMap returns the Cloud Map client of the target. It is built on first
// use from the ECS client's settings (region, credentials, endpoint,
// retryer, and the middleware that counts calls), so it needs no field in
// Clients and no wiring: only the steps that manage per-revision
// registries (DNS blue/green) link it.
func (c *Clients) CloudMap() (*sd.Client, error) {
	if v, ok := cloudMap.Load(c); ok {
		return v.(*sd.Client), nil
	}
	if c.ECS == nil {
		return nil, ErrNoCloudMap
	}
	o := c.ECS.Options()
	cl := sd.New(sd.Options{Region: o.Region, Credentials: o.Credentials, BaseEndpoint: o.BaseEndpoint,
		HTTPClient: o.HTTPClient, Retryer: o.Retryer, RetryMaxAttempts: o.RetryMaxAttempts, RetryMode: o.RetryMode,
		APIOptions: o.APIOptions, Logger: o.Logger, ClientLogMode: o.ClientLogMode, AppID: o.AppID})
	v, _ := cloudMap.LoadOrStore(c, cl)
	return v.(*sd.Client), nil
}

// registryID is the Cloud Map service ID at the end of its ARN
// (arn:aws:servicediscovery:<region>:<account>:service/srv-...).
func registryID(arn string) (string, error) {
	i := strings.LastIndex(arn, ":service/")
	if !strings.HasPrefix(arn, "arn:") || i < 0 || len(arn) == i+len(":service/") {
		return "", fmt.Errorf("%q is not a Cloud Map service ARN", arn)
	}
	return arn[i+len(":service/"):], nil
}

func (c *Clients) registryOf(ctx context.Context, cm *sd.Client, s *sdtypes.Service) (Registry, error) {
	r := Registry{ARN: aws.ToString(s.Arn), ID: aws.ToString(s.Id), Name: aws.ToString(s.Name), NamespaceID: aws.ToString(s.NamespaceId)}
	ns, err := cm.GetNamespace(ctx, &sd.GetNamespaceInput{Id: s.NamespaceId})
	if err != nil {
		return r, fmt.Errorf("get namespace %s: %w", r.NamespaceID, err)
	}
	if ns.Namespace != nil && ns.Namespace.Type != sdtypes.NamespaceTypeHttp {
		r.NamespaceName = aws.ToString(ns.Namespace.Name)
	}
	return r, nil
}

// RevisionRegistry returns the Cloud Map service name in the namespace of
// the base registry (baseARN), creating it with the base's DNS records and
// health check settings when it does not exist (a retried step finds the
// one it made). created says whether it was made now.
func (c *Clients) RevisionRegistry(ctx context.Context, baseARN, name, requestID string) (reg Registry, created bool, err error) {
	cm, err := c.CloudMap()
	if err != nil {
		return Registry{}, false, err
	}
	baseID, err := registryID(baseARN)
	if err != nil {
		return Registry{}, false, err
	}
	base, err := cm.GetService(ctx, &sd.GetServiceInput{Id: aws.String(baseID)})
	if err != nil {
		return Registry{}, false, fmt.Errorf("get registry %s: %w", baseARN, err)
	}
	b := base.Service
	if found, ok, err := c.findRegistry(ctx, cm, aws.ToString(b.NamespaceId), name); err != nil || ok {
		if err != nil {
			return Registry{}, false, err
		}
		r, err := c.registryOf(ctx, cm, found)
		return r, false, err
	}
	in := &sd.CreateServiceInput{Name: aws.String(name), NamespaceId: b.NamespaceId, CreatorRequestId: aws.String(requestID),
		Description: aws.String("revision " + name + " (ecsflow)"), HealthCheckCustomConfig: b.HealthCheckCustomConfig,
		HealthCheckConfig: b.HealthCheckConfig}
	if b.Type == sdtypes.ServiceTypeHttp {
		in.Type = sdtypes.ServiceTypeOptionHttp
	}
	if dc := b.DnsConfig; dc != nil {
		in.DnsConfig = &sdtypes.DnsConfig{DnsRecords: dc.DnsRecords, RoutingPolicy: dc.RoutingPolicy}
	}
	out, err := cm.CreateService(ctx, in)
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "ServiceAlreadyExists" {
		found, ok, ferr := c.findRegistry(ctx, cm, aws.ToString(b.NamespaceId), name)
		if ferr != nil || !ok {
			return Registry{}, false, fmt.Errorf("create registry %s: %w", name, err)
		}
		r, err := c.registryOf(ctx, cm, found)
		return r, false, err
	}
	if err != nil {
		return Registry{}, false, fmt.Errorf("create registry %s: %w", name, err)
	}
	r, err := c.registryOf(ctx, cm, out.Service)
	return r, true, err
}

// FindRegistry finds the Cloud Map service name in the namespace of the
// base registry.
func (c *Clients) FindRegistry(ctx context.Context, baseARN, name string) (Registry, bool, error) {
	cm, err := c.CloudMap()
	if err != nil {
		return Registry{}, false, err
	}
	baseID, err := registryID(baseARN)
	if err != nil {
		return Registry{}, false, err
	}
	base, err := cm.GetService(ctx, &sd.GetServiceInput{Id: aws.String(baseID)})
	if err != nil {
		return Registry{}, false, fmt.Errorf("get registry %s: %w", baseARN, err)
	}
	s, ok, err := c.findRegistry(ctx, cm, aws.ToString(base.Service.NamespaceId), name)
	if err != nil || !ok {
		return Registry{}, false, err
	}
	r, err := c.registryOf(ctx, cm, s)
	return r, true, err
}

func (c *Clients) findRegistry(ctx context.Context, cm *sd.Client, namespaceID, name string) (*sdtypes.Service, bool, error) {
	in := &sd.ListServicesInput{Filters: []sdtypes.ServiceFilter{{Name: sdtypes.ServiceFilterNameNamespaceId,
		Values: []string{namespaceID}, Condition: sdtypes.FilterConditionEq}}}
	for {
		out, err := cm.ListServices(ctx, in)
		if err != nil {
			return nil, false, fmt.Errorf("list registries of namespace %s: %w", namespaceID, err)
		}
		for _, s := range out.Services {
			if aws.ToString(s.Name) == name {
				return &sdtypes.Service{Arn: s.Arn, Id: s.Id, Name: s.Name, NamespaceId: aws.String(namespaceID), DnsConfig: s.DnsConfig}, true, nil
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return nil, false, nil
		}
		in.NextToken = out.NextToken
	}
}

// DeleteRegistry deregisters the instances left in the Cloud Map service
// (tasks still draining) and deletes it; a missing one is not an error.
func (c *Clients) DeleteRegistry(ctx context.Context, id string) error {
	cm, err := c.CloudMap()
	if err != nil {
		return err
	}
	in := &sd.ListInstancesInput{ServiceId: aws.String(id)}
	for {
		out, err := cm.ListInstances(ctx, in)
		if isCloudMapNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list instances of registry %s: %w", id, err)
		}
		for _, inst := range out.Instances {
			_, err := cm.DeregisterInstance(ctx, &sd.DeregisterInstanceInput{ServiceId: aws.String(id), InstanceId: inst.Id})
			if err != nil && !isCloudMapNotFound(err) {
				return fmt.Errorf("deregister %s from registry %s: %w", aws.ToString(inst.Id), id, err)
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	if _, err := cm.DeleteService(ctx, &sd.DeleteServiceInput{Id: aws.String(id)}); err != nil && !isCloudMapNotFound(err) {
		return fmt.Errorf("delete registry %s: %w", id, err)
	}
	return nil
}

// RegistryInstances lists the instances registered in the Cloud Map
// service: their ID and attributes (AWS_INSTANCE_IPV4, ECS_SERVICE_NAME).
func (c *Clients) RegistryInstances(ctx context.Context, id string) (map[string]map[string]string, error) {
	cm, err := c.CloudMap()
	if err != nil {
		return nil, err
	}
	got := map[string]map[string]string{}
	in := &sd.ListInstancesInput{ServiceId: aws.String(id)}
	for {
		out, err := cm.ListInstances(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list instances of registry %s: %w", id, err)
		}
		for _, inst := range out.Instances {
			got[aws.ToString(inst.Id)] = inst.Attributes
		}
		if aws.ToString(out.NextToken) == "" {
			return got, nil
		}
		in.NextToken = out.NextToken
	}
}

func isCloudMapNotFound(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ServiceNotFound", "InstanceNotFound", "NamespaceNotFound":
		return true
	}
	return false
}
