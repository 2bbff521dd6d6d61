package notification_test

import (
	"encoding/json"
	"testing"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/notification"
)

// TestDeploymentDetailOfOnTheWire: subscribers match on the detail's JSON
// field names, so the detail of a deployment has exactly these.
func TestDeploymentDetailOfOnTheWire(t *testing.T) {
	d := &model.Deployment{Meta: model.Meta{ID: "dep-1"}, ApplicationID: "app", WorkflowID: "wf", ServiceID: "svc",
		EnvironmentID: "prod", InfrastructureID: "infra", PipelineExecutionID: "plx-1", Status: model.StatusRolledBack,
		Strategy: model.StrategyCanary, Reason: "alarm web-5xx",
		Artifact: model.Artifact{Repository: "web", Image: "1.dkr.ecr.us-east-1.amazonaws.com/web", Tag: "v2", Digest: "sha256:ab"}}
	b, err := json.Marshal(notification.DeploymentDetailOf(d, notification.RolledBack))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"status": "ROLLED_BACK", "deploymentId": "dep-1", "appId": "app", "workflowId": "wf", "serviceId": "svc",
		"envId": "prod", "strategy": "CANARY", "pipelineExecutionId": "plx-1", "reason": "alarm web-5xx",
		"artifact": map[string]any{"repository": "web", "image": "1.dkr.ecr.us-east-1.amazonaws.com/web", "tag": "v2", "digest": "sha256:ab"},
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("detail = %s\nwant     %s", gotJSON, wantJSON)
	}

	// Optional fields are left out when empty.
	b, err = json.Marshal(notification.DeploymentDetailOf(&model.Deployment{Meta: model.Meta{ID: "dep-2"}}, notification.Started))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"status":"STARTED","deploymentId":"dep-2","appId":"","workflowId":"","serviceId":"","envId":"","artifact":{}}`; got != want {
		t.Errorf("minimal detail = %s, want %s", got, want)
	}
}

func TestFinalStatusOf(t *testing.T) {
	tests := []struct {
		status model.Status
		want   string
	}{
		{model.StatusSucceeded, notification.Succeeded},
		{model.StatusFailed, notification.Failed},
		{model.StatusRolledBack, notification.RolledBack},
		{model.StatusAborted, notification.Aborted},
		{model.StatusRunning, ""},
		{model.StatusQueued, ""},
		{model.StatusWaitingApproval, ""},
		{model.Status("NOPE"), ""},
	}
	for _, tc := range tests {
		t.Run(string(tc.status), func(t *testing.T) {
			if got := notification.FinalStatusOf(tc.status); got != tc.want {
				t.Errorf("FinalStatusOf(%s) = %q, want %q", tc.status, got, tc.want)
			}
		})
	}
}
