package awsemu

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// issuePlan is the fault plan shape the issue requires to be accepted.
const issuePlan = `{"seed":1,"rules":[{"image":"repo/web:crash*","behavior":"crash","afterSeconds":5},
{"image":"*:slow*","behavior":"slow-start","afterSeconds":120},{"image":"*:sick*","behavior":"elb-unhealthy"},
{"api":"ecs:DescribeServices","throttleRate":0.3},{"api":"ecs:UpdateService","latencyMs":200},
{"alarm":"web-5xx","state":"ALARM","atSeconds":60}]}`

func TestControlAPI(t *testing.T) {
	clock := simclock.NewScaled(testStart, 10)
	defer clock.Close()
	sink := NewRecordingSink()
	emu := New(Options{Clock: clock, Sink: sink, KeepEvents: 10})
	defer emu.Close()
	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		status, _, b := rawCall(t, emu, method, path, nil, []byte(body))
		var m map[string]any
		if len(b) > 0 {
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, b, err)
			}
		}
		return status, m
	}
	if st, m := call(http.MethodPost, "/_emulator/clock", `{"scale":250}`); st != 200 || m["scale"] != 250.0 || clock.Scale() != 250 {
		t.Fatalf("POST clock: %d %v (clock scale %v)", st, m, clock.Scale())
	}
	for _, body := range []string{`{"scale":0}`, `{"scale":-1}`, `{}`, `{"scale":"fast"}`, `{"scale":2,"extra":1}`, `nope`} {
		if st, m := call(http.MethodPost, "/_emulator/clock", body); st != 400 || m["error"] == "" {
			t.Errorf("POST clock %s: %d %v, want 400 with an error", body, st, m)
		}
	}
	st, m := call(http.MethodPost, "/_emulator/ecr/push", `{"repository":"team/api","tag":"v7"}`)
	if st != 200 || !strings.HasPrefix(m["digest"].(string), "sha256:") || m["imageUri"] != "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/api:v7" {
		t.Fatalf("ECR push: %d %v", st, m)
	}
	if ev, ok := sink.Wait(t.Context(), func(Event) bool { return true }); !ok || ev.DetailType != DetailTypeECRImageAction {
		t.Fatalf("first event after the push = %+v", ev)
	}
	if st, m := call(http.MethodGet, "/_emulator/events", ""); st != 200 || m["last"] != 1.0 || len(m["events"].([]any)) != 1 {
		t.Fatalf("GET events: %d %v", st, m)
	}
	if st, m := call(http.MethodGet, "/_emulator/events?after=1", ""); st != 200 || len(m["events"].([]any)) != 0 {
		t.Fatalf("GET events after 1: %d %v", st, m)
	}
	if st, _ := call(http.MethodGet, "/_emulator/events?after=x", ""); st != 400 {
		t.Fatalf("GET events with a bad cursor: %d", st)
	}
	if st, _ := call(http.MethodPost, "/_emulator/clock", `{"advanceSeconds":10}`); st != http.StatusConflict {
		t.Fatalf("advancing a scaled clock: %d, want 409", st)
	}
	if st, _ := call(http.MethodPost, "/_emulator/ecr/push", `{"repository":"Bad Name"}`); st != 400 {
		t.Fatalf("push with a bad repository name: %d", st)
	}
	if st, m := call(http.MethodPost, "/_emulator/faults", issuePlan); st != 200 || m["rules"] != 6.0 {
		t.Fatalf("POST the issue's fault plan: %d %v", st, m)
	}
	if st, m := call(http.MethodGet, "/_emulator/faults", ""); st != 200 || len(m["rules"].([]any)) != 6 {
		t.Fatalf("GET faults: %d %v", st, m)
	}
	if st, m := call(http.MethodGet, "/_emulator/state", ""); st != 200 || len(m["ecrRepositories"].([]any)) != 1 || m["elbv2"] == nil {
		t.Fatalf("GET state: %d %v", st, m)
	}
	if st, _ := call(http.MethodDelete, "/_emulator/faults", ""); st != http.StatusNoContent {
		t.Fatalf("DELETE faults: %d", st)
	}
	if st, m := call(http.MethodGet, "/_emulator/faults", ""); st != 200 || len(m["rules"].([]any)) != 0 {
		t.Fatalf("GET faults after DELETE: %d %v", st, m)
	}
	if st, m := call(http.MethodGet, "/_emulator/health", ""); st != 200 || m["status"] != "ok" {
		t.Fatalf("GET health: %d %v", st, m)
	}
	if st, _ := call(http.MethodGet, "/_emulator/nothing", ""); st != 404 {
		t.Fatalf("unknown endpoint: %d", st)
	}
	if st, _ := call(http.MethodDelete, "/_emulator/state", ""); st != 405 {
		t.Fatalf("DELETE state: %d", st)
	}
}

func TestFaultPlanValidation(t *testing.T) {
	if _, err := ParseFaultPlan([]byte(issuePlan)); err != nil {
		t.Fatalf("the issue's plan: %v", err)
	}
	for _, tc := range []struct {
		name, plan, want string
	}{
		{"unknown behavior", `{"rules":[{"image":"x","behavior":"explode"}]}`, "unknown behavior"},
		{"image without behavior", `{"rules":[{"image":"x"}]}`, "needs a behavior"},
		{"two kinds", `{"rules":[{"image":"x","behavior":"crash","api":"ecs:X","throttleRate":1}]}`, "exactly one"},
		{"no kind", `{"rules":[{"behavior":"crash"}]}`, "exactly one"},
		{"bad api", `{"rules":[{"api":"DescribeServices","throttleRate":1}]}`, "<service>:<Operation>"},
		{"unknown service", `{"rules":[{"api":"s3:GetObject","throttleRate":1}]}`, "unknown service"},
		{"rate above 1", `{"rules":[{"api":"ecs:X","throttleRate":1.5}]}`, "throttleRate"},
		{"api rule without effect", `{"rules":[{"api":"ecs:X"}]}`, "needs throttleRate or latencyMs"},
		{"bad alarm state", `{"rules":[{"alarm":"a","state":"RED"}]}`, "alarm state"},
		{"negative time", `{"rules":[{"image":"x","behavior":"crash","afterSeconds":-1}]}`, "out of range"},
		{"unknown field", `{"rules":[{"image":"x","behavior":"crash","when":"now"}]}`, "unknown field"},
		{"trailing data", `{"rules":[]} {}`, "trailing data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFaultPlan([]byte(tc.plan))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseFaultPlan(%s) = %v, want an error containing %q", tc.plan, err, tc.want)
			}
		})
	}
}

func TestImageGlob(t *testing.T) {
	for _, tc := range []struct {
		glob, image string
		want        bool
	}{
		{"repo/web:crash*", "repo/web:crash-1", true},
		{"repo/web:crash*", "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo/web:crash2", true},
		{"*:slow*", "repo/web:slow-7", true},
		{"*:slow*", "localhost:5000/web:slow", true},
		{"repo/web:crash*", "repo/web:v1", false},
		{"repo/?eb:v1", "repo/web:v1", true},
		{"repo/web", "repo/web:v1", false},
		{"*", "", true},
	} {
		if got := imageMatches(tc.glob, tc.image); got != tc.want {
			t.Errorf("imageMatches(%q, %q) = %v, want %v", tc.glob, tc.image, got, tc.want)
		}
	}
}

func TestSlowStartAndUnhealthyFaults(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	if err := h.emu.SetFaultPlan(FaultPlan{Seed: 2, Rules: []FaultRule{
		{Image: "*:slow*", Behavior: BehaviorSlowStart, AfterSeconds: 300},
		{Image: "*:ill*", Behavior: BehaviorUnhealthy},
	}}); err != nil {
		t.Fatal(err)
	}
	h.fargateService(ctx, "prod", "slow", "repo/web:slow-1", 1, false)
	start := h.clock.Now()
	h.waitStable(ctx, "prod", "slow")
	if took := h.clock.Now().Sub(start); took < 300e9 {
		t.Fatalf("slow-start service was stable after %v of simulated time, want at least 300s", took)
	}
	h.fargateService(ctx, "prod", "ill", "repo/web:ill-1", 1, false)
	ev, ok := h.sink.Wait(ctx, func(ev Event) bool {
		if ev.DetailType != DetailTypeTaskStateChange {
			return false
		}
		m := detailOf(t, ev)
		return m["stoppedReason"] == "Task failed container health checks" && m["lastStatus"] == "STOPPED"
	})
	if !ok {
		t.Fatalf("no task stopped for failing container health checks\nstate: %s", h.stateJSON())
	}
	if g := detailOf(t, ev)["group"]; g != "service:ill" {
		t.Fatalf("stopped task group = %v", g)
	}
}

func TestControlAdvancesManualClock(t *testing.T) {
	clock := simclock.NewManual(testStart)
	emu := New(Options{Clock: clock})
	defer emu.Close()
	for _, c := range []struct{ op, body string }{
		{"CreateCluster", `{"clusterName":"c"}`},
		{"RegisterTaskDefinition", `{"family":"job","containerDefinitions":[{"name":"a","image":"repo/job:1","memory":64}]}`},
		{"RegisterContainerInstance", `{"cluster":"c"}`},
		{"RunTask", `{"cluster":"c","taskDefinition":"job"}`},
	} {
		if st, _, out := rawCallF(emu, "AmazonEC2ContainerServiceV20141113."+c.op, []byte(c.body)); st != 200 {
			t.Fatalf("%s: %d %s", c.op, st, out)
		}
	}
	running := func() bool {
		return len(emu.State().Clusters[0].Tasks) == 1 && emu.State().Clusters[0].Tasks[0].LastStatus == "RUNNING"
	}
	if running() {
		t.Fatal("task running before the clock moved")
	}
	st, _, out := rawCallRaw(emu, http.MethodPost, "/_emulator/clock", []byte(`{"advanceSeconds":60}`))
	if st != 200 || !strings.Contains(string(out), "12:01:00") {
		t.Fatalf("advance: %d %s", st, out)
	}
	if !running() {
		t.Fatalf("task not running after 60 simulated seconds: %+v", emu.State().Clusters[0].Tasks)
	}
}
