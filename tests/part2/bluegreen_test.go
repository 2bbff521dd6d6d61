package part2

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/model"
)

func blueGreen(mode model.BlueGreenMode, test bool, steps []int32, stepBake, blueBake int32) func(*model.Workflow) {
	return func(w *model.Workflow) {
		w.Name = "bluegreen"
		w.Strategy = model.Strategy{Type: model.StrategyBlueGreen, BlueGreen: &model.BlueGreenStrategy{Mode: mode,
			UseTestListener: test, LinearSteps: steps, StepBakeSeconds: stepBake, BlueBakeSeconds: blueBake}}
	}
}

func TestBlueGreenELBSucceeds(t *testing.T) {
	h := newHarness(t, options{workflow: blueGreen(model.BlueGreenELB, true, []int32{25, 100}, 10, 30)})
	d1, _ := h.finish(h.start("v1"), model.StatusSucceeded)
	want := "PREPARE,REGISTER_TASK_DEFINITION,SETUP_SERVICE,SCALE,WAIT_STEADY,POINT_TEST_LISTENER,VERIFY,SET_WEIGHT,VERIFY,SET_WEIGHT,VERIFY,CLEANUP,FINISH"
	if got := stepNames(d1); got != want {
		t.Fatalf("steps %s, want %s", got, want)
	}
	h.expectRevisions(map[string]int32{"web__1": 4})
	h.autoScaling("web__1")

	d2, ledger := h.finish(h.start("v2"), model.StatusSucceeded)
	if d2.NewRevision.ServiceName != "web__2" || d2.NewRevision.DesiredCount != 4 {
		t.Fatalf("new revision %+v, want web__2 x4", d2.NewRevision)
	}
	h.expectRevisions(map[string]int32{"web__1": 0, "web__2": 4})
	if got := h.weights(h.test); !reflect.DeepEqual(got, map[string]int32{h.tgs[1]: 100}) {
		t.Fatalf("test listener %v, want green's %s", got, h.tgs[1])
	}
	if got := h.weights(h.prod); !reflect.DeepEqual(got, map[string]int32{h.tgs[0]: 0, h.tgs[1]: 100}) {
		t.Fatalf("production weights %v, want 100 on green's %s", got, h.tgs[1])
	}
	tcs := traffic(t, ledger)
	if len(tcs) != 3 || tcs[0].Target != "ELB_TEST" || tcs[0].Weights["web__2"] != 100 {
		t.Fatalf("traffic changes %+v, want the test listener first, then two production steps", tcs)
	}
	if got := newWeights(tcs, "web__2", "ELB"); !reflect.DeepEqual(got, []int32{25, 100}) {
		t.Fatalf("green's production weights %v, want [25 100]", got)
	}
	// The test listener was verified before production moved.
	var testAt, prodAt time.Time
	for _, l := range ledger {
		if l.Kind == model.LedgerTraffic && strings.Contains(l.Message, "ELB_TEST") {
			testAt = l.At
		}
		if l.Kind == model.LedgerTraffic && strings.Contains(l.Message, "traffic ELB ") && prodAt.IsZero() {
			prodAt = l.At
		}
	}
	if !prodAt.After(testAt.Add(10 * time.Second)) {
		t.Fatalf("production moved at %v, test listener at %v: want the 10 s test bake in between", prodAt, testAt)
	}
	h.expectScaling("web__2", true)
	h.expectScaling("web__1", false)
}

func TestBlueGreenRollbackWithinBakeSwapsBack(t *testing.T) {
	h := newHarness(t, options{workflow: blueGreen(model.BlueGreenELB, false, nil, 0, 900)})
	// v1 has no blue: its bake passes (900 simulated seconds, 4.5 s real).
	h.finish(h.start("v1"), model.StatusSucceeded)
	h.autoScaling("web__1")
	blue := h.tasks("web__1")
	if len(blue) != 4 {
		t.Fatalf("blue runs %d tasks, want 4", len(blue))
	}
	id := h.start("v2")
	// Wait for the swap: green at 100% in the ledger, blue still up.
	deadline := time.Now().Add(realTimeout)
	for {
		d, ledger := h.get(id)
		if w := newWeights(traffic(t, ledger), "web__2", "ELB"); len(w) == 1 && w[0] == 100 {
			break
		}
		if d.Status.Final() || time.Now().After(deadline) {
			h.dump(d)
			t.Fatalf("deployment %s is %s without the swap", id, d.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := h.weights(h.prod); got[h.tgs[1]] != 100 || got[h.tgs[0]] != 0 {
		t.Fatalf("production weights after the swap %v, want 100 on green", got)
	}
	var swapped time.Time // when the accepted rollback request was sent
	// 409 while a step (not a wait) runs: the API asks to retry.
	for deadline := time.Now().Add(realTimeout); ; time.Sleep(5 * time.Millisecond) {
		swapped = h.clock.Now()
		code, raw := h.call(http.MethodPost, "/v1/deployments/"+id+"/rollback", map[string]string{"comment": "errors on green"}, nil)
		if code == http.StatusOK {
			break
		}
		if code != http.StatusConflict || time.Now().After(deadline) {
			t.Fatalf("POST rollback: %d %s", code, raw)
		}
	}
	d, ledger := h.finish(id, model.StatusRolledBack)
	if !strings.Contains(d.Reason, "swapped back to web__1") || !strings.Contains(d.Reason, "no task starts") {
		t.Fatalf("reason %q, want a swap back", d.Reason)
	}
	if got := h.weights(h.prod); got[h.tgs[0]] != 100 || got[h.tgs[1]] != 0 {
		t.Fatalf("production weights after the rollback %v, want 100 on blue", got)
	}
	if after := h.tasks("web__1"); !reflect.DeepEqual(after, blue) {
		t.Fatalf("blue's tasks changed: %v → %v, want no task starts", blue, after)
	}
	h.expectRevisions(map[string]int32{"web__1": 4})
	h.expectScaling("web__1", true)
	tcs := traffic(t, ledger)
	last := tcs[len(tcs)-1]
	if !last.Rollback || last.Weights["web__1"] != 100 || last.Weights["web__2"] != 0 {
		t.Fatalf("last traffic change %+v, want the rollback's 100 on web__1", last)
	}
	var backAt time.Time
	for _, l := range ledger {
		if l.Kind == model.LedgerTraffic {
			backAt = l.At
		}
	}
	// From the rollback request to traffic back on blue, in simulated time.
	if took := backAt.Sub(swapped); took > 10*time.Second {
		t.Fatalf("swap back took %v simulated, want a few seconds", took)
	}
	t.Logf("swap back: %v simulated from the request to 100%% on blue", backAt.Sub(swapped))
}

func TestBlueGreenRoute53Succeeds(t *testing.T) {
	h := newHarness(t, options{route53: true, workflow: blueGreen(model.BlueGreenRoute53, false, []int32{50, 100}, 10, 20)})
	h.finish(h.start("v1"), model.StatusSucceeded)
	h.autoScaling("web__1")
	ctx, cancel := h.ctx()
	defer cancel()
	recs, err := h.aws.WeightedRecords(ctx, h.zone, recordName)
	h.must(err, "WeightedRecords")
	if len(recs) != 1 || recs[0].Value != "web--1."+h.namespace || recs[0].Weight != 100 {
		t.Fatalf("weighted records after v1 %+v, want web__1 at 100 pointing at web--1.%s", recs, h.namespace)
	}
	if got := h.registries()["web--1"]; len(got) != 4 || got[0] != "web__1" {
		t.Fatalf("web--1 registers %v, want web__1's 4 tasks", got)
	}
	_, ledger := h.finish(h.start("v2"), model.StatusSucceeded)
	h.expectRevisions(map[string]int32{"web__1": 0, "web__2": 4})
	recs, err = h.aws.WeightedRecords(ctx, h.zone, recordName)
	h.must(err, "WeightedRecords")
	// Cleanup retired web__1's own name: its weighted record and its
	// Cloud Map service.
	if len(recs) != 1 || recs[0].SetIdentifier != "web__2" || recs[0].Weight != 100 || recs[0].Value != "web--2."+h.namespace {
		t.Fatalf("weighted records %+v, want only web__2 at 100 pointing at web--2.%s", recs, h.namespace)
	}
	// Each revision is reachable under its own name while it lives: web--2
	// holds exactly web__2's four tasks; web--1 is gone.
	four := []string{"web__2", "web__2", "web__2", "web__2"}
	if got := h.registries(); !reflect.DeepEqual(got, map[string][]string{"web": {}, "web--2": four}) {
		t.Fatalf("Cloud Map services %v, want the service's own and web--2 with web__2's 4 tasks", got)
	}
	if got := newWeights(traffic(t, ledger), "web__2", "ROUTE53"); !reflect.DeepEqual(got, []int32{0, 50, 100}) {
		t.Fatalf("green's DNS weights in the ledger %v, want [0 50 100] (setup, then the steps)", got)
	}
	h.expectScaling("web__2", true)
	h.expectScaling("web__1", false)
}
