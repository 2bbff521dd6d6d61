package pipeline

import (
	"context"
	"log/slog"
	"time"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/notification"
	"github.com/ecsflow/ecsflow/internal/notification/ebnotify"
)

// Notification detail types and source on the project's EventBridge bus.
// Deployment notifications are published by the deployment engine for
// every deployment (internal/notification); the pipeline steps publish the
// pipeline's own.
const (
	DetailTypeDeployment = notification.DetailTypeDeployment
	DetailTypePipeline   = "ecsflow Pipeline Status"
	EventSource          = notification.Source
)

// Notified statuses (the detail's "status").
const (
	NotifyStarted        = notification.Started
	NotifySucceeded      = notification.Succeeded
	NotifyFailed         = notification.Failed
	NotifyRolledBack     = notification.RolledBack
	NotifyAborted        = notification.Aborted
	NotifyApprovalNeeded = notification.ApprovalNeeded
)

// EventPutter is the part of *eventbridge.Client the notifier uses; the
// local bus (internal/eventbus, served over HTTP) answers the same calls.
type EventPutter = ebnotify.EventPutter

// Notifier publishes deployment and pipeline status events. A nil
// *Notifier publishes nothing.
type Notifier struct {
	events *ebnotify.Notifier
	log    *slog.Logger
}

// NewNotifier returns a notifier putting events on bus (a name or ARN;
// "" is the default bus).
func NewNotifier(client EventPutter, bus string, log *slog.Logger, now func() time.Time) *Notifier {
	if log == nil {
		log = slog.Default()
	}
	return &Notifier{events: ebnotify.New(client, bus, now), log: log}
}

// PipelineDetail is the detail of an "ecsflow Pipeline Status" event.
type PipelineDetail struct {
	Status              string         `json:"status"`
	PipelineExecutionID string         `json:"pipelineExecutionId"`
	PipelineID          string         `json:"pipelineId"`
	PipelineName        string         `json:"pipelineName,omitempty"`
	AppID               string         `json:"appId"`
	Stage               string         `json:"stage,omitempty"`
	FailedStage         string         `json:"failedStage,omitempty"`
	Reason              string         `json:"reason,omitempty"`
	Artifact            model.Artifact `json:"artifact"`
	Approvers           []string       `json:"approvers,omitempty"`
	Message             string         `json:"message,omitempty"`
}

// DeploymentDetail is the detail of an "ecsflow Deployment Status" event.
type DeploymentDetail = notification.DeploymentDetail

// DeploymentStatusOf maps a deployment's status to the notified one ("" when
// the status is not notified).
func DeploymentStatusOf(s model.Status) string {
	switch s {
	case model.StatusRunning:
		return NotifyStarted
	case model.StatusSucceeded:
		return NotifySucceeded
	case model.StatusFailed:
		return NotifyFailed
	case model.StatusAborted:
		return NotifyAborted
	case model.StatusRolledBack:
		return NotifyRolledBack
	case model.StatusWaitingApproval:
		return NotifyApprovalNeeded
	}
	return ""
}

// Deployment publishes d's status as an "ecsflow Deployment Status" event.
func (n *Notifier) Deployment(ctx context.Context, d *model.Deployment, status string) error {
	if n == nil {
		return nil
	}
	return n.events.NotifyDeployment(ctx, d, status)
}

// Pipeline publishes an "ecsflow Pipeline Status" event.
func (n *Notifier) Pipeline(ctx context.Context, detail PipelineDetail) error {
	if n == nil {
		return nil
	}
	return n.events.Put(ctx, DetailTypePipeline, detail.PipelineExecutionID, detail)
}

// publish sends and logs a failure: a notification never fails a stage.
func (n *Notifier) publish(ctx context.Context, detail PipelineDetail) {
	if err := n.Pipeline(ctx, detail); err != nil {
		n.log.WarnContext(ctx, "pipeline notification not sent", "pipeline_execution_id", detail.PipelineExecutionID,
			"status", detail.Status, "error", err)
	}
}
