// Package ebnotify puts ecsflow's status notifications on an EventBridge
// bus (internal/notification names them). It is the only ecsflow package
// that links the EventBridge client for notifications: the deployment
// steps that notify (prepare, approval, finish) wire it from their main
// (steps.WithNotifier), so the other steps do not carry that client.
package ebnotify

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

// EventPutter is the part of *eventbridge.Client a notifier uses; the
// local bus (internal/eventbus, served over HTTP) answers the same call.
type EventPutter interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

var _ EventPutter = (*eventbridge.Client)(nil)

// Notifier puts notifications on an EventBridge bus. A nil *Notifier puts
// nothing.
type Notifier struct {
	client EventPutter
	bus    string
	now    func() time.Time
}

// New returns a notifier putting events on bus (a name or ARN; "" is the
// account's default bus); now may be nil (time.Now).
func New(client EventPutter, bus string, now func() time.Time) *Notifier {
	if now == nil {
		now = time.Now
	}
	return &Notifier{client: client, bus: bus, now: now}
}

// NewFromConfig returns a notifier with an EventBridge client built from
// cfg, putting events on bus.
func NewFromConfig(cfg aws.Config, bus string) *Notifier {
	return New(eventbridge.NewFromConfig(cfg), bus, nil)
}

// NotifyDeployment puts d's status as an "ecsflow Deployment Status" event.
func (n *Notifier) NotifyDeployment(ctx context.Context, d *model.Deployment, status string) error {
	if n == nil {
		return nil
	}
	return n.Put(ctx, notification.DetailTypeDeployment, d.ID, notification.DeploymentDetailOf(d, status))
}

// Put puts one event of source "ecsflow" with detail as its JSON detail and
// resource as its only resource.
func (n *Notifier) Put(ctx context.Context, detailType, resource string, detail any) error {
	if n == nil {
		return nil
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("encode %s: %w", detailType, err)
	}
	e := ebtypes.PutEventsRequestEntry{
		Source: aws.String(notification.Source), DetailType: aws.String(detailType), Detail: aws.String(string(b)),
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
