package awsemu

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// opSpec is one awsJson operation: decode, run with the world locked, and
// the serializable result.
type opSpec struct {
	write bool
	run   func(w *world, body []byte) (any, error)
}

// readOp and writeOp wrap a handler; the output is either an SDK shape that
// serializes itself through its schema (smithy.Serializable) or an older
// SDK struct that encodeOutput walks by reflection.
func readOp[I, O any](f func(w *world, in *I) (O, error)) opSpec {
	return opSpec{run: adapt(f)}
}

func writeOp[I, O any](f func(w *world, in *I) (O, error)) opSpec {
	return opSpec{write: true, run: adapt(f)}
}

func adapt[I, O any](f func(w *world, in *I) (O, error)) func(w *world, body []byte) (any, error) {
	return func(w *world, body []byte) (any, error) {
		in := new(I)
		if err := decodeInput(body, in); err != nil {
			return nil, err
		}
		out, err := f(w, in)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

var ecsOps = map[string]opSpec{
	"CreateCluster":               writeOp((*world).createCluster),
	"DescribeClusters":            readOp((*world).describeClusters),
	"ListClusters":                readOp((*world).listClusters),
	"DeleteCluster":               writeOp((*world).deleteCluster),
	"RegisterContainerInstance":   writeOp((*world).registerContainerInstance),
	"DeregisterContainerInstance": writeOp((*world).deregisterContainerInstance),
	"ListContainerInstances":      readOp((*world).listContainerInstances),
	"DescribeContainerInstances":  readOp((*world).describeContainerInstances),
	"RegisterTaskDefinition":      writeOp((*world).registerTaskDefinition),
	"DescribeTaskDefinition":      readOp((*world).describeTaskDefinition),
	"DeregisterTaskDefinition":    writeOp((*world).deregisterTaskDefinition),
	"ListTaskDefinitions":         readOp((*world).listTaskDefinitions),
	"CreateService":               writeOp((*world).createService),
	"UpdateService":               writeOp((*world).updateService),
	"DeleteService":               writeOp((*world).deleteService),
	"DescribeServices":            readOp((*world).describeServices),
	"ListServices":                readOp((*world).listServices),
	"ListTasks":                   readOp((*world).listTasks),
	"DescribeTasks":               readOp((*world).describeTasks),
	"RunTask":                     writeOp((*world).runTask),
	"StopTask":                    writeOp((*world).stopTaskAPI),
	"CreateTaskSet":               writeOp((*world).createTaskSet),
	"UpdateTaskSet":               writeOp((*world).updateTaskSet),
	"UpdateServicePrimaryTaskSet": writeOp((*world).updateServicePrimaryTaskSet),
	"DeleteTaskSet":               writeOp((*world).deleteTaskSet),
	"DescribeTaskSets":            readOp((*world).describeTaskSets),
	"ListServiceDeployments":      readOp((*world).listServiceDeployments),
	"DescribeServiceDeployments":  readOp((*world).describeServiceDeployments),
	"TagResource":                 writeOp((*world).tagResource),
	"UntagResource":               writeOp((*world).untagResource),
	"ListTagsForResource":         readOp((*world).listTagsForResource),
}

type cluster struct {
	c         ecstypes.Cluster
	name      string
	services  map[string]*service
	svcOrder  []string
	tasks     map[string]*task // by id, including STOPPED until forgotten
	instances map[string]*instance
	instOrder []string
}

type instance struct {
	ci   ecstypes.ContainerInstance
	id   string
	ec2  string
	next int32 // next dynamic host port
}

type family struct {
	name string
	revs []*ecstypes.TaskDefinition // index = revision-1
	tags map[int32][]ecstypes.Tag
}

func (w *world) clusterNameOf(ref *string) string {
	if ref == nil || *ref == "" {
		return "default"
	}
	return lastSegment(*ref)
}

func (w *world) cluster(ref *string) (*cluster, error) {
	c, ok := w.clusters[w.clusterNameOf(ref)]
	if !ok || aws.ToString(c.c.Status) != "ACTIVE" {
		return nil, errf(codeClusterNotFound, "Cluster not found.")
	}
	return c, nil
}

func validName(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (w *world) createCluster(in *ecs.CreateClusterInput) (*ecs.CreateClusterOutput, error) {
	name := aws.ToString(in.ClusterName)
	if name == "" {
		name = "default"
	}
	if !validName(name, 255) {
		return nil, errf(codeInvalidParameter, "Cluster name can only contain letters, numbers, hyphens and underscores, up to 255 characters.")
	}
	if c, ok := w.clusters[name]; ok && aws.ToString(c.c.Status) == "ACTIVE" {
		return &ecs.CreateClusterOutput{Cluster: w.clusterView(c)}, nil
	}
	c := &cluster{
		name:      name,
		services:  map[string]*service{},
		tasks:     map[string]*task{},
		instances: map[string]*instance{},
	}
	c.c = ecstypes.Cluster{
		ClusterArn:                      aws.String(w.arn("ecs", "cluster/"+name)),
		ClusterName:                     aws.String(name),
		Status:                          aws.String("ACTIVE"),
		Settings:                        in.Settings,
		CapacityProviders:               in.CapacityProviders,
		DefaultCapacityProviderStrategy: in.DefaultCapacityProviderStrategy,
	}
	w.clusters[name] = c
	if len(in.Tags) > 0 {
		w.tags[*c.c.ClusterArn] = append([]ecstypes.Tag(nil), in.Tags...)
	}
	return &ecs.CreateClusterOutput{Cluster: w.clusterView(c)}, nil
}

func (w *world) clusterView(c *cluster) *ecstypes.Cluster {
	v := c.c
	var running, pending, active int32
	for _, t := range c.tasks {
		switch aws.ToString(t.t.LastStatus) {
		case "RUNNING":
			running++
		case "PROVISIONING", "PENDING", "ACTIVATING":
			pending++
		}
	}
	for _, s := range c.services {
		if aws.ToString(s.s.Status) == "ACTIVE" {
			active++
		}
	}
	v.RunningTasksCount = running
	v.PendingTasksCount = pending
	v.ActiveServicesCount = active
	v.RegisteredContainerInstancesCount = int32(len(c.instances))
	return &v
}

func (w *world) describeClusters(in *ecs.DescribeClustersInput) (*ecs.DescribeClustersOutput, error) {
	out := &ecs.DescribeClustersOutput{Clusters: []ecstypes.Cluster{}, Failures: []ecstypes.Failure{}}
	refs := in.Clusters
	if len(refs) == 0 {
		refs = []string{"default"}
	}
	if len(refs) > 100 {
		return nil, errf(codeInvalidParameter, "clusters can have at most 100 items.")
	}
	for _, r := range refs {
		c, ok := w.clusters[lastSegment(r)]
		if !ok {
			arn := r
			if !strings.HasPrefix(r, "arn:") {
				arn = w.arn("ecs", "cluster/"+r)
			}
			out.Failures = append(out.Failures, ecstypes.Failure{Arn: aws.String(arn), Reason: aws.String("MISSING")})
			continue
		}
		v := w.clusterView(c)
		if hasField(in.Include, "TAGS") {
			v.Tags = w.tags[*c.c.ClusterArn]
		}
		out.Clusters = append(out.Clusters, *v)
	}
	return out, nil
}

func hasField[T ~string](list []T, name string) bool {
	for _, v := range list {
		if string(v) == name {
			return true
		}
	}
	return false
}

func (w *world) listClusters(in *ecs.ListClustersInput) (*ecs.ListClustersOutput, error) {
	names := make([]string, 0, len(w.clusters))
	for n, c := range w.clusters {
		if aws.ToString(c.c.Status) == "ACTIVE" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	s, e, next, err := page(len(names), in.NextToken, in.MaxResults, 100, 100)
	if err != nil {
		return nil, err
	}
	out := &ecs.ListClustersOutput{ClusterArns: []string{}, NextToken: next}
	for _, n := range names[s:e] {
		out.ClusterArns = append(out.ClusterArns, *w.clusters[n].c.ClusterArn)
	}
	return out, nil
}

func (w *world) deleteCluster(in *ecs.DeleteClusterInput) (*ecs.DeleteClusterOutput, error) {
	c, err := w.cluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	for _, s := range c.services {
		if aws.ToString(s.s.Status) != "INACTIVE" {
			return nil, errf("ClusterContainsServicesException", "The Cluster cannot be deleted while Services are active.")
		}
	}
	for _, t := range c.tasks {
		if aws.ToString(t.t.LastStatus) != "STOPPED" {
			return nil, errf("ClusterContainsTasksException", "The Cluster cannot be deleted while Tasks are active.")
		}
	}
	if len(c.instances) > 0 {
		return nil, errf("ClusterContainsContainerInstancesException", "The Cluster cannot be deleted while Container Instances are active or draining.")
	}
	c.c.Status = aws.String("INACTIVE")
	v := w.clusterView(c)
	return &ecs.DeleteClusterOutput{Cluster: v}, nil
}

// deregisterContainerInstance removes an instance; with force its tasks
// stop (service schedulers replace them elsewhere, DAEMONs shrink).
func (w *world) deregisterContainerInstance(in *ecs.DeregisterContainerInstanceInput) (*ecs.DeregisterContainerInstanceOutput, error) {
	c, err := w.cluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	id := lastSegment(aws.ToString(in.ContainerInstance))
	inst, ok := c.instances[id]
	if !ok {
		return nil, errf(codeInvalidParameter, "The referenced container instance %s was not found.", aws.ToString(in.ContainerInstance))
	}
	var onIt []*task
	for _, t := range sortedTasks(c.tasks) {
		if t.inst == inst && !t.stopping {
			onIt = append(onIt, t)
		}
	}
	if len(onIt) > 0 && !aws.ToBool(in.Force) {
		return nil, errf(codeInvalidParameter, "Found running tasks on the instance; use force to deregister it.")
	}
	inst.ci.Status = aws.String("INACTIVE")
	inst.ci.AgentConnected = false
	delete(c.instances, id)
	c.instOrder = removeString(c.instOrder, id)
	owners := map[*service]bool{}
	for _, t := range onIt {
		w.stopTask(t, ecstypes.TaskStopCodeTerminationNotice, "Container instance deregistration forced by user", false)
		if t.svc != nil {
			owners[t.svc] = true
		}
	}
	for _, s := range c.services {
		if s.daemon || owners[s] {
			w.kick(s)
		}
	}
	v := w.instanceView(c, inst)
	return &ecs.DeregisterContainerInstanceOutput{ContainerInstance: v}, nil
}

func (w *world) registerContainerInstance(in *ecs.RegisterContainerInstanceInput) (*ecs.RegisterContainerInstanceOutput, error) {
	c, err := w.cluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	ec2 := ""
	if doc := aws.ToString(in.InstanceIdentityDocument); doc != "" {
		var d struct {
			InstanceID string `json:"instanceId"`
		}
		if err := json.Unmarshal([]byte(doc), &d); err != nil {
			return nil, errf(codeInvalidParameter, "instanceIdentityDocument is not valid JSON.")
		}
		ec2 = d.InstanceID
	}
	if ec2 == "" {
		ec2 = "i-" + w.hex(17)
	}
	for _, id := range c.instOrder {
		if c.instances[id].ec2 == ec2 {
			return &ecs.RegisterContainerInstanceOutput{ContainerInstance: w.instanceView(c, c.instances[id])}, nil
		}
	}
	id := w.hex(32)
	res := in.TotalResources
	if len(res) == 0 {
		res = []ecstypes.Resource{
			{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: 2048},
			{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: 3943},
		}
	}
	inst := &instance{id: id, ec2: ec2, next: 32768}
	inst.ci = ecstypes.ContainerInstance{
		ContainerInstanceArn: aws.String(w.arn("ecs", "container-instance/"+c.name+"/"+id)),
		Ec2InstanceId:        aws.String(ec2),
		Status:               aws.String("ACTIVE"),
		AgentConnected:       true,
		RegisteredAt:         ptrTime(w.now()),
		RegisteredResources:  res,
		RemainingResources:   res,
		Attributes:           in.Attributes,
		VersionInfo:          in.VersionInfo,
		Version:              1,
	}
	c.instances[id] = inst
	c.instOrder = append(c.instOrder, id)
	if len(in.Tags) > 0 {
		w.tags[*inst.ci.ContainerInstanceArn] = in.Tags
	}
	// DAEMON services place a task on the new instance.
	for _, s := range c.services {
		if s.s.SchedulingStrategy == ecstypes.SchedulingStrategyDaemon {
			w.kick(s)
		}
	}
	return &ecs.RegisterContainerInstanceOutput{ContainerInstance: w.instanceView(c, inst)}, nil
}

func (w *world) instanceView(c *cluster, inst *instance) *ecstypes.ContainerInstance {
	v := inst.ci
	var running, pending int32
	for _, t := range c.tasks {
		if t.inst != inst {
			continue
		}
		switch aws.ToString(t.t.LastStatus) {
		case "RUNNING":
			running++
		case "PROVISIONING", "PENDING":
			pending++
		}
	}
	v.RunningTasksCount = running
	v.PendingTasksCount = pending
	cpu, mem, _ := w.freeOn(c, inst)
	v.RemainingResources = []ecstypes.Resource{
		{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: int32(cpu)},
		{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: int32(mem)},
	}
	return &v
}

func (w *world) listContainerInstances(in *ecs.ListContainerInstancesInput) (*ecs.ListContainerInstancesOutput, error) {
	c, err := w.cluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	var arns []string
	for _, id := range c.instOrder {
		inst := c.instances[id]
		if in.Status != "" && string(in.Status) != aws.ToString(inst.ci.Status) {
			continue
		}
		arns = append(arns, *inst.ci.ContainerInstanceArn)
	}
	s, e, next, err := page(len(arns), in.NextToken, in.MaxResults, 100, 100)
	if err != nil {
		return nil, err
	}
	return &ecs.ListContainerInstancesOutput{ContainerInstanceArns: append([]string{}, arns[s:e]...), NextToken: next}, nil
}

func (w *world) describeContainerInstances(in *ecs.DescribeContainerInstancesInput) (*ecs.DescribeContainerInstancesOutput, error) {
	c, err := w.cluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	if len(in.ContainerInstances) == 0 || len(in.ContainerInstances) > 100 {
		return nil, errf(codeInvalidParameter, "containerInstances must have between 1 and 100 items.")
	}
	out := &ecs.DescribeContainerInstancesOutput{ContainerInstances: []ecstypes.ContainerInstance{}, Failures: []ecstypes.Failure{}}
	for _, ref := range in.ContainerInstances {
		inst, ok := c.instances[lastSegment(ref)]
		if !ok {
			out.Failures = append(out.Failures, ecstypes.Failure{Arn: aws.String(ref), Reason: aws.String("MISSING")})
			continue
		}
		out.ContainerInstances = append(out.ContainerInstances, *w.instanceView(c, inst))
	}
	return out, nil
}

// ---- task definitions ----

func (w *world) registerTaskDefinition(in *ecs.RegisterTaskDefinitionInput) (*ecs.RegisterTaskDefinitionOutput, error) {
	fam := aws.ToString(in.Family)
	if !validName(fam, 255) {
		return nil, errf(codeClient, "Family contains invalid characters or is empty.")
	}
	if len(in.ContainerDefinitions) == 0 {
		return nil, errf(codeClient, "Container list cannot be empty.")
	}
	names := map[string]bool{}
	essential := false
	for i, cd := range in.ContainerDefinitions {
		n := aws.ToString(cd.Name)
		if n == "" {
			return nil, errf(codeClient, "Container.name should not be null or empty.")
		}
		if names[n] {
			return nil, errf(codeClient, "Duplicate container name: %s", n)
		}
		names[n] = true
		if aws.ToString(cd.Image) == "" {
			return nil, errf(codeClient, "Container.image should not be null or empty.")
		}
		if cd.Essential == nil {
			in.ContainerDefinitions[i].Essential = aws.Bool(true)
		}
		if *in.ContainerDefinitions[i].Essential {
			essential = true
		}
	}
	if !essential {
		return nil, errf(codeClient, "Task definition must have at least one essential container.")
	}
	for _, c := range in.RequiresCompatibilities {
		if c == ecstypes.CompatibilityFargate {
			if in.NetworkMode != "" && in.NetworkMode != ecstypes.NetworkModeAwsvpc {
				return nil, errf(codeClient, "Fargate only supports network mode 'awsvpc'.")
			}
			if in.Cpu == nil || in.Memory == nil {
				return nil, errf(codeClient, "Fargate requires task definition to have cpu and memory set.")
			}
		}
	}
	f := w.families[fam]
	if f == nil {
		f = &family{name: fam, tags: map[int32][]ecstypes.Tag{}}
		w.families[fam] = f
	}
	rev := int32(len(f.revs) + 1)
	netMode := in.NetworkMode
	if netMode == "" {
		netMode = ecstypes.NetworkModeBridge
	}
	compat := []ecstypes.Compatibility{ecstypes.CompatibilityEc2}
	if netMode == ecstypes.NetworkModeAwsvpc {
		compat = append(compat, ecstypes.CompatibilityFargate)
	}
	td := &ecstypes.TaskDefinition{
		TaskDefinitionArn:       aws.String(w.arn("ecs", fmt.Sprintf("task-definition/%s:%d", fam, rev))),
		Family:                  aws.String(fam),
		Revision:                rev,
		Status:                  ecstypes.TaskDefinitionStatusActive,
		ContainerDefinitions:    in.ContainerDefinitions,
		Cpu:                     in.Cpu,
		Memory:                  in.Memory,
		NetworkMode:             netMode,
		RequiresCompatibilities: in.RequiresCompatibilities,
		Compatibilities:         compat,
		TaskRoleArn:             in.TaskRoleArn,
		ExecutionRoleArn:        in.ExecutionRoleArn,
		Volumes:                 in.Volumes,
		PlacementConstraints:    in.PlacementConstraints,
		RuntimePlatform:         in.RuntimePlatform,
		EphemeralStorage:        in.EphemeralStorage,
		PidMode:                 in.PidMode,
		IpcMode:                 in.IpcMode,
		ProxyConfiguration:      in.ProxyConfiguration,
		InferenceAccelerators:   in.InferenceAccelerators,
		RegisteredAt:            ptrTime(w.now()),
		RegisteredBy:            aws.String(w.iamARN("root")),
	}
	if td.Volumes == nil {
		td.Volumes = []ecstypes.Volume{}
	}
	f.revs = append(f.revs, td)
	if len(in.Tags) > 0 {
		f.tags[rev] = in.Tags
		w.tags[*td.TaskDefinitionArn] = in.Tags
	}
	return &ecs.RegisterTaskDefinitionOutput{TaskDefinition: td, Tags: in.Tags}, nil
}

// taskDef resolves "family", "family:rev" or an ARN.
func (w *world) taskDef(ref string) (*ecstypes.TaskDefinition, bool) {
	name := ref
	if strings.HasPrefix(ref, "arn:") {
		name = lastSegment(ref)
	}
	fam, revStr, hasRev := strings.Cut(name, ":")
	f := w.families[fam]
	if f == nil {
		return nil, false
	}
	if !hasRev {
		for i := len(f.revs) - 1; i >= 0; i-- {
			if f.revs[i].Status == ecstypes.TaskDefinitionStatusActive {
				return f.revs[i], true
			}
		}
		return nil, false
	}
	rev, err := strconv.Atoi(revStr)
	if err != nil || rev < 1 || rev > len(f.revs) {
		return nil, false
	}
	return f.revs[rev-1], true
}

func (w *world) describeTaskDefinition(in *ecs.DescribeTaskDefinitionInput) (*ecs.DescribeTaskDefinitionOutput, error) {
	td, ok := w.taskDef(aws.ToString(in.TaskDefinition))
	if !ok {
		return nil, errf(codeClient, "Unable to describe task definition.")
	}
	out := &ecs.DescribeTaskDefinitionOutput{TaskDefinition: td}
	if hasField(in.Include, "TAGS") {
		out.Tags = w.tags[*td.TaskDefinitionArn]
		if out.Tags == nil {
			out.Tags = []ecstypes.Tag{}
		}
	}
	return out, nil
}

func (w *world) deregisterTaskDefinition(in *ecs.DeregisterTaskDefinitionInput) (*ecs.DeregisterTaskDefinitionOutput, error) {
	ref := aws.ToString(in.TaskDefinition)
	if !strings.Contains(lastSegment(ref), ":") {
		return nil, errf(codeClient, "Invalid revision number. Number: ")
	}
	td, ok := w.taskDef(ref)
	if !ok {
		return nil, errf(codeClient, "The specified task definition does not exist.")
	}
	if td.Status == ecstypes.TaskDefinitionStatusActive {
		td.Status = ecstypes.TaskDefinitionStatusInactive
		td.DeregisteredAt = ptrTime(w.now())
	}
	return &ecs.DeregisterTaskDefinitionOutput{TaskDefinition: td}, nil
}

func (w *world) listTaskDefinitions(in *ecs.ListTaskDefinitionsInput) (*ecs.ListTaskDefinitionsOutput, error) {
	status := in.Status
	if status == "" {
		status = ecstypes.TaskDefinitionStatusActive
	}
	fams := make([]string, 0, len(w.families))
	for n := range w.families {
		if in.FamilyPrefix == nil || strings.HasPrefix(n, *in.FamilyPrefix) {
			fams = append(fams, n)
		}
	}
	sort.Strings(fams)
	var arns []string
	for _, n := range fams {
		for _, td := range w.families[n].revs {
			if td.Status == status {
				arns = append(arns, *td.TaskDefinitionArn)
			}
		}
	}
	if in.Sort == ecstypes.SortOrderDesc {
		for i, j := 0, len(arns)-1; i < j; i, j = i+1, j-1 {
			arns[i], arns[j] = arns[j], arns[i]
		}
	}
	s, e, next, err := page(len(arns), in.NextToken, in.MaxResults, 100, 100)
	if err != nil {
		return nil, err
	}
	return &ecs.ListTaskDefinitionsOutput{TaskDefinitionArns: append([]string{}, arns[s:e]...), NextToken: next}, nil
}

// ---- tags ----

func (w *world) resourceExists(arn string) bool {
	if !strings.HasPrefix(arn, "arn:aws:ecs:") {
		return false
	}
	parts := strings.SplitN(strings.SplitN(arn, ":", 6)[5], "/", 2)
	if len(parts) != 2 {
		return false
	}
	switch parts[0] {
	case "cluster":
		_, ok := w.clusters[parts[1]]
		return ok
	case "service":
		cn, sn, ok := strings.Cut(parts[1], "/")
		if !ok {
			return false
		}
		c := w.clusters[cn]
		return c != nil && c.services[sn] != nil
	case "task":
		_, ok := w.taskByArn[arn]
		return ok
	case "task-definition":
		_, ok := w.taskDef(arn)
		return ok
	case "container-instance":
		cn, id, ok := strings.Cut(parts[1], "/")
		if !ok {
			return false
		}
		c := w.clusters[cn]
		return c != nil && c.instances[id] != nil
	case "task-set":
		return w.taskSetByArn(arn) != nil
	}
	return false
}

func (w *world) tagResource(in *ecs.TagResourceInput) (*ecs.TagResourceOutput, error) {
	arn := aws.ToString(in.ResourceArn)
	if !w.resourceExists(arn) {
		return nil, errf("ResourceNotFoundException", "The specified resource could not be found.")
	}
	cur := w.tags[arn]
	for _, t := range in.Tags {
		if aws.ToString(t.Key) == "" {
			return nil, errf(codeInvalidParameter, "Tag keys must not be empty.")
		}
		replaced := false
		for i := range cur {
			if aws.ToString(cur[i].Key) == aws.ToString(t.Key) {
				cur[i].Value = t.Value
				replaced = true
			}
		}
		if !replaced {
			cur = append(cur, t)
		}
	}
	if len(cur) > 50 {
		return nil, errf(codeInvalidParameter, "A resource can have at most 50 tags.")
	}
	w.tags[arn] = cur
	return &ecs.TagResourceOutput{}, nil
}

func (w *world) untagResource(in *ecs.UntagResourceInput) (*ecs.UntagResourceOutput, error) {
	arn := aws.ToString(in.ResourceArn)
	if !w.resourceExists(arn) {
		return nil, errf("ResourceNotFoundException", "The specified resource could not be found.")
	}
	var kept []ecstypes.Tag
	for _, t := range w.tags[arn] {
		if !hasField(in.TagKeys, aws.ToString(t.Key)) {
			kept = append(kept, t)
		}
	}
	w.tags[arn] = kept
	return &ecs.UntagResourceOutput{}, nil
}

func (w *world) listTagsForResource(in *ecs.ListTagsForResourceInput) (*ecs.ListTagsForResourceOutput, error) {
	arn := aws.ToString(in.ResourceArn)
	if !w.resourceExists(arn) {
		return nil, errf("ResourceNotFoundException", "The specified resource could not be found.")
	}
	tags := w.tags[arn]
	if tags == nil {
		tags = []ecstypes.Tag{}
	}
	return &ecs.ListTagsForResourceOutput{Tags: tags}, nil
}
