package pipeline_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/steps"
	"github.com/ecsflow/ecsflow/internal/store"
)

// deploy starts a standalone deployment of the web service through the API.
func (s *stack) deploy(t *testing.T, workflow, tag string) *model.Deployment {
	t.Helper()
	var d model.Deployment
	req := api.DeploymentRequest{AppID: s.ids.app, WorkflowID: workflow, ServiceID: s.ids.svc, Artifact: api.ArtifactRequest{Tag: tag}}
	if code := s.call(t, http.MethodPost, "/v1/deployments", req, &d); code != http.StatusCreated && code != http.StatusAccepted {
		t.Fatalf("deploy %s: %d", tag, code)
	}
	return &d
}

// waitDeployment waits (bounded in real time) for the deployment's
// execution to end: its FINISH step, which announces the end, has returned.
func (s *stack) waitDeployment(t *testing.T, id string) *model.Deployment {
	t.Helper()
	d := s.deployment(t, id)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.sfn.WaitExecution(ctx, d.ExecutionARN); err != nil {
		t.Fatalf("deployment %s: execution %s did not end: %v", id, d.ExecutionARN, err)
	}
	return s.deployment(t, id)
}

// deploymentNotes are the statuses announced for deployment id, in arrival order.
func deploymentNotes(t *testing.T, got []notification, id string) []string {
	t.Helper()
	var out []string
	for _, n := range got {
		if n.DetailType != steps.DetailTypeDeployment {
			continue
		}
		var d steps.DeploymentDetail
		if err := json.Unmarshal(n.Detail, &d); err != nil {
			t.Fatalf("deployment detail: %v", err)
		}
		if d.DeploymentID == id {
			out = append(out, d.Status)
		}
	}
	return out
}

// TestStandaloneDeploymentsNotify: deployments started through the API,
// outside any pipeline, are announced on the bus too, each status once and
// in order: a rolling deployment STARTED then SUCCEEDED; one whose alarm
// fires during verification STARTED then ROLLED_BACK, with its reason.
func TestStandaloneDeploymentsNotify(t *testing.T) {
	s := newStack(t)
	dev := s.ids.workflows[0]

	ok := s.deploy(t, dev, "v1")
	if d := s.waitDeployment(t, ok.ID); d.Status != model.StatusSucceeded {
		t.Fatalf("first deployment %s (%s)", d.Status, d.Reason)
	}
	if got := strings.Join(deploymentNotes(t, s.notifications(t), ok.ID), ","); got != "STARTED,SUCCEEDED" {
		t.Fatalf("notifications of %s: %q, want STARTED,SUCCEEDED", ok.ID, got)
	}

	s.w.SetAlarm(t, "dev-5xx", cwtypes.StateValueAlarm)
	bad := s.deploy(t, dev, "v2")
	d := s.waitDeployment(t, bad.ID)
	if d.Status != model.StatusRolledBack {
		t.Fatalf("second deployment %s (%s), want ROLLED_BACK", d.Status, d.Reason)
	}
	got := s.notifications(t)
	if notes := strings.Join(deploymentNotes(t, got, bad.ID), ","); notes != "STARTED,ROLLED_BACK" {
		t.Fatalf("notifications of %s: %q, want STARTED,ROLLED_BACK", bad.ID, notes)
	}
	if notes := strings.Join(deploymentNotes(t, got, ok.ID), ","); notes != "STARTED,SUCCEEDED" {
		t.Fatalf("notifications of %s changed to %q", ok.ID, notes)
	}
	for _, n := range got {
		var dd steps.DeploymentDetail
		_ = json.Unmarshal(n.Detail, &dd)
		if dd.DeploymentID == bad.ID && dd.Status == steps.NotifyRolledBack {
			if dd.Reason == "" || dd.PipelineExecutionID != "" || dd.Strategy != string(model.StrategyRolling) || dd.Artifact.Tag != "v2" {
				t.Errorf("ROLLED_BACK detail %+v: want the reason, no pipeline, ROLLING, tag v2", dd)
			}
		}
	}
}

// TestStandaloneApprovalNotifies: a standalone deployment whose workflow
// verifies with an approval announces APPROVAL_NEEDED between STARTED and
// its end, once.
func TestStandaloneApprovalNotifies(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	dev, err := store.Get[*model.Workflow](ctx, s.st, s.ids.workflows[0])
	if err != nil {
		t.Fatal(err)
	}
	gated := *dev
	gated.Meta = model.Meta{}
	gated.Name = "dev-gated"
	gated.Verification.Approval = &model.Approval{TimeoutSeconds: 3600}
	if err := s.st.Create(ctx, &gated); err != nil {
		t.Fatal(err)
	}
	d := s.deploy(t, gated.ID, "v1")
	deadline := time.Now().Add(30 * time.Second)
	for s.deployment(t, d.ID).Status != model.StatusWaitingApproval {
		if time.Now().After(deadline) || s.deployment(t, d.ID).Status.Final() {
			t.Fatalf("deployment %s never waited for approval", s.deployment(t, d.ID).Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code := s.call(t, http.MethodPost, "/v1/deployments/"+d.ID+"/approve", api.ControlRequest{Comment: "ok"}, nil); code != http.StatusOK {
		t.Fatalf("approve: %d", code)
	}
	if got := s.waitDeployment(t, d.ID); got.Status != model.StatusSucceeded {
		t.Fatalf("deployment %s (%s)", got.Status, got.Reason)
	}
	if notes := strings.Join(deploymentNotes(t, s.notifications(t), d.ID), ","); notes != "STARTED,APPROVAL_NEEDED,SUCCEEDED" {
		t.Fatalf("notifications %q, want STARTED,APPROVAL_NEEDED,SUCCEEDED", notes)
	}
}
