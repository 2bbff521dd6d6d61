package part2

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/model"
)

// expectCanaryRolledBack checks what every canary rollback leaves: web__1
// at 4 with 100% of traffic and its auto scaling, web__2 gone.
func expectCanaryRolledBack(t *testing.T, h *harness, d *model.Deployment, reason string) {
	t.Helper()
	if !strings.Contains(d.Reason, reason) || !strings.Contains(d.Reason, "web__2 removed") {
		t.Fatalf("reason %q, want %s and the new revision removed", d.Reason, reason)
	}
	h.expectRevisions(map[string]int32{"web__1": 4})
	if got := h.weights(h.prod); got[h.tgs[0]] != 100 || got[h.tgs[1]] != 0 {
		t.Fatalf("production weights after the rollback %v, want 100%% on web__1", got)
	}
	h.expectScaling("web__1", true)
}

func TestCanaryAlarmRollsBack(t *testing.T) {
	h := newHarness(t, options{workflow: func(w *model.Workflow) {
		canary(w)
		w.Strategy.Canary.Phases[0].BakeSeconds = 120
		w.Verification.Alarms = []string{alarm}
	}})
	firstCanary(t, h)
	// The alarm fires 60 simulated seconds into v2: during phase 1's bake,
	// with 10% of traffic on the canary.
	h.faults(awsemu.FaultRule{Alarm: alarm, State: "ALARM", AtSeconds: 60, Reason: "5xx spike"})
	d, ledger := h.finish(h.start("v2"), model.StatusRolledBack)
	expectCanaryRolledBack(t, h, d, "VerificationFailed")
	if got := newWeights(traffic(t, ledger), "web__2", "ELB"); !reflect.DeepEqual(got, []int32{10, 0}) {
		t.Fatalf("canary weights in the ledger %v, want 10 then 0 (the rollback)", got)
	}
}

func TestCanaryApprovalRejectedRollsBack(t *testing.T) {
	h := newHarness(t, options{workflow: func(w *model.Workflow) {
		canary(w)
		// v1's approval is left to time out (APPROVE); v2's is rejected.
		w.Strategy.Canary.Phases[1].Approval = &model.Approval{TimeoutSeconds: 300, OnTimeout: model.ApprovalDefaultApprove}
	}})
	firstCanary(t, h)
	id := h.start("v2")
	deadline := time.Now().Add(realTimeout)
	for {
		d, _ := h.get(id)
		if d.Status == model.StatusWaitingApproval {
			break
		}
		if d.Status.Final() || time.Now().After(deadline) {
			h.dump(d)
			t.Fatalf("deployment %s is %s, want WAITING_APPROVAL", id, d.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code, raw := h.call(http.MethodPost, "/v1/deployments/"+id+"/reject", map[string]string{"comment": "latency too high"}, nil); code != http.StatusOK {
		t.Fatalf("POST reject: %d %s", code, raw)
	}
	d, ledger := h.finish(id, model.StatusRolledBack)
	expectCanaryRolledBack(t, h, d, "ApprovalRejected")
	if got := newWeights(traffic(t, ledger), "web__2", "ELB"); !reflect.DeepEqual(got, []int32{10, 50, 0}) {
		t.Fatalf("canary weights in the ledger %v, want 10, 50, then 0 (the rollback)", got)
	}
}

func TestBlueGreenRoute53AlarmRollsBack(t *testing.T) {
	h := newHarness(t, options{route53: true, workflow: func(w *model.Workflow) {
		blueGreen(model.BlueGreenRoute53, false, []int32{50, 100}, 60, 20)(w)
		w.Verification.Alarms = []string{alarm}
	}})
	h.finish(h.start("v1"), model.StatusSucceeded)
	h.autoScaling("web__1")
	blue := h.tasks("web__1")
	// 50% of DNS traffic moves to green about 20 s in; the alarm fires
	// during that step's 60 s bake.
	h.faults(awsemu.FaultRule{Alarm: alarm, State: "ALARM", AtSeconds: 50, Reason: "5xx spike"})
	d, ledger := h.finish(h.start("v2"), model.StatusRolledBack)
	if !strings.Contains(d.Reason, "VerificationFailed") || !strings.Contains(d.Reason, "swapped back to web__1") {
		t.Fatalf("reason %q, want VerificationFailed and a swap back", d.Reason)
	}
	ctx, cancel := h.ctx()
	defer cancel()
	got, err := h.aws.RecordWeights(ctx, h.zone, recordName)
	h.must(err, "RecordWeights")
	if !reflect.DeepEqual(got, map[string]int64{"web__1": 100}) {
		t.Fatalf("weighted records %v, want web__1 100 and green's record removed", got)
	}
	if w := newWeights(traffic(t, ledger), "web__1", "ROUTE53"); !reflect.DeepEqual(w, []int32{100, 50, 100}) {
		t.Fatalf("blue's DNS weights in the ledger %v, want 100, 50, 100", w)
	}
	h.expectRevisions(map[string]int32{"web__1": 4})
	if after := h.tasks("web__1"); !reflect.DeepEqual(after, blue) {
		t.Fatalf("blue's tasks changed: %v → %v", blue, after)
	}
	h.expectScaling("web__1", true)
	// Green's own name is gone with it; blue's still answers with its tasks.
	recs, err := h.aws.WeightedRecords(ctx, h.zone, recordName)
	h.must(err, "WeightedRecords")
	if len(recs) != 1 || recs[0].Value != "web--1."+h.namespace {
		t.Fatalf("weighted records %+v, want web__1's pointing at web--1.%s", recs, h.namespace)
	}
	four := []string{"web__1", "web__1", "web__1", "web__1"}
	if got := h.registries(); !reflect.DeepEqual(got, map[string][]string{"web": {}, "web--1": four}) {
		t.Fatalf("Cloud Map services %v, want the service's own and web--1 with web__1's 4 tasks (web--2 removed)", got)
	}
}

func TestRevisionStrategiesSucceedUnderThrottling(t *testing.T) {
	throttle := []awsemu.FaultRule{{API: "ecs:*", ThrottleRate: 0.3}, {API: "elasticloadbalancing:*", ThrottleRate: 0.3}}
	t.Run("CANARY", func(t *testing.T) {
		h := newHarness(t, options{workflow: canary})
		h.faults(throttle...)
		firstCanary(t, h)
		h.finish(h.start("v2"), model.StatusSucceeded)
		h.expectRevisions(map[string]int32{"web__1": 0, "web__2": 4})
		if got := h.weights(h.prod); got[h.tgs[1]] != 100 {
			t.Fatalf("production weights %v, want 100 on the canary", got)
		}
	})
	t.Run("BLUE_GREEN", func(t *testing.T) {
		h := newHarness(t, options{workflow: blueGreen(model.BlueGreenELB, true, []int32{25, 100}, 10, 30)})
		h.faults(throttle...)
		h.finish(h.start("v1"), model.StatusSucceeded)
		h.finish(h.start("v2"), model.StatusSucceeded)
		h.expectRevisions(map[string]int32{"web__1": 0, "web__2": 4})
		if got := h.weights(h.prod); got[h.tgs[1]] != 100 {
			t.Fatalf("production weights %v, want 100 on green", got)
		}
	})
	t.Run("BLUE_GREEN_ROUTE53", func(t *testing.T) {
		h := newHarness(t, options{route53: true, workflow: blueGreen(model.BlueGreenRoute53, false, []int32{50, 100}, 10, 20)})
		h.faults(append(throttle, awsemu.FaultRule{API: "route53:*", ThrottleRate: 0.3}, awsemu.FaultRule{API: "servicediscovery:*", ThrottleRate: 0.3})...)
		h.finish(h.start("v1"), model.StatusSucceeded)
		h.finish(h.start("v2"), model.StatusSucceeded)
		h.faults() // the checks below read without throttling
		h.expectRevisions(map[string]int32{"web__1": 0, "web__2": 4})
		ctx, cancel := h.ctx()
		defer cancel()
		got, err := h.aws.RecordWeights(ctx, h.zone, recordName)
		h.must(err, "RecordWeights")
		if !reflect.DeepEqual(got, map[string]int64{"web__2": 100}) {
			t.Fatalf("weighted records %v, want web__2 at 100 only", got)
		}
	})
}

// expectBlueKept checks a blue/green rollback over ELB: blue (web__1) at
// 4 with the same tasks, 100% of production and the test listener on its
// target group, its auto scaling kept, green gone.
func expectBlueKept(t *testing.T, h *harness, d *model.Deployment, reason string, blue []string) {
	t.Helper()
	if !strings.Contains(d.Reason, reason) || !strings.Contains(d.Reason, "swapped back to web__1") || !strings.Contains(d.Reason, "web__2 removed") {
		t.Fatalf("reason %q, want %s, a swap back and green removed", d.Reason, reason)
	}
	h.expectRevisions(map[string]int32{"web__1": 4})
	if got := h.weights(h.prod); got[h.tgs[0]] != 100 || got[h.tgs[1]] != 0 {
		t.Fatalf("production weights %v, want 100%% on blue", got)
	}
	if got := h.weights(h.test); !reflect.DeepEqual(got, map[string]int32{h.tgs[0]: 100}) {
		t.Fatalf("test listener %v, want back on blue's %s", got, h.tgs[0])
	}
	if after := h.tasks("web__1"); !reflect.DeepEqual(after, blue) {
		t.Fatalf("blue's tasks changed: %v → %v", blue, after)
	}
	h.expectScaling("web__1", true)
}

func TestBlueGreenCrashLoopRollsBack(t *testing.T) {
	h := newHarness(t, options{workflow: blueGreen(model.BlueGreenELB, true, []int32{25, 100}, 10, 30)})
	h.finish(h.start("v1"), model.StatusSucceeded)
	h.autoScaling("web__1")
	blue := h.tasks("web__1")
	h.faults(awsemu.FaultRule{Image: "*:v2-crash", Behavior: awsemu.BehaviorCrash, AfterSeconds: 1})
	d, _ := h.finish(h.start("v2-crash"), model.StatusRolledBack)
	expectBlueKept(t, h, d, "NotStable", blue)
}

func TestBlueGreenAlarmOnTestListenerRollsBack(t *testing.T) {
	h := newHarness(t, options{workflow: func(w *model.Workflow) {
		blueGreen(model.BlueGreenELB, true, []int32{25, 100}, 120, 30)(w)
		w.Verification.Alarms = []string{alarm}
	}})
	h.finish(h.start("v1"), model.StatusSucceeded)
	h.autoScaling("web__1")
	blue := h.tasks("web__1")
	// Green is up and behind the test listener about 25 s in; the alarm
	// fires during the test listener's 120 s bake, before production moves.
	h.faults(awsemu.FaultRule{Alarm: alarm, State: "ALARM", AtSeconds: 70, Reason: "5xx on the test listener"})
	d, ledger := h.finish(h.start("v2"), model.StatusRolledBack)
	expectBlueKept(t, h, d, "VerificationFailed", blue)
	if got := newWeights(traffic(t, ledger), "web__2", "ELB"); !reflect.DeepEqual(got, []int32{0}) {
		t.Fatalf("green's production weights %v, want only the rollback's 0 (production never moved)", got)
	}
}

func TestBlueGreenApprovalRejectedRollsBack(t *testing.T) {
	h := newHarness(t, options{workflow: func(w *model.Workflow) {
		blueGreen(model.BlueGreenELB, true, []int32{25, 100}, 10, 30)(w)
		// v1's approval times out (APPROVE); v2's is rejected.
		w.Verification.Approval = &model.Approval{TimeoutSeconds: 300, OnTimeout: model.ApprovalDefaultApprove}
	}})
	h.finish(h.start("v1"), model.StatusSucceeded)
	h.autoScaling("web__1")
	blue := h.tasks("web__1")
	id := h.start("v2")
	for deadline := time.Now().Add(realTimeout); ; time.Sleep(5 * time.Millisecond) {
		d, _ := h.get(id)
		if d.Status == model.StatusWaitingApproval {
			break
		}
		if d.Status.Final() || time.Now().After(deadline) {
			h.dump(d)
			t.Fatalf("deployment %s is %s, want WAITING_APPROVAL", id, d.Status)
		}
	}
	if got := h.weights(h.test); !reflect.DeepEqual(got, map[string]int32{h.tgs[1]: 100}) {
		t.Fatalf("test listener while waiting for approval %v, want green's %s", got, h.tgs[1])
	}
	if code, raw := h.call(http.MethodPost, "/v1/deployments/"+id+"/reject", map[string]string{"comment": "no"}, nil); code != http.StatusOK {
		t.Fatalf("POST reject: %d %s", code, raw)
	}
	d, _ := h.finish(id, model.StatusRolledBack)
	expectBlueKept(t, h, d, "ApprovalRejected", blue)
}

// An OLD_FIRST canary downsizes the old revision (removing its auto
// scaling, which would hold the count up); its rollback restores both and
// waits for the old revision to be steady again.
func TestCanaryOldFirstAlarmRestoresOldCountAndAutoScaling(t *testing.T) {
	h := newHarness(t, options{workflow: func(w *model.Workflow) {
		canary(w)
		w.Strategy.Canary.Setup.Resize = model.ResizeOldFirst
		w.Strategy.Canary.Phases[0].BakeSeconds = 120
		w.Verification.Alarms = []string{alarm}
	}})
	firstCanary(t, h)
	h.faults(awsemu.FaultRule{Alarm: alarm, State: "ALARM", AtSeconds: 70, Reason: "5xx spike"})
	id := h.start("v2")
	// During phase 1's bake: web__1 at 3 without auto scaling, web__2 at 1.
	for deadline := time.Now().Add(realTimeout); ; time.Sleep(5 * time.Millisecond) {
		d, ledger := h.get(id)
		if w := newWeights(traffic(t, ledger), "web__2", "ELB"); len(w) == 1 && w[0] == 10 {
			break
		}
		if d.Status.Final() || time.Now().After(deadline) {
			h.dump(d)
			t.Fatalf("deployment %s is %s before phase 1's weight", id, d.Status)
		}
	}
	if got := h.revisions(); got["web__1"] != 3 || got["web__2"] != 1 {
		t.Fatalf("revisions in phase 1 %v, want web__1 x3 (old first), web__2 x1", got)
	}
	h.expectScaling("web__1", false)
	d, _ := h.finish(id, model.StatusRolledBack)
	if !strings.Contains(d.Reason, "restored web__1 x4") {
		t.Fatalf("reason %q, want web__1 restored to 4", d.Reason)
	}
	hasWait := false
	for _, s := range d.Steps {
		hasWait = hasWait || s.Name == "WAIT_ROLLBACK_STEADY"
	}
	if !hasWait {
		t.Fatalf("steps %s: the rollback did not wait for web__1", stepNames(d))
	}
	expectCanaryRolledBack(t, h, d, "VerificationFailed")
	// Old first means the new tasks start on capacity the old ones freed:
	// phase 1's second SCALE (web__2 up) started only once the web__1 task
	// it gave up had stopped.
	var scales []time.Time
	for _, s := range d.Steps {
		if s.Name == "SCALE" {
			scales = append(scales, s.StartedAt)
		}
	}
	if len(scales) < 2 {
		t.Fatalf("steps %s, want two SCALE steps in phase 1", stepNames(d))
	}
	stopped := h.stoppedAt("web__1")
	if len(stopped) != 1 {
		t.Fatalf("web__1 stopped %d tasks, want the one phase 1 gave up", len(stopped))
	}
	if stopped[0].After(scales[1]) || stopped[0].Before(scales[0]) {
		t.Fatalf("web__1's task stopped at %v, want between the SCALE down (%v) and the SCALE up (%v)", stopped[0], scales[0], scales[1])
	}
}

// stoppedAt lists when the service's stopped tasks stopped.
func (h *harness) stoppedAt(svc string) []time.Time {
	h.tb.Helper()
	ctx, cancel := h.ctx()
	defer cancel()
	out, err := h.aws.ECS.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(cluster), ServiceName: aws.String(svc), DesiredStatus: ecstypes.DesiredStatusStopped})
	h.must(err, "ListTasks")
	if len(out.TaskArns) == 0 {
		return nil
	}
	ts, err := h.aws.ECS.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: out.TaskArns})
	h.must(err, "DescribeTasks")
	var at []time.Time
	for _, t := range ts.Tasks {
		if aws.ToString(t.LastStatus) != "STOPPED" || t.StoppedAt == nil {
			h.tb.Fatalf("task %s is %s, want STOPPED", aws.ToString(t.TaskArn), aws.ToString(t.LastStatus))
		}
		at = append(at, *t.StoppedAt)
	}
	return at
}
