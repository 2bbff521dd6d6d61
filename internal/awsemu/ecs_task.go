package awsemu

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

type task struct {
	t        ecstypes.Task
	id       string
	cl       *cluster
	svc      *service
	ts       *taskSet
	depID    string // deployment or task set id
	td       *ecstypes.TaskDefinition
	inst     *instance
	fault    imageFault
	ip       string
	port     int32 // host port for bridge-mode tasks
	timers   []simclock.Timer
	targets  []*target
	hasHC    bool
	hc       ecstypes.HealthCheck
	stopping bool
	failed   bool
	drains   int
	sdIDs    []string // Cloud Map services this task is registered in
	lbs      []ecstypes.LoadBalancer
	regs     []ecstypes.ServiceRegistry
}

type target struct {
	tg, id     string
	port       int32
	healthy    bool
	unhealthy  bool
	registered bool
}

// healthy is what the scheduler counts toward minimumHealthyPercent and
// deployment completion.
func (t *task) healthy() bool {
	if t.stopping || aws.ToString(t.t.LastStatus) != "RUNNING" {
		return false
	}
	if t.hasHC && t.t.HealthStatus != ecstypes.HealthStatusHealthy {
		return false
	}
	for _, tg := range t.targets {
		if !tg.healthy {
			return false
		}
	}
	return true
}

type launchSpec struct {
	svc       *service
	dep       *deployment
	ts        *taskSet
	td        *ecstypes.TaskDefinition
	launch    ecstypes.LaunchType
	cps       []ecstypes.CapacityProviderStrategyItem
	nc        *ecstypes.NetworkConfiguration
	startedBy string
	group     string
	inst      *instance
	lbs       []ecstypes.LoadBalancer
	regs      []ecstypes.ServiceRegistry
	platform  *string
	tags      []ecstypes.Tag
	overrides *ecstypes.TaskOverride
}

// launchForService starts n tasks of deployment d (on the given instances
// for DAEMON services).
func (w *world) launchForService(s *service, d *deployment, n int, insts []*instance) {
	td, ok := w.taskDef(aws.ToString(d.d.TaskDefinition))
	if !ok {
		return
	}
	var started []*task
	for i := 0; i < n; i++ {
		spec := launchSpec{
			svc: s, dep: d, td: td, launch: d.d.LaunchType, cps: d.d.CapacityProviderStrategy, nc: d.d.NetworkConfiguration,
			startedBy: d.id(), group: "service:" + s.name, lbs: s.s.LoadBalancers, regs: s.s.ServiceRegistries, platform: d.d.PlatformVersion,
		}
		if s.s.PropagateTags == ecstypes.PropagateTagsService {
			spec.tags = w.tags[*s.s.ServiceArn]
		}
		if insts != nil {
			spec.inst = insts[i]
		}
		t, err := w.launchTask(s.cl, spec)
		if err != nil {
			w.placementFailed(s, err.Error())
			d.nextLaunch = w.now().Add(time.Minute)
			w.retryAt(s, d.nextLaunch)
			break
		}
		started = append(started, t)
	}
	if len(started) > 0 {
		w.svcEvent(s, "has started %d tasks: %s.", len(started), fmtTasks(started))
	}
}

// taskNeeds is the CPU units and MiB of memory a task reserves on an
// instance: the task-level sizes, or the sum of its containers'.
func taskNeeds(td *ecstypes.TaskDefinition) (cpu, mem int64) {
	cpu, _ = strconv.ParseInt(aws.ToString(td.Cpu), 10, 64)
	mem, _ = strconv.ParseInt(aws.ToString(td.Memory), 10, 64)
	var ccpu, cmem int64
	for _, cd := range td.ContainerDefinitions {
		ccpu += int64(cd.Cpu)
		switch {
		case cd.MemoryReservation != nil:
			cmem += int64(*cd.MemoryReservation)
		case cd.Memory != nil:
			cmem += int64(*cd.Memory)
		}
	}
	if cpu == 0 {
		cpu = ccpu
	}
	if mem == 0 {
		mem = cmem
	}
	return cpu, mem
}

// resource returns an instance's registered amount of CPU or MEMORY.
func resource(rs []ecstypes.Resource, name string) int64 {
	for _, r := range rs {
		if aws.ToString(r.Name) == name {
			return int64(r.IntegerValue)
		}
	}
	return 0
}

// freeOn is what an instance has left after the tasks it holds (tasks keep
// their reservation until they are STOPPED).
func (w *world) freeOn(c *cluster, inst *instance) (cpu, mem int64, tasks int) {
	cpu, mem = resource(inst.ci.RegisteredResources, "CPU"), resource(inst.ci.RegisteredResources, "MEMORY")
	for _, t := range c.tasks {
		if t.inst != inst || aws.ToString(t.t.LastStatus) == "STOPPED" {
			continue
		}
		tc, tm := taskNeeds(t.td)
		cpu -= tc
		mem -= tm
		tasks++
	}
	return cpu, mem, tasks
}

// pickInstance spreads tasks: the active instance with the fewest tasks
// among those with room for td.
func (w *world) pickInstance(c *cluster, td *ecstypes.TaskDefinition) (*instance, error) {
	needCPU, needMem := taskNeeds(td)
	var best *instance
	bestN, active := 0, 0
	for _, id := range c.instOrder {
		inst := c.instances[id]
		if aws.ToString(inst.ci.Status) != "ACTIVE" {
			continue
		}
		active++
		cpu, mem, n := w.freeOn(c, inst)
		if cpu < needCPU || mem < needMem {
			continue
		}
		if best == nil || n < bestN {
			best, bestN = inst, n
		}
	}
	switch {
	case active == 0:
		return nil, fmt.Errorf("No Container Instances were found in your cluster.")
	case best == nil:
		return nil, fmt.Errorf("RESOURCE:MEMORY or RESOURCE:CPU: no container instance has %d CPU units and %d MiB free.", needCPU, needMem)
	}
	return best, nil
}

func (w *world) launchTask(c *cluster, sp launchSpec) (*task, error) {
	if sp.launch == ecstypes.LaunchTypeEc2 {
		if sp.inst == nil {
			inst, err := w.pickInstance(c, sp.td)
			if err != nil {
				return nil, err
			}
			sp.inst = inst
		} else {
			needCPU, needMem := taskNeeds(sp.td)
			if cpu, mem, _ := w.freeOn(c, sp.inst); cpu < needCPU || mem < needMem {
				return nil, fmt.Errorf("RESOURCE:MEMORY or RESOURCE:CPU: container instance %s has %d CPU units and %d MiB free, the task needs %d and %d.", sp.inst.id, cpu, mem, needCPU, needMem)
			}
		}
	}
	now := w.now()
	id := w.hex(32)
	arn := w.arn("ecs", "task/"+c.name+"/"+id)
	t := &task{id: id, cl: c, svc: sp.svc, ts: sp.ts, td: sp.td, inst: sp.inst, lbs: sp.lbs, regs: sp.regs}
	if sp.dep != nil {
		t.depID = sp.dep.id()
	} else if sp.ts != nil {
		t.depID = aws.ToString(sp.ts.ts.Id)
	}
	t.ip = fmt.Sprintf("10.0.%d.%d", w.rng.IntN(250)+1, w.rng.IntN(250)+2)
	az := w.region + string(rune('a'+w.rng.IntN(3)))
	t.t = ecstypes.Task{
		TaskArn:           aws.String(arn),
		ClusterArn:        c.c.ClusterArn,
		TaskDefinitionArn: sp.td.TaskDefinitionArn,
		LastStatus:        aws.String("PROVISIONING"),
		DesiredStatus:     aws.String("RUNNING"),
		CreatedAt:         &now,
		Group:             aws.String(sp.group),
		LaunchType:        sp.launch,
		Cpu:               sp.td.Cpu,
		Memory:            sp.td.Memory,
		AvailabilityZone:  aws.String(az),
		Connectivity:      ecstypes.ConnectivityConnected,
		ConnectivityAt:    &now,
		Version:           1,
		Attributes:        []ecstypes.Attribute{{Name: aws.String("ecs.cpu-architecture"), Value: aws.String("x86_64")}},
		Overrides:         &ecstypes.TaskOverride{ContainerOverrides: []ecstypes.ContainerOverride{}},
		Tags:              sp.tags,
		HealthStatus:      ecstypes.HealthStatusUnknown,
		Attachments:       []ecstypes.Attachment{},
	}
	if sp.overrides != nil {
		t.t.Overrides = sp.overrides
	}
	if sp.startedBy != "" {
		t.t.StartedBy = aws.String(sp.startedBy)
	}
	if len(sp.cps) > 0 {
		t.t.CapacityProviderName = sp.cps[0].CapacityProvider
	}
	if sp.launch == ecstypes.LaunchTypeFargate {
		t.t.PlatformVersion = aws.String("1.4.0")
		t.t.PlatformFamily = aws.String("Linux")
		t.t.EphemeralStorage = &ecstypes.EphemeralStorage{SizeInGiB: 20}
	}
	if sp.inst != nil {
		t.t.ContainerInstanceArn = sp.inst.ci.ContainerInstanceArn
		if sp.td.NetworkMode == ecstypes.NetworkModeBridge {
			t.port = sp.inst.next
			sp.inst.next++
		}
	}
	eniID := "eni-" + w.hex(17)
	if sp.td.NetworkMode == ecstypes.NetworkModeAwsvpc {
		subnet := "subnet-" + w.hex(17)
		if sp.nc != nil && sp.nc.AwsvpcConfiguration != nil && len(sp.nc.AwsvpcConfiguration.Subnets) > 0 {
			subnet = sp.nc.AwsvpcConfiguration.Subnets[0]
		}
		t.t.Attachments = []ecstypes.Attachment{{
			Id:     aws.String(w.uuid()),
			Type:   aws.String("ElasticNetworkInterface"),
			Status: aws.String("PRECREATED"),
			Details: []ecstypes.KeyValuePair{
				{Name: aws.String("subnetId"), Value: aws.String(subnet)},
				{Name: aws.String("networkInterfaceId"), Value: aws.String(eniID)},
				{Name: aws.String("macAddress"), Value: aws.String(fmt.Sprintf("0a:%s:%s:%s:%s:%s", w.hex(2), w.hex(2), w.hex(2), w.hex(2), w.hex(2)))},
				{Name: aws.String("privateDnsName"), Value: aws.String("ip-" + strings.ReplaceAll(t.ip, ".", "-") + ".ec2.internal")},
				{Name: aws.String("privateIPv4Address"), Value: aws.String(t.ip)},
			},
		}}
	}
	for _, cd := range sp.td.ContainerDefinitions {
		ct := ecstypes.Container{
			ContainerArn:      aws.String(w.arn("ecs", "container/"+c.name+"/"+id+"/"+w.uuid())),
			TaskArn:           aws.String(arn),
			Name:              cd.Name,
			Image:             cd.Image,
			LastStatus:        aws.String("PENDING"),
			Cpu:               aws.String(fmt.Sprint(cd.Cpu)),
			NetworkBindings:   []ecstypes.NetworkBinding{},
			NetworkInterfaces: []ecstypes.NetworkInterface{},
		}
		if cd.Memory != nil {
			ct.Memory = aws.String(fmt.Sprint(*cd.Memory))
		}
		if dg := w.ecrDigest(aws.ToString(cd.Image)); dg != "" {
			ct.ImageDigest = aws.String(dg)
		}
		if sp.td.NetworkMode == ecstypes.NetworkModeAwsvpc {
			ct.NetworkInterfaces = []ecstypes.NetworkInterface{{AttachmentId: t.t.Attachments[0].Id, PrivateIpv4Address: aws.String(t.ip)}}
		}
		if cd.HealthCheck != nil {
			ct.HealthStatus = ecstypes.HealthStatusUnknown
			if aws.ToBool(cd.Essential) {
				t.hasHC = true
				t.hc = *cd.HealthCheck
			}
		}
		t.t.Containers = append(t.t.Containers, ct)
		t.t.Overrides.ContainerOverrides = append(t.t.Overrides.ContainerOverrides, ecstypes.ContainerOverride{Name: cd.Name})
		if aws.ToBool(cd.Essential) {
			f := w.faults.forImage(w.imageNames(aws.ToString(cd.Image))...)
			t.fault.crash = t.fault.crash || f.crash
			if f.crash && (t.fault.crashAfter == 0 || f.crashAfter < t.fault.crashAfter) {
				t.fault.crashAfter = f.crashAfter
			}
			t.fault.unhealthy = t.fault.unhealthy || f.unhealthy
			t.fault.elbSick = t.fault.elbSick || f.elbSick
			t.fault.slowStart = max(t.fault.slowStart, f.slowStart)
		}
	}
	c.tasks[id] = t
	w.taskByArn[arn] = t
	if t.svc != nil {
		t.svc.tasks[id] = t
	}
	w.taskEvent(t)
	tm := w.timings
	provision := tm.Provision
	if sp.td.NetworkMode != ecstypes.NetworkModeAwsvpc {
		provision = time.Second
	}
	pull := w.jitter(tm.PullMin, tm.PullMax)
	t.timers = append(t.timers, w.after(provision, func() { w.toPending(t, pull) }))
	return t, nil
}

func (w *world) bump(t *task) {
	t.t.Version++
	w.taskEvent(t)
}

func (w *world) toPending(t *task, pull time.Duration) {
	if t.stopping {
		return
	}
	now := w.now()
	t.t.LastStatus = aws.String("PENDING")
	t.t.PullStartedAt = &now
	for i := range t.t.Attachments {
		t.t.Attachments[i].Status = aws.String("ATTACHED")
	}
	w.bump(t)
	start := w.timings.Start + t.fault.slowStart
	t.timers = append(t.timers, w.after(pull, func() {
		if t.stopping {
			return
		}
		t.t.PullStoppedAt = ptrTime(w.now())
		t.timers = append(t.timers, w.after(start, func() { w.toRunning(t) }))
	}))
}

func (w *world) toRunning(t *task) {
	if t.stopping {
		return
	}
	now := w.now()
	t.t.LastStatus = aws.String("RUNNING")
	t.t.StartedAt = &now
	for i := range t.t.Containers {
		ct := &t.t.Containers[i]
		ct.LastStatus = aws.String("RUNNING")
		ct.RuntimeId = aws.String(t.id + "-" + w.digits(10))
		if t.port != 0 {
			for _, cd := range t.td.ContainerDefinitions {
				if aws.ToString(cd.Name) == aws.ToString(ct.Name) {
					for _, pm := range cd.PortMappings {
						ct.NetworkBindings = append(ct.NetworkBindings, ecstypes.NetworkBinding{
							BindIP: aws.String("0.0.0.0"), ContainerPort: pm.ContainerPort, HostPort: aws.Int32(t.port), Protocol: ecstypes.TransportProtocolTcp,
						})
					}
				}
			}
		}
	}
	w.bump(t)
	w.registerCloudMap(t)
	w.registerTargets(t)
	// Container health check.
	if t.hasHC || t.fault.unhealthy {
		interval := secs(t.hc.Interval, 30)
		retries := deref(t.hc.Retries)
		if retries == 0 {
			retries = 3
		}
		startPeriod := secs(t.hc.StartPeriod, 0)
		if t.fault.unhealthy {
			t.hasHC = true
			t.timers = append(t.timers, w.after(startPeriod+interval*time.Duration(retries), func() {
				w.setContainerHealth(t, ecstypes.HealthStatusUnhealthy)
				// The scheduler ignores failing health checks of a load-balanced
				// service's tasks during the health check grace period.
				left := time.Duration(0)
				if t.svc != nil && len(t.lbs) > 0 {
					grace := time.Duration(deref(t.svc.s.HealthCheckGracePeriodSeconds)) * time.Second
					left = max(t.t.StartedAt.Add(grace).Sub(w.now()), 0)
				}
				t.timers = append(t.timers, w.after(left, func() {
					w.stopTask(t, ecstypes.TaskStopCodeServiceSchedulerInitiated, "Task failed container health checks", true)
				}))
			}))
		} else {
			t.timers = append(t.timers, w.after(startPeriod+interval, func() {
				w.setContainerHealth(t, ecstypes.HealthStatusHealthy)
			}))
		}
	}
	if t.fault.crash {
		t.timers = append(t.timers, w.after(t.fault.crashAfter, func() { w.crash(t) }))
	}
	w.kickOwner(t)
}

func secs(p *int32, def int32) time.Duration {
	v := deref(p)
	if v <= 0 {
		v = def
	}
	return time.Duration(v) * time.Second
}

func (w *world) setContainerHealth(t *task, h ecstypes.HealthStatus) {
	if t.stopping {
		return
	}
	t.t.HealthStatus = h
	for i := range t.t.Containers {
		t.t.Containers[i].HealthStatus = h
	}
	w.bump(t)
	w.kickOwner(t)
}

func (w *world) crash(t *task) {
	if t.stopping {
		return
	}
	for i := range t.t.Containers {
		ct := &t.t.Containers[i]
		ct.ExitCode = aws.Int32(1)
		ct.LastStatus = aws.String("STOPPED")
		ct.Reason = aws.String("Essential container in task exited")
	}
	w.stopTask(t, ecstypes.TaskStopCodeEssentialContainerExited, "Essential container in task exited", true)
}

func (w *world) kickOwner(t *task) {
	if t.svc != nil {
		w.kick(t.svc)
	}
}

// registerTargets puts a running task into its target groups and plays the
// ELB health checks: healthy after HealthyThreshold intervals, or, for an
// elb-unhealthy image, unhealthy after UnhealthyThreshold intervals and
// stopped once the grace period is over.
func (w *world) registerTargets(t *task) {
	grace := time.Duration(0)
	if t.svc != nil {
		grace = time.Duration(deref(t.svc.s.HealthCheckGracePeriodSeconds)) * time.Second
	}
	for _, lb := range t.lbs {
		tgARN := aws.ToString(lb.TargetGroupArn)
		info, ok := w.lb.targetGroup(tgARN)
		if !ok {
			continue
		}
		tg := &target{tg: tgARN, id: t.ip, port: deref(lb.ContainerPort)}
		if info.TargetType == "instance" {
			if t.inst == nil {
				continue
			}
			tg.id = t.inst.ec2
			if t.port != 0 {
				tg.port = t.port
			}
		}
		if err := w.lb.registerTarget(tgARN, tg.id, tg.port); err != nil {
			w.log.Warn("register target", "targetGroup", tgARN, "err", err)
			continue
		}
		tg.registered = true
		t.targets = append(t.targets, tg)
		if t.svc != nil {
			w.svcEvent(t.svc, "registered 1 targets in (target-group %s)", tgARN)
		}
		interval := info.HealthCheckInterval
		if interval <= 0 {
			interval = 30 * time.Second
		}
		if t.fault.elbSick {
			n := max(info.UnhealthyThreshold, 1)
			t.timers = append(t.timers, w.after(interval*time.Duration(n), func() {
				if t.stopping {
					return
				}
				tg.unhealthy = true
				w.lb.setTargetHealth(tgARN, tg.id, tg.port, "unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [503]")
				left := t.t.StartedAt.Add(grace).Sub(w.now())
				if left < 0 {
					left = 0
				}
				t.timers = append(t.timers, w.after(left, func() {
					w.stopTask(t, ecstypes.TaskStopCodeServiceSchedulerInitiated, fmt.Sprintf("Task failed ELB health checks in (target-group %s)", tgARN), true)
				}))
			}))
			continue
		}
		n := max(info.HealthyThreshold, 1)
		t.timers = append(t.timers, w.after(interval*time.Duration(n), func() {
			if t.stopping {
				return
			}
			tg.healthy = true
			w.lb.setTargetHealth(tgARN, tg.id, tg.port, "healthy", "", "")
			w.kickOwner(t)
		}))
	}
}

// stopTask asks a task to stop. failed tasks count toward the circuit
// breaker of their deployment.
func (w *world) stopTask(t *task, code ecstypes.TaskStopCode, reason string, failed bool) {
	if t.stopping {
		return
	}
	now := w.now()
	t.stopping = true
	t.failed = failed
	for _, tm := range t.timers {
		tm.Stop()
	}
	t.timers = nil
	t.t.DesiredStatus = aws.String("STOPPED")
	t.t.StoppingAt = &now
	t.t.StopCode = code
	t.t.StoppedReason = aws.String(reason)
	w.deregisterCloudMap(t)
	if failed && t.svc != nil {
		w.recordFailure(t.svc, t.depID)
	}
	var reg []*target
	for _, tg := range t.targets {
		if tg.registered {
			reg = append(reg, tg)
		}
	}
	if len(reg) > 0 && !failed {
		t.t.LastStatus = aws.String("DEACTIVATING")
		w.bump(t)
		if t.svc != nil {
			w.svcEvent(t.svc, "has begun draining connections on 1 tasks.")
		}
		t.drains = len(reg)
		for _, tg := range reg {
			tg := tg
			tg.registered = false
			err := w.lb.deregisterTarget(tg.tg, tg.id, tg.port, func() {
				w.run(func() {
					t.drains--
					if t.svc != nil {
						w.svcEvent(t.svc, "deregistered 1 targets in (target-group %s)", tg.tg)
					}
					if t.drains == 0 {
						w.finishStop(t)
					}
				})
			})
			if err != nil {
				t.drains--
				if t.drains == 0 {
					w.finishStop(t)
				}
			}
		}
		if t.svc != nil {
			w.kick(t.svc)
		}
		return
	}
	for _, tg := range reg {
		tg.registered = false
		if err := w.lb.deregisterTarget(tg.tg, tg.id, tg.port, nil); err != nil {
			w.log.Warn("deregister target", "targetGroup", tg.tg, "err", err)
		}
	}
	w.finishStop(t)
	if t.svc != nil {
		w.kick(t.svc)
	}
}

func (w *world) finishStop(t *task) {
	started := t.t.StartedAt != nil
	t.t.LastStatus = aws.String("STOPPING")
	for i := range t.t.Attachments {
		t.t.Attachments[i].Status = aws.String("DELETED")
	}
	w.bump(t)
	w.after(w.timings.Stop, func() {
		now := w.now()
		t.t.LastStatus = aws.String("STOPPED")
		t.t.StoppedAt = &now
		t.t.ExecutionStoppedAt = &now
		for i := range t.t.Containers {
			ct := &t.t.Containers[i]
			ct.LastStatus = aws.String("STOPPED")
			if ct.ExitCode == nil && started {
				ct.ExitCode = aws.Int32(0)
			}
		}
		w.bump(t)
		if t.svc != nil {
			delete(t.svc.tasks, t.id)
			w.kick(t.svc)
		}
		if t.ts != nil {
			w.kick(t.ts.svc)
		}
		w.after(w.timings.StoppedTTL, func() {
			delete(t.cl.tasks, t.id)
			delete(w.taskByArn, *t.t.TaskArn)
		})
	})
}

// ---- ECS Task State Change ----

type taskDetail struct {
	Attachments          []attachmentDetail `json:"attachments"`
	Attributes           []nameValue        `json:"attributes"`
	AvailabilityZone     string             `json:"availabilityZone"`
	ClusterArn           string             `json:"clusterArn"`
	Connectivity         string             `json:"connectivity"`
	ConnectivityAt       string             `json:"connectivityAt"`
	ContainerInstanceArn string             `json:"containerInstanceArn,omitempty"`
	Containers           []containerDetail  `json:"containers"`
	Cpu                  string             `json:"cpu,omitempty"`
	CreatedAt            string             `json:"createdAt"`
	DesiredStatus        string             `json:"desiredStatus"`
	EnableExecuteCommand bool               `json:"enableExecuteCommand"`
	EphemeralStorage     *ephemeralDetail   `json:"ephemeralStorage,omitempty"`
	ExecutionStoppedAt   string             `json:"executionStoppedAt,omitempty"`
	Group                string             `json:"group"`
	LaunchType           string             `json:"launchType"`
	LastStatus           string             `json:"lastStatus"`
	Memory               string             `json:"memory,omitempty"`
	Overrides            overridesDetail    `json:"overrides"`
	PlatformVersion      string             `json:"platformVersion,omitempty"`
	PullStartedAt        string             `json:"pullStartedAt,omitempty"`
	PullStoppedAt        string             `json:"pullStoppedAt,omitempty"`
	StartedAt            string             `json:"startedAt,omitempty"`
	StartedBy            string             `json:"startedBy,omitempty"`
	StoppingAt           string             `json:"stoppingAt,omitempty"`
	StoppedAt            string             `json:"stoppedAt,omitempty"`
	StoppedReason        string             `json:"stoppedReason,omitempty"`
	StopCode             string             `json:"stopCode,omitempty"`
	TaskArn              string             `json:"taskArn"`
	TaskDefinitionArn    string             `json:"taskDefinitionArn"`
	UpdatedAt            string             `json:"updatedAt"`
	Version              int64              `json:"version"`
}

type attachmentDetail struct {
	ID      string      `json:"id"`
	Type    string      `json:"type"`
	Status  string      `json:"status"`
	Details []nameValue `json:"details"`
}

type nameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type containerDetail struct {
	ContainerArn      string           `json:"containerArn"`
	ExitCode          *int32           `json:"exitCode,omitempty"`
	LastStatus        string           `json:"lastStatus"`
	Name              string           `json:"name"`
	Image             string           `json:"image"`
	ImageDigest       string           `json:"imageDigest,omitempty"`
	RuntimeID         string           `json:"runtimeId,omitempty"`
	TaskArn           string           `json:"taskArn"`
	NetworkInterfaces []netIfaceDetail `json:"networkInterfaces"`
	Cpu               string           `json:"cpu"`
	Memory            string           `json:"memory,omitempty"`
}

type netIfaceDetail struct {
	AttachmentID       string `json:"attachmentId"`
	PrivateIpv4Address string `json:"privateIpv4Address"`
}

type ephemeralDetail struct {
	SizeInGiB int32 `json:"sizeInGiB"`
}

type overridesDetail struct {
	ContainerOverrides []containerOverrideDetail `json:"containerOverrides"`
}

type containerOverrideDetail struct {
	Name string `json:"name"`
}

func optTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return detailTime(*t)
}

func (w *world) taskEvent(t *task) {
	if w.sink == nil && w.keep == 0 {
		return
	}
	d := taskDetail{
		Attachments:          []attachmentDetail{},
		Attributes:           []nameValue{},
		AvailabilityZone:     aws.ToString(t.t.AvailabilityZone),
		ClusterArn:           aws.ToString(t.t.ClusterArn),
		Connectivity:         string(t.t.Connectivity),
		ConnectivityAt:       optTime(t.t.ConnectivityAt),
		ContainerInstanceArn: aws.ToString(t.t.ContainerInstanceArn),
		Cpu:                  aws.ToString(t.t.Cpu),
		CreatedAt:            optTime(t.t.CreatedAt),
		DesiredStatus:        aws.ToString(t.t.DesiredStatus),
		EnableExecuteCommand: t.t.EnableExecuteCommand,
		ExecutionStoppedAt:   optTime(t.t.ExecutionStoppedAt),
		Group:                aws.ToString(t.t.Group),
		LaunchType:           string(t.t.LaunchType),
		LastStatus:           aws.ToString(t.t.LastStatus),
		Memory:               aws.ToString(t.t.Memory),
		Overrides:            overridesDetail{ContainerOverrides: []containerOverrideDetail{}},
		PlatformVersion:      aws.ToString(t.t.PlatformVersion),
		PullStartedAt:        optTime(t.t.PullStartedAt),
		PullStoppedAt:        optTime(t.t.PullStoppedAt),
		StartedAt:            optTime(t.t.StartedAt),
		StartedBy:            aws.ToString(t.t.StartedBy),
		StoppingAt:           optTime(t.t.StoppingAt),
		StoppedAt:            optTime(t.t.StoppedAt),
		StoppedReason:        aws.ToString(t.t.StoppedReason),
		StopCode:             string(t.t.StopCode),
		TaskArn:              aws.ToString(t.t.TaskArn),
		TaskDefinitionArn:    aws.ToString(t.t.TaskDefinitionArn),
		UpdatedAt:            detailTime(w.now()),
		Version:              t.t.Version,
	}
	if t.t.EphemeralStorage != nil {
		d.EphemeralStorage = &ephemeralDetail{SizeInGiB: t.t.EphemeralStorage.SizeInGiB}
	}
	for _, a := range t.t.Attachments {
		ad := attachmentDetail{ID: aws.ToString(a.Id), Type: "eni", Status: aws.ToString(a.Status), Details: []nameValue{}}
		for _, kv := range a.Details {
			ad.Details = append(ad.Details, nameValue{Name: aws.ToString(kv.Name), Value: aws.ToString(kv.Value)})
		}
		d.Attachments = append(d.Attachments, ad)
	}
	for _, a := range t.t.Attributes {
		d.Attributes = append(d.Attributes, nameValue{Name: aws.ToString(a.Name), Value: aws.ToString(a.Value)})
	}
	for _, co := range t.t.Overrides.ContainerOverrides {
		d.Overrides.ContainerOverrides = append(d.Overrides.ContainerOverrides, containerOverrideDetail{Name: aws.ToString(co.Name)})
	}
	for _, ct := range t.t.Containers {
		cd := containerDetail{
			ContainerArn: aws.ToString(ct.ContainerArn), ExitCode: ct.ExitCode, LastStatus: aws.ToString(ct.LastStatus),
			Name: aws.ToString(ct.Name), Image: aws.ToString(ct.Image), ImageDigest: aws.ToString(ct.ImageDigest),
			RuntimeID: aws.ToString(ct.RuntimeId), TaskArn: aws.ToString(ct.TaskArn), Cpu: aws.ToString(ct.Cpu),
			Memory: aws.ToString(ct.Memory), NetworkInterfaces: []netIfaceDetail{},
		}
		for _, ni := range ct.NetworkInterfaces {
			cd.NetworkInterfaces = append(cd.NetworkInterfaces, netIfaceDetail{AttachmentID: aws.ToString(ni.AttachmentId), PrivateIpv4Address: aws.ToString(ni.PrivateIpv4Address)})
		}
		d.Containers = append(d.Containers, cd)
	}
	w.event(SourceECS, DetailTypeTaskStateChange, []string{aws.ToString(t.t.TaskArn)}, d)
}

// ---- task APIs ----

func (w *world) listTasks(in *ecs.ListTasksInput) (*ecs.ListTasksOutput, error) {
	c, err := w.cluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	want := "RUNNING"
	if in.DesiredStatus != "" {
		want = string(in.DesiredStatus)
		if want != "RUNNING" && want != "STOPPED" && want != "PENDING" {
			return nil, errf(codeInvalidParameter, "desiredStatus must be RUNNING, PENDING or STOPPED.")
		}
		if want == "PENDING" {
			want = "RUNNING"
		}
	}
	var svc *service
	if in.ServiceName != nil {
		if svc, err = w.service(c, in.ServiceName); err != nil {
			return nil, err
		}
	}
	var inst *instance
	if in.ContainerInstance != nil {
		inst = c.instances[lastSegment(*in.ContainerInstance)]
		if inst == nil {
			return nil, errf(codeInvalidParameter, "The referenced container instance %s was not found.", *in.ContainerInstance)
		}
	}
	var arns []string
	for _, t := range sortedTasks(c.tasks) {
		if aws.ToString(t.t.DesiredStatus) != want {
			continue
		}
		if svc != nil && t.svc != svc {
			continue
		}
		if inst != nil && t.inst != inst {
			continue
		}
		if in.Family != nil && aws.ToString(t.td.Family) != *in.Family {
			continue
		}
		if in.StartedBy != nil && aws.ToString(t.t.StartedBy) != *in.StartedBy {
			continue
		}
		if in.LaunchType != "" && t.t.LaunchType != in.LaunchType {
			continue
		}
		arns = append(arns, *t.t.TaskArn)
	}
	s, e, next, err := page(len(arns), in.NextToken, in.MaxResults, 100, 100)
	if err != nil {
		return nil, err
	}
	return &ecs.ListTasksOutput{TaskArns: append([]string{}, arns[s:e]...), NextToken: next}, nil
}

func (w *world) describeTasks(in *ecs.DescribeTasksInput) (*ecs.DescribeTasksOutput, error) {
	c, err := w.cluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	if len(in.Tasks) == 0 || len(in.Tasks) > 100 {
		return nil, errf(codeInvalidParameter, "tasks can have between 1 and 100 items.")
	}
	tags := hasField(in.Include, "TAGS")
	out := &ecs.DescribeTasksOutput{Tasks: make([]ecstypes.Task, 0, len(in.Tasks)), Failures: []ecstypes.Failure{}}
	for _, ref := range in.Tasks {
		t, ok := c.tasks[lastSegment(ref)]
		if !ok {
			arn := ref
			if !strings.HasPrefix(ref, "arn:") {
				arn = w.arn("ecs", "task/"+c.name+"/"+ref)
			}
			out.Failures = append(out.Failures, ecstypes.Failure{Arn: aws.String(arn), Reason: aws.String("MISSING")})
			continue
		}
		v := t.t
		if tags {
			v.Tags = w.tags[*t.t.TaskArn]
		}
		out.Tasks = append(out.Tasks, v)
	}
	return out, nil
}

func (w *world) runTask(in *ecs.RunTaskInput) (*ecs.RunTaskOutput, error) {
	c, err := w.cluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	td, ok := w.taskDef(aws.ToString(in.TaskDefinition))
	if !ok {
		return nil, errf(codeInvalidParameter, "TaskDefinition not found.")
	}
	count := deref(in.Count)
	if count == 0 {
		count = 1
	}
	if count < 1 || count > 10 {
		return nil, errf(codeInvalidParameter, "count must be between 1 and 10.")
	}
	launch, err := w.launchTypeFor(c, in.LaunchType, in.CapacityProviderStrategy)
	if err != nil {
		return nil, err
	}
	if err := w.checkTaskDefLaunch(td, launch, in.NetworkConfiguration); err != nil {
		return nil, err
	}
	group := aws.ToString(in.Group)
	if group == "" {
		group = "family:" + aws.ToString(td.Family)
	}
	out := &ecs.RunTaskOutput{Tasks: []ecstypes.Task{}, Failures: []ecstypes.Failure{}}
	for i := int32(0); i < count; i++ {
		t, err := w.launchTask(c, launchSpec{
			td: td, launch: launch, cps: in.CapacityProviderStrategy, nc: in.NetworkConfiguration,
			startedBy: aws.ToString(in.StartedBy), group: group, tags: in.Tags, overrides: in.Overrides, platform: in.PlatformVersion,
		})
		if err != nil {
			out.Failures = append(out.Failures, ecstypes.Failure{Arn: c.c.ClusterArn, Reason: aws.String("RESOURCE:" + err.Error())})
			continue
		}
		if len(in.Tags) > 0 {
			w.tags[*t.t.TaskArn] = in.Tags
		}
		out.Tasks = append(out.Tasks, t.t)
	}
	return out, nil
}

func (w *world) stopTaskAPI(in *ecs.StopTaskInput) (*ecs.StopTaskOutput, error) {
	c, err := w.cluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	t, ok := c.tasks[lastSegment(aws.ToString(in.Task))]
	if !ok {
		return nil, errf(codeInvalidParameter, "The referenced task was not found.")
	}
	reason := aws.ToString(in.Reason)
	if reason == "" {
		reason = "Task stopped by user"
	}
	w.stopTask(t, ecstypes.TaskStopCodeUserInitiated, reason, false)
	return &ecs.StopTaskOutput{Task: &t.t}, nil
}
