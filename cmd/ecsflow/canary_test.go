package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/localstack"
	"github.com/ecsflow/ecsflow/internal/model"
)

// exampleWorld creates the world of examples/ecsflow.yaml in the emulator
// (localstack.CreateExampleWorld) and returns the path of a copy of the
// example with the emulator's ARNs in place of its own and, when asked,
// its trigger disabled (pushes start no pipeline).
func exampleWorld(t *testing.T, s *localstack.Stack, disableTrigger bool) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", localstack.ExamplePath))
	if err != nil {
		t.Fatal(err)
	}
	out, err := localstack.CreateExampleWorld(context.Background(), s, src, localstack.ExampleOptions{DisableTrigger: disableTrigger})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ecsflow.yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestExampleCanaryShowsPhasesAndWeights deploys the example's web service
// to dev twice; the second deployment is the 3-phase canary, and the
// watch shows its phases, counts and traffic weights.
func TestExampleCanaryShowsPhasesAndWeights(t *testing.T) {
	c, s := newCLI(t)
	c.must("apply", "-f", exampleWorld(t, s, true))
	c.must("push", "web:v1.0.0")
	c.must("push", "web:v1.1.0")
	out := c.must("deploy", "shop/web", "--env", "dev", "--image", "v1.0.0", "--watch")
	if !strings.Contains(out, "SUCCEEDED after") {
		t.Fatalf("first deployment:\n%s", out)
	}
	out = c.must("deploy", "shop/web", "--env", "dev", "--image", "v1.1.0", "--watch")
	t.Logf("canary:\n%s", out)
	for _, re := range []string{
		`STATE +RUNNING  phase 1/3  step \d+/\d+  new 1 old 2  traffic new 10% old 90%`,
		`STATE +RUNNING  phase 2/3  step \d+/\d+  new 1 old 2  traffic new 50% old 50%`,
		`STATE +SUCCEEDED  phase 3/3  step 14/14  new 2 old 0  traffic new 100% old 0%`,
		`TRAFFIC`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("canary watch lacks %s", re)
		}
	}
}

// TestExamplePipelineFromPushThroughApprovalToProd: a push of web:v1.0.0
// starts the example's pipeline through its trigger; it deploys dev, waits
// for approval, is approved from the CLI, and deploys prod.
func TestExamplePipelineFromPushThroughApprovalToProd(t *testing.T) {
	c, s := newCLI(t)
	c.must("apply", "-f", exampleWorld(t, s, false))
	c.must("push", "web:v1.0.0")
	var id string
	deadline := time.Now().Add(20 * time.Second)
	for id == "" && time.Now().Before(deadline) {
		var xs []model.PipelineExecution
		if err := json.Unmarshal([]byte(c.must("pipeline", "list", "shop/web-release", "-o", "json")), &xs); err != nil {
			t.Fatal(err)
		}
		if len(xs) > 0 {
			id = xs[0].ID
		}
		time.Sleep(20 * time.Millisecond)
	}
	if id == "" {
		t.Fatal("the push started no pipeline execution")
	}
	for time.Now().Before(deadline) {
		var x model.PipelineExecution
		if err := json.Unmarshal([]byte(c.must("pipeline", "status", id, "-o", "json")), &x); err != nil {
			t.Fatal(err)
		}
		if x.Status == model.PipelineWaitingApproval {
			break
		}
		if x.Status.Final() {
			t.Fatalf("pipeline ended %s before its approval: %s", x.Status, c.must("pipeline", "status", id))
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := c.must("pipeline", "status", id)
	t.Logf("at the approval:\n%s", st)
	if !regexp.MustCompile(`dev +WORKFLOW +SUCCEEDED  deployment dep-\S+ SUCCEEDED`).MatchString(st) ||
		!regexp.MustCompile(`approve-prod +APPROVAL +WAITING_APPROVAL`).MatchString(st) {
		t.Fatalf("pipeline status at the approval:\n%s", st)
	}
	if out := c.must("approve", id, "--comment", "dev looks good"); !strings.Contains(out, "approve accepted: pipeline execution "+id) {
		t.Errorf("approve: %s", out)
	}
	out, err := c.run("pipeline", "status", id, "--watch")
	t.Logf("pipeline status --watch:\n%s", out)
	if err != nil {
		t.Fatalf("pipeline status --watch: %v", err)
	}
	for _, re := range []string{`approve-prod +APPROVAL +SUCCEEDED  approved by \S+ \(dev looks good\)`,
		`prod +WORKFLOW +SUCCEEDED  deployment dep-\S+ SUCCEEDED`, `pipeline execution ` + id + ` SUCCEEDED`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("pipeline watch lacks %s", re)
		}
	}
	if _, err := c.run("rollback", id); err == nil || !strings.Contains(err.Error(), "can only be approved or rejected") {
		t.Errorf("rollback of a pipeline execution: %v", err)
	}
}
