package awsemu

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	smithy "github.com/aws/smithy-go"
)

type service struct {
	s           ecstypes.Service // configuration and events; counts and deployments are computed in view
	cl          *cluster
	name        string
	deps        []*deployment // deps[0] is PRIMARY
	tasks       map[string]*task
	taskSets    []*taskSet
	lastGood    *deployment
	steady      bool
	history     []*ecstypes.ServiceDeployment // newest last
	retry       bool                          // a reconcile is scheduled
	inReconcile bool
	daemon      bool
	external    bool
	cache       atomic.Pointer[svcCache]
	clientToken string
}

type deployment struct {
	d          ecstypes.Deployment
	failures   int
	threshold  int
	cbEnable   bool
	cbRollback bool
	impaired   bool
	sd         *ecstypes.ServiceDeployment
	revision   string
	rollback   bool
	nextLaunch time.Time
}

func (d *deployment) id() string { return aws.ToString(d.d.Id) }

// maxTasksPerService is the ECS service quota on tasks per service.
const maxTasksPerService = 5000

// failureThreshold is the circuit breaker's threshold for desired count n:
// half the desired count, at least 3 and at most 200.
func failureThreshold(n int32) int {
	return clampInt(int(math.Ceil(0.5*float64(n))), 3, 200)
}

func (w *world) service(c *cluster, ref *string) (*service, error) {
	name := lastSegment(aws.ToString(ref))
	s, ok := c.services[name]
	if !ok || name == "" {
		return nil, errf(codeServiceNotFound, "Service not found.")
	}
	return s, nil
}

func (w *world) activeService(c *cluster, ref *string) (*service, error) {
	s, err := w.service(c, ref)
	if err != nil {
		return nil, err
	}
	if aws.ToString(s.s.Status) != "ACTIVE" {
		return nil, errf(codeServiceNotActive, "Service was not ACTIVE.")
	}
	return s, nil
}

func (w *world) svcEvent(s *service, format string, args ...any) {
	msg := fmt.Sprintf("(service %s) ", s.name) + fmt.Sprintf(format, args...)
	ev := ecstypes.ServiceEvent{Id: aws.String(w.uuid()), CreatedAt: ptrTime(w.now()), Message: aws.String(msg)}
	evs := make([]ecstypes.ServiceEvent, 0, min(len(s.s.Events)+1, 100))
	evs = append(evs, ev)
	evs = append(evs, s.s.Events[:min(len(s.s.Events), 99)]...)
	s.s.Events = evs
}

type deploymentDetail struct {
	EventType    string `json:"eventType"`
	EventName    string `json:"eventName"`
	DeploymentID string `json:"deploymentId"`
	UpdatedAt    string `json:"updatedAt"`
	Reason       string `json:"reason"`
}

type serviceActionDetail struct {
	EventType  string   `json:"eventType"`
	EventName  string   `json:"eventName"`
	ClusterArn string   `json:"clusterArn"`
	CreatedAt  string   `json:"createdAt"`
	TaskArns   []string `json:"taskArns,omitempty"`
}

func (w *world) deploymentEvent(s *service, d *deployment, name, reason string) {
	typ := "INFO"
	if name == "SERVICE_DEPLOYMENT_FAILED" {
		typ = "ERROR"
	}
	w.event(SourceECS, DetailTypeDeploymentStateChange, []string{*s.s.ServiceArn}, deploymentDetail{
		EventType: typ, EventName: name, DeploymentID: d.id(), UpdatedAt: detailTime(w.now()), Reason: reason,
	})
}

// tasksStopped records that the scheduler stopped tasks: a service event
// and the TASKS_STOPPED service action.
func (w *world) tasksStopped(s *service, stopped []*task) {
	w.svcEvent(s, "has stopped %d running tasks: %s.", len(stopped), fmtTasks(stopped))
	arns := make([]string, len(stopped))
	for i, t := range stopped {
		arns[i] = aws.ToString(t.t.TaskArn)
	}
	w.serviceAction(s, "INFO", "TASKS_STOPPED", arns)
}

// placementFailed records a task that could not be placed.
func (w *world) placementFailed(s *service, reason string) {
	w.svcEvent(s, "was unable to place a task because no container instance met all of its requirements. Reason: %s", reason)
	w.serviceAction(s, "ERROR", "SERVICE_TASK_PLACEMENT_FAILURE", nil)
}

func (w *world) serviceAction(s *service, typ, name string, taskArns []string) {
	w.event(SourceECS, DetailTypeServiceAction, []string{*s.s.ServiceArn}, serviceActionDetail{
		EventType: typ, EventName: name, ClusterArn: *s.cl.c.ClusterArn, CreatedAt: detailTime(w.now()), TaskArns: taskArns,
	})
}

// ---- CreateService ----

func (w *world) createService(in *ecs.CreateServiceInput) (*ecs.CreateServiceOutput, error) {
	c, err := w.cluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	name := aws.ToString(in.ServiceName)
	if !validName(name, 255) {
		return nil, errf(codeInvalidParameter, "Service name can only contain letters, numbers, hyphens and underscores, up to 255 characters.")
	}
	if tok := aws.ToString(in.ClientToken); len(tok) > 36 {
		return nil, errf(codeInvalidParameter, "clientToken can be at most 36 characters.")
	}
	if old, ok := c.services[name]; ok && aws.ToString(old.s.Status) != "INACTIVE" {
		// A retry with the same client token gets the service it created.
		if in.ClientToken != nil && *in.ClientToken != "" && *in.ClientToken == old.clientToken {
			return &ecs.CreateServiceOutput{Service: w.serviceView(old, false)}, nil
		}
		return nil, errf(codeInvalidParameter, "Creation of service was not idempotent.")
	}
	ctrl := ecstypes.DeploymentControllerTypeEcs
	if in.DeploymentController != nil && in.DeploymentController.Type != "" {
		ctrl = in.DeploymentController.Type
	}
	if ctrl == ecstypes.DeploymentControllerTypeCodeDeploy {
		return nil, errf("UnsupportedFeatureException", "The CODE_DEPLOY deployment controller is not supported by this emulator; use ECS or EXTERNAL.")
	}
	strategy := in.SchedulingStrategy
	if strategy == "" {
		strategy = ecstypes.SchedulingStrategyReplica
	}
	s := &service{cl: c, name: name, tasks: map[string]*task{}, daemon: strategy == ecstypes.SchedulingStrategyDaemon, external: ctrl == ecstypes.DeploymentControllerTypeExternal, clientToken: aws.ToString(in.ClientToken)}
	var td *ecstypes.TaskDefinition
	if in.TaskDefinition != nil {
		var ok bool
		if td, ok = w.taskDef(*in.TaskDefinition); !ok {
			return nil, errf(codeInvalidParameter, "TaskDefinition not found.")
		}
		if td.Status != ecstypes.TaskDefinitionStatusActive {
			return nil, errf(codeInvalidParameter, "TaskDefinition is inactive.")
		}
	} else if !s.external {
		return nil, errf(codeInvalidParameter, "Task definition must be specified.")
	}
	launch, err := w.launchTypeFor(c, in.LaunchType, in.CapacityProviderStrategy)
	if err != nil {
		return nil, err
	}
	if s.daemon {
		if in.DesiredCount != nil {
			return nil, errf(codeInvalidParameter, "Desired count can not be specified for the DAEMON scheduling strategy.")
		}
		if launch == ecstypes.LaunchTypeFargate {
			return nil, errf(codeInvalidParameter, "The DAEMON scheduling strategy is not supported with launch type FARGATE.")
		}
		if s.external {
			return nil, errf(codeInvalidParameter, "The DAEMON scheduling strategy requires the ECS deployment controller.")
		}
	}
	desired := deref(in.DesiredCount)
	if desired < 0 || desired > maxTasksPerService {
		return nil, errf(codeInvalidParameter, "Desired count must be between 0 and %d.", maxTasksPerService)
	}
	if td != nil {
		if err := w.checkTaskDefLaunch(td, launch, in.NetworkConfiguration); err != nil {
			return nil, err
		}
		if err := w.checkLoadBalancers(td, in.LoadBalancers); err != nil {
			return nil, err
		}
	}
	if in.HealthCheckGracePeriodSeconds != nil && len(in.LoadBalancers) == 0 {
		return nil, errf(codeInvalidParameter, "Health check grace period is only valid for services configured to use load balancers")
	}
	if err := w.checkRegistries(in.ServiceRegistries); err != nil {
		return nil, err
	}
	dc, err := deploymentConfig(in.DeploymentConfiguration, nil, s.daemon)
	if err != nil {
		return nil, err
	}
	now := w.now()
	arn := w.arn("ecs", "service/"+c.name+"/"+name)
	s.s = ecstypes.Service{
		ServiceArn:                    aws.String(arn),
		ServiceName:                   aws.String(name),
		ClusterArn:                    c.c.ClusterArn,
		Status:                        aws.String("ACTIVE"),
		DesiredCount:                  desired,
		LaunchType:                    launch,
		CapacityProviderStrategy:      in.CapacityProviderStrategy,
		PlatformVersion:               in.PlatformVersion,
		LoadBalancers:                 nonNil(in.LoadBalancers),
		ServiceRegistries:             nonNil(in.ServiceRegistries),
		NetworkConfiguration:          in.NetworkConfiguration,
		HealthCheckGracePeriodSeconds: in.HealthCheckGracePeriodSeconds,
		SchedulingStrategy:            strategy,
		DeploymentController:          &ecstypes.DeploymentController{Type: ctrl},
		DeploymentConfiguration:       dc,
		PlacementConstraints:          nonNil(in.PlacementConstraints),
		PlacementStrategy:             nonNil(in.PlacementStrategy),
		EnableECSManagedTags:          in.EnableECSManagedTags,
		EnableExecuteCommand:          in.EnableExecuteCommand,
		PropagateTags:                 in.PropagateTags,
		CreatedAt:                     &now,
		CreatedBy:                     aws.String(w.iamARN("root")),
		Events:                        []ecstypes.ServiceEvent{},
		RoleArn:                       in.Role,
	}
	if launch == ecstypes.LaunchTypeFargate && s.s.PlatformVersion == nil {
		s.s.PlatformVersion = aws.String("LATEST")
	}
	if td != nil {
		s.s.TaskDefinition = td.TaskDefinitionArn
	}
	if c.services[name] == nil {
		c.svcOrder = append(c.svcOrder, name)
	}
	c.services[name] = s
	if len(in.Tags) > 0 {
		w.tags[arn] = append([]ecstypes.Tag(nil), in.Tags...)
	} else {
		delete(w.tags, arn)
	}
	w.clampDesired(s)
	if !s.external {
		w.newDeployment(s, "")
	}
	w.reconcile(s)
	return &ecs.CreateServiceOutput{Service: w.serviceView(s, false)}, nil
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

func (w *world) launchTypeFor(c *cluster, lt ecstypes.LaunchType, cps []ecstypes.CapacityProviderStrategyItem) (ecstypes.LaunchType, error) {
	if lt != "" && len(cps) > 0 {
		return "", errf(codeInvalidParameter, "Specifying both a launch type and capacity provider strategy is not supported.")
	}
	if lt != "" {
		switch lt {
		case ecstypes.LaunchTypeEc2, ecstypes.LaunchTypeFargate, ecstypes.LaunchTypeExternal:
			return lt, nil
		}
		return "", errf(codeInvalidParameter, "Invalid launch type %q.", lt)
	}
	if len(cps) == 0 {
		cps = c.c.DefaultCapacityProviderStrategy
	}
	for _, p := range cps {
		if n := aws.ToString(p.CapacityProvider); n == "FARGATE" || n == "FARGATE_SPOT" {
			return ecstypes.LaunchTypeFargate, nil
		}
	}
	return ecstypes.LaunchTypeEc2, nil
}

func (w *world) checkTaskDefLaunch(td *ecstypes.TaskDefinition, launch ecstypes.LaunchType, nc *ecstypes.NetworkConfiguration) error {
	if launch == ecstypes.LaunchTypeFargate && !hasField(td.Compatibilities, string(ecstypes.CompatibilityFargate)) {
		return errf(codeInvalidParameter, "Task definition does not support launch_type FARGATE.")
	}
	if td.NetworkMode == ecstypes.NetworkModeAwsvpc && (nc == nil || nc.AwsvpcConfiguration == nil) {
		return errf(codeInvalidParameter, "Network Configuration must be provided when networkMode 'awsvpc' is specified.")
	}
	if nc != nil && nc.AwsvpcConfiguration != nil && len(nc.AwsvpcConfiguration.Subnets) == 0 {
		return errf(codeInvalidParameter, "subnets can not be empty.")
	}
	return nil
}

func (w *world) checkLoadBalancers(td *ecstypes.TaskDefinition, lbs []ecstypes.LoadBalancer) error {
	for _, lb := range lbs {
		tg := aws.ToString(lb.TargetGroupArn)
		if tg == "" {
			return errf(codeInvalidParameter, "The emulator supports only target group load balancers (targetGroupArn is required).")
		}
		info, ok := w.lb.targetGroup(tg)
		if !ok {
			return errf(codeInvalidParameter, "Unable to find target group %s.", tg)
		}
		if len(info.LoadBalancerARNs) == 0 {
			return errf(codeInvalidParameter, "The target group with targetGroupArn %s does not have an associated load balancer.", tg)
		}
		if td.NetworkMode == ecstypes.NetworkModeAwsvpc && info.TargetType != "ip" {
			return errf(codeInvalidParameter, "The provided target group %s has target type instance, which is incompatible with the awsvpc network mode specified in the task definition.", tg)
		}
		if td != nil && !containerHasPort(td, aws.ToString(lb.ContainerName), deref(lb.ContainerPort)) {
			return errf(codeInvalidParameter, "The container %s did not have a container port %d defined.", aws.ToString(lb.ContainerName), deref(lb.ContainerPort))
		}
	}
	return nil
}

func containerHasPort(td *ecstypes.TaskDefinition, name string, port int32) bool {
	for _, cd := range td.ContainerDefinitions {
		if aws.ToString(cd.Name) != name {
			continue
		}
		for _, pm := range cd.PortMappings {
			if deref(pm.ContainerPort) == port {
				return true
			}
		}
	}
	return false
}

func deploymentConfig(in, cur *ecstypes.DeploymentConfiguration, daemon bool) (*ecstypes.DeploymentConfiguration, error) {
	var dc ecstypes.DeploymentConfiguration
	if cur != nil {
		dc = *cur
	} else if daemon {
		dc = ecstypes.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(0), MaximumPercent: aws.Int32(100)}
	} else {
		dc = ecstypes.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(100), MaximumPercent: aws.Int32(200)}
	}
	if dc.DeploymentCircuitBreaker == nil {
		dc.DeploymentCircuitBreaker = &ecstypes.DeploymentCircuitBreaker{}
	}
	if in != nil {
		if in.MinimumHealthyPercent != nil {
			dc.MinimumHealthyPercent = in.MinimumHealthyPercent
		}
		if in.MaximumPercent != nil {
			dc.MaximumPercent = in.MaximumPercent
		}
		if in.DeploymentCircuitBreaker != nil {
			cb := *in.DeploymentCircuitBreaker
			dc.DeploymentCircuitBreaker = &cb
		}
		if in.Alarms != nil {
			dc.Alarms = in.Alarms
		}
	}
	minP, maxP := deref(dc.MinimumHealthyPercent), deref(dc.MaximumPercent)
	if minP < 0 || minP > 100 {
		return nil, errf(codeInvalidParameter, "minimumHealthyPercent must be between 0 and 100.")
	}
	if maxP < 100 && !(daemon && maxP == 100) {
		return nil, errf(codeInvalidParameter, "maximumPercent must be at least 100.")
	}
	if maxP > 2000 {
		return nil, errf(codeInvalidParameter, "maximumPercent must be at most 2000.")
	}
	return &dc, nil
}

// ---- UpdateService ----

func (w *world) updateService(in *ecs.UpdateServiceInput) (*ecs.UpdateServiceOutput, error) {
	c, err := w.cluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	s, err := w.activeService(c, in.Service)
	if err != nil {
		return nil, err
	}
	newDep := in.ForceNewDeployment
	if s.external && (in.TaskDefinition != nil || in.LoadBalancers != nil || in.NetworkConfiguration != nil) {
		return nil, errf(codeInvalidParameter, "Only desiredCount, deploymentConfiguration and healthCheckGracePeriodSeconds can be updated for a service using the EXTERNAL deployment controller.")
	}
	if in.DesiredCount != nil {
		if s.daemon {
			return nil, errf(codeInvalidParameter, "Desired count can not be specified for the DAEMON scheduling strategy.")
		}
		if *in.DesiredCount < 0 || *in.DesiredCount > maxTasksPerService {
			return nil, errf(codeInvalidParameter, "Desired count must be between 0 and %d.", maxTasksPerService)
		}
	}
	td, _ := w.taskDef(aws.ToString(s.s.TaskDefinition))
	if in.TaskDefinition != nil {
		ntd, ok := w.taskDef(*in.TaskDefinition)
		if !ok {
			return nil, errf(codeInvalidParameter, "TaskDefinition not found.")
		}
		if ntd.Status != ecstypes.TaskDefinitionStatusActive {
			return nil, errf(codeInvalidParameter, "TaskDefinition is inactive.")
		}
		if aws.ToString(ntd.TaskDefinitionArn) != aws.ToString(s.s.TaskDefinition) {
			newDep = true
		}
		td = ntd
	}
	launch := s.s.LaunchType
	if in.CapacityProviderStrategy != nil {
		if launch, err = w.launchTypeFor(c, "", in.CapacityProviderStrategy); err != nil {
			return nil, err
		}
		newDep = true
	}
	nc := s.s.NetworkConfiguration
	if in.NetworkConfiguration != nil {
		nc = in.NetworkConfiguration
		newDep = true
	}
	lbs := s.s.LoadBalancers
	if in.LoadBalancers != nil {
		lbs = in.LoadBalancers
		newDep = true
	}
	if td != nil {
		if err := w.checkTaskDefLaunch(td, launch, nc); err != nil {
			return nil, err
		}
		if err := w.checkLoadBalancers(td, lbs); err != nil {
			return nil, err
		}
	}
	if in.ServiceRegistries != nil {
		if err := w.checkRegistries(in.ServiceRegistries); err != nil {
			return nil, err
		}
		newDep = true
	}
	dc, err := deploymentConfig(in.DeploymentConfiguration, s.s.DeploymentConfiguration, s.daemon)
	if err != nil {
		return nil, err
	}
	if in.HealthCheckGracePeriodSeconds != nil && len(lbs) == 0 {
		return nil, errf(codeInvalidParameter, "Health check grace period is only valid for services configured to use load balancers")
	}
	// All checks passed: apply.
	s.s.DeploymentConfiguration = dc
	if td != nil {
		s.s.TaskDefinition = td.TaskDefinitionArn
	}
	s.s.LaunchType = launch
	if in.CapacityProviderStrategy != nil {
		s.s.CapacityProviderStrategy = in.CapacityProviderStrategy
	}
	s.s.NetworkConfiguration = nc
	s.s.LoadBalancers = nonNil(lbs)
	if in.ServiceRegistries != nil {
		s.s.ServiceRegistries = in.ServiceRegistries
	}
	if in.HealthCheckGracePeriodSeconds != nil {
		s.s.HealthCheckGracePeriodSeconds = in.HealthCheckGracePeriodSeconds
	}
	if in.PlatformVersion != nil {
		s.s.PlatformVersion = in.PlatformVersion
		newDep = true
	}
	if in.EnableExecuteCommand != nil {
		s.s.EnableExecuteCommand = *in.EnableExecuteCommand
	}
	if in.DesiredCount != nil {
		s.s.DesiredCount = *in.DesiredCount
	}
	w.clampDesired(s)
	if newDep && !s.external {
		w.newDeployment(s, "")
	} else if len(s.deps) > 0 {
		s.deps[0].d.DesiredCount = s.s.DesiredCount
	}
	if s.external {
		w.rescaleTaskSets(s)
	}
	s.steady = false
	w.reconcile(s)
	return &ecs.UpdateServiceOutput{Service: w.serviceView(s, false)}, nil
}

// newDeployment makes a PRIMARY deployment from the service's current
// configuration; rollbackTo, if set, names the deployment rolled back to.
func (w *world) newDeployment(s *service, rollbackTo string) *deployment {
	now := w.now()
	dc := s.s.DeploymentConfiguration
	cb := dc.DeploymentCircuitBreaker
	d := &deployment{
		cbEnable:   cb != nil && cb.Enable,
		cbRollback: cb != nil && cb.Rollback,
		rollback:   rollbackTo != "",
	}
	id := "ecs-svc/" + w.digits(19)
	d.d = ecstypes.Deployment{
		Id:                       aws.String(id),
		Status:                   aws.String("PRIMARY"),
		TaskDefinition:           s.s.TaskDefinition,
		DesiredCount:             s.s.DesiredCount,
		CreatedAt:                &now,
		UpdatedAt:                &now,
		LaunchType:               s.s.LaunchType,
		CapacityProviderStrategy: s.s.CapacityProviderStrategy,
		PlatformVersion:          s.s.PlatformVersion,
		NetworkConfiguration:     s.s.NetworkConfiguration,
		RolloutState:             ecstypes.DeploymentRolloutStateInProgress,
	}
	if s.s.LaunchType == ecstypes.LaunchTypeFargate {
		d.d.PlatformVersion = aws.String("1.4.0")
		d.d.PlatformFamily = aws.String("Linux")
	}
	if s.daemon {
		d.d.DesiredCount = int32(w.activeInstances(s.cl))
	}
	d.threshold = failureThreshold(d.d.DesiredCount)
	d.revision = w.arn("ecs", "service-revision/"+s.cl.name+"/"+s.name+"/"+w.digits(19))
	reason := fmt.Sprintf("ECS deployment %s in progress.", id)
	if rollbackTo != "" {
		reason = fmt.Sprintf("ECS deployment circuit breaker: rolling back to deploymentId %s.", rollbackTo)
	}
	d.d.RolloutStateReason = aws.String(reason)
	for _, old := range s.deps {
		old.d.Status = aws.String("ACTIVE")
		old.d.UpdatedAt = &now
		if old.sd != nil && old.sd.Status == ecstypes.ServiceDeploymentStatusInProgress {
			old.sd.Status = ecstypes.ServiceDeploymentStatusStopped
			old.sd.StatusReason = aws.String("Superseded by a newer service deployment.")
			old.sd.StoppedAt = &now
			old.sd.FinishedAt = &now
			old.sd.UpdatedAt = &now
		}
	}
	s.deps = append([]*deployment{d}, s.deps...)
	if rollbackTo == "" {
		cbStatus := ecstypes.ServiceDeploymentRollbackMonitorsStatusDisabled
		if d.cbEnable {
			cbStatus = ecstypes.ServiceDeploymentRollbackMonitorsStatusMonitoring
		}
		sd := &ecstypes.ServiceDeployment{
			ServiceDeploymentArn:    aws.String(w.arn("ecs", "service-deployment/"+s.cl.name+"/"+s.name+"/"+w.hex(22))),
			ServiceArn:              s.s.ServiceArn,
			ClusterArn:              s.cl.c.ClusterArn,
			CreatedAt:               &now,
			StartedAt:               &now,
			UpdatedAt:               &now,
			Status:                  ecstypes.ServiceDeploymentStatusInProgress,
			DeploymentConfiguration: s.s.DeploymentConfiguration,
			DeploymentCircuitBreaker: &ecstypes.ServiceDeploymentCircuitBreaker{
				Status: cbStatus, Threshold: int32(d.threshold),
			},
			TargetServiceRevision: &ecstypes.ServiceRevisionSummary{Arn: aws.String(d.revision), RequestedTaskCount: d.d.DesiredCount},
		}
		for _, old := range s.deps[1:] {
			sd.SourceServiceRevisions = append(sd.SourceServiceRevisions, ecstypes.ServiceRevisionSummary{Arn: aws.String(old.revision)})
		}
		d.sd = sd
		s.history = append(s.history, sd)
		if len(s.history) > 100 {
			s.history = s.history[len(s.history)-100:]
		}
	}
	s.steady = false
	w.deploymentEvent(s, d, "SERVICE_DEPLOYMENT_IN_PROGRESS", reason)
	return d
}

func (w *world) clampDesired(s *service) {
	if lo, hi, ok := w.aasBounds("service/" + s.cl.name + "/" + s.name); ok {
		s.s.DesiredCount = int32(clampInt(int(s.s.DesiredCount), int(lo), int(hi)))
		if len(s.deps) > 0 {
			s.deps[0].d.DesiredCount = s.s.DesiredCount
		}
	}
}

// ---- DeleteService ----

func (w *world) deleteService(in *ecs.DeleteServiceInput) (*ecs.DeleteServiceOutput, error) {
	c, err := w.cluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	s, err := w.service(c, in.Service)
	if err != nil {
		return nil, err
	}
	if aws.ToString(s.s.Status) != "ACTIVE" {
		return nil, errf(codeServiceNotActive, "Service was not ACTIVE.")
	}
	if !s.daemon && s.s.DesiredCount > 0 && !aws.ToBool(in.Force) {
		return nil, errf(codeInvalidParameter, "The service cannot be stopped while it is scaled above 0.")
	}
	s.s.Status = aws.String("DRAINING")
	s.s.DesiredCount = 0
	w.reconcile(s)
	return &ecs.DeleteServiceOutput{Service: w.serviceView(s, false)}, nil
}

// ---- views ----

func (w *world) serviceView(s *service, withTags bool) *ecstypes.Service {
	v := s.s
	var running, pending int32
	perDep := map[string][2]int32{}
	for _, t := range s.tasks {
		st := aws.ToString(t.t.LastStatus)
		c := perDep[t.depID]
		switch st {
		case "RUNNING":
			running++
			c[0]++
		case "PROVISIONING", "PENDING", "ACTIVATING":
			pending++
			c[1]++
		}
		perDep[t.depID] = c
	}
	v.RunningCount = running
	v.PendingCount = pending
	v.Deployments = make([]ecstypes.Deployment, 0, len(s.deps))
	for i, d := range s.deps {
		dv := d.d
		c := perDep[d.id()]
		dv.RunningCount, dv.PendingCount = c[0], c[1]
		if i > 0 {
			dv.DesiredCount = w.liveCount(s, d.id())
		}
		v.Deployments = append(v.Deployments, dv)
	}
	if s.external {
		v.TaskSets = make([]ecstypes.TaskSet, 0, len(s.taskSets))
		for _, ts := range s.taskSets {
			v.TaskSets = append(v.TaskSets, w.taskSetView(ts))
		}
		if len(s.taskSets) > 0 {
			v.TaskDefinition = s.taskSets[0].ts.TaskDefinition
			for _, ts := range s.taskSets {
				if aws.ToString(ts.ts.Status) == "PRIMARY" {
					v.TaskDefinition = ts.ts.TaskDefinition
				}
			}
		}
	}
	if withTags {
		v.Tags = w.tags[*s.s.ServiceArn]
	}
	return &v
}

func (w *world) liveCount(s *service, depID string) int32 {
	var n int32
	for _, t := range s.tasks {
		if t.depID == depID && !t.stopping {
			n++
		}
	}
	return n
}

func (w *world) describeServices(in *ecs.DescribeServicesInput) (*describeServicesOut, error) {
	c, err := w.cluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	if len(in.Services) == 0 || len(in.Services) > 10 {
		return nil, errf(codeInvalidParameter, "services can have between 1 and 10 items.")
	}
	out := &describeServicesOut{services: make([][]byte, 0, len(in.Services)), failures: []ecstypes.Failure{}}
	tags := hasField(in.Include, "TAGS")
	for _, ref := range in.Services {
		s, ok := c.services[lastSegment(ref)]
		if !ok {
			arn := ref
			if !strings.HasPrefix(ref, "arn:") {
				arn = w.arn("ecs", "service/"+c.name+"/"+ref)
			}
			out.failures = append(out.failures, ecstypes.Failure{Arn: aws.String(arn), Reason: aws.String("MISSING")})
			continue
		}
		out.services = append(out.services, w.serviceJSON(s, tags))
	}
	return out, nil
}

// svcCache is a service's serialized view at one world generation.
type svcCache struct {
	gen  uint64
	tags bool
	data []byte
}

// serviceJSON returns the service's wire form, reusing the last one while
// the world has not changed (w.gen moves on every write). Callers hold at
// least the read lock.
func (w *world) serviceJSON(s *service, tags bool) []byte {
	if c := s.cache.Load(); c != nil && c.gen == w.gen && c.tags == tags {
		return c.data
	}
	jw := jsonWriter{buf: make([]byte, 0, 2048), stack: make([]frame, 0, 16)}
	w.serviceView(s, tags).Serialize(&jw)
	s.cache.Store(&svcCache{gen: w.gen, tags: tags, data: jw.buf})
	return jw.buf
}

// describeServicesOut is DescribeServicesOutput with pre-serialized
// services; it writes the same members in the same order.
type describeServicesOut struct {
	failures []ecstypes.Failure
	services [][]byte
}

// Serialize implements smithy.Serializable for the emulator's jsonWriter.
func (o *describeServicesOut) Serialize(ser smithy.ShapeSerializer) {
	jw, ok := ser.(*jsonWriter)
	if !ok {
		return
	}
	jw.buf = append(jw.buf, `{"failures":[`...)
	for i := range o.failures {
		if i > 0 {
			jw.buf = append(jw.buf, ',')
		}
		fw := jsonWriter{buf: jw.buf, stack: jw.stack[:0]}
		o.failures[i].Serialize(&fw)
		jw.buf = fw.buf
	}
	jw.buf = append(jw.buf, `],"services":[`...)
	for i, b := range o.services {
		if i > 0 {
			jw.buf = append(jw.buf, ',')
		}
		jw.buf = append(jw.buf, b...)
	}
	jw.buf = append(jw.buf, "]}"...)
}

func (w *world) listServices(in *ecs.ListServicesInput) (*ecs.ListServicesOutput, error) {
	c, err := w.cluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	var arns []string
	for _, n := range c.svcOrder {
		s := c.services[n]
		if aws.ToString(s.s.Status) == "INACTIVE" {
			continue
		}
		if in.LaunchType != "" && s.s.LaunchType != in.LaunchType {
			continue
		}
		if in.SchedulingStrategy != "" && s.s.SchedulingStrategy != in.SchedulingStrategy {
			continue
		}
		arns = append(arns, *s.s.ServiceArn)
	}
	st, e, next, err := page(len(arns), in.NextToken, in.MaxResults, 10, 100)
	if err != nil {
		return nil, err
	}
	return &ecs.ListServicesOutput{ServiceArns: append([]string{}, arns[st:e]...), NextToken: next}, nil
}

// ---- the scheduler ----

func (w *world) activeInstances(c *cluster) int {
	n := 0
	for _, inst := range c.instances {
		if aws.ToString(inst.ci.Status) == "ACTIVE" {
			n++
		}
	}
	return n
}

// kick reconciles a service now (callers hold the lock).
func (w *world) kick(s *service) { w.reconcile(s) }

// retryAt reconciles the service again at t.
func (w *world) retryAt(s *service, at time.Time) {
	if s.retry {
		return
	}
	s.retry = true
	w.after(at.Sub(w.now()), func() {
		s.retry = false
		w.reconcile(s)
	})
}

func (w *world) reconcile(s *service) {
	if s.inReconcile || w.closed {
		return
	}
	s.inReconcile = true
	defer func() { s.inReconcile = false }()
	switch {
	case aws.ToString(s.s.Status) == "DRAINING":
		w.drainService(s)
	case s.external:
		w.reconcileTaskSets(s)
	case s.daemon:
		w.reconcileDaemon(s)
	default:
		w.reconcileReplica(s)
	}
}

func (w *world) drainService(s *service) {
	var stopped []*task
	for _, t := range sortedTasks(s.tasks) {
		if !t.stopping {
			w.stopTask(t, ecstypes.TaskStopCodeServiceSchedulerInitiated, "Scaling activity initiated by deployment", false)
			stopped = append(stopped, t)
		}
	}
	if len(stopped) > 0 {
		w.tasksStopped(s, stopped)
	}
	for _, ts := range s.taskSets {
		ts.ts.Status = aws.String("DRAINING")
	}
	if len(s.tasks) == 0 {
		s.s.Status = aws.String("INACTIVE")
		now := w.now()
		for _, d := range s.deps {
			d.d.UpdatedAt = &now
		}
		s.taskSets = nil
	}
}

func sortedTasks(m map[string]*task) []*task {
	out := make([]*task, 0, len(m))
	for _, t := range m {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool {
		ti, tj := out[i].t.CreatedAt, out[j].t.CreatedAt
		if !ti.Equal(*tj) {
			return ti.Before(*tj)
		}
		return out[i].id < out[j].id
	})
	return out
}

// stopOrder puts the tasks a scheduler should stop first at the front:
// unhealthy and not yet running before healthy ones, newest first.
func stopOrder(ts []*task) {
	sort.SliceStable(ts, func(i, j int) bool {
		hi, hj := ts[i].healthy(), ts[j].healthy()
		if hi != hj {
			return !hi
		}
		return ts[i].t.CreatedAt.After(*ts[j].t.CreatedAt)
	})
}

func (w *world) reconcileReplica(s *service) {
	if len(s.deps) == 0 {
		return
	}
	p := s.deps[0]
	desired := int(s.s.DesiredCount)
	p.d.DesiredCount = s.s.DesiredCount
	dc := s.s.DeploymentConfiguration
	minHealthy := int(math.Ceil(float64(desired) * float64(deref(dc.MinimumHealthyPercent)) / 100))
	maxTotal := int(math.Floor(float64(desired) * float64(deref(dc.MaximumPercent)) / 100))

	var prim, old []*task
	healthy := 0
	for _, t := range sortedTasks(s.tasks) {
		if t.stopping {
			continue
		}
		if t.healthy() {
			healthy++
		}
		if t.depID == p.id() {
			prim = append(prim, t)
		} else {
			old = append(old, t)
		}
	}
	var stopped []*task
	// Scale in extra primary tasks.
	if len(prim) > desired {
		stopOrder(prim)
		extra := prim[:len(prim)-desired]
		for _, t := range extra {
			if t.healthy() {
				healthy--
			}
			w.stopTask(t, ecstypes.TaskStopCodeServiceSchedulerInitiated, "Scaling activity initiated by (deployment "+p.id()+")", false)
			stopped = append(stopped, t)
		}
		prim = prim[len(extra):]
	}
	// Replace old tasks while enough healthy tasks remain.
	stopOrder(old)
	var keep []*task
	for _, t := range old {
		if !t.healthy() || healthy-1 >= minHealthy {
			if t.healthy() {
				healthy--
			}
			w.stopTask(t, ecstypes.TaskStopCodeServiceSchedulerInitiated, "Scaling activity initiated by (deployment "+p.id()+")", false)
			stopped = append(stopped, t)
			continue
		}
		keep = append(keep, t)
	}
	old = keep
	if len(stopped) > 0 {
		w.tasksStopped(s, stopped)
	}
	// Launch primary tasks within maximumPercent.
	need := desired - len(prim)
	room := maxTotal - len(prim) - len(old)
	if n := min(need, room); n > 0 {
		if w.now().Before(p.nextLaunch) {
			w.retryAt(s, p.nextLaunch)
		} else {
			w.launchForService(s, p, n, nil)
		}
	}
	w.checkProgress(s)
}

func (w *world) reconcileDaemon(s *service) {
	if len(s.deps) == 0 {
		return
	}
	p := s.deps[0]
	c := s.cl
	n := w.activeInstances(c)
	s.s.DesiredCount = int32(n)
	p.d.DesiredCount = int32(n)
	minHealthy := int(math.Ceil(float64(n) * float64(deref(s.s.DeploymentConfiguration.MinimumHealthyPercent)) / 100))
	healthy := 0
	byInst := map[*instance][]*task{}
	for _, t := range sortedTasks(s.tasks) {
		if t.healthy() {
			healthy++
		}
		byInst[t.inst] = append(byInst[t.inst], t)
	}
	var stopped []*task
	var launch []*instance
	for _, id := range c.instOrder {
		inst := c.instances[id]
		if aws.ToString(inst.ci.Status) != "ACTIVE" {
			continue
		}
		var hasPrimary, busy bool
		for _, t := range byInst[inst] {
			switch {
			case t.stopping:
				busy = true
			case t.depID == p.id() && !hasPrimary:
				hasPrimary = true
			case t.depID == p.id():
				w.stopTask(t, ecstypes.TaskStopCodeServiceSchedulerInitiated, "Scaling activity initiated by (deployment "+p.id()+")", false)
				stopped = append(stopped, t)
			default:
				if !t.healthy() || healthy-1 >= minHealthy {
					if t.healthy() {
						healthy--
					}
					w.stopTask(t, ecstypes.TaskStopCodeServiceSchedulerInitiated, "Scaling activity initiated by (deployment "+p.id()+")", false)
					stopped = append(stopped, t)
				}
				busy = true
			}
		}
		if !hasPrimary && !busy {
			launch = append(launch, inst)
		}
	}
	if len(stopped) > 0 {
		w.tasksStopped(s, stopped)
	}
	if len(launch) > 0 {
		if w.now().Before(p.nextLaunch) {
			w.retryAt(s, p.nextLaunch)
		} else {
			w.launchForService(s, p, len(launch), launch)
		}
	}
	w.checkProgress(s)
}

// checkProgress completes the primary deployment and reports steady state.
func (w *world) checkProgress(s *service) {
	p := s.deps[0]
	desired := int(p.d.DesiredCount)
	healthyPrim, livePrim, others := 0, 0, 0
	for _, t := range s.tasks {
		if t.depID != p.id() {
			others++
			continue
		}
		if t.stopping {
			others++
			continue
		}
		livePrim++
		if t.healthy() {
			healthyPrim++
		}
	}
	done := healthyPrim == desired && livePrim == desired && others == 0
	if done && p.d.RolloutState == ecstypes.DeploymentRolloutStateInProgress {
		w.completeDeployment(s, p)
	}
	steady := done && p.d.RolloutState == ecstypes.DeploymentRolloutStateCompleted
	if steady && !s.steady {
		w.svcEvent(s, "has reached a steady state.")
		w.serviceAction(s, "INFO", "SERVICE_STEADY_STATE", nil)
	}
	s.steady = steady
}

func (w *world) completeDeployment(s *service, d *deployment) {
	now := w.now()
	d.d.RolloutState = ecstypes.DeploymentRolloutStateCompleted
	reason := fmt.Sprintf("ECS deployment %s completed.", d.id())
	d.d.RolloutStateReason = aws.String(reason)
	d.d.UpdatedAt = &now
	s.deps = s.deps[:1]
	s.lastGood = d
	if d.sd != nil {
		if d.rollback {
			d.sd.Status = ecstypes.ServiceDeploymentStatusRollbackSuccessful
		} else {
			d.sd.Status = ecstypes.ServiceDeploymentStatusSuccessful
		}
		d.sd.FinishedAt = &now
		d.sd.UpdatedAt = &now
		if d.sd.TargetServiceRevision != nil && !d.rollback {
			d.sd.TargetServiceRevision.RunningTaskCount = d.d.DesiredCount
		}
	}
	w.svcEvent(s, "(deployment %s) deployment completed.", d.id())
	w.deploymentEvent(s, d, "SERVICE_DEPLOYMENT_COMPLETED", reason)
}

// recordFailure counts a failed task of a deployment for the circuit breaker.
func (w *world) recordFailure(s *service, depID string) {
	var d *deployment
	for _, x := range s.deps {
		if x.id() == depID {
			d = x
		}
	}
	if d == nil {
		return
	}
	now := w.now()
	d.failures++
	d.d.FailedTasks++
	d.d.UpdatedAt = &now
	d.nextLaunch = now.Add(w.timings.LaunchBackoff)
	if d.sd != nil && d.sd.DeploymentCircuitBreaker != nil {
		d.sd.DeploymentCircuitBreaker.FailureCount = int32(d.failures)
	}
	if d.d.RolloutState != ecstypes.DeploymentRolloutStateInProgress || d != s.deps[0] {
		return
	}
	if d.failures >= d.threshold && !d.impaired {
		d.impaired = true
		w.svcEvent(s, "is unable to consistently start tasks successfully. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.")
		w.serviceAction(s, "WARN", "SERVICE_TASK_START_IMPAIRED", nil)
	}
	if d.cbEnable && d.failures >= d.threshold {
		w.failDeployment(s, d, "ECS deployment circuit breaker: tasks failed to start.", "tasks failed to start", d.cbRollback)
	}
}

// alarmFired fails the in-progress deployments that watch the alarm
// through deploymentConfiguration.alarms, as ECS deployment alarms do.
func (w *world) alarmFired(name string) {
	for _, c := range w.clusters {
		for _, s := range c.services {
			if len(s.deps) == 0 || aws.ToString(s.s.Status) != "ACTIVE" {
				continue
			}
			p := s.deps[0]
			al := s.s.DeploymentConfiguration.Alarms
			if p.d.RolloutState != ecstypes.DeploymentRolloutStateInProgress || al == nil || !al.Enable || !hasField(al.AlarmNames, name) {
				continue
			}
			w.failDeployment(s, p, fmt.Sprintf("ECS deployment alarm: alarm(s) %s in ALARM state.", name), "alarm "+name+" in ALARM state", al.Rollback)
			w.reconcile(s)
		}
	}
}

func (w *world) failDeployment(s *service, d *deployment, reason, short string, rollback bool) {
	now := w.now()
	d.d.RolloutState = ecstypes.DeploymentRolloutStateFailed
	d.d.RolloutStateReason = aws.String(reason)
	d.d.UpdatedAt = &now
	w.svcEvent(s, "(deployment %s) deployment failed: %s.", d.id(), short)
	w.deploymentEvent(s, d, "SERVICE_DEPLOYMENT_FAILED", reason)
	good := s.lastGood
	if !rollback || good == nil || d.rollback {
		if d.sd != nil {
			d.sd.Status = ecstypes.ServiceDeploymentStatusStopped
			d.sd.StatusReason = aws.String(reason)
			d.sd.StoppedAt = &now
			d.sd.FinishedAt = &now
			d.sd.UpdatedAt = &now
		}
		return
	}
	if d.sd != nil {
		d.sd.Status = ecstypes.ServiceDeploymentStatusRollbackInProgress
		d.sd.StatusReason = aws.String(reason)
		d.sd.UpdatedAt = &now
		d.sd.Rollback = &ecstypes.Rollback{Reason: aws.String(reason), StartedAt: &now, ServiceRevisionArn: aws.String(good.revision)}
	}
	// Roll back to the last completed deployment's configuration.
	s.s.TaskDefinition = good.d.TaskDefinition
	s.s.LaunchType = good.d.LaunchType
	s.s.NetworkConfiguration = good.d.NetworkConfiguration
	rb := w.newDeployment(s, good.id())
	rb.sd = d.sd
	rb.revision = good.revision
	rb.cbEnable, rb.cbRollback = d.cbEnable, false
	rb.d.TaskDefinition = good.d.TaskDefinition
	// The rollback adopts the tasks still running the good revision.
	for _, t := range s.tasks {
		if t.depID == good.id() && !t.stopping {
			t.depID = rb.id()
			t.t.StartedBy = rb.d.Id
		}
	}
	var kept []*deployment
	for _, x := range s.deps {
		if x != good {
			kept = append(kept, x)
		}
	}
	s.deps = kept
	w.svcEvent(s, "(deployment %s) rolling back to deployment %s.", d.id(), good.id())
}
