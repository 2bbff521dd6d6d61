package awsemu

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

const maxControlBody = 1 << 20

// serveControl answers the /_emulator/ control API.
func (e *Emulator) serveControl(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_emulator/clock":
		switch r.Method {
		case http.MethodGet:
			writeControl(w, http.StatusOK, e.clockState())
		case http.MethodPost:
			var in struct {
				Scale          *float64 `json:"scale"`
				AdvanceSeconds *float64 `json:"advanceSeconds"`
			}
			if !decodeControl(w, r, &in) {
				return
			}
			if in.AdvanceSeconds != nil {
				mc, ok := e.clock.(*simclock.Manual)
				if !ok {
					controlError(w, http.StatusConflict, "advanceSeconds needs a manual clock; this one runs by itself")
					return
				}
				if *in.AdvanceSeconds < 0 || *in.AdvanceSeconds > 1e7 {
					controlError(w, http.StatusBadRequest, "advanceSeconds must be in [0, 10000000]")
					return
				}
				mc.Advance(time.Duration(*in.AdvanceSeconds * float64(time.Second)))
				writeControl(w, http.StatusOK, e.clockState())
				return
			}
			if in.Scale == nil || *in.Scale <= 0 || *in.Scale > 1e6 {
				controlError(w, http.StatusBadRequest, "scale must be a number in (0, 1000000]")
				return
			}
			sc, ok := e.clock.(*simclock.Scaled)
			if !ok {
				controlError(w, http.StatusConflict, "the emulator's clock is not a scaled clock")
				return
			}
			sc.SetScale(*in.Scale)
			writeControl(w, http.StatusOK, e.clockState())
		default:
			methodNotAllowed(w, "GET, POST")
		}
	case "/_emulator/ecr/push":
		if r.Method != http.MethodPost {
			methodNotAllowed(w, "POST")
			return
		}
		var in struct {
			Repository string `json:"repository"`
			Tag        string `json:"tag"`
		}
		if !decodeControl(w, r, &in) {
			return
		}
		digest, err := e.PushImage(r.Context(), in.Repository, in.Tag)
		if err != nil {
			controlError(w, http.StatusBadRequest, err.Error())
			return
		}
		tag := in.Tag
		if tag == "" {
			tag = "latest"
		}
		writeControl(w, http.StatusOK, map[string]string{
			"repository": in.Repository, "tag": tag, "digest": digest,
			"imageUri": e.w.registryHost() + "/" + in.Repository + ":" + tag,
		})
	case "/_emulator/faults":
		switch r.Method {
		case http.MethodGet:
			e.faults.mu.Lock()
			p := e.faults.plan
			e.faults.mu.Unlock()
			if p.Rules == nil {
				p.Rules = []FaultRule{}
			}
			writeControl(w, http.StatusOK, p)
		case http.MethodPost, http.MethodPut:
			body, err := io.ReadAll(io.LimitReader(r.Body, maxControlBody+1))
			if err != nil || len(body) > maxControlBody {
				controlError(w, http.StatusBadRequest, "fault plan body is unreadable or larger than 1 MiB")
				return
			}
			plan, err := ParseFaultPlan(body)
			if err != nil {
				controlError(w, http.StatusBadRequest, err.Error())
				return
			}
			if err := e.SetFaultPlan(plan); err != nil {
				controlError(w, http.StatusBadRequest, err.Error())
				return
			}
			writeControl(w, http.StatusOK, map[string]any{"rules": len(plan.Rules), "seed": plan.Seed})
		case http.MethodDelete:
			e.ClearFaults()
			w.WriteHeader(http.StatusNoContent)
		default:
			methodNotAllowed(w, "GET, POST, PUT, DELETE")
		}
	case "/_emulator/health":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, "GET, HEAD")
			return
		}
		writeControl(w, http.StatusOK, map[string]string{"status": "ok", "now": e.clock.Now().UTC().Format(time.RFC3339Nano)})
	case "/_emulator/events":
		if r.Method != http.MethodGet {
			methodNotAllowed(w, "GET")
			return
		}
		var after int64
		if a := r.URL.Query().Get("after"); a != "" {
			v, err := strconv.ParseInt(a, 10, 64)
			if err != nil || v < 0 {
				controlError(w, http.StatusBadRequest, "after must be a non-negative integer")
				return
			}
			after = v
		}
		e.w.mu.RLock()
		out := []seqEvent{}
		for _, ev := range e.w.recent {
			if ev.Seq > after {
				out = append(out, ev)
			}
		}
		last := e.w.evSeq
		e.w.mu.RUnlock()
		writeControl(w, http.StatusOK, map[string]any{"events": out, "last": last})
	case "/_emulator/state":
		if r.Method != http.MethodGet {
			methodNotAllowed(w, "GET")
			return
		}
		writeControl(w, http.StatusOK, e.State())
	default:
		controlError(w, http.StatusNotFound, "unknown control endpoint "+r.URL.Path)
	}
}

func (e *Emulator) clockState() map[string]any {
	out := map[string]any{"now": e.clock.Now().UTC().Format(time.RFC3339Nano)}
	if sc, ok := e.clock.(*simclock.Scaled); ok {
		out["scale"] = sc.Scale()
	}
	return out
}

func decodeControl(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxControlBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		controlError(w, http.StatusBadRequest, "malformed JSON body: "+err.Error())
		return false
	}
	return true
}

func writeControl(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		controlError(w, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func controlError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	controlError(w, http.StatusMethodNotAllowed, "method not allowed; use "+allow)
}

// StateSnapshot is the debugging dump of GET /_emulator/state.
type StateSnapshot struct {
	Now        string         `json:"now"`
	Clusters   []ClusterState `json:"clusters"`
	Repos      []RepoState    `json:"ecrRepositories"`
	Scalable   []any          `json:"scalableTargets"`
	CloudMap   []any          `json:"cloudMapServices"`
	ELBv2      any            `json:"elbv2"`
	Route53    any            `json:"route53"`
	CloudWatch any            `json:"cloudwatch"`
	Faults     FaultPlan      `json:"faults"`
}

// ClusterState summarises one cluster.
type ClusterState struct {
	Name      string         `json:"name"`
	Instances []string       `json:"containerInstances"`
	Services  []ServiceState `json:"services"`
	Tasks     []TaskState    `json:"tasks"`
}

// ServiceState summarises one service.
type ServiceState struct {
	Name         string            `json:"name"`
	Status       string            `json:"status"`
	Desired      int32             `json:"desiredCount"`
	Running      int32             `json:"runningCount"`
	Pending      int32             `json:"pendingCount"`
	Deployments  []DeploymentState `json:"deployments"`
	TaskSets     []string          `json:"taskSets,omitempty"`
	RecentEvents []string          `json:"recentEvents"`
}

// DeploymentState summarises one deployment.
type DeploymentState struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	TaskDefinition string `json:"taskDefinition"`
	Rollout        string `json:"rolloutState"`
	Failed         int32  `json:"failedTasks"`
	Running        int32  `json:"runningCount"`
}

// TaskState summarises one task.
type TaskState struct {
	ID            string `json:"id"`
	Group         string `json:"group"`
	LastStatus    string `json:"lastStatus"`
	DesiredStatus string `json:"desiredStatus"`
	Health        string `json:"healthStatus"`
	StoppedReason string `json:"stoppedReason,omitempty"`
	Deployment    string `json:"deployment,omitempty"`
}

// RepoState summarises one ECR repository.
type RepoState struct {
	Name   string            `json:"name"`
	Tags   map[string]string `json:"tags"`
	Images int               `json:"images"`
}

// State returns a snapshot of the whole world.
func (e *Emulator) State() StateSnapshot {
	wd := e.w
	wd.mu.RLock()
	snap := StateSnapshot{Now: wd.now().UTC().Format(time.RFC3339Nano), Clusters: []ClusterState{}, Repos: []RepoState{}, Scalable: []any{}, CloudMap: []any{}}
	names := make([]string, 0, len(wd.clusters))
	for n := range wd.clusters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := wd.clusters[n]
		cs := ClusterState{Name: n, Instances: []string{}, Services: []ServiceState{}, Tasks: []TaskState{}}
		for _, id := range c.instOrder {
			cs.Instances = append(cs.Instances, c.instances[id].ec2)
		}
		for _, sn := range c.svcOrder {
			s := c.services[sn]
			v := wd.serviceView(s, false)
			ss := ServiceState{Name: sn, Status: aws.ToString(v.Status), Desired: v.DesiredCount, Running: v.RunningCount, Pending: v.PendingCount, Deployments: []DeploymentState{}, RecentEvents: []string{}}
			for _, d := range v.Deployments {
				ss.Deployments = append(ss.Deployments, DeploymentState{ID: aws.ToString(d.Id), Status: aws.ToString(d.Status), TaskDefinition: aws.ToString(d.TaskDefinition), Rollout: string(d.RolloutState), Failed: d.FailedTasks, Running: d.RunningCount})
			}
			for _, ts := range v.TaskSets {
				ss.TaskSets = append(ss.TaskSets, aws.ToString(ts.Id)+" "+aws.ToString(ts.Status))
			}
			for i, ev := range v.Events {
				if i >= 10 {
					break
				}
				ss.RecentEvents = append(ss.RecentEvents, aws.ToString(ev.Message))
			}
			cs.Services = append(cs.Services, ss)
		}
		for _, t := range sortedTasks(c.tasks) {
			cs.Tasks = append(cs.Tasks, TaskState{ID: t.id, Group: aws.ToString(t.t.Group), LastStatus: aws.ToString(t.t.LastStatus), DesiredStatus: aws.ToString(t.t.DesiredStatus), Health: string(t.t.HealthStatus), StoppedReason: aws.ToString(t.t.StoppedReason), Deployment: t.depID})
		}
		snap.Clusters = append(snap.Clusters, cs)
	}
	for _, n := range wd.ecr.order {
		r := wd.ecr.repos[n]
		rs := RepoState{Name: n, Tags: map[string]string{}, Images: len(r.images)}
		for t, d := range r.tags {
			rs.Tags[t] = d
		}
		snap.Repos = append(snap.Repos, rs)
	}
	for _, k := range wd.aas.order {
		snap.Scalable = append(snap.Scalable, *wd.aas.targets[k])
	}
	for _, id := range wd.sd.svcOrder {
		s := wd.sd.services[id]
		snap.CloudMap = append(snap.CloudMap, map[string]any{"id": id, "name": aws.ToString(s.s.Name), "instances": s.instances})
	}
	wd.mu.RUnlock()
	snap.ELBv2 = e.elb.Snapshot()
	snap.Route53 = e.r53.Snapshot()
	snap.CloudWatch = e.cw.Snapshot()
	e.faults.mu.Lock()
	snap.Faults = e.faults.plan
	e.faults.mu.Unlock()
	if snap.Faults.Rules == nil {
		snap.Faults.Rules = []FaultRule{}
	}
	return snap
}
