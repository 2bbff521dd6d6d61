package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ecsflow/ecsflow/internal/model"
)

// RecordingController is the Controller used until the deployment engine
// exists. It records every request in the deployment's ledger. The only
// thing it can act on is a deployment that has not started running: abort
// or rollback of a QUEUED deployment moves it to ABORTED (nothing was
// deployed, so there is nothing to roll back). Approve and reject need
// WAITING_APPROVAL, which only the engine produces; any request it cannot
// carry out is refused with ErrWrongState or ErrNoEngine (409). It does not
// stop a started Step Functions execution.
type RecordingController struct {
	repo Repository
	now  func() time.Time
}

var _ Controller = (*RecordingController)(nil)

// ControllerOption configures a RecordingController.
type ControllerOption func(*RecordingController)

// WithControllerClock sets the clock for ledger entries and end times.
func WithControllerClock(now func() time.Time) ControllerOption {
	return func(c *RecordingController) { c.now = now }
}

// NewRecordingController returns a RecordingController on repo.
func NewRecordingController(repo Repository, opts ...ControllerOption) *RecordingController {
	c := &RecordingController{repo: repo, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Approve records the request; it is refused unless the deployment waits for
// approval, and then refused too because no engine is connected to resume it.
func (c *RecordingController) Approve(ctx context.Context, id, principal, comment string) error {
	return c.gate(ctx, id, principal, comment, "approve")
}

// Reject records the request, refused like Approve.
func (c *RecordingController) Reject(ctx context.Context, id, principal, comment string) error {
	return c.gate(ctx, id, principal, comment, "reject")
}

// Rollback aborts a QUEUED deployment (nothing was deployed); any other
// active deployment needs the engine.
func (c *RecordingController) Rollback(ctx context.Context, id, principal, comment string) error {
	return c.stop(ctx, id, principal, comment, "rollback", model.LedgerRollback)
}

// Abort aborts a QUEUED deployment; any other active deployment needs the engine.
func (c *RecordingController) Abort(ctx context.Context, id, principal, comment string) error {
	return c.stop(ctx, id, principal, comment, "abort", model.LedgerStatus)
}

func (c *RecordingController) gate(ctx context.Context, id, principal, comment, action string) error {
	d, err := c.load(ctx, id)
	if err != nil {
		return err
	}
	var refusal error
	if d.Status != model.StatusWaitingApproval {
		refusal = fmt.Errorf("%s needs status %s, deployment %s is %s: %w", action, model.StatusWaitingApproval, id, d.Status, ErrWrongState)
	} else {
		refusal = fmt.Errorf("%s of deployment %s recorded, but nothing can resume it: %w", action, id, ErrNoEngine)
	}
	return c.record(ctx, d, model.LedgerApproval, action, principal, comment, refusal)
}

func (c *RecordingController) stop(ctx context.Context, id, principal, comment, action, kind string) error {
	d, err := c.load(ctx, id)
	if err != nil {
		return err
	}
	switch {
	case d.Status.Final():
		return c.record(ctx, d, kind, action, principal, comment,
			fmt.Errorf("%s: deployment %s already ended %s: %w", action, id, d.Status, ErrWrongState))
	case d.Status != model.StatusQueued:
		return c.record(ctx, d, kind, action, principal, comment,
			fmt.Errorf("%s of a %s deployment needs the deployment engine: %w", action, d.Status, ErrNoEngine))
	}
	err = mutateDeployment(ctx, c.repo, id, func(cur *model.Deployment) error {
		if err := model.Transition(cur.Status, model.StatusAborted); err != nil {
			return fmt.Errorf("%s: %v: %w", action, err, ErrWrongState)
		}
		now := c.now().UTC()
		cur.Status, cur.EndedAt = model.StatusAborted, &now
		cur.Reason = fmt.Sprintf("%s requested by %s before it started", action, principal)
		if comment != "" {
			cur.Reason += ": " + comment
		}
		return nil
	})
	if err != nil {
		return c.record(ctx, d, kind, action, principal, comment, err)
	}
	return c.record(ctx, d, kind, action, principal, comment, nil)
}

func (c *RecordingController) load(ctx context.Context, id string) (*model.Deployment, error) {
	e, err := c.repo.Get(ctx, model.KindDeployment, id)
	if err != nil {
		return nil, fmt.Errorf("get deployment %s: %w", id, err)
	}
	d, ok := e.(*model.Deployment)
	if !ok {
		return nil, fmt.Errorf("get deployment %s: store returned %T", id, e)
	}
	return d, nil
}

// record writes the request and its outcome to the ledger and returns outcome.
func (c *RecordingController) record(ctx context.Context, d *model.Deployment, kind, action, principal, comment string, outcome error) error {
	msg := fmt.Sprintf("%s requested by %s", action, principal)
	if comment != "" {
		msg += " (" + comment + ")"
	}
	switch {
	case outcome == nil:
		msg += ": deployment ABORTED before it started"
	case errors.Is(outcome, ErrWrongState), errors.Is(outcome, ErrNoEngine):
		msg += ": refused: " + outcome.Error()
	default:
		msg += ": failed: " + outcome.Error()
	}
	entry := model.LedgerEntry{DeploymentID: d.ID, At: c.now().UTC(), Kind: kind, Message: msg}
	if err := c.repo.AppendLedger(context.WithoutCancel(ctx), d.ID, entry); err != nil {
		if outcome != nil {
			return outcome
		}
		return fmt.Errorf("record %s in the ledger: %w", action, err)
	}
	return outcome
}
