package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/model"
)

// benchTimings are the fixed simulated ECS timings of the benchmarks: a
// task is RUNNING 6 s after it is placed (no random pull time).
var benchTimings = awsemu.Timings{Provision: time.Second, PullMin: 4 * time.Second, PullMax: 4 * time.Second,
	Start: time.Second, Stop: 2 * time.Second, LaunchBackoff: 2 * time.Second}

// measure is one deployment's figures, in simulated seconds where timed.
type measure struct {
	total          float64 // POST /v1/deployments → final status
	ecsSteady      float64 // UpdateService → ECS's SERVICE_DEPLOYMENT_COMPLETED
	bake           float64 // the workflow's bake
	overheadSteady float64 // ECS completed → the steady wait resumed
	overheadVerify float64 // bake over → the verify wait resumed
	overhead       float64 // total − ECS's own time (rollout + bake)
	transitions    int     // the execution's state transitions (whole execution)
	recorded       int64   // state transitions the ledger recorded at finish
	checks         int     // heartbeat safety-net checks (CHECK_STEADY)
	calls          map[string]int64
	cost           float64
}

func (m measure) apiCalls() int64 {
	var n int64
	for _, v := range m.calls {
		n += v
	}
	return n
}

// measureDeployment deploys tag to success and measures it.
func measureDeployment(h *harness, tag string) measure {
	h.tb.Helper()
	d, ledger := h.finish(h.start(tag), model.StatusSucceeded)
	m := measure{calls: d.Usage.APICalls, recorded: d.Usage.StateTransitions, cost: d.Usage.EstimatedCostUSD}
	m.total = d.EndedAt.Sub(d.CreatedAt).Seconds()
	step := map[string]model.StepRecord{}
	for _, s := range d.Steps {
		if s.Name == "CHECK_STEADY" {
			m.checks++
		}
		if _, seen := step[s.Name]; !seen || s.Name == "WAIT_STEADY" { // the last steady wait record
			step[s.Name] = s
		}
	}
	upd, wait, verify := step["UPDATE_SERVICE"], step["WAIT_STEADY"], step["VERIFY"]
	var completed time.Time
	for _, l := range ledger {
		if l.Kind == model.LedgerECSEvent && strings.HasPrefix(l.Message, "SERVICE_DEPLOYMENT_COMPLETED") && !l.At.Before(upd.StartedAt) {
			completed = l.At
			break
		}
	}
	if completed.IsZero() || upd.EndedAt.IsZero() || verify.EndedAt.IsZero() {
		h.dump(d)
		h.tb.Fatalf("deployment %s: no SERVICE_DEPLOYMENT_COMPLETED event or step records to measure", d.ID)
	}
	m.ecsSteady = completed.Sub(upd.EndedAt).Seconds()
	m.overheadSteady = wait.EndedAt.Sub(completed).Seconds()
	m.bake = float64(h.bake)
	m.overheadVerify = verify.EndedAt.Sub(verify.StartedAt).Seconds() - m.bake
	m.overhead = m.total - m.ecsSteady - m.bake
	x, err := h.s.StepFunctions().DescribeExecution(context.Background(), d.ExecutionARN)
	if err != nil {
		h.tb.Fatal(err)
	}
	m.transitions = x.StateTransitions
	return m
}

// table is a short account (at most 9 lines: `go test -bench` without -v
// keeps 10 lines of a benchmark's log).
func (m measure) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n  deployment %.2f s = ECS rollout %.2f s + bake %.2f s + orchestration overhead %.2f s (simulated)\n",
		m.total, m.ecsSteady, m.bake, m.overhead)
	fmt.Fprintf(&b, "  overhead per wait: steady wait resumed %.2f s after ECS's COMPLETED, verify %.2f s after the bake (target < 1 s; a 15 s poller averages 7.5 s)\n",
		m.overheadSteady, m.overheadVerify)
	fmt.Fprintf(&b, "  state transitions %d (ledger at finish: %d), heartbeat checks %d, estimated cost $%.6f\n",
		m.transitions, m.recorded, m.checks, m.cost)
	ops := make([]string, 0, len(m.calls))
	for op := range m.calls {
		ops = append(ops, fmt.Sprintf("%s=%d", op, m.calls[op]))
	}
	sort.Strings(ops)
	fmt.Fprintf(&b, "  AWS API calls %d: %s", m.apiCalls(), strings.Join(ops, " "))
	return b.String()
}

// BenchmarkRollingDeployment runs rolling updates of a 4-task service on
// the emulator with fixed simulated ECS timings (scale 20: one simulated
// second is 50 ms) and reports the orchestration overhead per wait, the
// AWS API calls, state transitions and estimated cost per deployment.
func BenchmarkRollingDeployment(b *testing.B) {
	h := newHarness(b, options{scale: 20, timings: benchTimings})
	h.finish(h.start("v0"), model.StatusSucceeded) // the service exists; the benchmark measures updates
	var sum measure
	sum.calls = map[string]int64{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := measureDeployment(h, fmt.Sprintf("v%d", i+1))
		sum.total += m.total
		sum.ecsSteady += m.ecsSteady
		sum.bake += m.bake
		sum.overhead += m.overhead
		sum.overheadSteady += m.overheadSteady
		sum.overheadVerify += m.overheadVerify
		sum.transitions += m.transitions
		sum.recorded += m.recorded
		sum.checks += m.checks
		sum.cost += m.cost
		for k, v := range m.calls {
			sum.calls[k] += v
		}
	}
	b.StopTimer()
	n := float64(b.N)
	avg := measure{total: sum.total / n, ecsSteady: sum.ecsSteady / n, bake: sum.bake / n, overhead: sum.overhead / n,
		overheadSteady: sum.overheadSteady / n, overheadVerify: sum.overheadVerify / n,
		transitions: int(float64(sum.transitions)/n + 0.5), recorded: int64(float64(sum.recorded)/n + 0.5),
		checks: int(float64(sum.checks)/n + 0.5), cost: sum.cost / n, calls: map[string]int64{}}
	for k, v := range sum.calls {
		avg.calls[k] = int64(float64(v)/n + 0.5)
	}
	b.ReportMetric(avg.overhead/2, "overhead-sim-s/wait")
	b.ReportMetric(avg.overheadSteady, "steady-resume-sim-s")
	b.ReportMetric(avg.overheadVerify, "verify-resume-sim-s")
	b.ReportMetric(float64(avg.apiCalls()), "aws-calls/deploy")
	b.ReportMetric(float64(avg.transitions), "transitions/deploy")
	b.ReportMetric(avg.cost*1e6, "µUSD/deploy")
	b.Logf("rolling update, average of %d (scale 20, fixed ECS timings):%s", b.N, avg.table())
}

// shortAndLong deploys, on one stack, a 1-minute and a 30-minute rolling
// update (the workflow's bake changed through the API in between; ECS's
// tasks take 30 s to pull, so it is silent for most of a heartbeat period)
// and measures both.
func shortAndLong(tb testing.TB) (short, long measure) {
	tb.Helper()
	slow := benchTimings
	slow.PullMin, slow.PullMax = 30*time.Second, 30*time.Second
	h := newHarness(tb, options{scale: 300, timings: slow, workflow: func(w *model.Workflow) { w.Verification.BakeSeconds = 20 }})
	h.finish(h.start("v1"), model.StatusSucceeded)
	short = measureDeployment(h, "v2")
	h.setBake(1680)
	long = measureDeployment(h, "v3")
	return short, long
}

// TestTransitionsDoNotGrowWithDuration: a 1-minute and a 30-minute rolling
// deployment differ by at most 4 state transitions (a wait is one Task
// state however long it lasts; ECS's events heartbeat the steady wait).
func TestTransitionsDoNotGrowWithDuration(t *testing.T) {
	short, long := shortAndLong(t)
	t.Logf("1-minute deployment: %.0f s, %d transitions, %d checks; 30-minute deployment: %.0f s, %d transitions, %d checks",
		short.total, short.transitions, short.checks, long.total, long.transitions, long.checks)
	// ECS's own time is about 1 and 29 minutes; a loaded machine adds
	// simulated seconds at this scale, so bound loosely.
	if short.total > 300 || long.total < 1700 {
		t.Fatalf("deployments of %.0f s and %.0f s, want about 1 and 30 minutes", short.total, long.total)
	}
	if d := long.transitions - short.transitions; d > 4 || d < -4 {
		t.Fatalf("transitions %d (1 min) vs %d (30 min): differ by %d, want at most 4", short.transitions, long.transitions, d)
	}
}

// BenchmarkTransitionsShortVsLong reports the transitions of a 1-minute
// and a 30-minute rolling deployment.
func BenchmarkTransitionsShortVsLong(b *testing.B) {
	var short, long measure
	for i := 0; i < b.N; i++ {
		short, long = shortAndLong(b)
	}
	b.ReportMetric(float64(short.transitions), "transitions-1min")
	b.ReportMetric(float64(long.transitions), "transitions-30min")
	b.ReportMetric(short.cost*1e6, "µUSD-1min")
	b.ReportMetric(long.cost*1e6, "µUSD-30min")
	b.Logf("1-minute: %.0f s, %d transitions; 30-minute: %.0f s, %d transitions (%d heartbeat checks)",
		short.total, short.transitions, long.total, long.transitions, long.checks)
}
