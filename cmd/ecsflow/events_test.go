package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecsflow/ecsflow/internal/pipeline"
	"github.com/ecsflow/ecsflow/internal/steps"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runEvents runs `ecsflow events args...` against endpoint until it returns
// or ctx ends.
func runEvents(ctx context.Context, endpoint string, out io.Writer, args ...string) error {
	root := &cobra.Command{Use: "ecsflow", SilenceUsage: true, SilenceErrors: true}
	g := &apiFlags{}
	addAPIFlags(root, g)
	root.AddCommand(newEventsCmd(g))
	root.SetOut(out)
	root.SetErr(io.Discard)
	root.SetArgs(append([]string{"--endpoint", endpoint, "events"}, args...))
	return root.ExecuteContext(ctx)
}

func logEvent(t *testing.T, l *steps.NotificationLog, detailType string, detail any) {
	t.Helper()
	d, _ := json.Marshal(detail)
	b, _ := json.Marshal(map[string]any{"id": "ev", "source": steps.NotifySource, "detail-type": detailType,
		"time": "2026-03-02T09:00:00Z", "detail": json.RawMessage(d)})
	if err := l.Deliver(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

func TestEventsCommand(t *testing.T) {
	l := steps.NewNotificationLog(0)
	mux := http.NewServeMux()
	mux.Handle(steps.NotificationLogPath, l)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	dep := func(id, status, pipe string) steps.DeploymentDetail {
		return steps.DeploymentDetail{Status: status, DeploymentID: id, Strategy: "ROLLING", PipelineExecutionID: pipe}
	}
	logEvent(t, l, steps.DetailTypeDeployment, dep("dep-1", "STARTED", ""))
	logEvent(t, l, pipeline.DetailTypePipeline, pipeline.PipelineDetail{Status: "STARTED", PipelineExecutionID: "plx-1", PipelineName: "release"})
	logEvent(t, l, steps.DetailTypeDeployment, dep("dep-2", "STARTED", "plx-1"))
	logEvent(t, l, steps.DetailTypeDeployment, dep("dep-1", "ROLLED_BACK", ""))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var out bytes.Buffer
	if err := runEvents(ctx, srv.URL, &out); err != nil {
		t.Fatal(err)
	}
	t.Logf("events:\n%s", out.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "DEPLOYMENT  STARTED") || !strings.Contains(lines[0], "dep-1") ||
		!strings.Contains(lines[1], "PIPELINE    STARTED") || !strings.Contains(lines[1], "release") ||
		!strings.Contains(lines[3], "ROLLED_BACK") {
		t.Fatalf("events:\n%s", out.String())
	}

	out.Reset()
	if err := runEvents(ctx, srv.URL, &out, "--id", "plx-1", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev steps.LoggedEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("-o json line %q: %v", line, err)
		}
		seqs = append(seqs, ev.Seq)
	}
	if len(seqs) != 2 || seqs[0] != 2 || seqs[1] != 3 {
		t.Fatalf("--id plx-1 gave events %v, want the pipeline's and its deployment's (2, 3)", seqs)
	}

	// --follow prints the events that arrive later, until interrupted.
	var follow syncBuffer
	fctx, fcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runEvents(fctx, srv.URL, &follow, "--follow", "--after", "4") }()
	time.Sleep(50 * time.Millisecond)
	logEvent(t, l, steps.DetailTypeDeployment, dep("dep-3", "APPROVAL_NEEDED", ""))
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(follow.String(), "dep-3") {
		if time.Now().After(deadline) {
			t.Fatalf("--follow did not print the new event: %q", follow.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	fcancel()
	if err := <-done; err != nil {
		t.Fatalf("--follow interrupted: %v", err)
	}
	if got := follow.String(); strings.Contains(got, "dep-1") || strings.Count(got, "\n") != 1 {
		t.Fatalf("--follow --after 4 printed %q, want only the new event", got)
	}

	// An endpoint without the log (the API on AWS) says so.
	api := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(api.Close)
	err := runEvents(ctx, api.URL, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "ecsflow local") {
		t.Fatalf("events on an endpoint without the log: %v", err)
	}
}
