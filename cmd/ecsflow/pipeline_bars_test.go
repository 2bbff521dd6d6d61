package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/client"
	"github.com/ecsflow/ecsflow/internal/model"
)

// pipelineScript is a fake API that plays a pipeline execution: each read
// of the execution moves to the next frame (the last one stays), and the
// running stage's deployment reads as the frame says.
type pipelineScript struct {
	mu     sync.Mutex
	frames []pipelineFrame
	next   int
	cur    pipelineFrame
	// hold keeps each frame for at least this long (real time), so that a
	// progress bar gets drawn in every state.
	hold  time.Duration
	since time.Time
}

type pipelineFrame struct {
	x    *model.PipelineExecution
	deps map[string]*client.DeploymentBody
}

func (p *pipelineScript) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/pipeline-executions/"):
		if p.since.IsZero() || time.Since(p.since) >= p.hold {
			p.cur = p.frames[min(p.next, len(p.frames)-1)]
			p.next++
			p.since = time.Now()
		}
		_ = json.NewEncoder(w).Encode(p.cur.x)
	case strings.HasPrefix(r.URL.Path, "/v1/deployments/"):
		d, ok := p.cur.deps[strings.TrimPrefix(r.URL.Path, "/v1/deployments/")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"code":"NotFound","message":"no such deployment"}}`))
			return
		}
		_ = json.NewEncoder(w).Encode(d)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"NotFound","message":"no route"}}`))
	}
}

// releaseScript is the example's release pipeline: the dev canary
// running midway, then the approval waiting, approved, prod running, and
// prod ending as final says.
func releaseScript(t *testing.T, final model.PipelineStatus) *pipelineScript {
	t.Helper()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	dev := canaryMidway(t)
	prod := canaryMidway(t)
	prod.ID = "dep-0456"
	frame := func(sec int, status model.PipelineStatus, stages [3]model.StageRecord, deps ...*client.DeploymentBody) pipelineFrame {
		x := &model.PipelineExecution{Meta: model.Meta{ID: "px-1", UpdatedAt: t0.Add(time.Duration(sec) * time.Second)},
			PipelineName: "web-release", Status: status, Stages: stages[:],
			Artifact: model.Artifact{Image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/web", Tag: "v1.0.0"}}
		f := pipelineFrame{x: x, deps: map[string]*client.DeploymentBody{}}
		for _, d := range deps {
			f.deps[d.ID] = d
		}
		return f
	}
	wf := func(name string, st model.PipelineStatus, dep string, ds model.Status) model.StageRecord {
		return model.StageRecord{Name: name, Type: model.StageWorkflow, Status: st, DeploymentID: dep, DeploymentStatus: ds}
	}
	ap := func(st model.PipelineStatus, approved bool) model.StageRecord {
		s := model.StageRecord{Name: "approve-prod", Type: model.StageApproval, Status: st}
		if approved {
			s.Approvals = []model.ApprovalRecord{{Approved: true, Principal: "alice", Comment: "dev is fine"}}
		}
		return s
	}
	prodEnd := model.StatusSucceeded
	if final == model.PipelineFailed {
		prodEnd = model.StatusRolledBack
	}
	last := wf("prod", final, "dep-0456", prodEnd)
	if final == model.PipelineFailed {
		last.Error, last.Cause = "DeploymentFailed", "deployment dep-0456 ended ROLLED_BACK"
	}
	return &pipelineScript{frames: []pipelineFrame{
		frame(10, model.PipelineRunning, [3]model.StageRecord{wf("dev", model.PipelineRunning, "dep-0123", model.StatusRunning), ap(model.PipelinePending, false), wf("prod", model.PipelinePending, "", "")}, dev),
		frame(200, model.PipelineRunning, [3]model.StageRecord{wf("dev", model.PipelineSucceeded, "dep-0123", model.StatusSucceeded), ap(model.PipelineWaitingApproval, false), wf("prod", model.PipelinePending, "", "")}),
		frame(260, model.PipelineRunning, [3]model.StageRecord{wf("dev", model.PipelineSucceeded, "dep-0123", model.StatusSucceeded), ap(model.PipelineSucceeded, true), wf("prod", model.PipelineRunning, "dep-0456", model.StatusRunning)}, prod),
		frame(500, final, [3]model.StageRecord{wf("dev", model.PipelineSucceeded, "dep-0123", model.StatusSucceeded), ap(model.PipelineSucceeded, true), last}),
	}}
}

func fastPolls(t *testing.T) {
	old := pollInterval
	pollInterval = time.Millisecond
	t.Cleanup(func() { pollInterval = old })
}

// TestPipelineWatchOnATerminal: on a TTY, `pipeline status --watch` draws
// a bar per stage, labelled with the running stage's deployment (phase,
// counts, weights) or the approval to give, prints stage changes above the
// bars, and ends with the outcome line and a zero exit.
func TestPipelineWatchOnATerminal(t *testing.T) {
	fastPolls(t)
	oldWidth := barLineWidth
	barLineWidth = 160 // a wide terminal
	t.Cleanup(func() { barLineWidth = oldWidth })
	script := releaseScript(t, model.PipelineSucceeded)
	script.hold = 3 * refreshRate
	srv := httptest.NewServer(script)
	defer srv.Close()
	c := &cli{t: t, endpoint: srv.URL, tty: true}
	out := c.must("pipeline", "status", "px-1", "--watch")
	t.Logf("TTY output:\n%q", out)
	for _, want := range []string{
		"dev WORKFLOW",
		"approve-prod APPROVAL",
		"dep-0123  RUNNING  phase 2/3  step 7/14  new 2 old 2  traffic new 10% old 90%  elapsed 2m20s",
		"WAITING_APPROVAL  approve: ecsflow approve px-1 (or reject)",
		"2026-03-02T09:04:20Z  STAGE        approve-prod     APPROVAL  SUCCEEDED  approved by alice (dev is fine)",
		"pipeline execution px-1 SUCCEEDED\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("TTY output lacks %q", want)
		}
	}
	if !regexp.MustCompile(`prod WORKFLOW\s+\[=+\] SUCCEEDED`).MatchString(out) {
		t.Error("TTY output lacks a full prod bar at SUCCEEDED")
	}
	if strings.Contains(out, "  DEPLOYMENT   ") {
		t.Error("TTY output has the plain DEPLOYMENT lines")
	}
}

// TestPipelineWatchOnATerminalFails: a pipeline that fails at prod ends
// its bars and exits non-zero, naming the stage.
func TestPipelineWatchOnATerminalFails(t *testing.T) {
	fastPolls(t)
	srv := httptest.NewServer(releaseScript(t, model.PipelineFailed))
	defer srv.Close()
	c := &cli{t: t, endpoint: srv.URL, tty: true}
	out, err := c.run("pipeline", "status", "px-1", "--watch")
	if err == nil || !strings.Contains(err.Error(), "ended FAILED") {
		t.Fatalf("err %v, want the execution's failure", err)
	}
	if !strings.Contains(out, "pipeline execution px-1 FAILED") || !strings.Contains(out, "DeploymentFailed: deployment dep-0456 ended ROLLED_BACK") {
		t.Errorf("output lacks the failure:\n%s", out)
	}
}

// TestPipelineWatchGolden: without a TTY, the same run is plain
// timestamped lines (stage changes, the running stage's deployment).
func TestPipelineWatchGolden(t *testing.T) {
	fastPolls(t)
	srv := httptest.NewServer(releaseScript(t, model.PipelineSucceeded))
	defer srv.Close()
	c := &cli{t: t, endpoint: srv.URL}
	golden(t, "pipeline_watch", c.must("pipeline", "status", "px-1", "--watch"))
}

// TestPipelineStartWatchOnATerminalOnTheStack: `pipeline start --watch` on
// a TTY, on the local stack, follows the example's release pipeline
// through the dev canary, the approval (given meanwhile from another
// shell) and prod, with a bar per stage ending full, and exits zero.
func TestPipelineStartWatchOnATerminalOnTheStack(t *testing.T) {
	oldWidth := barLineWidth
	barLineWidth = 200
	t.Cleanup(func() { barLineWidth = oldWidth })
	c, s := newCLI(t)
	c.must("apply", "-f", exampleWorld(t, s, true))
	c.must("push", "web:v1.0.0")
	approver := &cli{t: t, endpoint: c.endpoint}
	done := make(chan struct{})
	approved := make(chan error, 1)
	go func() {
		for {
			select {
			case <-done:
				approved <- nil
				return
			case <-time.After(20 * time.Millisecond):
			}
			var xs []model.PipelineExecution
			raw, err := approver.run("pipeline", "list", "shop/web-release", "-o", "json")
			if err != nil || json.Unmarshal([]byte(raw), &xs) != nil || len(xs) == 0 || xs[0].Status != model.PipelineWaitingApproval {
				continue
			}
			// Give the watch time to poll and draw the waiting approval
			// (1 s real is 200 s simulated of its 3600 s timeout).
			time.Sleep(4*pollInterval + 3*refreshRate)
			_, err = approver.run("approve", xs[0].ID, "--comment", "bars look good")
			approved <- err
			return
		}
	}()
	tty := &cli{t: t, endpoint: c.endpoint, tty: true}
	out, err := tty.run("pipeline", "start", "shop/web-release", "--image", "v1.0.0", "--watch")
	close(done)
	if aerr := <-approved; aerr != nil {
		t.Errorf("approve: %v", aerr)
	}
	if err != nil {
		t.Fatalf("pipeline start --watch: %v\n%s", err, out)
	}
	for _, re := range []string{
		`dev WORKFLOW +\[=+\] SUCCEEDED  dep-\S+ SUCCEEDED`,
		`approve-prod APPROVAL +\[-+\] WAITING_APPROVAL  approve: ecsflow approve plx-\S+ \(or reject\)`,
		`approve-prod APPROVAL +\[=+\] SUCCEEDED`,
		`prod WORKFLOW +\[[=>-]+\] dep-\S+  RUNNING  `,
		`prod WORKFLOW +\[=+\] SUCCEEDED  dep-\S+ SUCCEEDED`,
		`STAGE +approve-prod +APPROVAL  SUCCEEDED  approved by \S+ \(bars look good\)`,
		`pipeline execution plx-\S+ SUCCEEDED\n`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("TTY output lacks %s", re)
		}
	}
	if t.Failed() {
		t.Logf("TTY output:\n%s", out)
	}
}
