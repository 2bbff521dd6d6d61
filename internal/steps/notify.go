package steps

import (
	"context"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/notification"
)

// Deployment status notifications (internal/notification has the rules):
// the event is sent after the step's record is written, by the invocation
// that made the change, so a retried step does not send it again. A
// notification that cannot be sent is logged; it never fails a step.
const (
	DetailTypeDeployment = notification.DetailTypeDeployment
	NotifySource         = notification.Source
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

// DeploymentDetail is the detail of an "ecsflow Deployment Status" event.
type DeploymentDetail = notification.DeploymentDetail

// DeploymentDetailOf is d's notification detail with status.
func DeploymentDetailOf(d *model.Deployment, status string) DeploymentDetail {
	return notification.DeploymentDetailOf(d, status)
}

// NotifyStatusOf maps a final deployment status to the notified one ("" for
// a status that is not final).
func NotifyStatusOf(s model.Status) string { return notification.FinalStatusOf(s) }

// Notifier publishes deployment status notifications (*ebnotify.Notifier,
// wired by steps.WithNotifier).
type Notifier interface {
	NotifyDeployment(ctx context.Context, d *model.Deployment, status string) error
}

// notify publishes d's status, logging a failure.
func (e *Engine) notify(ctx context.Context, d *model.Deployment, status string) {
	if e.notifier == nil || d == nil || status == "" {
		return
	}
	if err := e.notifier.NotifyDeployment(ctx, d, status); err != nil {
		e.log.WarnContext(ctx, "deployment notification not sent", "deployment_id", d.ID, "status", status, "error", err)
	}
}

// notifyAfter publishes the status of deployment id once the step is
// recorded, when *status is set by then (the step's change made the
// transition).
func (e *Engine) notifyAfter(r *run, id string, status *string) {
	if e.notifier == nil {
		return
	}
	r.after(func(ctx context.Context) error {
		if *status == "" {
			return nil
		}
		d, err := e.load(ctx, id)
		if err != nil {
			e.log.WarnContext(ctx, "deployment notification not sent", "deployment_id", id, "status", *status, "error", err)
			return nil
		}
		e.notify(ctx, d, *status)
		return nil
	})
}

// Environment of the deployment notifications: EnvEventBus is the bus they
// go to ("" = the account's default bus); EnvNotify=off turns them off.
const (
	EnvEventBus = "EVENT_BUS_NAME"
	EnvNotify   = "ECSFLOW_NOTIFY"
)
