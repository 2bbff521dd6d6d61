package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/spf13/cobra"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/localstack"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/simclock"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s: output differs from the golden file\n--- got\n%s--- want\n%s", name, got, want)
	}
}

// cli runs the ecsflow CLI in process on a fresh command tree, against a
// stack, and returns its output and error.
type cli struct {
	t        *testing.T
	endpoint string
	awsURL   string
	tty      bool
}

func (c *cli) run(args ...string) (string, error) {
	c.t.Helper()
	root := &cobra.Command{Use: "ecsflow", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(&cobra.Command{Use: "emulator"})
	g := &apiFlags{}
	tty := c.tty
	g.tty = &tty
	addAPIFlags(root, g)
	addAPICommands(root, g)
	addFaultCmd(root, g)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(io.Discard)
	full := append([]string{"--endpoint", c.endpoint}, args...)
	if len(args) > 0 && (args[0] == "push" || args[0] == "emulator") {
		full = append(full, "--aws-endpoint", c.awsURL)
	}
	root.SetArgs(full)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

func (c *cli) must(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("ecsflow %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

var fastTimings = awsemu.Timings{Provision: time.Second, PullMin: time.Second, PullMax: time.Second,
	Start: time.Second, Stop: time.Second, LaunchBackoff: 2 * time.Second}

func newCLI(t *testing.T) (*cli, *localstack.Stack) {
	t.Helper()
	clock := simclock.NewScaled(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 200)
	t.Cleanup(clock.Close)
	s, err := localstack.Start(context.Background(), localstack.Config{Clock: clock, Timings: fastTimings, Seed: 3,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("start local stack: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	old := pollInterval
	pollInterval = 20 * time.Millisecond
	t.Cleanup(func() { pollInterval = old })
	return &cli{t: t, endpoint: s.URL(), awsURL: s.AWSURL()}, s
}

var idRE = regexp.MustCompile(`\b(app|cp|as|svc|env|infra|wf|pl|trg|dep)-[0-9a-f]{32}\b`)

func TestApplyPlanDryRunIdempotentAndInvalid(t *testing.T) {
	c, _ := newCLI(t)
	example := filepath.Join("..", "..", "examples", "ecsflow.yaml")

	out := c.must("apply", "-f", example, "--dry-run")
	golden(t, "apply_dry_run", out)
	if got := c.must("list", "applications"); strings.Contains(got, "shop") {
		t.Fatalf("--dry-run created entities:\n%s", got)
	}
	golden(t, "apply_first", c.must("apply", "-f", example))
	golden(t, "apply_second", c.must("apply", "-f", example))

	// An edited copy: one update, named with its field.
	src, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(t.TempDir(), "edited.yaml")
	if err := os.WriteFile(edited, bytes.Replace(src, []byte("desiredCount: 2\n          cpu: \"512\""), []byte("desiredCount: 3\n          cpu: \"512\""), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	out = c.must("apply", "-f", edited)
	if !strings.Contains(out, "~ update    Service                  shop/worker (ecs.desiredCount)") ||
		!strings.Contains(out, "Applied: 0 created, 1 updated.") {
		t.Errorf("edited apply:\n%s", out)
	}

	// An invalid file: every problem, with its line, and nothing written.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	badSrc := strings.Replace(string(src), "trafficWeight: 10", "trafficWeight: 101", 1)
	badSrc = strings.Replace(badSrc, "infraId: prod-fargate", "infraId: prod-ec2", 1)
	badSrc = strings.Replace(badSrc, "  - name: worker\n", "  - name: worker\n        replicas: 3\n", 1)
	if err := os.WriteFile(bad, []byte(badSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = c.run("apply", "-f", bad)
	if err == nil {
		t.Fatal("apply of an invalid file succeeded")
	}
	golden(t, "apply_invalid", strings.ReplaceAll(err.Error(), bad, "bad.yaml")+"\n")
	// Fix the decode error: the reference and validation problems come next, at their lines.
	badSrc = strings.Replace(badSrc, "        replicas: 3\n", "", 1)
	if err := os.WriteFile(bad, []byte(badSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = c.run("apply", "-f", bad)
	if err == nil {
		t.Fatal("apply of an invalid file succeeded")
	}
	golden(t, "apply_invalid_refs", strings.ReplaceAll(err.Error(), bad, "bad.yaml")+"\n")
	if out := c.must("apply", "-f", example, "--dry-run"); !strings.Contains(out, "~ update    Service                  shop/worker (ecs.desiredCount)") {
		t.Errorf("the refused apply wrote something:\n%s", out)
	}
}

func TestListAndGetJSON(t *testing.T) {
	c, _ := newCLI(t)
	c.must("apply", "-f", filepath.Join("..", "..", "examples", "ecsflow.yaml"))

	var wfs []model.Workflow
	if err := json.Unmarshal([]byte(c.must("list", "workflows", "--app", "shop", "-o", "json")), &wfs); err != nil {
		t.Fatalf("list -o json: %v", err)
	}
	if len(wfs) != 2 {
		t.Fatalf("got %d workflows, want 2", len(wfs))
	}
	var infra model.InfrastructureDefinition
	if err := json.Unmarshal([]byte(c.must("get", "infrastructure", "prod-fargate", "--app", "shop", "--env", "prod")), &infra); err != nil {
		t.Fatalf("get infrastructure: %v", err)
	}
	if infra.Cluster != "prod" || len(infra.LoadBalancing.TargetGroupARNs) != 2 {
		t.Errorf("got infrastructure %+v", infra)
	}
	golden(t, "list_services", idRE.ReplaceAllString(c.must("list", "services", "--app", "shop"), "$1-"+strings.Repeat("x", 32)))
	if _, err := c.run("get", "service", "nope", "--app", "shop"); err == nil || !strings.Contains(err.Error(), `no Service named "nope"`) {
		t.Errorf("get of a missing service: %v", err)
	}
	if _, err := c.run("list", "gadgets"); err == nil || !strings.Contains(err.Error(), `unknown kind "gadgets"`) {
		t.Errorf("list of an unknown kind: %v", err)
	}
}

func TestDeployWatchHistoryAndControl(t *testing.T) {
	c, s := newCLI(t)
	ctx := context.Background()
	if _, err := ecs.NewFromConfig(s.AWSConfig()).CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("cli")}); err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	c.must("apply", "-f", filepath.Join("testdata", "rolling.yaml"))
	if out := c.must("push", "worker:v1"); !strings.Contains(out, "pushed 123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:v1 (sha256:") {
		t.Errorf("push: %s", out)
	}
	out, err := c.run("deploy", "shop/worker", "--env", "dev", "--image", "v1", "--watch")
	if err != nil {
		t.Fatalf("deploy --watch: %v\n%s", err, out)
	}
	t.Logf("deploy --watch:\n%s", out)
	id := regexp.MustCompile(`dep-[0-9a-f]{32}`).FindString(out)
	if id == "" || !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("deploy --watch output lacks the deployment ID or SUCCEEDED:\n%s", out)
	}
	st := c.must("status", id)
	if !strings.Contains(st, "state       SUCCEEDED") {
		t.Errorf("status:\n%s", st)
	}
	hist := c.must("history", "shop/worker", "--env", "dev")
	if !strings.Contains(hist, id) || !strings.Contains(hist, "SUCCEEDED") {
		t.Errorf("history:\n%s", hist)
	}
	// Control actions on an ended deployment are refused by the API, in one line with the status.
	for _, a := range []string{"rollback", "abort", "approve"} {
		_, err := c.run(a, id, "--comment", "from the test")
		t.Logf("%s: %v", a, err)
		if err == nil {
			t.Errorf("%s of a succeeded deployment: no error", a)
		} else if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "POST /v1/deployments/"+id+"/"+a+": ") {
			t.Errorf("%s error is not one line naming the request: %q", a, err)
		}
	}
}

// deployWorker applies the rolling config on a fresh stack and deploys
// worker:v1 to success.
func deployWorker(t *testing.T) (*cli, string) {
	t.Helper()
	c, s := newCLI(t)
	if _, err := ecs.NewFromConfig(s.AWSConfig()).CreateCluster(context.Background(), &ecs.CreateClusterInput{ClusterName: aws.String("cli")}); err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	c.must("apply", "-f", filepath.Join("testdata", "rolling.yaml"))
	c.must("push", "worker:v1")
	out := c.must("deploy", "shop/worker", "--env", "dev", "--image", "v1", "--watch")
	return c, regexp.MustCompile(`dep-[0-9a-f]{32}`).FindString(out)
}

func depID(t *testing.T, out string) string {
	t.Helper()
	id := regexp.MustCompile(`dep-[0-9a-f]{32}`).FindString(out)
	if id == "" {
		t.Fatalf("no deployment ID in:\n%s", out)
	}
	return id
}

func TestDeployOfACrashingImageRollsBackAndExitsNonZero(t *testing.T) {
	c, _ := deployWorker(t)
	if out := c.must("emulator", "fault", "set", "--plan", `{"seed":1,"rules":[{"image":"*worker:v2","behavior":"crash","afterSeconds":0}]}`); !strings.Contains(out, "fault plan set: 1 rule(s), seed 1") {
		t.Errorf("fault set: %s", out)
	}
	if out := c.must("emulator", "fault", "show"); !strings.Contains(out, "*worker:v2") {
		t.Errorf("fault show: %s", out)
	}
	c.must("push", "worker:v2")
	out, err := c.run("deploy", "shop/worker", "--env", "dev", "--image", "v2", "--watch")
	t.Logf("deploy --watch:\n%s", out)
	if err == nil || !strings.Contains(err.Error(), "ended ROLLED_BACK") {
		t.Fatalf("deploy --watch of a crashing image: err %v, want it to end ROLLED_BACK with an error", err)
	}
	// The watch shows why (whether the engine saw the stopped tasks during
	// its wait or found the service already rolled back by the circuit
	// breaker depends on timing, so only the rollback line is asserted).
	if !regexp.MustCompile(`(?m)^\S+  ROLLBACK     rollback: NotStable: `).MatchString(out) {
		t.Errorf("the watch shows no ROLLBACK line with its reason:\n%s", out)
	}
	id := depID(t, out)
	// status of the ended deployment also exits non-zero; -o json has the reason.
	js, err := c.run("status", id, "-o", "json")
	if err == nil {
		t.Error("status of a rolled-back deployment exits zero")
	}
	var d model.Deployment
	if jerr := json.Unmarshal([]byte(js), &d); jerr != nil || d.Status != model.StatusRolledBack || d.Reason == "" {
		t.Errorf("status -o json: %v %+v", jerr, d)
	}
	if out := c.must("emulator", "fault", "clear"); !strings.Contains(out, "cleared") {
		t.Errorf("fault clear: %s", out)
	}
}

func TestRollbackAndAbortOfRunningDeployments(t *testing.T) {
	c, _ := deployWorker(t)
	// Slow starts keep the next deployments running long enough to act on.
	c.must("emulator", "fault", "set", "--plan", `{"seed":1,"rules":[{"image":"*worker:v*-slow","behavior":"slow-start","afterSeconds":3000}]}`)
	c.must("push", "worker:v2-slow")
	c.must("push", "worker:v3-slow")

	id := depID(t, c.must("deploy", "shop/worker", "--env", "dev", "--image", "v2-slow"))
	waitLedger(t, c, id, "WAIT_STEADY started")
	out := c.must("rollback", id, "--comment", "wrong build")
	t.Logf("rollback: %s", out)
	out, err := c.run("status", id, "--watch")
	t.Logf("status --watch after rollback:\n%s", out)
	if err == nil || !strings.Contains(err.Error(), "ended ROLLED_BACK") {
		t.Errorf("status --watch after rollback: %v, want ended ROLLED_BACK", err)
	}

	id = depID(t, c.must("deploy", "shop/worker", "--env", "dev", "--image", "v3-slow"))
	waitLedger(t, c, id, "WAIT_STEADY started")
	out = c.must("abort", id, "-o", "json")
	var d model.Deployment
	if err := json.Unmarshal([]byte(out), &d); err != nil || d.ID != id {
		t.Fatalf("abort -o json: %v\n%s", err, out)
	}
	out, err = c.run("status", id, "--watch")
	t.Logf("status --watch after abort:\n%s", out)
	if err == nil || !strings.Contains(err.Error(), "ended ABORTED") {
		t.Errorf("status --watch after abort: %v, want ended ABORTED", err)
	}
}

// waitLedger polls status -o json until the deployment's ledger has an
// entry containing want (rollback and abort are accepted during waits).
func waitLedger(t *testing.T, c *cli, id string, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := c.run("status", id, "-o", "json")
		var d struct {
			Ledger []model.LedgerEntry `json:"ledger"`
		}
		if json.Unmarshal([]byte(out), &d) == nil {
			for _, e := range d.Ledger {
				if strings.Contains(e.Message, want) {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("deployment %s: no ledger entry with %q", id, want)
}

// TestDeployWatchOnATerminal draws progress bars (forced TTY mode into a
// buffer) and still ends with the outcome line and a zero exit.
func TestDeployWatchOnATerminal(t *testing.T) {
	c, s := newCLI(t)
	if _, err := ecs.NewFromConfig(s.AWSConfig()).CreateCluster(context.Background(), &ecs.CreateClusterInput{ClusterName: aws.String("cli")}); err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	c.must("apply", "-f", filepath.Join("testdata", "rolling.yaml"))
	c.must("push", "worker:v1")
	c.tty = true
	out := c.must("deploy", "shop/worker", "--env", "dev", "--image", "v1", "--watch")
	t.Logf("TTY output:\n%q", out)
	for _, want := range []string{"WAIT_STEADY", "STEP         FINISH SUCCEEDED", "SUCCEEDED  step 3/3", "SUCCEEDED after"} {
		if !strings.Contains(out, want) {
			t.Errorf("TTY output lacks %q", want)
		}
	}
	if !regexp.MustCompile(`\[=+\] SUCCEEDED  step 3/3  elapsed \d+s`).MatchString(out) {
		t.Error("TTY output lacks a full bar at SUCCEEDED")
	}
	if strings.Contains(out, "  STATE  ") {
		t.Error("TTY output has the plain STATE lines")
	}
}
