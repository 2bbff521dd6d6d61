package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/ecsflow/ecsflow/internal/model"
)

// TestRollbackOfASucceededDeploymentRedeploys: worker v1 then v2 succeed;
// `ecsflow rollback <v2>` is answered 202 with a new deployment that
// redeploys v1, and says so and how to follow it. Then v3 succeeds, and
// `ecsflow rollback <v3> --watch` follows its redeploy of v1 to SUCCEEDED.
func TestRollbackOfASucceededDeploymentRedeploys(t *testing.T) {
	c, v1 := deployWorker(t)
	c.must("push", "worker:v2")
	v2 := depID(t, c.must("deploy", "shop/worker", "--env", "dev", "--image", "v2", "--watch"))

	out := c.must("rollback", v2, "--comment", "v2 leaks memory")
	re := regexp.MustCompile(`^rolled back by redeploying \S+/worker:v1: deployment (dep-[0-9a-f]{32}) \((QUEUED|RUNNING)\); ` +
		`follow it with ecsflow status (dep-[0-9a-f]{32}) --watch\n$`)
	m := re.FindStringSubmatch(out)
	if m == nil || m[1] != m[3] || m[1] == v2 || m[1] == v1 {
		t.Fatalf("rollback of a succeeded deployment printed %q, want the redeploy of v1 as a new deployment and how to follow it", out)
	}
	rb := m[1]
	if out, err := c.run("status", rb, "--watch"); err != nil || !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("status --watch of the redeploy: %v\n%s", err, out)
	}

	// --watch: v3 succeeds, and its rollback (to v1, the redeploy's
	// revision) is followed to its end by the rollback command itself.
	c.must("push", "worker:v3")
	v3 := depID(t, c.must("deploy", "shop/worker", "--env", "dev", "--image", "v3", "--watch"))
	out, err := c.run("rollback", v3, "--watch")
	t.Logf("rollback --watch:\n%s", out)
	if err != nil {
		t.Fatalf("rollback --watch: %v", err)
	}
	first, _, _ := strings.Cut(out, "\n")
	m = regexp.MustCompile(`^rolled back by redeploying \S+/worker:v1: deployment (dep-[0-9a-f]{32}) \(\w+\)$`).FindStringSubmatch(first)
	if m == nil || m[1] == v3 || m[1] == rb {
		t.Fatalf("rollback --watch's first line %q, want the new deployment", first)
	}
	if !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("rollback --watch did not follow the new deployment to SUCCEEDED:\n%s", out)
	}
	js := c.must("status", m[1], "-o", "json")
	var d model.Deployment
	if err := json.Unmarshal([]byte(js), &d); err != nil || d.Status != model.StatusSucceeded ||
		d.TriggeredBy.Kind != model.TriggeredByRollback || d.TriggeredBy.ID != v3 || d.Artifact.Tag != "v1" {
		t.Fatalf("the redeploy %+v (%v), want v1 SUCCEEDED, triggered by the rollback of %s", d, err, v3)
	}
}
