package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

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

// Notifier publishes deployment status notifications (*EventNotifier).
type Notifier interface {
	NotifyDeployment(ctx context.Context, d *model.Deployment, status string) error
}

// EventPutter is the part of *eventbridge.Client a notifier uses; the
// local bus (internal/eventbus, served over HTTP) answers the same call.
type EventPutter interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

var _ EventPutter = (*eventbridge.Client)(nil)

// EventNotifier puts notifications on an EventBridge bus.
type EventNotifier struct {
	client EventPutter
	bus    string
	now    func() time.Time
}

var _ Notifier = (*EventNotifier)(nil)

// NewEventNotifier returns a notifier putting events on bus (a name or ARN;
// "" is the account's default bus); now may be nil (time.Now).
func NewEventNotifier(client EventPutter, bus string, now func() time.Time) *EventNotifier {
	if now == nil {
		now = time.Now
	}
	return &EventNotifier{client: client, bus: bus, now: now}
}

// NotifyDeployment puts d's status as an "ecsflow Deployment Status" event.
func (n *EventNotifier) NotifyDeployment(ctx context.Context, d *model.Deployment, status string) error {
	if n == nil {
		return nil
	}
	return n.Put(ctx, DetailTypeDeployment, d.ID, DeploymentDetailOf(d, status))
}

// Put puts one event of source "ecsflow" with detail as its JSON detail and
// resource as its only resource.
func (n *EventNotifier) Put(ctx context.Context, detailType, resource string, detail any) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("encode %s: %w", detailType, err)
	}
	e := ebtypes.PutEventsRequestEntry{
		Source: aws.String(NotifySource), DetailType: aws.String(detailType), Detail: aws.String(string(b)),
		Time: aws.Time(n.now()), Resources: []string{resource},
	}
	if n.bus != "" {
		e.EventBusName = aws.String(n.bus)
	}
	out, err := n.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{e}})
	if err != nil {
		return fmt.Errorf("put %s event: %w", detailType, err)
	}
	if out.FailedEntryCount > 0 && len(out.Entries) > 0 {
		return fmt.Errorf("put %s event: %s: %s", detailType, aws.ToString(out.Entries[0].ErrorCode), aws.ToString(out.Entries[0].ErrorMessage))
	}
	return nil
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

// NotifierFromEnv is the notifier a step Lambda uses: an EventNotifier on
// EVENT_BUS_NAME, or nil when ECSFLOW_NOTIFY is "off".
func NotifierFromEnv(cfg aws.Config, getenv func(string) string) Notifier {
	if getenv(EnvNotify) == "off" {
		return nil
	}
	return NewEventNotifier(eventbridge.NewFromConfig(cfg), getenv(EnvEventBus), nil)
}
