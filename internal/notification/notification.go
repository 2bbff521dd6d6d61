// Package notification names ecsflow's status notifications on the
// project's EventBridge bus: the detail type and source of a deployment's
// status event, the statuses it carries and its detail. It imports only
// internal/model, so every Lambda that publishes or reads these events
// (the deployment steps, the pipeline steps, the API) can share them
// without linking the deployment engine or any AWS client.
//
// Every deployment, started by the API, a trigger or a pipeline, publishes
// each of these statuses once, as an "ecsflow Deployment Status" event
// (source "ecsflow"):
//
//   - STARTED when PREPARE takes the lease and moves it to RUNNING;
//   - APPROVAL_NEEDED each time an approval step starts waiting;
//   - SUCCEEDED, FAILED, ROLLED_BACK or ABORTED when FINISH records the end
//     (or FAILED when PREPARE refuses it under the REJECT policy).
//
// A deployment aborted while QUEUED announces ABORTED once: from FINISH when
// its execution was waiting for the lease, otherwise from the controller
// that recorded the abort (internal/deploycontrol WithNotifier). A
// deployment whose execution did not start publishes nothing.
package notification

import "github.com/ecsflow/ecsflow/internal/model"

// The detail type of a deployment's status event and the source of every
// ecsflow notification.
const (
	DetailTypeDeployment = "ecsflow Deployment Status"
	Source               = "ecsflow"
)

// Notified statuses (the detail's "status").
const (
	Started        = "STARTED"
	Succeeded      = "SUCCEEDED"
	Failed         = "FAILED"
	RolledBack     = "ROLLED_BACK"
	Aborted        = "ABORTED"
	ApprovalNeeded = "APPROVAL_NEEDED"
)

// DeploymentDetail is the detail of an "ecsflow Deployment Status" event.
type DeploymentDetail struct {
	Status              string         `json:"status"`
	DeploymentID        string         `json:"deploymentId"`
	AppID               string         `json:"appId"`
	WorkflowID          string         `json:"workflowId"`
	ServiceID           string         `json:"serviceId"`
	EnvID               string         `json:"envId"`
	Strategy            string         `json:"strategy,omitempty"`
	PipelineExecutionID string         `json:"pipelineExecutionId,omitempty"`
	Reason              string         `json:"reason,omitempty"`
	Artifact            model.Artifact `json:"artifact"`
}

// DeploymentDetailOf is d's notification detail with status.
func DeploymentDetailOf(d *model.Deployment, status string) DeploymentDetail {
	return DeploymentDetail{Status: status, DeploymentID: d.ID, AppID: d.ApplicationID, WorkflowID: d.WorkflowID,
		ServiceID: d.ServiceID, EnvID: d.EnvironmentID, Strategy: string(d.Strategy),
		PipelineExecutionID: d.PipelineExecutionID, Reason: d.Reason, Artifact: d.Artifact}
}

// FinalStatusOf maps a final deployment status to the notified one ("" for
// a status that is not final).
func FinalStatusOf(s model.Status) string {
	switch s {
	case model.StatusSucceeded:
		return Succeeded
	case model.StatusFailed:
		return Failed
	case model.StatusRolledBack:
		return RolledBack
	case model.StatusAborted:
		return Aborted
	}
	return ""
}
