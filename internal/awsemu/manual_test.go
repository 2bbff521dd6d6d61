package awsemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// runScript drives an emulator on a manual clock through a fixed script:
// a service, a crashing update, throttled calls. It returns the world
// snapshot, the event stream and the throttling pattern.
func runScript(t *testing.T, seed int64) (string, []string, string) {
	t.Helper()
	clock := simclock.NewManual(testStart)
	sink := NewRecordingSink()
	emu := New(Options{Clock: clock, Sink: sink, Seed: seed})
	defer emu.Close()
	call := func(op, body string) int {
		status, _, out := rawCallF(emu, "AmazonEC2ContainerServiceV20141113."+op, []byte(body))
		if status != 200 && status != 400 {
			t.Fatalf("%s: %d %s", op, status, out)
		}
		return status
	}
	if err := emu.SetFaultPlan(FaultPlan{Seed: seed, Rules: []FaultRule{
		{Image: "*:crash*", Behavior: BehaviorCrash, AfterSeconds: 3},
		{API: "ecs:ListClusters", ThrottleRate: 0.5},
	}}); err != nil {
		t.Fatal(err)
	}
	call("CreateCluster", `{"clusterName":"c"}`)
	td := `{"family":"web","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512","containerDefinitions":[{"name":"app","image":"repo/web:%s"}]}`
	call("RegisterTaskDefinition", fmt.Sprintf(td, "v1"))
	call("CreateService", `{"cluster":"c","serviceName":"web","taskDefinition":"web:1","desiredCount":3,"launchType":"FARGATE",
		"networkConfiguration":{"awsvpcConfiguration":{"subnets":["s"]}},"deploymentConfiguration":{"deploymentCircuitBreaker":{"enable":true,"rollback":true}}}`)
	clock.Advance(2 * time.Minute)
	call("RegisterTaskDefinition", fmt.Sprintf(td, "crash-1"))
	call("UpdateService", `{"cluster":"c","service":"web","taskDefinition":"web:2"}`)
	for i := 0; i < 20; i++ {
		clock.Advance(30 * time.Second)
	}
	pattern := ""
	for i := 0; i < 24; i++ {
		if call("ListClusters", `{}`) == 400 {
			pattern += "T"
		} else {
			pattern += "."
		}
	}
	if err := emu.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	st, err := json.Marshal(emu.State().Clusters)
	if err != nil {
		t.Fatal(err)
	}
	var evs []string
	for _, ev := range sink.Events() {
		evs = append(evs, ev.DetailType+" "+string(ev.Detail))
	}
	return string(st), evs, pattern
}

func TestSameSeedSameWorld(t *testing.T) {
	s1, e1, p1 := runScript(t, 99)
	s2, e2, p2 := runScript(t, 99)
	if s1 != s2 {
		t.Fatalf("same seed, different worlds:\n%s\n%s", s1, s2)
	}
	if p1 != p2 {
		t.Fatalf("same seed, different throttling: %s vs %s", p1, p2)
	}
	if len(e1) != len(e2) || len(e1) < 20 {
		t.Fatalf("event counts %d and %d (want equal, at least 20)", len(e1), len(e2))
	}
	for i := range e1 {
		if e1[i] != e2[i] {
			t.Fatalf("event %d differs:\n%s\n%s", i, e1[i], e2[i])
		}
	}
	s3, _, p3 := runScript(t, 100)
	if s3 == s1 && p3 == p1 {
		t.Fatal("a different seed gave the very same world and throttling")
	}
}

func TestStoppedTasksAreForgotten(t *testing.T) {
	clock := simclock.NewManual(testStart)
	emu := New(Options{Clock: clock, Timings: Timings{StoppedTTL: time.Hour}})
	defer emu.Close()
	for _, c := range []struct{ op, body string }{
		{"CreateCluster", `{"clusterName":"c"}`},
		{"RegisterTaskDefinition", `{"family":"job","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512","containerDefinitions":[{"name":"a","image":"repo/job:1"}]}`},
	} {
		if st, _, out := rawCallF(emu, "AmazonEC2ContainerServiceV20141113."+c.op, []byte(c.body)); st != 200 {
			t.Fatalf("%s: %d %s", c.op, st, out)
		}
	}
	st, _, out := rawCallF(emu, "AmazonEC2ContainerServiceV20141113.RunTask", []byte(`{"cluster":"c","taskDefinition":"job","launchType":"FARGATE","networkConfiguration":{"awsvpcConfiguration":{"subnets":["s"]}}}`))
	if st != 200 {
		t.Fatalf("RunTask: %d %s", st, out)
	}
	var run struct {
		Tasks []struct {
			TaskArn string `json:"taskArn"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(out, &run); err != nil || len(run.Tasks) != 1 {
		t.Fatalf("RunTask output %s: %v", out, err)
	}
	describe := func() string {
		_, _, out := rawCallF(emu, "AmazonEC2ContainerServiceV20141113.DescribeTasks", []byte(`{"cluster":"c","tasks":["`+run.Tasks[0].TaskArn+`"]}`))
		var d struct {
			Tasks    []struct{ LastStatus string } `json:"tasks"`
			Failures []struct{ Reason string }     `json:"failures"`
		}
		if err := json.Unmarshal(out, &d); err != nil {
			t.Fatalf("DescribeTasks %s: %v", out, err)
		}
		if len(d.Tasks) == 1 {
			return d.Tasks[0].LastStatus
		}
		return d.Failures[0].Reason
	}
	clock.Advance(time.Minute)
	if got := describe(); got != "RUNNING" {
		t.Fatalf("after a minute: %s, want RUNNING", got)
	}
	if st, _, out := rawCallF(emu, "AmazonEC2ContainerServiceV20141113.StopTask", []byte(`{"cluster":"c","task":"`+run.Tasks[0].TaskArn+`"}`)); st != http.StatusOK {
		t.Fatalf("StopTask: %d %s", st, out)
	}
	clock.Advance(time.Minute)
	if got := describe(); got != "STOPPED" {
		t.Fatalf("a minute after StopTask: %s, want STOPPED", got)
	}
	clock.Advance(50 * time.Minute)
	if got := describe(); got != "STOPPED" {
		t.Fatalf("51 minutes after StopTask: %s, want still STOPPED", got)
	}
	clock.Advance(15 * time.Minute)
	if got := describe(); got != "MISSING" {
		t.Fatalf("over an hour after StopTask: %s, want MISSING", got)
	}
}
