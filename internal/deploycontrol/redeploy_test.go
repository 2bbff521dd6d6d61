package deploycontrol_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/deploycontrol"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// ended records an ended deployment with the given last known good (nil:
// none) and returns it.
func (e *env) ended(t *testing.T, status model.Status, lkg *model.Revision, tag string) *model.Deployment {
	t.Helper()
	d := &model.Deployment{ApplicationID: e.graph.app, WorkflowID: e.graph.wf, ServiceID: e.graph.svc,
		EnvironmentID: e.graph.envID, InfrastructureID: e.graph.infra, Status: status, Strategy: model.StrategyRolling,
		Artifact: model.Artifact{Image: "123.dkr.ecr.us-east-1.amazonaws.com/web", Tag: tag}, LastKnownGood: lkg,
		NewRevision: &model.Revision{ServiceName: "web", TaskDefinitionARN: "arn:aws:ecs:us-east-1:1:task-definition/web:" + tag}}
	if err := e.st.Create(context.Background(), d); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	return d
}

func TestPlanRollbackRedeploy(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	first := e.ended(t, model.StatusSucceeded, nil, "v1")
	good := &model.Revision{ServiceName: "web", TaskDefinitionARN: first.NewRevision.TaskDefinitionARN, DeploymentID: first.ID, Image: first.Artifact.Reference()}
	failed := e.ended(t, model.StatusFailed, good, "v2")
	running := e.deployment(t, model.StatusRunning, "")
	second := e.ended(t, model.StatusSucceeded, good, "v3")

	nd, err := e.ctrl.PlanRollbackRedeploy(ctx, second.ID, "alice", "bad release")
	if err != nil {
		t.Fatalf("plan the rollback of %s: %v", second.ID, err)
	}
	if nd.ID == "" || nd.Status != model.StatusQueued || nd.WorkflowID != second.WorkflowID || nd.ServiceID != second.ServiceID {
		t.Fatalf("redeploy %+v, want a QUEUED deployment of the same workflow and service", nd)
	}
	if got := deploycontrol.RollbackOf(nd); got != second.ID || nd.TriggeredBy.Principal != "alice" {
		t.Fatalf("redeploy triggered by %+v, want a rollback of %s by alice", nd.TriggeredBy, second.ID)
	}
	if nd.Artifact != first.Artifact {
		t.Fatalf("redeploy artifact %+v, want the last known good's %+v", nd.Artifact, first.Artifact)
	}
	if !strings.Contains(nd.Reason, "bad release") || !strings.Contains(nd.Reason, good.TaskDefinitionARN) {
		t.Fatalf("reason %q, want the comment and the revision", nd.Reason)
	}

	refused := func(t *testing.T, id, want string) {
		t.Helper()
		_, err := e.ctrl.PlanRollbackRedeploy(ctx, id, "bob", "")
		if !errors.Is(err, api.ErrWrongState) || !strings.Contains(err.Error(), want) {
			t.Fatalf("plan the rollback of %s = %v, want ErrWrongState saying %q", id, err, want)
		}
		entries, _, lerr := e.st.Ledger(ctx, id, store.Page{Limit: 10})
		if lerr != nil || len(entries) == 0 || entries[len(entries)-1].Kind != model.LedgerRollback || !strings.Contains(entries[len(entries)-1].Message, "refused") {
			t.Fatalf("ledger of %s = %+v (%v), want the refusal recorded", id, entries, lerr)
		}
	}
	tests := []struct{ name, id, want string }{
		{"a later success", first.ID, second.ID + " of the same service succeeded after it"},
		{"failed", failed.ID, "ended FAILED"},
		{"not ended", running, "not ended"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { refused(t, tc.id, tc.want) })
	}
	// Once the redeploy is recorded, and until it ends, a second rollback
	// of the same deployment is refused.
	if err := e.st.Create(ctx, nd); err != nil {
		t.Fatal(err)
	}
	t.Run("rollback in progress", func(t *testing.T) { refused(t, second.ID, "is already rolling it back") })
}

func TestPlanRollbackRedeployOfTheFirstSuccess(t *testing.T) {
	e := newEnv(t, nil)
	d := e.ended(t, model.StatusSucceeded, nil, "v1")
	_, err := e.ctrl.PlanRollbackRedeploy(context.Background(), d.ID, "bob", "")
	if !errors.Is(err, api.ErrWrongState) || !strings.Contains(err.Error(), "no earlier revision to go back to") {
		t.Fatalf("plan the rollback of the first success = %v, want ErrWrongState: nothing earlier", err)
	}
}

func TestArtifactFromImageWhenTheDeploymentIsGone(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	tests := []struct {
		name, image string
		want        model.Artifact
	}{
		{"digest", "reg:5000/web@sha256:" + strings.Repeat("a", 64), model.Artifact{Image: "reg:5000/web", Digest: "sha256:" + strings.Repeat("a", 64)}},
		{"tag", "reg:5000/web:v1", model.Artifact{Image: "reg:5000/web", Tag: "v1"}},
		{"bare", "reg:5000/web", model.Artifact{Image: "reg:5000/web"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lkg := &model.Revision{ServiceName: "web", TaskDefinitionARN: "arn:td/web:1", DeploymentID: "dep-gone", Image: tc.image}
			d := e.ended(t, model.StatusSucceeded, lkg, "v"+tc.name)
			nd, err := e.ctrl.PlanRollbackRedeploy(ctx, d.ID, "alice", "")
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			if nd.Artifact != tc.want {
				t.Fatalf("artifact %+v, want %+v", nd.Artifact, tc.want)
			}
		})
	}
}

// The redeploy renders the revision it goes back to as it was rendered: it
// takes the workflow variables of the deployment that made that revision,
// not those of the deployment rolled back.
func TestPlanRollbackRedeployKeepsTheRedeployedRevisionsVariables(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	create := func(t *testing.T, tag string, lkg *model.Revision, vars map[string]string) *model.Deployment {
		t.Helper()
		d := &model.Deployment{ApplicationID: e.graph.app, WorkflowID: e.graph.wf, ServiceID: e.graph.svc,
			EnvironmentID: e.graph.envID, InfrastructureID: e.graph.infra, Status: model.StatusSucceeded, Strategy: model.StrategyRolling,
			Artifact: model.Artifact{Image: "123.dkr.ecr.us-east-1.amazonaws.com/web", Tag: tag}, LastKnownGood: lkg, Variables: vars,
			NewRevision: &model.Revision{ServiceName: "web", TaskDefinitionARN: "arn:aws:ecs:us-east-1:1:task-definition/web:" + tag}}
		if err := e.st.Create(ctx, d); err != nil {
			t.Fatalf("create deployment: %v", err)
		}
		return d
	}
	first := create(t, "v1", nil, map[string]string{"ZONE": "a", "TIER": "gold"})
	good := &model.Revision{ServiceName: "web", TaskDefinitionARN: first.NewRevision.TaskDefinitionARN, DeploymentID: first.ID, Image: first.Artifact.Reference()}
	second := create(t, "v2", good, map[string]string{"ZONE": "b"})

	nd, err := e.ctrl.PlanRollbackRedeploy(ctx, second.ID, "alice", "")
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	want := map[string]string{"ZONE": "a", "TIER": "gold"}
	if len(nd.Variables) != len(want) || nd.Variables["ZONE"] != "a" || nd.Variables["TIER"] != "gold" {
		t.Fatalf("redeploy variables %v, want %v (those of %s)", nd.Variables, want, first.ID)
	}
	// A copy: the redeploy's map is its own.
	nd.Variables["ZONE"] = "z"
	again, err := e.ctrl.PlanRollbackRedeploy(ctx, second.ID, "alice", "")
	if err != nil || again.Variables["ZONE"] != "a" {
		t.Fatalf("second plan variables %v (%v), want ZONE=a", again.Variables, err)
	}
	// Recorded, the redeploy keeps them.
	if err := e.st.Create(ctx, again); err != nil {
		t.Fatal(err)
	}
	got, err := e.st.Get(ctx, model.KindDeployment, again.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v := got.(*model.Deployment).Variables; v["ZONE"] != "a" || v["TIER"] != "gold" {
		t.Fatalf("stored redeploy variables %v, want %v", v, want)
	}

	// The deployment that made the revision is gone: no variables to copy.
	gone := &model.Revision{ServiceName: "web", TaskDefinitionARN: "arn:td/web:9", DeploymentID: "dep-gone", Image: "reg/web:v9"}
	third := create(t, "v3", gone, map[string]string{"ZONE": "c"})
	nd, err = e.ctrl.PlanRollbackRedeploy(ctx, third.ID, "alice", "")
	if err != nil {
		t.Fatalf("plan without the source deployment: %v", err)
	}
	if len(nd.Variables) != 0 {
		t.Fatalf("variables %v, want none (not the rolled-back deployment's)", nd.Variables)
	}
}
