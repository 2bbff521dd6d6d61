package part2

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/ecsflow/ecsflow/internal/model"
)

// rollbackRefused POSTs a rollback that must be refused with 409 and a
// message containing want.
func (h *harness) rollbackRefused(id, want string) {
	h.tb.Helper()
	code, raw := h.call(http.MethodPost, "/v1/deployments/"+id+"/rollback", map[string]string{"comment": "try"}, nil)
	if code != http.StatusConflict || !strings.Contains(string(raw), want) {
		h.tb.Fatalf("POST rollback of %s: %d %s, want 409 saying %q", id, code, raw, want)
	}
}

func TestBlueGreenRollbackAfterBakeRedeploysLastKnownGood(t *testing.T) {
	h := newHarness(t, options{workflow: blueGreen(model.BlueGreenELB, false, nil, 0, 10)})
	d1, _ := h.finish(h.start("v1"), model.StatusSucceeded)
	// The first successful deployment has nothing earlier to go back to.
	h.rollbackRefused(d1.ID, "no earlier revision to go back to")

	d2, _ := h.finish(h.start("v2"), model.StatusSucceeded)
	h.expectRevisions(map[string]int32{"web__1": 0, "web__2": 4})
	if d2.LastKnownGood == nil || d2.LastKnownGood.TaskDefinitionARN != d1.NewRevision.TaskDefinitionARN {
		t.Fatalf("v2's last known good %+v, want v1's %s", d2.LastKnownGood, d1.NewRevision.TaskDefinitionARN)
	}
	blueTasks := h.tasks("web__2")

	// Blue's bake is over: the rollback is a redeploy of v1's revision.
	var rb model.Deployment
	code, raw := h.call(http.MethodPost, "/v1/deployments/"+d2.ID+"/rollback", map[string]string{"comment": "v2 leaks memory"}, &rb)
	if code != http.StatusAccepted || rb.ID == "" || rb.ID == d2.ID {
		t.Fatalf("POST rollback after the bake: %d %s, want 202 with a new deployment", code, raw)
	}
	if rb.TriggeredBy.Kind != model.TriggeredByRollback || rb.TriggeredBy.ID != d2.ID || rb.TriggeredBy.Principal == "" {
		t.Fatalf("redeploy triggered by %+v, want a rollback of %s by someone", rb.TriggeredBy, d2.ID)
	}
	if rb.Artifact.Tag != "v1" || rb.Artifact.Reference() != d1.Artifact.Reference() {
		t.Fatalf("redeploy artifact %+v, want v1's %s", rb.Artifact, d1.Artifact.Reference())
	}
	if rb.Strategy != model.StrategyBlueGreen || rb.WorkflowID != d2.WorkflowID || rb.ExecutionARN == "" {
		t.Fatalf("redeploy %+v, want a started BLUE_GREEN deployment of the same workflow", rb)
	}
	// While it runs, a second rollback of v2 is refused.
	h.rollbackRefused(d2.ID, "already rolling it back")

	r, ledger := h.finish(rb.ID, model.StatusSucceeded)
	if r.NewRevision == nil || r.NewRevision.TaskDefinitionARN != d1.NewRevision.TaskDefinitionARN {
		t.Fatalf("redeploy's revision %+v, want v1's task definition %s reused", r.NewRevision, d1.NewRevision.TaskDefinitionARN)
	}
	if r.NewRevision.ServiceName != "web__3" || r.LastKnownGood == nil || r.LastKnownGood.DeploymentID != d2.ID {
		t.Fatalf("redeploy %+v (last known good %+v), want web__3 replacing v2's revision", r.NewRevision, r.LastKnownGood)
	}
	var reused bool
	for _, s := range r.Steps {
		reused = reused || (s.Name == "REGISTER_TASK_DEFINITION" && strings.Contains(s.Result, "reused"))
	}
	if !reused {
		t.Fatalf("steps %+v, want REGISTER_TASK_DEFINITION to reuse the last known good", r.Steps)
	}
	var queued bool
	for _, l := range ledger {
		queued = queued || (l.Kind == model.LedgerStatus && strings.Contains(l.Message, "rollback of "+d2.ID))
	}
	if !queued {
		t.Fatalf("the redeploy's ledger does not say it rolls back %s", d2.ID)
	}
	// Exactly the expected services: green (web__3, v1's task definition)
	// at full count, the others downsized.
	h.expectRevisions(map[string]int32{"web__2": 0, "web__3": 4})
	if got := h.weights(h.prod); got[h.tgs[0]] != 100 || got[h.tgs[1]] != 0 {
		t.Fatalf("production weights %v, want 100 on web__3's %s", got, h.tgs[0])
	}
	if len(blueTasks) != 4 {
		t.Fatalf("v2 ran %d tasks, want 4", len(blueTasks))
	}

	// The original's ledger names the redeploy.
	_, orig := h.get(d2.ID)
	var named bool
	for _, l := range orig {
		if l.Kind != model.LedgerRollback || !strings.Contains(l.Message, "done") {
			continue
		}
		var data struct{ Redeploy string }
		if err := json.Unmarshal(l.Data, &data); err == nil && data.Redeploy == rb.ID {
			named = true
		}
	}
	if !named {
		t.Fatalf("v2's ledger has no rollback entry naming the redeploy %s", rb.ID)
	}
	// v2 is no longer what runs: its rollback is done, and rolling back
	// v1 would skip the newer redeploy.
	h.rollbackRefused(d2.ID, rb.ID+" of the same service succeeded after it")
	h.rollbackRefused(d1.ID, "succeeded after it")
	// An unknown deployment is still 404.
	if code, raw := h.call(http.MethodPost, "/v1/deployments/dep-0000/rollback", nil, nil); code != http.StatusNotFound {
		t.Fatalf("POST rollback of an unknown deployment: %d %s, want 404", code, raw)
	}
}
