package steps_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
)

// runMeasured runs one deployment of tag to success and measures it.
type measure struct {
	transitions int64
	apiCalls    int64
	calls       map[string]int64
	cost        float64
	// ecs is the rollout's own time: UpdateService to ECS's completion event.
	ecs time.Duration
	// waitOverhead is completion event → the workflow resuming (the next
	// step starting).
	waitOverhead time.Duration
	total        time.Duration
}

func runMeasured(tb testing.TB, e *env, sm, tag string) measure {
	tb.Helper()
	d := e.deployment(tb, tag)
	x := e.wait(tb, e.start(tb, sm, d))
	got := e.get(tb, d.ID)
	if x.Status != "SUCCEEDED" {
		tb.Fatalf("deployment %s: %s %s %s; %s", tag, x.Status, x.Error, x.Cause, got.Reason)
	}
	m := measure{transitions: got.Usage.StateTransitions, calls: got.Usage.APICalls, cost: got.Usage.EstimatedCostUSD,
		total: got.EndedAt.Sub(*got.StartedAt)}
	for _, n := range got.Usage.APICalls {
		m.apiCalls += n
	}
	var updated, resumed time.Time
	for _, s := range got.Steps {
		switch s.Name {
		case "UPDATE_SERVICE":
			updated = s.EndedAt
		case "WAIT_STEADY":
			resumed = s.EndedAt
		}
	}
	var completed time.Time
	for _, l := range e.ledger(tb, d.ID) {
		if l.Kind == model.LedgerECSEvent && (strings.HasPrefix(l.Message, "SERVICE_DEPLOYMENT_COMPLETED") || strings.HasPrefix(l.Message, "SERVICE_STEADY_STATE")) &&
			!l.At.Before(updated) && (completed.IsZero() || l.At.Before(completed)) {
			completed = l.At
		}
	}
	if resumed.IsZero() {
		tb.Fatalf("deployment %s: the steady wait never ended", tag)
	}
	if completed.IsZero() {
		// The rollout ended before the wait stored its token (a fast
		// clock): step-wait-steady's own check completed it, and no wait
		// routed the event to the ledger.
		completed = resumed
	}
	m.ecs = completed.Sub(updated)
	m.waitOverhead = resumed.Sub(completed)
	return m
}

// BenchmarkRollingDeployment runs ROLLING deployments of a 4-task service
// on the emulator (fixed simulated timings, clock x50) through sfnlocal,
// the real ASL and handlers, and the ecs-events intake, and reports per
// deployment: state transitions, AWS API calls, estimated cost, the
// rollout's own ECS time and the orchestration overhead of the steady wait
// (ECS's completion event → the workflow resuming), in simulated seconds.
func BenchmarkRollingDeployment(b *testing.B) {
	e := newEnv(b, envOptions{scale: 50, workflow: func(w *model.Workflow) { w.Verification = model.Verification{} }})
	sm := e.machine(b, "rolling")
	runMeasured(b, e, sm, "v0") // creates the service
	var sum measure
	calls := map[string]int64{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := runMeasured(b, e, sm, fmt.Sprintf("v%d", i+1))
		sum.transitions += m.transitions
		sum.apiCalls += m.apiCalls
		sum.cost += m.cost
		sum.ecs += m.ecs
		sum.waitOverhead += m.waitOverhead
		sum.total += m.total
		for k, v := range m.calls {
			calls[k] += v
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(sum.transitions)/n, "transitions/op")
	b.ReportMetric(float64(sum.apiCalls)/n, "awscalls/op")
	b.ReportMetric(sum.cost/n, "usd/op")
	b.ReportMetric(sum.ecs.Seconds()/n, "ecs-sim-s/op")
	b.ReportMetric(sum.waitOverhead.Seconds()/n, "wait-overhead-sim-s/op")
	// The overhead is real processing time seen through the x50 clock.
	b.ReportMetric(sum.waitOverhead.Seconds()/n/50*1000, "wait-overhead-real-ms/op")
	b.ReportMetric((sum.total-sum.ecs).Seconds()/n, "total-overhead-sim-s/op")
	keys := make([]string, 0, len(calls))
	for k := range calls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%.1f", k, float64(calls[k])/n)
	}
	b.Logf("AWS API calls per deployment: %s", strings.Join(parts, " "))
}

// TestTransitionsDoNotGrowWithRolloutLength compares a rollout of under a
// minute with one of over twenty (one task at a time, 24 tasks, ECS
// events every few tens of seconds): the waits are single Task states kept
// alive by the events' heartbeats, so the transition counts stay within 4.
func TestTransitionsDoNotGrowWithRolloutLength(t *testing.T) {
	slow := awsemu.Timings{Provision: 5 * time.Second, PullMin: 35 * time.Second, PullMax: 35 * time.Second,
		Start: 5 * time.Second, Stop: 2 * time.Second, LaunchBackoff: 2 * time.Second}
	run := func(timings *awsemu.Timings, desired int32, maxPercent int32) measure {
		e := newEnv(t, envOptions{scale: 400, timings: timings, workflow: func(w *model.Workflow) {
			w.Verification = model.Verification{}
			w.SteadyStateTimeoutSeconds = 3600
			w.Strategy.Rolling.MinimumHealthyPercent, w.Strategy.Rolling.MaximumPercent = 100, maxPercent
		}})
		ctx := context.Background()
		svc, err := e.st.Get(ctx, model.KindService, e.ids.svc)
		if err != nil {
			t.Fatal(err)
		}
		s := svc.(*model.Service)
		s.ECS.DesiredCount = modeltest.Int32(desired)
		if err := e.st.Update(ctx, s); err != nil {
			t.Fatal(err)
		}
		sm := e.machine(t, "rolling")
		runMeasured(t, e, sm, "v0")
		return runMeasured(t, e, sm, "v1")
	}
	short := run(nil, 4, 200)
	long := run(&slow, 24, 105)
	t.Logf("short rollout: ECS %v, %d transitions; long rollout: ECS %v, %d transitions", short.ecs, short.transitions, long.ecs, long.transitions)
	if long.ecs < 20*time.Minute || short.ecs > 2*time.Minute {
		t.Fatalf("rollouts took %v and %v, want about 1 and over 20 minutes", short.ecs, long.ecs)
	}
	if d := long.transitions - short.transitions; d > 4 || d < -4 {
		t.Fatalf("transitions differ by %d (short %d, long %d), want at most 4", d, short.transitions, long.transitions)
	}
}
