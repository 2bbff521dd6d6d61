package part2

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// abortInSteadyWait waits until deployment id waits for its new revision
// to be steady (after SETUP_SERVICE and the first SCALE, before any traffic
// moves), aborts it through the API and waits for it to end ABORTED.
func (h *harness) abortInSteadyWait(id string) (*model.Deployment, []model.LedgerEntry) {
	h.tb.Helper()
	deadline := time.Now().Add(realTimeout)
	for {
		ctx, cancel := h.ctx()
		ws, err := h.s.Store().WaitsForDeployment(ctx, id)
		cancel()
		h.must(err, "waits")
		steady := false
		for _, w := range ws {
			steady = steady || w.Kind == store.WaitSteady
		}
		if steady {
			break
		}
		if time.Now().After(deadline) {
			d, _ := h.get(id)
			h.dump(d)
			h.tb.Fatalf("deployment %s (%s) never waited for a steady revision", id, d.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code, raw := h.call(http.MethodPost, "/v1/deployments/"+id+"/abort", map[string]string{"comment": "wrong build"}, nil); code != http.StatusOK {
		h.tb.Fatalf("POST abort: %d %s", code, raw)
	}
	return h.finish(id, model.StatusAborted)
}

// TestCanaryAfterAbortedFirstDeploymentSucceeds: the first canary of a
// service is aborted in its first steady wait, before its SET_WEIGHT, on
// a load balancer whose production listener forwards to the first target
// group only. The revision it made (web__1, on that target group) is left
// as an abort leaves it, so the next canary's revision goes to the second
// target group, which no listener used yet: ECS refuses a target group
// without a load balancer, so the setup must put it in the production
// forward action (weight 0) first. The second canary then succeeds. The
// production forward is the listener's default action, or a rule's.
func TestCanaryAfterAbortedFirstDeploymentSucceeds(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule bool
	}{{"listener default action", false}, {"listener rule", true}} {
		t.Run(tc.name, func(t *testing.T) { canaryAfterAbortedFirst(t, tc.rule) })
	}
}

func canaryAfterAbortedFirst(t *testing.T, rule bool) {
	h := newHarness(t, options{workflow: canary, soleForward: true, prodRule: rule})
	// v1's tasks take an hour to start: the steady wait lasts until the abort.
	h.faults(awsemu.FaultRule{Image: "*:v1", Behavior: awsemu.BehaviorSlowStart, AfterSeconds: 3600})
	d1, ledger1 := h.abortInSteadyWait(h.start("v1"))
	if d1.NewRevision == nil || d1.NewRevision.ServiceName != "web__1" {
		t.Fatalf("aborted deployment's revision %+v, want web__1", d1.NewRevision)
	}
	if tcs := traffic(t, ledger1); len(tcs) != 0 {
		t.Fatalf("the aborted deployment moved traffic: %+v", tcs)
	}
	if got := h.weights(h.prod); !reflect.DeepEqual(got, map[string]int32{h.tgs[0]: 1}) {
		t.Fatalf("production forward after the aborted first deployment %v, want still the first target group only", got)
	}
	h.faults()

	d2, ledger := h.finish(h.start("v2"), model.StatusSucceeded)
	if got := stepNames(d2); strings.Contains(got, "ROLLBACK") || !strings.HasSuffix(got, "CLEANUP,FINISH") {
		t.Fatalf("steps %s, want the whole canary without a rollback", got)
	}
	if d2.NewRevision.ServiceName != "web__2" || d2.PreviousRevision == nil || d2.PreviousRevision.ServiceName != "web__1" {
		t.Fatalf("revisions new %+v previous %+v, want web__2 after the aborted web__1", d2.NewRevision, d2.PreviousRevision)
	}
	h.expectRevisions(map[string]int32{"web__1": 0, "web__2": d2.NewRevision.DesiredCount})
	if d2.NewRevision.DesiredCount < 1 {
		t.Fatalf("web__2 desired %d, want at least one task", d2.NewRevision.DesiredCount)
	}
	if got := h.weights(h.prod); !reflect.DeepEqual(got, map[string]int32{h.tgs[0]: 0, h.tgs[1]: 100}) {
		t.Fatalf("production weights %v, want 100 on web__2's %s (and web__1's at 0)", got, h.tgs[1])
	}
	if got := newWeights(traffic(t, ledger), "web__2", "ELB"); !reflect.DeepEqual(got, []int32{10, 50, 100}) {
		t.Fatalf("canary weights in the ledger %v, want [10 50 100]", got)
	}
	attached := false
	for _, l := range ledger {
		attached = attached || (l.Kind == model.LedgerNote && strings.Contains(l.Message, "added at weight 0 to the production forward action"))
	}
	if !attached {
		t.Fatal("v2's ledger does not say its target group was added to the production forward action")
	}

	// And the one after: the slots alternate back to the first group.
	h.finish(h.start("v3"), model.StatusSucceeded)
	h.expectRevisions(map[string]int32{"web__2": 0, "web__3": d2.NewRevision.DesiredCount})
	if got := h.weights(h.prod); !reflect.DeepEqual(got, map[string]int32{h.tgs[0]: 100, h.tgs[1]: 0}) {
		t.Fatalf("production weights after v3 %v, want 100 on %s", got, h.tgs[0])
	}
}

// TestBlueGreenAfterAbortedFirstDeploymentSucceeds is the same for ELB
// blue/green without a test listener: green's target group is used by no
// listener until the setup adds it to the production forward action.
func TestBlueGreenAfterAbortedFirstDeploymentSucceeds(t *testing.T) {
	h := newHarness(t, options{workflow: blueGreen(model.BlueGreenELB, false, nil, 0, 10), soleForward: true})
	h.faults(awsemu.FaultRule{Image: "*:v1", Behavior: awsemu.BehaviorSlowStart, AfterSeconds: 3600})
	_, ledger1 := h.abortInSteadyWait(h.start("v1"))
	if tcs := traffic(t, ledger1); len(tcs) != 0 {
		t.Fatalf("the aborted deployment moved traffic: %+v", tcs)
	}
	h.faults()

	d2, ledger := h.finish(h.start("v2"), model.StatusSucceeded)
	if got := stepNames(d2); strings.Contains(got, "ROLLBACK") || !strings.HasSuffix(got, "CLEANUP,FINISH") {
		t.Fatalf("steps %s, want the whole blue/green without a rollback", got)
	}
	if d2.NewRevision.ServiceName != "web__2" || d2.NewRevision.DesiredCount != 4 {
		t.Fatalf("new revision %+v, want web__2 x4", d2.NewRevision)
	}
	h.expectRevisions(map[string]int32{"web__1": 0, "web__2": 4})
	if got := h.weights(h.prod); !reflect.DeepEqual(got, map[string]int32{h.tgs[0]: 0, h.tgs[1]: 100}) {
		t.Fatalf("production weights %v, want 100 on green's %s", got, h.tgs[1])
	}
	if got := newWeights(traffic(t, ledger), "web__2", "ELB"); !reflect.DeepEqual(got, []int32{100}) {
		t.Fatalf("green's production weights %v, want one swap to 100", got)
	}
}
