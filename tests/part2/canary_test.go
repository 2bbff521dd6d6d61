package part2

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/model"
)

// canary: 1 task with 10% of traffic, then half with 50%, then all.
func canary(w *model.Workflow) {
	w.Name = "canary"
	w.Strategy = model.Strategy{Type: model.StrategyCanary, Canary: &model.CanaryStrategy{Phases: []model.CanaryPhase{
		{Count: ptr(1), TrafficWeight: ptr(10), BakeSeconds: 20},
		{Percent: ptr(50), TrafficWeight: ptr(50), BakeSeconds: 20},
		{Percent: ptr(100), TrafficWeight: ptr(100)},
	}}}
}

// firstCanary deploys v1 (web__1 x4 with all traffic) and gives web__1
// auto scaling.
func firstCanary(t *testing.T, h *harness) *model.Deployment {
	t.Helper()
	d, ledger := h.finish(h.start("v1"), model.StatusSucceeded)
	h.expectRevisions(map[string]int32{"web__1": 4})
	if got := h.weights(h.prod); !reflect.DeepEqual(got, map[string]int32{h.tgs[0]: 100, h.tgs[1]: 0}) {
		t.Fatalf("production weights after v1 %v, want all on %s", got, h.tgs[0])
	}
	if got := newWeights(traffic(t, ledger), "web__1", "ELB"); !reflect.DeepEqual(got, []int32{100, 100, 100}) {
		t.Fatalf("v1 traffic %v, want 100 at each phase (nothing else to send it to)", got)
	}
	h.autoScaling("web__1")
	return d
}

func TestCanarySucceeds(t *testing.T) {
	h := newHarness(t, options{workflow: canary})
	firstCanary(t, h)

	d, ledger := h.finish(h.start("v2"), model.StatusSucceeded)
	want := "PREPARE,REGISTER_TASK_DEFINITION,SETUP_SERVICE," +
		"SCALE,WAIT_STEADY,SET_WEIGHT,VERIFY,SCALE,WAIT_STEADY,SET_WEIGHT,VERIFY,SCALE,WAIT_STEADY,SET_WEIGHT,VERIFY,VERIFY,CLEANUP,FINISH"
	if got := stepNames(d); got != want {
		t.Fatalf("steps %s, want %s", got, want)
	}
	if d.NewRevision.ServiceName != "web__2" || d.PreviousRevision.ServiceName != "web__1" {
		t.Fatalf("revisions new %+v previous %+v, want web__2 after web__1", d.NewRevision, d.PreviousRevision)
	}
	h.expectRevisions(map[string]int32{"web__1": 0, "web__2": 4})
	if got := h.weights(h.prod); !reflect.DeepEqual(got, map[string]int32{h.tgs[0]: 0, h.tgs[1]: 100}) {
		t.Fatalf("production weights %v, want 100 on the canary's target group %s", got, h.tgs[1])
	}
	tcs := traffic(t, ledger)
	if got := newWeights(tcs, "web__2", "ELB"); !reflect.DeepEqual(got, []int32{10, 50, 100}) {
		t.Fatalf("canary weights in the ledger %v, want [10 50 100]", got)
	}
	if got := newWeights(tcs, "web__1", "ELB"); !reflect.DeepEqual(got, []int32{90, 50, 0}) {
		t.Fatalf("old revision weights in the ledger %v, want [90 50 0]", got)
	}
	h.expectScaling("web__2", true)
	h.expectScaling("web__1", false)

	// The slots alternate: v3 goes to web__3 on the first target group,
	// and web__1 (history at zero) is removed.
	h.finish(h.start("v3"), model.StatusSucceeded)
	h.expectRevisions(map[string]int32{"web__2": 0, "web__3": 4})
	if got := h.weights(h.prod); !reflect.DeepEqual(got, map[string]int32{h.tgs[0]: 100, h.tgs[1]: 0}) {
		t.Fatalf("production weights after v3 %v, want 100 on %s", got, h.tgs[0])
	}
	h.expectScaling("web__3", true)
}

func TestCanaryCrashLoopRollsBack(t *testing.T) {
	h := newHarness(t, options{workflow: canary})
	firstCanary(t, h)
	before := h.tasks("web__1")
	h.faults(awsemu.FaultRule{Image: "*:v2-crash", Behavior: awsemu.BehaviorCrash, AfterSeconds: 1})
	d, ledger := h.finish(h.start("v2-crash"), model.StatusRolledBack)
	if !strings.Contains(d.Reason, "NotStable") || !strings.Contains(d.Reason, "web__2 removed") {
		t.Fatalf("reason %q, want NotStable and the new revision removed", d.Reason)
	}
	h.expectRevisions(map[string]int32{"web__1": 4})
	if got := h.weights(h.prod); got[h.tgs[0]] != 100 || got[h.tgs[1]] != 0 {
		t.Fatalf("production weights after the rollback %v, want 100%% on web__1's %s", got, h.tgs[0])
	}
	h.expectScaling("web__1", true)
	if after := h.tasks("web__1"); !reflect.DeepEqual(after, before) {
		t.Fatalf("web__1 tasks changed during the canary's rollback: %v → %v", before, after)
	}
	rollbacks := 0
	for _, l := range ledger {
		if l.Kind == model.LedgerRollback {
			rollbacks++
		}
	}
	if rollbacks == 0 {
		t.Fatal("no ROLLBACK entry in the ledger")
	}
}
