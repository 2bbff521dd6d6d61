package awsemu

import (
	"math"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

type taskSet struct {
	ts     ecstypes.TaskSet
	svc    *service
	steady bool
}

func (w *world) taskSetByArn(arn string) *taskSet {
	for _, c := range w.clusters {
		for _, s := range c.services {
			for _, ts := range s.taskSets {
				if aws.ToString(ts.ts.TaskSetArn) == arn {
					return ts
				}
			}
		}
	}
	return nil
}

func findTaskSet(s *service, ref string) *taskSet {
	for _, ts := range s.taskSets {
		if aws.ToString(ts.ts.TaskSetArn) == ref || aws.ToString(ts.ts.Id) == ref || strings.TrimPrefix(aws.ToString(ts.ts.Id), "ecs-svc/") == ref {
			return ts
		}
	}
	return nil
}

func (w *world) externalService(clusterRef, svcRef *string) (*cluster, *service, error) {
	c, err := w.cluster(clusterRef)
	if err != nil {
		return nil, nil, err
	}
	s, err := w.activeService(c, svcRef)
	if err != nil {
		return nil, nil, err
	}
	if !s.external {
		return nil, nil, errf(codeInvalidParameter, "Task sets are only supported for services that use the EXTERNAL deployment controller.")
	}
	return c, s, nil
}

func computedCount(desired int32, sc *ecstypes.Scale) int32 {
	if sc == nil {
		return desired
	}
	return int32(math.Ceil(float64(desired) * sc.Value / 100))
}

func (w *world) createTaskSet(in *ecs.CreateTaskSetInput) (*ecs.CreateTaskSetOutput, error) {
	c, s, err := w.externalService(in.Cluster, in.Service)
	if err != nil {
		return nil, err
	}
	td, ok := w.taskDef(aws.ToString(in.TaskDefinition))
	if !ok {
		return nil, errf(codeInvalidParameter, "TaskDefinition not found.")
	}
	launch, err := w.launchTypeFor(c, in.LaunchType, in.CapacityProviderStrategy)
	if err != nil {
		return nil, err
	}
	if err := w.checkTaskDefLaunch(td, launch, in.NetworkConfiguration); err != nil {
		return nil, err
	}
	if err := w.checkLoadBalancers(td, in.LoadBalancers); err != nil {
		return nil, err
	}
	if err := w.checkRegistries(in.ServiceRegistries); err != nil {
		return nil, err
	}
	sc := in.Scale
	if sc == nil {
		sc = &ecstypes.Scale{Value: 100, Unit: ecstypes.ScaleUnitPercent}
	}
	if sc.Value < 0 || sc.Value > 100 {
		return nil, errf(codeInvalidParameter, "scale value must be between 0 and 100.")
	}
	if sc.Unit == "" {
		sc.Unit = ecstypes.ScaleUnitPercent
	}
	now := w.now()
	id := "ecs-svc/" + w.digits(19)
	status := "ACTIVE"
	if len(s.taskSets) == 0 {
		status = "PRIMARY"
	}
	ts := &taskSet{svc: s}
	ts.ts = ecstypes.TaskSet{
		Id:                       aws.String(id),
		TaskSetArn:               aws.String(w.arn("ecs", "task-set/"+c.name+"/"+s.name+"/"+id)),
		ServiceArn:               s.s.ServiceArn,
		ClusterArn:               c.c.ClusterArn,
		ExternalId:               in.ExternalId,
		StartedBy:                aws.String("EXTERNAL"),
		Status:                   aws.String(status),
		TaskDefinition:           td.TaskDefinitionArn,
		LaunchType:               launch,
		CapacityProviderStrategy: in.CapacityProviderStrategy,
		NetworkConfiguration:     in.NetworkConfiguration,
		LoadBalancers:            nonNil(in.LoadBalancers),
		ServiceRegistries:        nonNil(in.ServiceRegistries),
		Scale:                    sc,
		CreatedAt:                &now,
		UpdatedAt:                &now,
		StabilityStatus:          ecstypes.StabilityStatusStabilizing,
		StabilityStatusAt:        &now,
		PlatformVersion:          in.PlatformVersion,
	}
	if launch == ecstypes.LaunchTypeFargate {
		ts.ts.PlatformVersion = aws.String("1.4.0")
	}
	s.taskSets = append(s.taskSets, ts)
	if len(in.Tags) > 0 {
		w.tags[*ts.ts.TaskSetArn] = in.Tags
	}
	w.reconcile(s)
	v := w.taskSetView(ts)
	return &ecs.CreateTaskSetOutput{TaskSet: &v}, nil
}

func (w *world) rescaleTaskSets(s *service) {
	for _, ts := range s.taskSets {
		if aws.ToString(ts.ts.Status) != "DRAINING" {
			ts.ts.ComputedDesiredCount = computedCount(s.s.DesiredCount, ts.ts.Scale)
		}
	}
}

func (w *world) taskSetView(ts *taskSet) ecstypes.TaskSet {
	v := ts.ts
	if aws.ToString(v.Status) != "DRAINING" {
		v.ComputedDesiredCount = computedCount(ts.svc.s.DesiredCount, ts.ts.Scale)
	}
	for _, t := range ts.svc.tasks {
		if t.ts != ts {
			continue
		}
		switch aws.ToString(t.t.LastStatus) {
		case "RUNNING":
			v.RunningCount++
		case "PROVISIONING", "PENDING", "ACTIVATING":
			v.PendingCount++
		}
	}
	return v
}

func (w *world) reconcileTaskSets(s *service) {
	var keep []*taskSet
	for _, ts := range s.taskSets {
		want := 0
		if aws.ToString(ts.ts.Status) != "DRAINING" {
			want = int(computedCount(s.s.DesiredCount, ts.ts.Scale))
			ts.ts.ComputedDesiredCount = int32(want)
		} else {
			ts.ts.ComputedDesiredCount = 0
		}
		var live []*task
		healthy, total := 0, 0
		for _, t := range sortedTasks(s.tasks) {
			if t.ts != ts {
				continue
			}
			total++
			if !t.stopping {
				live = append(live, t)
				if t.healthy() {
					healthy++
				}
			}
		}
		if len(live) > want {
			stopOrder(live)
			for _, t := range live[:len(live)-want] {
				w.stopTask(t, ecstypes.TaskStopCodeServiceSchedulerInitiated, "Scaling activity initiated by (deployment "+aws.ToString(ts.ts.Id)+")", false)
			}
		} else if n := want - len(live); n > 0 {
			td, ok := w.taskDef(aws.ToString(ts.ts.TaskDefinition))
			if ok {
				var started []*task
				for i := 0; i < n; i++ {
					t, err := w.launchTask(s.cl, launchSpec{
						svc: s, ts: ts, td: td, launch: ts.ts.LaunchType, cps: ts.ts.CapacityProviderStrategy, nc: ts.ts.NetworkConfiguration,
						startedBy: aws.ToString(ts.ts.Id), group: "service:" + s.name, lbs: ts.ts.LoadBalancers, regs: ts.ts.ServiceRegistries,
					})
					if err != nil {
						w.placementFailed(s, err.Error())
						w.retryAt(s, w.now().Add(time.Minute))
						break
					}
					started = append(started, t)
				}
				if len(started) > 0 {
					w.svcEvent(s, "has started %d tasks: %s.", len(started), fmtTasks(started))
				}
			}
		}
		if aws.ToString(ts.ts.Status) == "DRAINING" && total == 0 {
			continue // drained: the task set is gone
		}
		keep = append(keep, ts)
		steady := healthy == want && len(live) == want && total == len(live)
		if steady != ts.steady {
			now := w.now()
			ts.steady = steady
			ts.ts.StabilityStatusAt = &now
			if steady {
				ts.ts.StabilityStatus = ecstypes.StabilityStatusSteadyState
				w.serviceAction(s, "INFO", "TASKSET_STEADY_STATE", nil)
			} else {
				ts.ts.StabilityStatus = ecstypes.StabilityStatusStabilizing
			}
		}
	}
	s.taskSets = keep
	steady := true
	for _, ts := range s.taskSets {
		steady = steady && ts.steady
	}
	if steady && !s.steady {
		w.svcEvent(s, "has reached a steady state.")
		w.serviceAction(s, "INFO", "SERVICE_STEADY_STATE", nil)
	}
	s.steady = steady
}

func (w *world) updateTaskSet(in *ecs.UpdateTaskSetInput) (*ecs.UpdateTaskSetOutput, error) {
	_, s, err := w.externalService(in.Cluster, in.Service)
	if err != nil {
		return nil, err
	}
	ts := findTaskSet(s, aws.ToString(in.TaskSet))
	if ts == nil {
		return nil, errf("TaskSetNotFoundException", "The specified task set does not exist.")
	}
	if in.Scale == nil || in.Scale.Value < 0 || in.Scale.Value > 100 {
		return nil, errf(codeInvalidParameter, "scale value must be between 0 and 100.")
	}
	sc := *in.Scale
	if sc.Unit == "" {
		sc.Unit = ecstypes.ScaleUnitPercent
	}
	ts.ts.Scale = &sc
	ts.ts.UpdatedAt = ptrTime(w.now())
	w.reconcile(s)
	v := w.taskSetView(ts)
	return &ecs.UpdateTaskSetOutput{TaskSet: &v}, nil
}

func (w *world) updateServicePrimaryTaskSet(in *ecs.UpdateServicePrimaryTaskSetInput) (*ecs.UpdateServicePrimaryTaskSetOutput, error) {
	_, s, err := w.externalService(in.Cluster, in.Service)
	if err != nil {
		return nil, err
	}
	ts := findTaskSet(s, aws.ToString(in.PrimaryTaskSet))
	if ts == nil {
		return nil, errf("TaskSetNotFoundException", "The specified task set does not exist.")
	}
	if aws.ToString(ts.ts.Status) == "DRAINING" {
		return nil, errf(codeInvalidParameter, "A DRAINING task set cannot become the primary task set.")
	}
	now := w.now()
	for _, o := range s.taskSets {
		if aws.ToString(o.ts.Status) == "PRIMARY" {
			o.ts.Status = aws.String("ACTIVE")
			o.ts.UpdatedAt = &now
		}
	}
	ts.ts.Status = aws.String("PRIMARY")
	ts.ts.UpdatedAt = &now
	s.s.TaskDefinition = ts.ts.TaskDefinition
	v := w.taskSetView(ts)
	return &ecs.UpdateServicePrimaryTaskSetOutput{TaskSet: &v}, nil
}

func (w *world) deleteTaskSet(in *ecs.DeleteTaskSetInput) (*ecs.DeleteTaskSetOutput, error) {
	_, s, err := w.externalService(in.Cluster, in.Service)
	if err != nil {
		return nil, err
	}
	ts := findTaskSet(s, aws.ToString(in.TaskSet))
	if ts == nil {
		return nil, errf("TaskSetNotFoundException", "The specified task set does not exist.")
	}
	if aws.ToString(ts.ts.Status) == "PRIMARY" && !aws.ToBool(in.Force) {
		return nil, errf(codeInvalidParameter, "The primary task set cannot be deleted unless force is set.")
	}
	ts.ts.Status = aws.String("DRAINING")
	ts.ts.UpdatedAt = ptrTime(w.now())
	v := w.taskSetView(ts)
	w.reconcile(s)
	return &ecs.DeleteTaskSetOutput{TaskSet: &v}, nil
}

func (w *world) describeTaskSets(in *ecs.DescribeTaskSetsInput) (*ecs.DescribeTaskSetsOutput, error) {
	_, s, err := w.externalService(in.Cluster, in.Service)
	if err != nil {
		return nil, err
	}
	out := &ecs.DescribeTaskSetsOutput{TaskSets: []ecstypes.TaskSet{}, Failures: []ecstypes.Failure{}}
	if len(in.TaskSets) == 0 {
		for _, ts := range s.taskSets {
			out.TaskSets = append(out.TaskSets, w.taskSetView(ts))
		}
		return out, nil
	}
	for _, ref := range in.TaskSets {
		ts := findTaskSet(s, ref)
		if ts == nil {
			out.Failures = append(out.Failures, ecstypes.Failure{Arn: aws.String(ref), Reason: aws.String("MISSING")})
			continue
		}
		v := w.taskSetView(ts)
		if hasField(in.Include, "TAGS") {
			v.Tags = w.tags[*ts.ts.TaskSetArn]
		}
		out.TaskSets = append(out.TaskSets, v)
	}
	return out, nil
}

// ---- service deployments ----

// listServiceDeploymentsInput mirrors ecs.ListServiceDeploymentsInput with
// createdAt's timestamps as the epoch seconds the wire carries.
type listServiceDeploymentsInput struct {
	Cluster    *string
	Service    *string
	Status     []ecstypes.ServiceDeploymentStatus
	CreatedAt  *struct{ Before, After *float64 }
	MaxResults *int32
	NextToken  *string
}

func (w *world) listServiceDeployments(in *listServiceDeploymentsInput) (*ecs.ListServiceDeploymentsOutput, error) {
	c, err := w.cluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	s, err := w.service(c, in.Service)
	if err != nil {
		return nil, err
	}
	var list []ecstypes.ServiceDeploymentBrief
	for i := len(s.history) - 1; i >= 0; i-- {
		sd := s.history[i]
		if len(in.Status) > 0 && !hasField(in.Status, string(sd.Status)) {
			continue
		}
		if in.CreatedAt != nil {
			ts := float64(sd.CreatedAt.UnixMilli()) / 1000
			if in.CreatedAt.Before != nil && ts >= *in.CreatedAt.Before || in.CreatedAt.After != nil && ts <= *in.CreatedAt.After {
				continue
			}
		}
		b := ecstypes.ServiceDeploymentBrief{
			ServiceDeploymentArn: sd.ServiceDeploymentArn, ServiceArn: sd.ServiceArn, ClusterArn: sd.ClusterArn,
			CreatedAt: sd.CreatedAt, StartedAt: sd.StartedAt, FinishedAt: sd.FinishedAt, Status: sd.Status, StatusReason: sd.StatusReason,
		}
		if sd.TargetServiceRevision != nil {
			b.TargetServiceRevisionArn = sd.TargetServiceRevision.Arn
		}
		list = append(list, b)
	}
	st, e, next, err := page(len(list), in.NextToken, in.MaxResults, 20, 100)
	if err != nil {
		return nil, err
	}
	return &ecs.ListServiceDeploymentsOutput{ServiceDeployments: append([]ecstypes.ServiceDeploymentBrief{}, list[st:e]...), NextToken: next}, nil
}

func (w *world) describeServiceDeployments(in *ecs.DescribeServiceDeploymentsInput) (*ecs.DescribeServiceDeploymentsOutput, error) {
	if len(in.ServiceDeploymentArns) == 0 || len(in.ServiceDeploymentArns) > 20 {
		return nil, errf(codeInvalidParameter, "serviceDeploymentArns must have between 1 and 20 items.")
	}
	out := &ecs.DescribeServiceDeploymentsOutput{ServiceDeployments: []ecstypes.ServiceDeployment{}, Failures: []ecstypes.Failure{}}
	for _, arn := range in.ServiceDeploymentArns {
		found := false
		for _, c := range w.clusters {
			for _, s := range c.services {
				for _, sd := range s.history {
					if aws.ToString(sd.ServiceDeploymentArn) == arn {
						v := *sd
						if v.TargetServiceRevision != nil {
							r := *v.TargetServiceRevision
							for _, d := range s.deps {
								if d.revision == aws.ToString(r.Arn) {
									r.RunningTaskCount = w.liveRunning(s, d.id())
								}
							}
							v.TargetServiceRevision = &r
						}
						out.ServiceDeployments = append(out.ServiceDeployments, v)
						found = true
					}
				}
			}
		}
		if !found {
			out.Failures = append(out.Failures, ecstypes.Failure{Arn: aws.String(arn), Reason: aws.String("MISSING")})
		}
	}
	return out, nil
}

func (w *world) liveRunning(s *service, depID string) int32 {
	var n int32
	for _, t := range s.tasks {
		if t.depID == depID && aws.ToString(t.t.LastStatus) == "RUNNING" {
			n++
		}
	}
	return n
}
