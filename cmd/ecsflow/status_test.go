package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/client"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/strategy"
)

// canaryMidway is a canary in its second phase: phase 1 scaled and shifted
// to 10%, phase 2 scaled to 2/2 and waiting for steady state.
func canaryMidway(t *testing.T) *client.DeploymentBody {
	t.Helper()
	plan := []strategy.Step{
		{Kind: strategy.RegisterTaskDefinition},
		{Kind: strategy.SetupService},
		{Kind: strategy.Scale, Phase: 1, NewCount: 1, OldCount: 3},
		{Kind: strategy.WaitSteady, Phase: 1},
		{Kind: strategy.SetWeight, Phase: 1, NewWeight: 10},
		{Kind: strategy.Verify, Phase: 1, BakeSeconds: 60},
		{Kind: strategy.Scale, Phase: 2, NewCount: 2, OldCount: 2},
		{Kind: strategy.WaitSteady, Phase: 2},
		{Kind: strategy.SetWeight, Phase: 2, NewWeight: 50},
		{Kind: strategy.Verify, Phase: 2},
		{Kind: strategy.Scale, Phase: 3, NewCount: 4, OldCount: 0},
		{Kind: strategy.WaitSteady, Phase: 3},
		{Kind: strategy.SetWeight, Phase: 3, NewWeight: 100},
		{Kind: strategy.Cleanup},
	}
	raw, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	rec := func(name string, s int) model.StepRecord {
		return model.StepRecord{Name: name, StartedAt: at(s), EndedAt: at(s + 1), Result: "OK"}
	}
	started := at(0)
	d := &client.DeploymentBody{Deployment: model.Deployment{
		Meta:     model.Meta{ID: "dep-0123", CreatedAt: t0, UpdatedAt: at(140)},
		Status:   model.StatusRunning,
		Strategy: model.StrategyCanary, WorkflowID: "wf-canary",
		Artifact:  model.Artifact{Image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/web", Tag: "v1.0.0"},
		StartedAt: &started,
		Runtime:   &model.Runtime{Plan: raw},
		Steps: []model.StepRecord{rec("PREPARE", 1), rec("REGISTER_TASK_DEFINITION", 2), rec("SETUP_SERVICE", 3),
			rec("SCALE", 4), rec("WAIT_STEADY", 10), rec("SET_WEIGHT", 30), rec("VERIFY", 31), rec("SCALE", 100),
			{Name: "WAIT_STEADY", StartedAt: at(101)}},
	}}
	for i, m := range []string{"task a RUNNING", "task b RUNNING", "SERVICE_STEADY_STATE prod/web__2", "task c RUNNING", "task d RUNNING"} {
		d.Ledger = append(d.Ledger, model.LedgerEntry{Seq: int64(i + 1), At: at(100 + 10*i), Kind: model.LedgerECSEvent, Message: m})
	}
	return d
}

func TestProgressOfCanary(t *testing.T) {
	p := progressOf(canaryMidway(t))
	if p.phase != 2 || p.phases != 3 || p.done != 7 || p.planSteps != 14 || p.newCount != 2 || p.oldCount != 2 || p.weight != 10 {
		t.Errorf("got %+v, want phase 2/3, 7/14 steps, new 2 old 2, weight 10", p)
	}
	if len(p.events) != 3 || p.events[2].Message != "task d RUNNING" {
		t.Errorf("events %+v, want the newest 3", p.events)
	}
}

func TestStatusGolden(t *testing.T) {
	d := canaryMidway(t)
	var b bytes.Buffer
	writeStatus(&b, d, asOf(d))
	golden(t, "status_running", b.String())

	end := d.UpdatedAt.Add(5 * time.Minute)
	d.Status, d.EndedAt, d.Reason = model.StatusRolledBack, &end, "NotStable: tasks failed to start"
	d.Usage = model.Usage{StateTransitions: 41, APICalls: map[string]int64{"ecs:UpdateService": 3, "ecs:DescribeServices": 2}, EstimatedCostUSD: 0.00123}
	b.Reset()
	writeStatus(&b, d, asOf(d))
	golden(t, "status_rolled_back", b.String())
	if err := outcome(&d.Deployment); err == nil || !strings.Contains(err.Error(), "ended ROLLED_BACK: NotStable") {
		t.Errorf("outcome: %v", err)
	}
}

func TestParseImage(t *testing.T) {
	for _, c := range []struct {
		in   string
		want client.ArtifactRequest
		bad  bool
	}{
		{in: "v1.0.0", want: client.ArtifactRequest{Tag: "v1.0.0"}},
		{in: "sha256:abc", want: client.ArtifactRequest{Digest: "sha256:abc"}},
		{in: "1.dkr.ecr.us-east-1.amazonaws.com/web:v2", want: client.ArtifactRequest{Image: "1.dkr.ecr.us-east-1.amazonaws.com/web", Tag: "v2"}},
		{in: "localhost:5000/web:v2", want: client.ArtifactRequest{Image: "localhost:5000/web", Tag: "v2"}},
		{in: "r/web@sha256:abc", want: client.ArtifactRequest{Image: "r/web", Digest: "sha256:abc"}},
		{in: "localhost:5000/web", bad: true},
		{in: "", bad: true},
	} {
		got, err := parseImage(c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("parseImage(%q) = %+v, %v; want %+v, error %v", c.in, got, err, c.want, c.bad)
		}
	}
}

// TestControlRetriesWhileAStepRuns: a 409 that says to retry is retried
// until the API accepts; any other 409, or --wait 0, is returned at once.
func TestControlRetriesWhileAStepRuns(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/dep-busy/rollback") && calls < 3:
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"error":{"code":"InvalidDeploymentState","message":"deployment dep-busy (RUNNING) is running a step; retry in a few seconds"}}`)
		case strings.HasSuffix(r.URL.Path, "/dep-done/rollback"):
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"error":{"code":"InvalidDeploymentState","message":"deployment dep-done already ended SUCCEEDED"}}`)
		default:
			_, _ = io.WriteString(w, `{"id":"dep-busy","status":"ROLLING_BACK"}`)
		}
	}))
	defer srv.Close()
	old := retryInterval
	retryInterval = time.Millisecond
	defer func() { retryInterval = old }()
	c := &cli{t: t, endpoint: srv.URL}
	out := c.must("rollback", "dep-busy")
	if calls != 3 || !strings.Contains(out, "rollback accepted: deployment dep-busy is ROLLING_BACK") {
		t.Errorf("got %d calls and %q, want 3 calls and the accepted rollback", calls, out)
	}
	calls = 0
	if _, err := c.run("rollback", "dep-done"); err == nil || calls != 1 {
		t.Errorf("a final 409: %d calls, err %v; want 1 call and the error", calls, err)
	}
	calls = 0
	if _, err := c.run("rollback", "dep-busy", "--wait", "0"); err == nil || calls != 1 {
		t.Errorf("--wait 0: %d calls, err %v; want 1 call and the error", calls, err)
	}
}
