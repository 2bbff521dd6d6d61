// Package deploycontrol is the deployment engine's api.Controller: it acts
// on running deployments by completing the Step Functions task tokens they
// wait on (the waits in the store), and records who asked and why in the
// ledger.
//
//	request   needs                              does
//	approve   an APPROVAL wait                   SendTaskSuccess {"approved":true,"by","comment"}; WAITING_APPROVAL → RUNNING
//	reject    an APPROVAL wait                   SendTaskFailure ApprovalRejected
//	rollback  an active deployment with a wait   SendTaskFailure RollbackRequired on each STEADY/VERIFY/APPROVAL wait
//	abort     an active deployment with a wait   SendTaskFailure Aborted on each wait
//
// A rollback of a deployment that ended SUCCEEDED (blue's bake is over:
// nothing is left to swap back) is a new deployment instead: the API asks
// PlanRollbackRedeploy (redeploy.go) for a redeploy of the last known good
// revision before it, records and starts it, and answers 202.
//
// A LEASE wait (a deployment queued behind another) is always failed with
// Aborted: nothing was deployed, so there is nothing to roll back. A QUEUED
// deployment without an execution moves straight to ABORTED, and the
// controller announces that end (WithNotifier) since no FINISH step will. A request the
// deployment's state does not allow — it has ended, it is already rolling
// back (rollback), nothing waits for approval (approve/reject), or a step is
// running and no wait can be interrupted at this moment — returns an error
// wrapping api.ErrWrongState (409). An approval wait may name its approvers
// (store.Wait.Approvers); anyone else gets ErrNotApprover. Every request, carried out or refused,
// is recorded in the ledger.
package deploycontrol

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/notification"
	"github.com/ecsflow/ecsflow/internal/store"
)

// Error names the waiting tasks are failed with (the ASL catches them).
const (
	ErrApprovalRejected = "ApprovalRejected"
	ErrRollbackRequired = "RollbackRequired"
	ErrAborted          = "Aborted"
)

// ErrNotApprover is returned (wrapped) when the principal is not among the
// approvers the approval wait names. It wraps api.ErrWrongState, so the API
// answers 409 (it has no 403 for this yet).
var ErrNotApprover = fmt.Errorf("not an approver: %w", api.ErrWrongState)

// mayApprove reports whether principal is one of approvers (any, when there
// are none). An approver matches the principal exactly, or its last path
// element (alice matches arn:aws:iam::1:user/alice and
// arn:aws:sts::1:assumed-role/Deployers/alice).
func mayApprove(principal string, approvers []string) bool {
	if len(approvers) == 0 {
		return true
	}
	last := principal[strings.LastIndexByte(principal, '/')+1:]
	for _, a := range approvers {
		if a != "" && (a == principal || a == last) {
			return true
		}
	}
	return false
}

// Store is what the controller needs of the store (*store.Store).
type Store interface {
	Get(ctx context.Context, kind model.Kind, id string) (model.Entity, error)
	Update(ctx context.Context, e model.Entity) error
	AppendLedger(ctx context.Context, deploymentID string, entries ...model.LedgerEntry) error
	WaitsForDeployment(ctx context.Context, deploymentID string) ([]store.Wait, error)
	DeleteWait(ctx context.Context, w store.Wait) error
	ListDeployments(ctx context.Context, f store.DeploymentFilter, p store.Page) ([]*model.Deployment, string, error)
}

var _ Store = (*store.Store)(nil)

// TaskCompleter completes Step Functions task tokens (*sfnlocal.Service, or
// ecsevents.SFNCompleter over the SDK client).
type TaskCompleter interface {
	SendTaskSuccess(ctx context.Context, token, output string) error
	SendTaskFailure(ctx context.Context, token, errName, cause string) error
}

// Notifier publishes a deployment's status notification
// (*ebnotify.Notifier). The controller publishes only the end it records
// itself: ABORTED for a QUEUED deployment whose execution never reached
// PREPARE (everything else is announced by the steps).
type Notifier interface {
	NotifyDeployment(ctx context.Context, d *model.Deployment, status string) error
}

// Controller implements api.Controller on the waits of the store.
type Controller struct {
	st       Store
	tc       TaskCompleter
	notifier Notifier
	now      func() time.Time
	log      *slog.Logger
}

var _ api.Controller = (*Controller)(nil)

// Option configures a Controller.
type Option func(*Controller)

// WithClock sets the clock of ledger entries and end times.
func WithClock(now func() time.Time) Option { return func(c *Controller) { c.now = now } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *Controller) { c.log = l } }

// WithNotifier sets the notifier of the ends the controller records (nil,
// the default: none is published).
func WithNotifier(n Notifier) Option { return func(c *Controller) { c.notifier = n } }

// New returns a controller on st that completes tokens through tc.
func New(st Store, tc TaskCompleter, opts ...Option) *Controller {
	c := &Controller{st: st, tc: tc, now: time.Now, log: slog.Default()}
	for _, o := range opts {
		o(c)
	}
	return c
}

// request is one control request.
type request struct {
	id, principal, comment, action string
	ledgerKind                     string
	// done is added to the ledger message of a request carried out.
	done string
}

func (r request) who() string {
	s := r.action + " requested by " + r.principal
	if r.comment != "" {
		s += " (" + r.comment + ")"
	}
	return s
}

// Approve resumes the deployment's pending approval.
func (c *Controller) Approve(ctx context.Context, id, principal, comment string) error {
	r := request{id: id, principal: principal, comment: comment, action: "approve", ledgerKind: model.LedgerApproval}
	return c.approval(ctx, r, true)
}

// Reject fails the deployment's pending approval with ApprovalRejected.
func (c *Controller) Reject(ctx context.Context, id, principal, comment string) error {
	r := request{id: id, principal: principal, comment: comment, action: "reject", ledgerKind: model.LedgerApproval}
	return c.approval(ctx, r, false)
}

// Rollback fails every wait of the deployment with RollbackRequired.
func (c *Controller) Rollback(ctx context.Context, id, principal, comment string) error {
	r := request{id: id, principal: principal, comment: comment, action: "rollback", ledgerKind: model.LedgerRollback}
	return c.stop(ctx, r, ErrRollbackRequired)
}

// Abort fails every wait of the deployment with Aborted.
func (c *Controller) Abort(ctx context.Context, id, principal, comment string) error {
	r := request{id: id, principal: principal, comment: comment, action: "abort", ledgerKind: model.LedgerStatus}
	return c.stop(ctx, r, ErrAborted)
}

func (c *Controller) load(ctx context.Context, id string) (*model.Deployment, error) {
	e, err := c.st.Get(ctx, model.KindDeployment, id)
	if err != nil {
		return nil, fmt.Errorf("get deployment %s: %w", id, err)
	}
	d, ok := e.(*model.Deployment)
	if !ok {
		return nil, fmt.Errorf("get deployment %s: store returned %T", id, e)
	}
	return d, nil
}

func wrongState(format string, a ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), api.ErrWrongState)
}

func (c *Controller) approval(ctx context.Context, r request, approve bool) error {
	d, err := c.load(ctx, r.id)
	if err != nil {
		return err
	}
	if d.Status.Final() {
		return c.record(ctx, r, wrongState("%s: deployment %s already ended %s", r.action, r.id, d.Status), nil)
	}
	waits, err := c.st.WaitsForDeployment(ctx, r.id)
	if err != nil {
		return fmt.Errorf("%s: find waits: %w", r.action, err)
	}
	var pending []store.Wait
	for _, w := range waits {
		if w.Kind == store.WaitApproval {
			pending = append(pending, w)
		}
	}
	if len(pending) == 0 {
		return c.record(ctx, r, wrongState("%s: deployment %s (%s) is not waiting for approval", r.action, r.id, d.Status), nil)
	}
	for _, w := range pending {
		if !mayApprove(r.principal, w.Approvers) {
			return c.record(ctx, r, fmt.Errorf("%s: %s is not an approver of deployment %s (approvers: %s): %w",
				r.action, r.principal, r.id, strings.Join(w.Approvers, ", "), ErrNotApprover), nil)
		}
	}
	answered := 0
	var errs []error
	for _, w := range pending {
		var send error
		if approve {
			out, _ := json.Marshal(map[string]any{"approved": true, "by": r.principal, "comment": r.comment})
			send = c.tc.SendTaskSuccess(ctx, w.Token, string(out))
		} else {
			send = c.tc.SendTaskFailure(ctx, w.Token, ErrApprovalRejected, "approval rejected by "+r.principal+withComment(r.comment))
		}
		ok, err := c.settle(ctx, w, send)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			answered++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c.record(ctx, r, fmt.Errorf("%s: %w", r.action, err), nil)
	}
	if answered == 0 {
		return c.record(ctx, r, wrongState("%s: the approval of deployment %s already ended (timed out or answered)", r.action, r.id), nil)
	}
	if approve {
		if err := c.mutate(ctx, r.id, func(cur *model.Deployment) bool {
			if cur.Status != model.StatusWaitingApproval {
				return false
			}
			cur.Status = model.StatusRunning
			return true
		}); err != nil {
			c.log.WarnContext(ctx, "deploycontrol: approved, but the status was not moved to RUNNING", "deployment_id", r.id, "error", err)
		}
	}
	verdict := "approved"
	if !approve {
		verdict = "rejected"
	}
	return c.record(ctx, r, nil, map[string]any{"verdict": verdict, "by": r.principal, "comment": r.comment})
}

func (c *Controller) stop(ctx context.Context, r request, errName string) error {
	d, all, err := c.loadWithWaits(ctx, r.id)
	if err != nil {
		return err
	}
	return c.stopLoaded(ctx, r, errName, d, all)
}

// loadWithWaits reads the deployment and its waits at the same time (a
// rollback's swap back waits for both).
func (c *Controller) loadWithWaits(ctx context.Context, id string) (*model.Deployment, []store.Wait, error) {
	var (
		waits   []store.Wait
		waitErr error
		done    = make(chan struct{})
	)
	go func() {
		defer close(done)
		waits, waitErr = c.st.WaitsForDeployment(ctx, id)
	}()
	d, err := c.load(ctx, id)
	<-done
	if err != nil {
		return nil, nil, err
	}
	if waitErr != nil {
		return nil, nil, fmt.Errorf("find waits of %s: %w", id, waitErr)
	}
	return d, waits, nil
}

// stopLoaded fails the waits (all) of the loaded deployment d with errName.
func (c *Controller) stopLoaded(ctx context.Context, r request, errName string, d *model.Deployment, all []store.Wait) error {
	switch {
	case d.Status.Final():
		return c.record(ctx, r, wrongState("%s: deployment %s already ended %s", r.action, r.id, d.Status), nil)
	case r.action == "rollback" && d.Status == model.StatusRollingBack:
		return c.record(ctx, r, wrongState("rollback: deployment %s is already rolling back", r.id), nil)
	}
	var waits []store.Wait
	for _, w := range all {
		if w.Kind != store.WaitWatch { // a watch has no task behind it
			waits = append(waits, w)
		}
	}
	if len(waits) == 0 {
		if d.Status == model.StatusQueued && d.ExecutionARN == "" {
			return c.abortQueued(ctx, r)
		}
		return c.record(ctx, r, wrongState("%s: deployment %s (%s) is running a step and waits for nothing that can be interrupted now; retry in a few seconds",
			r.action, r.id, d.Status), nil)
	}
	cause := r.action + " requested by " + r.principal + withComment(r.comment)
	stopped := 0
	var errs []error
	for _, w := range waits {
		name := errName
		if w.Kind == store.WaitLease {
			name = ErrAborted // nothing deployed yet: nothing to roll back
		}
		ok, err := c.settle(ctx, w, c.tc.SendTaskFailure(ctx, w.Token, name, cause))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			stopped++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c.record(ctx, r, fmt.Errorf("%s: %w", r.action, err), nil)
	}
	if stopped == 0 {
		return c.record(ctx, r, wrongState("%s: the waits of deployment %s had already ended; retry in a few seconds", r.action, r.id), nil)
	}
	return c.record(ctx, r, nil, map[string]any{"error": errName, "by": r.principal, "comment": r.comment, "waits": stopped})
}

// settle deletes w after an answer: ok is whether the answer reached a
// waiting task (false: the token was already spent).
func (c *Controller) settle(ctx context.Context, w store.Wait, sendErr error) (bool, error) {
	if sendErr != nil && !ecsevents.TokenSpent(sendErr) {
		return false, fmt.Errorf("complete %s wait: %w", w.Kind, sendErr)
	}
	if err := c.st.DeleteWait(ctx, w); err != nil {
		return false, fmt.Errorf("delete %s wait: %w", w.Kind, err)
	}
	return sendErr == nil, nil
}

// abortQueued moves a QUEUED deployment without an execution to ABORTED and
// announces it: this invocation records the end, so it is the one that
// publishes ABORTED, once (a second abort finds it ended and is refused; an
// execution that reaches PREPARE or FINISH afterwards finds it ended and
// announces nothing).
func (c *Controller) abortQueued(ctx context.Context, r request) error {
	var aborted *model.Deployment
	err := c.mutate(ctx, r.id, func(cur *model.Deployment) bool {
		aborted = nil
		if cur.Status != model.StatusQueued || cur.ExecutionARN != "" {
			return false
		}
		now := c.now().UTC()
		cur.Status, cur.EndedAt = model.StatusAborted, &now
		cur.Reason = r.action + " requested by " + r.principal + " before it started" + withComment(r.comment)
		aborted = cur
		return true
	})
	if err != nil {
		return c.record(ctx, r, fmt.Errorf("%s: %w", r.action, err), nil)
	}
	if aborted == nil {
		return c.record(ctx, r, wrongState("%s: deployment %s started meanwhile; retry", r.action, r.id), nil)
	}
	c.notify(ctx, aborted, notification.Aborted)
	return c.record(ctx, r, nil, map[string]any{"status": model.StatusAborted, "by": r.principal, "comment": r.comment})
}

// notify publishes d's status; a notification that cannot be sent is
// logged, it never fails the request (the end is recorded).
func (c *Controller) notify(ctx context.Context, d *model.Deployment, status string) {
	if c.notifier == nil {
		return
	}
	if err := c.notifier.NotifyDeployment(context.WithoutCancel(ctx), d, status); err != nil {
		c.log.WarnContext(ctx, "deploycontrol: deployment notification not sent", "deployment_id", d.ID, "status", status, "error", err)
	}
}

// mutate applies f to the deployment and saves it, retrying on version
// conflicts; f returns false to leave it unchanged.
func (c *Controller) mutate(ctx context.Context, id string, f func(*model.Deployment) bool) error {
	for attempt := 0; ; attempt++ {
		d, err := c.load(ctx, id)
		if err != nil {
			return err
		}
		if !f(d) {
			return nil
		}
		err = c.st.Update(ctx, d)
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return fmt.Errorf("update deployment %s: %w", id, err)
		}
		return nil
	}
}

// record writes the request and its outcome to the ledger and returns
// outcome.
func (c *Controller) record(ctx context.Context, r request, outcome error, data map[string]any) error {
	msg := r.who()
	switch {
	case outcome == nil:
		msg += ": done"
		if r.done != "" {
			msg += ": " + r.done
		}
	case errors.Is(outcome, api.ErrWrongState):
		msg += ": refused: " + outcome.Error()
	default:
		msg += ": failed: " + outcome.Error()
	}
	e := model.LedgerEntry{At: c.now().UTC(), Kind: r.ledgerKind, Message: msg}
	if data != nil {
		e.Data, _ = json.Marshal(data)
	}
	if err := c.st.AppendLedger(context.WithoutCancel(ctx), r.id, e); err != nil {
		// The request was carried out (or refused) either way; the ledger
		// is the record, not the truth.
		c.log.ErrorContext(ctx, "deploycontrol: append ledger", "deployment_id", r.id, "action", r.action, "error", err)
	}
	return outcome
}

func withComment(comment string) string {
	if comment == "" {
		return ""
	}
	return ": " + comment
}
