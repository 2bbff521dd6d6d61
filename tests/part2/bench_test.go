package part2

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/model"
)

// benchTimings are fixed simulated ECS timings: a task runs 6 s after it
// is placed, with no random pull time.
var benchTimings = awsemu.Timings{Provision: time.Second, PullMin: 4 * time.Second, PullMax: 4 * time.Second,
	Start: time.Second, Stop: 2 * time.Second, LaunchBackoff: 2 * time.Second}

// figures are one deployment's measurements; times are simulated seconds.
type figures struct {
	waits, overhead float64 // steady waits and verifications; orchestration time around them
	// steady, steadyOverhead: the steady waits alone (ECS steady → the
	// wait's step closed by the next step), the part internal/ecsevents is on.
	steady, steadyOverhead float64
	transitions            int64
	calls                  map[string]int64
	cost                   float64
	swap                   float64 // SET_WEIGHT 100 started → the weight written
}

// measure reads a finished deployment: for each steady wait, the time from
// ECS reporting the revision steady (or the wait starting, when ECS was
// first) to the wait ending; for each verification, its time beyond the
// bake.
func measure(b testing.TB, d *model.Deployment, ledger []model.LedgerEntry, plan []int32) figures {
	f := figures{transitions: d.Usage.StateTransitions, calls: d.Usage.APICalls, cost: d.Usage.EstimatedCostUSD}
	verify := 0
	for _, s := range d.Steps {
		switch s.Name {
		case "WAIT_STEADY":
			steady := time.Time{}
			for _, l := range ledger {
				if l.Kind == model.LedgerECSEvent && strings.Contains(l.Message, d.NewRevision.ServiceName) &&
					(strings.HasPrefix(l.Message, "SERVICE_STEADY_STATE") || strings.HasPrefix(l.Message, "SERVICE_DEPLOYMENT_COMPLETED")) &&
					!l.At.After(s.EndedAt) {
					steady = l.At
				}
			}
			if steady.Before(s.StartedAt) {
				steady = s.StartedAt
			}
			f.waits++
			f.overhead += s.EndedAt.Sub(steady).Seconds()
			f.steady++
			f.steadyOverhead += s.EndedAt.Sub(steady).Seconds()
		case "VERIFY":
			bake := 0.0
			if verify < len(plan) {
				bake = float64(plan[verify])
			}
			verify++
			f.waits++
			f.overhead += s.EndedAt.Sub(s.StartedAt).Seconds() - bake
		case "SET_WEIGHT":
			for _, l := range ledger {
				if l.Kind == model.LedgerTraffic && !l.At.Before(s.StartedAt) && !l.At.After(s.EndedAt) &&
					strings.Contains(l.Message, d.NewRevision.ServiceName+" 100%") {
					f.swap = l.At.Sub(s.StartedAt).Seconds()
				}
			}
		}
	}
	return f
}

func report(b *testing.B, all []figures) {
	var waits, overhead, swap, cost, steady, steadyOverhead float64
	var transitions, calls int64
	ops := map[string]int64{}
	for _, f := range all {
		waits += f.waits
		overhead += f.overhead
		steady += f.steady
		steadyOverhead += f.steadyOverhead
		swap += f.swap
		cost += f.cost
		transitions += f.transitions
		for k, v := range f.calls {
			ops[k] += v
			calls += v
		}
	}
	n := float64(len(all))
	b.ReportMetric(overhead/waits, "sim-s-overhead/wait")
	if steady > 0 {
		b.ReportMetric(steadyOverhead/steady, "sim-s-overhead/steady-wait")
	}
	b.ReportMetric(float64(transitions)/n, "transitions/deploy")
	b.ReportMetric(float64(calls)/n, "aws-calls/deploy")
	b.ReportMetric(cost/n*1e6, "µUSD/deploy")
	if swap > 0 {
		b.ReportMetric(swap/n, "sim-s-swap")
	}
	keys := make([]string, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%.1f", k, float64(ops[k])/n))
	}
	b.Logf("AWS calls per deployment: %s", strings.Join(parts, " "))
}

func benchStrategy(b *testing.B, workflow func(*model.Workflow), bakes []int32) {
	h := newHarness(b, options{workflow: workflow, timings: &benchTimings})
	h.finish(h.start("v0"), model.StatusSucceeded)
	var all []figures
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, ledger := h.finish(h.start(fmt.Sprintf("v%d", i+1)), model.StatusSucceeded)
		all = append(all, measure(b, d, ledger, bakes))
	}
	b.StopTimer()
	report(b, all)
}

func BenchmarkCanaryDeployment(b *testing.B) {
	// Phase bakes 20, 20, none; the workflow's verification has no bake.
	benchStrategy(b, canary, []int32{20, 20, 0, 0})
}

func BenchmarkBlueGreenELBDeployment(b *testing.B) {
	// Test listener bake 10, step bake 10 after 25%, blue bake 30.
	benchStrategy(b, blueGreen(model.BlueGreenELB, true, []int32{25, 100}, 10, 30), []int32{10, 10, 30})
}

func BenchmarkBlueGreenRoute53Deployment(b *testing.B) {
	h := newHarness(b, options{route53: true, workflow: blueGreen(model.BlueGreenRoute53, false, []int32{50, 100}, 10, 20), timings: &benchTimings})
	h.finish(h.start("v0"), model.StatusSucceeded)
	var all []figures
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, ledger := h.finish(h.start(fmt.Sprintf("v%d", i+1)), model.StatusSucceeded)
		all = append(all, measure(b, d, ledger, []int32{10, 20}))
	}
	b.StopTimer()
	report(b, all)
}

// BenchmarkBlueGreenRollbackWithinBake measures, in simulated seconds,
// the time from an accepted POST .../rollback during blue's bake to 100%
// of traffic back on blue.
func BenchmarkBlueGreenRollbackWithinBake(b *testing.B) {
	h := newHarness(b, options{workflow: blueGreen(model.BlueGreenELB, false, nil, 0, 900), timings: &benchTimings})
	h.finish(h.start("v0"), model.StatusSucceeded)
	var total float64
	var all []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := h.start(fmt.Sprintf("v%d", i+1))
		for deadline := time.Now().Add(realTimeout); ; time.Sleep(2 * time.Millisecond) {
			d, ledger := h.get(id)
			if w := newWeights(traffic(b, ledger), newName(d), "ELB"); len(w) == 1 && w[0] == 100 {
				break
			}
			if d.Status.Final() || time.Now().After(deadline) {
				b.Fatalf("deployment %s is %s without the swap", id, d.Status)
			}
		}
		var asked time.Time
		for deadline := time.Now().Add(realTimeout); ; time.Sleep(2 * time.Millisecond) {
			asked = h.clock.Now()
			code, raw := h.call(http.MethodPost, "/v1/deployments/"+id+"/rollback", nil, nil)
			if code == http.StatusOK {
				break
			}
			if code != http.StatusConflict || time.Now().After(deadline) {
				b.Fatalf("POST rollback: %d %s", code, raw)
			}
		}
		_, ledger := h.finish(id, model.StatusRolledBack)
		var back time.Time
		for _, l := range ledger {
			if l.Kind == model.LedgerTraffic {
				back = l.At
			}
		}
		took := back.Sub(asked)
		total += took.Seconds()
		all = append(all, took)
	}
	b.StopTimer()
	b.ReportMetric(total/float64(b.N), "sim-s-swap-back")
	// The median is less sensitive to another process taking the cores
	// for a moment (at scale 200, 1 ms of real time is 0.2 simulated s).
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	med := all[len(all)/2]
	b.ReportMetric(med.Seconds(), "sim-s-median")
	b.ReportMetric(float64(h.clock.RealDuration(med).Microseconds())/1000, "real-ms-median")
}

func newName(d *model.Deployment) string {
	if d.NewRevision == nil {
		return ""
	}
	return d.NewRevision.ServiceName
}
