package awsemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	sdtypes "github.com/aws/aws-sdk-go-v2/service/servicediscovery/types"

	"github.com/ecsflow/ecsflow/internal/awsemu/cwemu"
	"github.com/ecsflow/ecsflow/internal/awsemu/elbv2emu"
	"github.com/ecsflow/ecsflow/internal/awsemu/route53emu"
)

// The emulator's state file (Save, Load) is one JSON document:
//
//	{"format": "ecsflow-awsemu-state", "version": 1, "region": ..., "accountId": ...,
//	 "savedAt": <simulated time>,
//	 "ecs": {...}, "elbv2": {...}, "route53": {...}, "cloudwatch": {...}}
//
// What survives a Save/Load:
//   - ECS: clusters, container instances, task definitions (every revision),
//     services with their configuration, desired counts, deployments
//     (PRIMARY/ACTIVE, rollout state), service deployments and events, task
//     sets, tags; tasks that were RUNNING (and not stopping), as RUNNING and
//     healthy, still registered in their target groups and Cloud Map.
//   - ECR repositories and images, App Auto Scaling targets and policies,
//     Cloud Map namespaces, services and instances.
//   - ELBv2 load balancers, target groups (attributes, registered targets),
//     listeners, rules and weights, tags; Route 53 zones and records;
//     CloudWatch alarms and their states.
//
// What does not: timers in flight. Tasks that were starting (PROVISIONING,
// PENDING) or stopping are dropped, and the scheduler, kicked for every
// service on Load, launches what is missing to reach the desired counts;
// target drains count as finished; container and ELB health checks not yet
// passed count as passed. STOPPED tasks, the fault plan and the recent
// events log (GET /_emulator/events) start empty.

// StateFormat names the emulator's state file.
const StateFormat = "ecsflow-awsemu-state"

// StateVersion is the version of the state file Save writes and Load
// reads. Bump it on any change Load could misread.
const StateVersion = 1

// StateVersionError is Load's answer to a state file of another format or
// version.
type StateVersionError struct {
	Format  string
	Version int
}

func (e *StateVersionError) Error() string {
	if e.Format != StateFormat {
		return fmt.Sprintf("not an emulator state file (format %q, want %q)", e.Format, StateFormat)
	}
	return fmt.Sprintf("emulator state file version %d, this build reads version %d", e.Version, StateVersion)
}

type stateFile struct {
	Format     string          `json:"format"`
	Version    int             `json:"version"`
	Region     string          `json:"region"`
	AccountID  string          `json:"accountId"`
	SavedAt    time.Time       `json:"savedAt"`
	ECS        json.RawMessage `json:"ecs"` // a worldState
	ELBv2      json.RawMessage `json:"elbv2"`
	Route53    json.RawMessage `json:"route53"`
	CloudWatch json.RawMessage `json:"cloudwatch"`
}

type worldState struct {
	Clusters   []clusterState                   `json:"clusters"`
	Families   []familyState                    `json:"families"`
	Tags       map[string][]ecstypes.Tag        `json:"tags"`
	Repos      []repoState                      `json:"repositories"`
	Scalable   []keyed[aastypes.ScalableTarget] `json:"scalableTargets"`
	Policies   []keyed[aastypes.ScalingPolicy]  `json:"scalingPolicies"`
	Namespaces []sdtypes.Namespace              `json:"namespaces"`
	SDServices []sdServiceState                 `json:"cloudMapServices"`
	SDOps      []sdtypes.Operation              `json:"cloudMapOperations"`
}

type keyed[T any] struct {
	Key   string `json:"key"`
	Value T      `json:"value"`
}

type clusterState struct {
	Cluster   ecstypes.Cluster `json:"cluster"`
	Name      string           `json:"name"`
	Instances []instanceState  `json:"instances"` // in registration order
	Services  []serviceState   `json:"services"`  // in creation order
	Tasks     []taskState      `json:"tasks"`
}

type instanceState struct {
	Instance ecstypes.ContainerInstance `json:"instance"`
	ID       string                     `json:"id"`
	EC2      string                     `json:"ec2InstanceId"`
	Next     int32                      `json:"nextHostPort"`
}

type familyState struct {
	Name string                    `json:"name"`
	Revs []ecstypes.TaskDefinition `json:"revisions"`
	Tags map[int32][]ecstypes.Tag  `json:"tags,omitempty"`
}

type serviceState struct {
	Service     ecstypes.Service             `json:"service"`
	Name        string                       `json:"name"`
	Deployments []deploymentState            `json:"deployments"` // [0] is PRIMARY
	TaskSets    []taskSetState               `json:"taskSets,omitempty"`
	Steady      bool                         `json:"steady"`
	History     []ecstypes.ServiceDeployment `json:"history"`
	Daemon      bool                         `json:"daemon,omitempty"`
	External    bool                         `json:"external,omitempty"`
	ClientToken string                       `json:"clientToken,omitempty"`
}

type deploymentState struct {
	Deployment ecstypes.Deployment `json:"deployment"`
	Failures   int                 `json:"failures"`
	Threshold  int                 `json:"threshold"`
	CBEnable   bool                `json:"cbEnable,omitempty"`
	CBRollback bool                `json:"cbRollback,omitempty"`
	Impaired   bool                `json:"impaired,omitempty"`
	History    int                 `json:"historyIndex"` // its service deployment in History, or -1
	Revision   string              `json:"revision"`
	Rollback   bool                `json:"rollback,omitempty"`
	NextLaunch time.Time           `json:"nextLaunch"`
}

type taskSetState struct {
	TaskSet ecstypes.TaskSet `json:"taskSet"`
	Steady  bool             `json:"steady"`
}

type taskState struct {
	Task     ecstypes.Task              `json:"task"`
	ID       string                     `json:"id"`
	Service  string                     `json:"service,omitempty"`
	TaskSet  string                     `json:"taskSet,omitempty"`
	DepID    string                     `json:"deploymentId,omitempty"`
	Instance string                     `json:"instance,omitempty"`
	IP       string                     `json:"ip"`
	Port     int32                      `json:"hostPort,omitempty"`
	Targets  []targetState              `json:"targets,omitempty"`
	HasHC    bool                       `json:"hasHealthCheck,omitempty"`
	HC       ecstypes.HealthCheck       `json:"healthCheck"`
	SDIDs    []string                   `json:"cloudMapServices,omitempty"`
	LBs      []ecstypes.LoadBalancer    `json:"loadBalancers,omitempty"`
	Regs     []ecstypes.ServiceRegistry `json:"serviceRegistries,omitempty"`
}

type targetState struct {
	TG   string `json:"targetGroupArn"`
	ID   string `json:"id"`
	Port int32  `json:"port"`
}

type repoState struct {
	Repository ecrtypes.Repository `json:"repository"`
	Images     []imageState        `json:"images"` // in push order
	Tags       map[string]string   `json:"tags"`
}

type imageState struct {
	Manifest  string    `json:"manifest"`
	MediaType string    `json:"mediaType"`
	Digest    string    `json:"digest"`
	PushedAt  time.Time `json:"pushedAt"`
	Size      int64     `json:"size"`
}

type sdServiceState struct {
	Service   sdtypes.Service              `json:"service"`
	Instances map[string]map[string]string `json:"instances"`
	Order     []string                     `json:"order"`
}

// Save writes the emulator's state (see StateFormat) to out. The ECS world
// is read under its read lock, so a Save is a consistent cut of it; ELBv2,
// Route 53 and CloudWatch are read right after, each under its own lock.
func (e *Emulator) Save(out io.Writer) error {
	st := stateFile{Format: StateFormat, Version: StateVersion, Region: e.region, AccountID: e.acct}
	w := e.w
	// A read lock keeps writers (API calls, timers) out while the world is
	// copied and encoded (the copies share slices, such as containers and
	// attachments, that the simulation updates in place); reads go on.
	w.mu.RLock()
	st.SavedAt = w.clock.Now().UTC()
	ecs, err := json.Marshal(w.state())
	w.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("save emulator state: %w", err)
	}
	st.ECS = ecs
	if st.ELBv2, err = e.elb.SaveState(); err != nil {
		return fmt.Errorf("save emulator state: %w", err)
	}
	if st.Route53, err = e.r53.SaveState(); err != nil {
		return fmt.Errorf("save emulator state: %w", err)
	}
	if st.CloudWatch, err = e.cw.SaveState(); err != nil {
		return fmt.Errorf("save emulator state: %w", err)
	}
	enc := json.NewEncoder(out)
	if err := enc.Encode(&st); err != nil {
		return fmt.Errorf("save emulator state: %w", err)
	}
	return nil
}

// SavedAt reads the simulated time a state file was saved at, without
// loading it (a restarted clock should not go back before it).
func SavedAt(r io.Reader) (time.Time, error) {
	var head struct {
		Format  string    `json:"format"`
		Version int       `json:"version"`
		SavedAt time.Time `json:"savedAt"`
	}
	if err := json.NewDecoder(r).Decode(&head); err != nil {
		return time.Time{}, fmt.Errorf("read emulator state: %w", err)
	}
	if head.Format != StateFormat || head.Version != StateVersion {
		return time.Time{}, fmt.Errorf("read emulator state: %w", &StateVersionError{Format: head.Format, Version: head.Version})
	}
	return head.SavedAt, nil
}

// Load replaces the emulator's state with one written by Save, then lets
// the scheduler reconcile every service (launching the tasks that were not
// RUNNING when it was saved). Call it on a new emulator, before serving
// requests. A file of another format or version is refused with a
// *StateVersionError, one of another region or account with an error; on
// any error the emulator is left unchanged.
func (e *Emulator) Load(in io.Reader) error {
	raw, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("load emulator state: %w", err)
	}
	var st stateFile
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("load emulator state: %w", err)
	}
	if st.Format != StateFormat || st.Version != StateVersion {
		return fmt.Errorf("load emulator state: %w", &StateVersionError{Format: st.Format, Version: st.Version})
	}
	if st.Region != e.region || st.AccountID != e.acct {
		return fmt.Errorf("load emulator state: saved for region %s account %s, this emulator is region %s account %s",
			st.Region, st.AccountID, e.region, e.acct)
	}
	var ws *worldState
	if err := json.Unmarshal(st.ECS, &ws); err != nil {
		return fmt.Errorf("load emulator state: ecs section: %w", err)
	}
	if ws == nil {
		return errors.New("load emulator state: no ecs section")
	}
	// Check the sub-services' sections first on scratch copies, so that a
	// bad file changes nothing.
	type loader interface{ LoadState([]byte) error }
	sections := []struct {
		name string
		raw  json.RawMessage
	}{{"elbv2", st.ELBv2}, {"route53", st.Route53}, {"cloudwatch", st.CloudWatch}}
	scratch := []loader{
		elbv2emu.New(elbv2emu.Options{Clock: e.clock, Region: e.region, AccountID: e.acct}),
		route53emu.New(route53emu.Options{Clock: e.clock, AccountID: e.acct}),
		cwemu.New(cwemu.Options{Clock: e.clock, Region: e.region, AccountID: e.acct}),
	}
	for i, s := range sections {
		if len(bytes.TrimSpace(s.raw)) == 0 || bytes.Equal(bytes.TrimSpace(s.raw), []byte("null")) {
			return fmt.Errorf("load emulator state: no %s section", s.name)
		}
		if err := scratch[i].LoadState(s.raw); err != nil {
			return fmt.Errorf("load emulator state: %w", err)
		}
	}
	w := e.w
	nw := newWorld(w.ctx, w.clock, nil, w.region, w.acct, 0, w.faults, nil, w.timings)
	if err := nw.restore(ws, nil); err != nil {
		return fmt.Errorf("load emulator state: %w", err)
	}
	for i, l := range []loader{e.elb, e.r53, e.cw} {
		if err := l.LoadState(sections[i].raw); err != nil {
			return fmt.Errorf("load emulator state: %w", err) // not reached: checked on scratch copies above
		}
	}
	w.mu.Lock()
	defer w.unlock()
	if err := w.restore(ws, w.lb); err != nil {
		return fmt.Errorf("load emulator state: %w", err) // not reached: checked on nw above
	}
	// A new random stream, so that IDs drawn from now on do not repeat
	// those of the restored resources (the seed's stream would).
	h := fnv.New64a()
	_, _ = h.Write(raw)
	w.rng = rand.New(rand.NewPCG(h.Sum64(), 0x72657374))
	for _, cn := range sortedKeys(w.clusters) {
		c := w.clusters[cn]
		for _, sn := range c.svcOrder {
			if s := c.services[sn]; s != nil {
				w.reconcile(s)
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// state copies the world into its saved form; callers hold the lock.
func (w *world) state() *worldState {
	ws := &worldState{Clusters: []clusterState{}, Families: []familyState{}, Tags: map[string][]ecstypes.Tag{},
		Repos: []repoState{}, Scalable: []keyed[aastypes.ScalableTarget]{}, Policies: []keyed[aastypes.ScalingPolicy]{},
		Namespaces: []sdtypes.Namespace{}, SDServices: []sdServiceState{}, SDOps: []sdtypes.Operation{}}
	for _, cn := range sortedKeys(w.clusters) {
		c := w.clusters[cn]
		cs := clusterState{Cluster: c.c, Name: c.name, Instances: []instanceState{}, Services: []serviceState{}, Tasks: []taskState{}}
		for _, id := range c.instOrder {
			if inst := c.instances[id]; inst != nil {
				cs.Instances = append(cs.Instances, instanceState{Instance: inst.ci, ID: inst.id, EC2: inst.ec2, Next: inst.next})
			}
		}
		for _, sn := range c.svcOrder {
			s := c.services[sn]
			if s == nil {
				continue
			}
			ss := serviceState{Service: s.s, Name: s.name, Steady: s.steady, Daemon: s.daemon, External: s.external,
				ClientToken: s.clientToken, Deployments: []deploymentState{}, History: []ecstypes.ServiceDeployment{}}
			for _, h := range s.history {
				ss.History = append(ss.History, *h)
			}
			for _, d := range s.deps {
				ds := deploymentState{Deployment: d.d, Failures: d.failures, Threshold: d.threshold, CBEnable: d.cbEnable,
					CBRollback: d.cbRollback, Impaired: d.impaired, History: -1, Revision: d.revision, Rollback: d.rollback,
					NextLaunch: d.nextLaunch}
				for i, h := range s.history {
					if h == d.sd {
						ds.History = i
					}
				}
				ss.Deployments = append(ss.Deployments, ds)
			}
			for _, ts := range s.taskSets {
				ss.TaskSets = append(ss.TaskSets, taskSetState{TaskSet: ts.ts, Steady: ts.steady})
			}
			cs.Services = append(cs.Services, ss)
		}
		for _, t := range sortedTasks(c.tasks) {
			if t.stopping || aws.ToString(t.t.LastStatus) != "RUNNING" {
				continue
			}
			ts := taskState{Task: t.t, ID: t.id, DepID: t.depID, IP: t.ip, Port: t.port, HasHC: t.hasHC, HC: t.hc,
				SDIDs: t.sdIDs, LBs: t.lbs, Regs: t.regs}
			if t.svc != nil {
				ts.Service = t.svc.name
			}
			if t.ts != nil {
				ts.TaskSet = aws.ToString(t.ts.ts.Id)
			}
			if t.inst != nil {
				ts.Instance = t.inst.id
			}
			for _, tg := range t.targets {
				if tg.registered {
					ts.Targets = append(ts.Targets, targetState{TG: tg.tg, ID: tg.id, Port: tg.port})
				}
			}
			cs.Tasks = append(cs.Tasks, ts)
		}
		ws.Clusters = append(ws.Clusters, cs)
	}
	for _, fn := range sortedKeys(w.families) {
		f := w.families[fn]
		fs := familyState{Name: f.name, Revs: make([]ecstypes.TaskDefinition, 0, len(f.revs))}
		for _, r := range f.revs {
			fs.Revs = append(fs.Revs, *r)
		}
		if len(f.tags) > 0 {
			fs.Tags = f.tags
		}
		ws.Families = append(ws.Families, fs)
	}
	for k, v := range w.tags {
		ws.Tags[k] = v
	}
	for _, n := range w.ecr.order {
		r := w.ecr.repos[n]
		if r == nil {
			continue
		}
		rs := repoState{Repository: r.r, Images: []imageState{}, Tags: map[string]string{}}
		for _, d := range r.order {
			if im := r.images[d]; im != nil {
				rs.Images = append(rs.Images, imageState{Manifest: im.manifest, MediaType: im.mediaType, Digest: im.digest, PushedAt: im.pushedAt, Size: im.size})
			}
		}
		for t, d := range r.tags {
			rs.Tags[t] = d
		}
		ws.Repos = append(ws.Repos, rs)
	}
	for _, k := range w.aas.order {
		if t := w.aas.targets[k]; t != nil {
			ws.Scalable = append(ws.Scalable, keyed[aastypes.ScalableTarget]{Key: k, Value: *t})
		}
	}
	for _, k := range w.aas.porder {
		if p := w.aas.policies[k]; p != nil {
			ws.Policies = append(ws.Policies, keyed[aastypes.ScalingPolicy]{Key: k, Value: *p})
		}
	}
	for _, id := range w.sd.nsOrder {
		if ns := w.sd.namespaces[id]; ns != nil {
			ws.Namespaces = append(ws.Namespaces, *ns)
		}
	}
	for _, id := range w.sd.svcOrder {
		s := w.sd.services[id]
		if s == nil {
			continue
		}
		ss := sdServiceState{Service: s.s, Instances: map[string]map[string]string{}, Order: append([]string{}, s.order...)}
		for iid, attrs := range s.instances {
			m := make(map[string]string, len(attrs))
			for k, v := range attrs {
				m[k] = v
			}
			ss.Instances[iid] = m
		}
		ws.SDServices = append(ws.SDServices, ss)
	}
	for _, id := range sortedKeys(w.sd.ops) {
		ws.SDOps = append(ws.SDOps, *w.sd.ops[id])
	}
	return ws
}

// restore replaces the world's resources with ws; lb, when not nil, gets
// the restored tasks' targets (re)registered and marked healthy. Callers
// hold the lock (or own the world). On error the world is unchanged.
func (w *world) restore(ws *worldState, lb lbHooks) error {
	clusters := map[string]*cluster{}
	families := map[string]*family{}
	taskByArn := map[string]*task{}
	for _, fs := range ws.Families {
		if fs.Name == "" || families[fs.Name] != nil {
			return fmt.Errorf("task definition family %q is empty or repeated", fs.Name)
		}
		f := &family{name: fs.Name, revs: make([]*ecstypes.TaskDefinition, 0, len(fs.Revs)), tags: fs.Tags}
		if f.tags == nil {
			f.tags = map[int32][]ecstypes.Tag{}
		}
		for i := range fs.Revs {
			td := fs.Revs[i]
			if int(td.Revision) != i+1 {
				return fmt.Errorf("task definition %s: revision %d at position %d", fs.Name, td.Revision, i+1)
			}
			f.revs = append(f.revs, &td)
		}
		families[fs.Name] = f
	}
	tdByArn := func(arn string) *ecstypes.TaskDefinition {
		for _, f := range families {
			for _, td := range f.revs {
				if aws.ToString(td.TaskDefinitionArn) == arn {
					return td
				}
			}
		}
		return nil
	}
	type pendingTarget struct {
		t   *task
		tgs []targetState
	}
	var restoredTargets []pendingTarget
	for _, cs := range ws.Clusters {
		if cs.Name == "" || clusters[cs.Name] != nil {
			return fmt.Errorf("cluster name %q is empty or repeated", cs.Name)
		}
		if cs.Cluster.ClusterArn == nil {
			return fmt.Errorf("cluster %s has no ARN", cs.Name)
		}
		c := &cluster{c: cs.Cluster, name: cs.Name, services: map[string]*service{}, tasks: map[string]*task{}, instances: map[string]*instance{}}
		for _, is := range cs.Instances {
			if is.ID == "" || c.instances[is.ID] != nil {
				return fmt.Errorf("cluster %s: container instance id %q is empty or repeated", cs.Name, is.ID)
			}
			c.instances[is.ID] = &instance{ci: is.Instance, id: is.ID, ec2: is.EC2, next: is.Next}
			c.instOrder = append(c.instOrder, is.ID)
		}
		for _, ss := range cs.Services {
			if ss.Name == "" || c.services[ss.Name] != nil {
				return fmt.Errorf("cluster %s: service name %q is empty or repeated", cs.Name, ss.Name)
			}
			if ss.Service.ServiceArn == nil || ss.Service.DeploymentConfiguration == nil {
				return fmt.Errorf("cluster %s: service %s has no ARN or no deployment configuration", cs.Name, ss.Name)
			}
			s := &service{s: ss.Service, cl: c, name: ss.Name, tasks: map[string]*task{}, steady: ss.Steady,
				daemon: ss.Daemon, external: ss.External, clientToken: ss.ClientToken}
			for i := range ss.History {
				h := ss.History[i]
				s.history = append(s.history, &h)
			}
			for _, ds := range ss.Deployments {
				if ds.Deployment.Id == nil {
					return fmt.Errorf("service %s/%s: a deployment has no id", cs.Name, ss.Name)
				}
				d := &deployment{d: ds.Deployment, failures: ds.Failures, threshold: ds.Threshold, cbEnable: ds.CBEnable,
					cbRollback: ds.CBRollback, impaired: ds.Impaired, revision: ds.Revision, rollback: ds.Rollback, nextLaunch: ds.NextLaunch}
				if ds.History >= len(s.history) {
					return fmt.Errorf("service %s/%s: deployment %s: history index %d out of range", cs.Name, ss.Name, aws.ToString(d.d.Id), ds.History)
				}
				if ds.History >= 0 {
					d.sd = s.history[ds.History]
				}
				s.deps = append(s.deps, d)
			}
			for _, tss := range ss.TaskSets {
				s.taskSets = append(s.taskSets, &taskSet{ts: tss.TaskSet, svc: s, steady: tss.Steady})
			}
			c.services[ss.Name] = s
			c.svcOrder = append(c.svcOrder, ss.Name)
		}
		for _, ts := range cs.Tasks {
			if ts.ID == "" || c.tasks[ts.ID] != nil || ts.Task.TaskArn == nil || ts.Task.CreatedAt == nil {
				return fmt.Errorf("cluster %s: task id %q is empty or repeated, or it has no ARN or creation time", cs.Name, ts.ID)
			}
			td := tdByArn(aws.ToString(ts.Task.TaskDefinitionArn))
			if td == nil {
				return fmt.Errorf("task %s: task definition %s is not in the state", ts.ID, aws.ToString(ts.Task.TaskDefinitionArn))
			}
			t := &task{t: ts.Task, id: ts.ID, cl: c, depID: ts.DepID, td: td, ip: ts.IP, port: ts.Port, hasHC: ts.HasHC,
				hc: ts.HC, sdIDs: ts.SDIDs, lbs: ts.LBs, regs: ts.Regs}
			if ts.Service != "" {
				t.svc = c.services[ts.Service]
				if t.svc == nil {
					return fmt.Errorf("task %s: service %s is not in cluster %s", ts.ID, ts.Service, cs.Name)
				}
				t.svc.tasks[t.id] = t
				if ts.TaskSet != "" {
					t.ts = findTaskSet(t.svc, ts.TaskSet)
				}
			}
			if ts.Instance != "" {
				t.inst = c.instances[ts.Instance]
			}
			// A task saved RUNNING comes back RUNNING and healthy: the
			// health checks it was waiting for count as passed.
			t.t.LastStatus, t.t.DesiredStatus = aws.String("RUNNING"), aws.String("RUNNING")
			if t.hasHC {
				t.t.HealthStatus = ecstypes.HealthStatusHealthy
				for i := range t.t.Containers {
					t.t.Containers[i].HealthStatus = ecstypes.HealthStatusHealthy
				}
			}
			for _, tg := range ts.Targets {
				t.targets = append(t.targets, &target{tg: tg.TG, id: tg.ID, port: tg.Port, healthy: true, registered: true})
			}
			restoredTargets = append(restoredTargets, pendingTarget{t: t, tgs: ts.Targets})
			c.tasks[t.id] = t
			taskByArn[*t.t.TaskArn] = t
		}
		clusters[cs.Name] = c
	}
	ecr := newECRState()
	for _, rs := range ws.Repos {
		name := aws.ToString(rs.Repository.RepositoryName)
		if name == "" || ecr.repos[name] != nil {
			return fmt.Errorf("ecr repository name %q is empty or repeated", name)
		}
		r := &repo{r: rs.Repository, images: map[string]*image{}, tags: map[string]string{}}
		for _, im := range rs.Images {
			r.images[im.Digest] = &image{manifest: im.Manifest, mediaType: im.MediaType, digest: im.Digest, pushedAt: im.PushedAt, size: im.Size}
			r.order = append(r.order, im.Digest)
		}
		for t, d := range rs.Tags {
			if r.images[d] == nil {
				return fmt.Errorf("ecr repository %s: tag %s names image %s, which is not in the state", name, t, d)
			}
			r.tags[t] = d
		}
		ecr.repos[name] = r
		ecr.order = append(ecr.order, name)
	}
	aas := newAASState()
	for _, k := range ws.Scalable {
		v := k.Value
		aas.targets[k.Key] = &v
		aas.order = append(aas.order, k.Key)
	}
	for _, k := range ws.Policies {
		v := k.Value
		aas.policies[k.Key] = &v
		aas.porder = append(aas.porder, k.Key)
	}
	sd := newSDState()
	for i := range ws.Namespaces {
		ns := ws.Namespaces[i]
		id := aws.ToString(ns.Id)
		sd.namespaces[id] = &ns
		sd.nsOrder = append(sd.nsOrder, id)
	}
	for _, ss := range ws.SDServices {
		id := aws.ToString(ss.Service.Id)
		s := &sdService{s: ss.Service, instances: ss.Instances, order: ss.Order}
		if s.instances == nil {
			s.instances = map[string]map[string]string{}
		}
		sd.services[id] = s
		sd.svcOrder = append(sd.svcOrder, id)
	}
	for i := range ws.SDOps {
		op := ws.SDOps[i]
		sd.ops[aws.ToString(op.Id)] = &op
	}
	tags := ws.Tags
	if tags == nil {
		tags = map[string][]ecstypes.Tag{}
	}

	// Commit.
	for _, c := range w.clusters {
		for _, t := range c.tasks {
			for _, tm := range t.timers {
				tm.Stop()
			}
		}
	}
	w.clusters, w.families, w.tags, w.taskByArn = clusters, families, tags, taskByArn
	w.ecr, w.aas, w.sd = ecr, aas, sd
	if lb != nil {
		for _, p := range restoredTargets {
			for _, tg := range p.tgs {
				if err := lb.registerTarget(tg.TG, tg.ID, tg.Port); err != nil {
					w.log.Warn("restore target", "targetGroup", tg.TG, "task", p.t.id, "err", err)
					continue
				}
				lb.setTargetHealth(tg.TG, tg.ID, tg.Port, "healthy", "", "")
			}
		}
	}
	return nil
}

// Generation is a counter that moves whenever the ECS world changes
// (through its API or as simulated time passes), so that a caller saving
// the state periodically can skip saves when nothing happened. Changes
// made through the ELBv2, Route 53 and CloudWatch APIs alone do not move
// it: count those requests separately.
func (e *Emulator) Generation() uint64 {
	e.w.mu.RLock()
	defer e.w.mu.RUnlock()
	return e.w.gen
}
