package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
)

// A rollback asked after a rolling deployment succeeded redeploys the last
// known good revision before it: the very task definition, not a new one.
func TestRollingRollbackAfterSuccessRedeploysLastKnownGood(t *testing.T) {
	h := newHarness(t, options{})
	td1 := deployGood(h, 4)
	d2, _ := h.finish(h.start("v2"), model.StatusSucceeded)
	h.expectService(d2.NewRevision.TaskDefinitionARN, 4)

	var rb model.Deployment
	code, raw := h.call(http.MethodPost, "/v1/deployments/"+d2.ID+"/rollback", api.ControlRequest{Comment: "v2 is slow"}, &rb)
	if code != http.StatusAccepted || rb.ID == "" || rb.TriggeredBy.Kind != model.TriggeredByRollback || rb.TriggeredBy.ID != d2.ID {
		t.Fatalf("POST rollback after success: %d %s, want 202 with a rollback of %s", code, raw, d2.ID)
	}
	r, ledger := h.finish(rb.ID, model.StatusSucceeded)
	if r.NewRevision == nil || r.NewRevision.TaskDefinitionARN != td1 {
		t.Fatalf("redeploy revision %+v, want v1's %s", r.NewRevision, td1)
	}
	if n := r.Usage.APICalls["ecs:RegisterTaskDefinition"]; n != 0 {
		t.Fatalf("the redeploy registered %d task definitions, want v1's reused", n)
	}
	h.expectService(td1, 4)
	if count(ledger, model.LedgerStatus, "rollback of "+d2.ID) != 1 {
		t.Fatalf("the redeploy's ledger does not say it rolls back %s", d2.ID)
	}
	_, orig := h.get(d2.ID)
	if count(orig, model.LedgerRollback, rb.ID) != 1 {
		t.Fatalf("v2's ledger does not name its redeploy %s", rb.ID)
	}
	// Nothing is left to roll back: v2 was undone, and the redeploy
	// succeeded after it.
	code, raw = h.control(d2.ID, "rollback", "again")
	if code != http.StatusConflict || !strings.Contains(string(raw), rb.ID) {
		t.Fatalf("second rollback of v2: %d %s, want 409 naming %s", code, raw, rb.ID)
	}
}
