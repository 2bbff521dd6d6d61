package awsemu

import (
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	sd "github.com/aws/aws-sdk-go-v2/service/servicediscovery"
	sdtypes "github.com/aws/aws-sdk-go-v2/service/servicediscovery/types"
)

type sdState struct {
	namespaces map[string]*sdtypes.Namespace
	nsOrder    []string
	services   map[string]*sdService
	svcOrder   []string
	ops        map[string]*sdtypes.Operation
}

type sdService struct {
	s         sdtypes.Service
	instances map[string]map[string]string // instance id -> attributes
	order     []string
}

func newSDState() sdState {
	return sdState{namespaces: map[string]*sdtypes.Namespace{}, services: map[string]*sdService{}, ops: map[string]*sdtypes.Operation{}}
}

var sdOps = map[string]opSpec{
	"CreatePrivateDnsNamespace": writeOp((*world).sdCreatePrivateDNSNamespace),
	"CreateHttpNamespace":       writeOp((*world).sdCreateHTTPNamespace),
	"GetNamespace":              readOp((*world).sdGetNamespace),
	"ListNamespaces":            readOp((*world).sdListNamespaces),
	"GetOperation":              readOp((*world).sdGetOperation),
	"CreateService":             writeOp((*world).sdCreateService),
	"GetService":                readOp((*world).sdGetService),
	"DeleteService":             writeOp((*world).sdDeleteService),
	"ListServices":              readOp((*world).sdListServices),
	"ListInstances":             readOp((*world).sdListInstances),
	"DiscoverInstances":         readOp((*world).sdDiscoverInstances),
	"RegisterInstance":          writeOp((*world).sdRegisterInstance),
	"DeregisterInstance":        writeOp((*world).sdDeregisterInstance),
}

func (w *world) sdOperation(typ sdtypes.OperationType, targets map[string]string) string {
	id := w.hex(32)
	now := w.now()
	w.sd.ops[id] = &sdtypes.Operation{Id: aws.String(id), Type: typ, Status: sdtypes.OperationStatusSuccess, CreateDate: &now, UpdateDate: &now, Targets: targets}
	return id
}

func (w *world) sdCreateNamespace(name string, typ sdtypes.NamespaceType, desc *string, vpc string) (string, error) {
	if name == "" || len(name) > 1024 {
		return "", errf("InvalidInput", "Namespace name must be 1-1024 characters.")
	}
	for _, ns := range w.sd.namespaces {
		if aws.ToString(ns.Name) == name {
			return "", errf("NamespaceAlreadyExists", "Namespace %s already exists.", name)
		}
	}
	id := "ns-" + w.hex(16)
	ns := &sdtypes.Namespace{
		Id: aws.String(id), Arn: aws.String(w.arn("servicediscovery", "namespace/"+id)), Name: aws.String(name), Type: typ,
		Description: desc, CreateDate: ptrTime(w.now()), ServiceCount: aws.Int32(0), ResourceOwner: aws.String(w.acct),
		Properties: &sdtypes.NamespaceProperties{HttpProperties: &sdtypes.HttpProperties{HttpName: aws.String(name)}},
	}
	if typ == sdtypes.NamespaceTypeDnsPrivate {
		ns.Properties.DnsProperties = &sdtypes.DnsProperties{HostedZoneId: aws.String("Z" + strings.ToUpper(w.hex(20)))}
	}
	w.sd.namespaces[id] = ns
	w.sd.nsOrder = append(w.sd.nsOrder, id)
	return w.sdOperation(sdtypes.OperationTypeCreateNamespace, map[string]string{"NAMESPACE": id}), nil
}

func (w *world) sdCreatePrivateDNSNamespace(in *sd.CreatePrivateDnsNamespaceInput) (*sd.CreatePrivateDnsNamespaceOutput, error) {
	if aws.ToString(in.Vpc) == "" {
		return nil, errf("InvalidInput", "Vpc is required.")
	}
	op, err := w.sdCreateNamespace(aws.ToString(in.Name), sdtypes.NamespaceTypeDnsPrivate, in.Description, *in.Vpc)
	if err != nil {
		return nil, err
	}
	return &sd.CreatePrivateDnsNamespaceOutput{OperationId: aws.String(op)}, nil
}

func (w *world) sdCreateHTTPNamespace(in *sd.CreateHttpNamespaceInput) (*sd.CreateHttpNamespaceOutput, error) {
	op, err := w.sdCreateNamespace(aws.ToString(in.Name), sdtypes.NamespaceTypeHttp, in.Description, "")
	if err != nil {
		return nil, err
	}
	return &sd.CreateHttpNamespaceOutput{OperationId: aws.String(op)}, nil
}

func (w *world) sdGetNamespace(in *sd.GetNamespaceInput) (*sd.GetNamespaceOutput, error) {
	ns, ok := w.sd.namespaces[aws.ToString(in.Id)]
	if !ok {
		return nil, errf("NamespaceNotFound", "Namespace not found: %s", aws.ToString(in.Id))
	}
	v := *ns
	v.ServiceCount = aws.Int32(w.sdServiceCount(*ns.Id))
	return &sd.GetNamespaceOutput{Namespace: &v}, nil
}

func (w *world) sdServiceCount(nsID string) int32 {
	var n int32
	for _, s := range w.sd.services {
		if aws.ToString(s.s.NamespaceId) == nsID {
			n++
		}
	}
	return n
}

func (w *world) sdListNamespaces(in *sd.ListNamespacesInput) (*sd.ListNamespacesOutput, error) {
	s, e, next, err := page(len(w.sd.nsOrder), in.NextToken, in.MaxResults, 100, 100)
	if err != nil {
		return nil, errf("InvalidInput", "%s", err.(*apiError).Message)
	}
	out := &sd.ListNamespacesOutput{Namespaces: []sdtypes.NamespaceSummary{}, NextToken: next}
	for _, id := range w.sd.nsOrder[s:e] {
		ns := w.sd.namespaces[id]
		out.Namespaces = append(out.Namespaces, sdtypes.NamespaceSummary{
			Id: ns.Id, Arn: ns.Arn, Name: ns.Name, Type: ns.Type, Description: ns.Description, CreateDate: ns.CreateDate,
			Properties: ns.Properties, ServiceCount: aws.Int32(w.sdServiceCount(id)), ResourceOwner: ns.ResourceOwner,
		})
	}
	return out, nil
}

func (w *world) sdGetOperation(in *sd.GetOperationInput) (*sd.GetOperationOutput, error) {
	op, ok := w.sd.ops[aws.ToString(in.OperationId)]
	if !ok {
		return nil, errf("OperationNotFound", "Operation not found: %s", aws.ToString(in.OperationId))
	}
	return &sd.GetOperationOutput{Operation: op}, nil
}

func (w *world) sdCreateService(in *sd.CreateServiceInput) (*sd.CreateServiceOutput, error) {
	name := aws.ToString(in.Name)
	if name == "" || len(name) > 127 {
		return nil, errf("InvalidInput", "Service name must be 1-127 characters.")
	}
	nsID := aws.ToString(in.NamespaceId)
	if nsID == "" && in.DnsConfig != nil {
		nsID = aws.ToString(in.DnsConfig.NamespaceId)
	}
	ns, ok := w.sd.namespaces[nsID]
	if !ok {
		return nil, errf("NamespaceNotFound", "Namespace not found: %s", nsID)
	}
	for _, s := range w.sd.services {
		if aws.ToString(s.s.NamespaceId) == nsID && aws.ToString(s.s.Name) == name {
			return nil, errf("ServiceAlreadyExists", "Service already exists: %s", name)
		}
	}
	if in.DnsConfig != nil && ns.Type == sdtypes.NamespaceTypeHttp {
		return nil, errf("InvalidInput", "DnsConfig is not allowed in an HTTP namespace.")
	}
	id := "srv-" + w.hex(16)
	s := &sdService{instances: map[string]map[string]string{}}
	s.s = sdtypes.Service{
		Id: aws.String(id), Arn: aws.String(w.arn("servicediscovery", "service/"+id)), Name: aws.String(name), NamespaceId: aws.String(nsID),
		Description: in.Description, DnsConfig: in.DnsConfig, HealthCheckConfig: in.HealthCheckConfig, HealthCheckCustomConfig: in.HealthCheckCustomConfig,
		CreateDate: ptrTime(w.now()), CreatorRequestId: in.CreatorRequestId, InstanceCount: aws.Int32(0), Type: sdtypes.ServiceType(in.Type),
		CreatedByAccount: aws.String(w.acct), ResourceOwner: aws.String(w.acct),
	}
	if s.s.Type == "" {
		s.s.Type = sdtypes.ServiceTypeDnsHttp
		if ns.Type == sdtypes.NamespaceTypeHttp {
			s.s.Type = sdtypes.ServiceTypeHttp
		}
	}
	if s.s.DnsConfig != nil && s.s.DnsConfig.NamespaceId == nil {
		s.s.DnsConfig.NamespaceId = aws.String(nsID)
	}
	w.sd.services[id] = s
	w.sd.svcOrder = append(w.sd.svcOrder, id)
	v := w.sdServiceView(s)
	return &sd.CreateServiceOutput{Service: &v}, nil
}

func (w *world) sdServiceView(s *sdService) sdtypes.Service {
	v := s.s
	v.InstanceCount = aws.Int32(int32(len(s.instances)))
	return v
}

func (w *world) sdGetService(in *sd.GetServiceInput) (*sd.GetServiceOutput, error) {
	s, ok := w.sd.services[aws.ToString(in.Id)]
	if !ok {
		return nil, errf("ServiceNotFound", "Service not found: %s", aws.ToString(in.Id))
	}
	v := w.sdServiceView(s)
	return &sd.GetServiceOutput{Service: &v}, nil
}

// sdDeleteService deletes a Cloud Map service; like Cloud Map, it refuses
// one that still has registered instances.
func (w *world) sdDeleteService(in *sd.DeleteServiceInput) (*sd.DeleteServiceOutput, error) {
	id := aws.ToString(in.Id)
	s, ok := w.sd.services[id]
	if !ok {
		return nil, errf("ServiceNotFound", "Service not found: %s", id)
	}
	if len(s.instances) > 0 {
		return nil, errf("ResourceInUse", "Service %s has %d registered instances.", id, len(s.instances))
	}
	delete(w.sd.services, id)
	w.sd.svcOrder = removeString(w.sd.svcOrder, id)
	return &sd.DeleteServiceOutput{}, nil
}

func (w *world) sdListServices(in *sd.ListServicesInput) (*sd.ListServicesOutput, error) {
	var ids []string
	for _, id := range w.sd.svcOrder {
		s := w.sd.services[id]
		keep := true
		for _, f := range in.Filters {
			if f.Name == sdtypes.ServiceFilterNameNamespaceId && !hasField(f.Values, aws.ToString(s.s.NamespaceId)) {
				keep = false
			}
		}
		if keep {
			ids = append(ids, id)
		}
	}
	st, e, next, err := page(len(ids), in.NextToken, in.MaxResults, 100, 100)
	if err != nil {
		return nil, errf("InvalidInput", "%s", err.(*apiError).Message)
	}
	out := &sd.ListServicesOutput{Services: []sdtypes.ServiceSummary{}, NextToken: next}
	for _, id := range ids[st:e] {
		s := w.sdServiceView(w.sd.services[id])
		out.Services = append(out.Services, sdtypes.ServiceSummary{
			Id: s.Id, Arn: s.Arn, Name: s.Name, Description: s.Description, DnsConfig: s.DnsConfig, HealthCheckConfig: s.HealthCheckConfig,
			HealthCheckCustomConfig: s.HealthCheckCustomConfig, InstanceCount: s.InstanceCount, CreateDate: s.CreateDate, Type: s.Type,
			CreatedByAccount: s.CreatedByAccount, ResourceOwner: s.ResourceOwner,
		})
	}
	return out, nil
}

func (w *world) sdListInstances(in *sd.ListInstancesInput) (*sd.ListInstancesOutput, error) {
	s, ok := w.sd.services[aws.ToString(in.ServiceId)]
	if !ok {
		return nil, errf("ServiceNotFound", "Service not found: %s", aws.ToString(in.ServiceId))
	}
	st, e, next, err := page(len(s.order), in.NextToken, in.MaxResults, 100, 100)
	if err != nil {
		return nil, errf("InvalidInput", "%s", err.(*apiError).Message)
	}
	out := &sd.ListInstancesOutput{Instances: []sdtypes.InstanceSummary{}, NextToken: next}
	for _, id := range s.order[st:e] {
		out.Instances = append(out.Instances, sdtypes.InstanceSummary{Id: aws.String(id), Attributes: s.instances[id], CreatedByAccount: aws.String(w.acct)})
	}
	return out, nil
}

func (w *world) sdDiscoverInstances(in *sd.DiscoverInstancesInput) (*sd.DiscoverInstancesOutput, error) {
	var ns *sdtypes.Namespace
	for _, n := range w.sd.namespaces {
		if aws.ToString(n.Name) == aws.ToString(in.NamespaceName) {
			ns = n
		}
	}
	if ns == nil {
		return nil, errf("NamespaceNotFound", "Namespace not found: %s", aws.ToString(in.NamespaceName))
	}
	var svc *sdService
	for _, s := range w.sd.services {
		if aws.ToString(s.s.NamespaceId) == *ns.Id && aws.ToString(s.s.Name) == aws.ToString(in.ServiceName) {
			svc = s
		}
	}
	if svc == nil {
		return nil, errf("ServiceNotFound", "Service not found: %s", aws.ToString(in.ServiceName))
	}
	limit := int(deref(in.MaxResults))
	if limit <= 0 {
		limit = 100
	}
	out := &sd.DiscoverInstancesOutput{Instances: []sdtypes.HttpInstanceSummary{}, InstancesRevision: aws.Int64(int64(len(svc.order)))}
	for _, id := range svc.order {
		attrs := svc.instances[id]
		health := sdtypes.HealthStatusHealthy
		if attrs["AWS_INIT_HEALTH_STATUS"] == "UNHEALTHY" {
			health = sdtypes.HealthStatusUnhealthy
		}
		switch in.HealthStatus {
		case sdtypes.HealthStatusFilterHealthy:
			if health != sdtypes.HealthStatusHealthy {
				continue
			}
		case sdtypes.HealthStatusFilterUnhealthy:
			if health != sdtypes.HealthStatusUnhealthy {
				continue
			}
		}
		match := true
		for k, v := range in.QueryParameters {
			if attrs[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		out.Instances = append(out.Instances, sdtypes.HttpInstanceSummary{
			InstanceId: aws.String(id), NamespaceName: ns.Name, ServiceName: svc.s.Name, HealthStatus: health, Attributes: attrs,
		})
		if len(out.Instances) >= limit {
			break
		}
	}
	return out, nil
}

func (w *world) sdRegisterInstance(in *sd.RegisterInstanceInput) (*sd.RegisterInstanceOutput, error) {
	s, ok := w.sd.services[aws.ToString(in.ServiceId)]
	if !ok {
		return nil, errf("ServiceNotFound", "Service not found: %s", aws.ToString(in.ServiceId))
	}
	id := aws.ToString(in.InstanceId)
	if id == "" || len(id) > 64 {
		return nil, errf("InvalidInput", "InstanceId must be 1-64 characters.")
	}
	s.put(id, in.Attributes)
	op := w.sdOperation(sdtypes.OperationTypeRegisterInstance, map[string]string{"SERVICE": *s.s.Id, "INSTANCE": id})
	return &sd.RegisterInstanceOutput{OperationId: aws.String(op)}, nil
}

func (w *world) sdDeregisterInstance(in *sd.DeregisterInstanceInput) (*sd.DeregisterInstanceOutput, error) {
	s, ok := w.sd.services[aws.ToString(in.ServiceId)]
	if !ok {
		return nil, errf("ServiceNotFound", "Service not found: %s", aws.ToString(in.ServiceId))
	}
	id := aws.ToString(in.InstanceId)
	if _, ok := s.instances[id]; !ok {
		return nil, errf("InstanceNotFound", "Instance not found: %s", id)
	}
	s.remove(id)
	op := w.sdOperation(sdtypes.OperationTypeDeregisterInstance, map[string]string{"SERVICE": *s.s.Id, "INSTANCE": id})
	return &sd.DeregisterInstanceOutput{OperationId: aws.String(op)}, nil
}

func (s *sdService) put(id string, attrs map[string]string) {
	if _, ok := s.instances[id]; !ok {
		s.order = append(s.order, id)
	}
	cp := make(map[string]string, len(attrs))
	for k, v := range attrs {
		cp[k] = v
	}
	s.instances[id] = cp
}

func (s *sdService) remove(id string) {
	delete(s.instances, id)
	s.order = removeString(s.order, id)
}

// sdServiceByArn finds the Cloud Map service an ECS service registry names.
func (w *world) sdServiceByArn(arn string) *sdService {
	if !strings.HasPrefix(arn, "arn:aws:servicediscovery:") {
		return nil
	}
	return w.sd.services[lastSegment(arn)]
}

func (w *world) checkRegistries(regs []ecstypes.ServiceRegistry) error {
	if len(regs) > 1 {
		return errf(codeInvalidParameter, "A service can have at most one service registry.")
	}
	for _, r := range regs {
		if w.sdServiceByArn(aws.ToString(r.RegistryArn)) == nil {
			return errf(codeInvalidParameter, "Service registry %s does not exist.", aws.ToString(r.RegistryArn))
		}
	}
	return nil
}

// registerCloudMap adds a running task to its services' registries, as the
// ECS service scheduler does.
func (w *world) registerCloudMap(t *task) {
	for _, r := range t.regs {
		s := w.sdServiceByArn(aws.ToString(r.RegistryArn))
		if s == nil {
			continue
		}
		attrs := map[string]string{
			"AWS_INSTANCE_IPV4":          t.ip,
			"AWS_INIT_HEALTH_STATUS":     "HEALTHY",
			"AVAILABILITY_ZONE":          aws.ToString(t.t.AvailabilityZone),
			"REGION":                     w.region,
			"ECS_CLUSTER_NAME":           t.cl.name,
			"ECS_TASK_DEFINITION_FAMILY": aws.ToString(t.td.Family),
			"ECS_TASK_ARN":               aws.ToString(t.t.TaskArn),
		}
		if t.svc != nil {
			attrs["ECS_SERVICE_NAME"] = t.svc.name
		}
		if p := deref(r.Port); p != 0 {
			attrs["AWS_INSTANCE_PORT"] = strconv.Itoa(int(p))
		} else if p := deref(r.ContainerPort); p != 0 {
			attrs["AWS_INSTANCE_PORT"] = strconv.Itoa(int(p))
		}
		s.put(t.id, attrs)
		t.sdIDs = append(t.sdIDs, *s.s.Id)
	}
	sort.Strings(t.sdIDs)
}

func (w *world) deregisterCloudMap(t *task) {
	for _, id := range t.sdIDs {
		if s := w.sd.services[id]; s != nil {
			s.remove(t.id)
		}
	}
	t.sdIDs = nil
}
