package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// VerifyInput is step-verify's input (lambda:invoke.waitForTaskToken; the
// state's TimeoutSecondsPath is the bake time).
type VerifyInput struct {
	Ref
	Index int    `json:"index"`
	Token string `json:"token"`
}

// VerifyOutput is the Lambda's own answer.
type VerifyOutput struct {
	Alarms      []string `json:"alarms,omitempty"`
	BakeSeconds int32    `json:"bakeSeconds"`
}

// Verify starts the bake: it stores the token with the watched alarms (so
// that a "CloudWatch Alarm State Change" to ALARM fails it with
// VerificationFailed through functions/ecs-events), then checks the alarms
// once; one already in ALARM fails the step at once. The bake ends when
// the task times out (the state machine catches States.Timeout and moves
// on). A bake of zero seconds completes the token itself.
func (e *Engine) Verify(ctx context.Context, in VerifyInput) (VerifyOutput, error) {
	if err := in.check(); err != nil {
		return VerifyOutput{}, err
	}
	if in.Token == "" {
		return VerifyOutput{}, invalidf("verify needs the task token")
	}
	ctx, r := e.begin(ctx, "VERIFY")
	r.open = true
	out, err := e.verify(ctx, r, in)
	return out, r.end(ctx, in.DeploymentID, err)
}

func (e *Engine) verify(ctx context.Context, r *run, in VerifyInput) (VerifyOutput, error) {
	d, err := e.load(ctx, in.DeploymentID)
	if err != nil {
		return VerifyOutput{}, err
	}
	t, err := targetOf(d)
	if err != nil {
		return VerifyOutput{}, err
	}
	st, err := stepAt(d, in.Index)
	if err != nil {
		return VerifyOutput{}, err
	}
	out := VerifyOutput{Alarms: st.Alarms, BakeSeconds: st.BakeSeconds}
	if len(st.Alarms) > store.MaxWaitAlarms {
		return out, invalidf("verification watches %d alarms, at most %d", len(st.Alarms), store.MaxWaitAlarms)
	}
	if err := e.clearWaits(ctx, r, d.ID, store.WaitSteady, store.WaitVerify); err != nil {
		return out, err
	}
	// The wait watches the revision under verification (the new
	// <service>__<n> for canary and blue/green): its crashing tasks fail it.
	w := store.Wait{Token: in.Token, DeploymentID: d.ID, Cluster: t.Cluster, Service: steadyService(d, false), Kind: store.WaitVerify,
		Alarms: st.Alarms, Expires: e.clock().Add(time.Duration(st.BakeSeconds)*time.Second + time.Minute)}
	if err := e.store.PutWait(ctx, w); err != nil {
		return out, err
	}
	r.writes++
	if len(st.Alarms) > 0 {
		c, err := e.clients(ctx, t)
		if err != nil {
			return out, err
		}
		firing, err := c.AlarmsFiring(ctx, st.Alarms)
		if err != nil {
			_ = e.store.DeleteWait(ctx, w)
			return out, err
		}
		if len(firing) > 0 {
			_ = e.store.DeleteWait(ctx, w)
			return out, &VerificationFailed{fmt.Errorf("alarm %s in ALARM at the start of verification", strings.Join(firing, ", "))}
		}
	}
	r.result = fmt.Sprintf("baking %ds watching %d alarms", st.BakeSeconds, len(st.Alarms))
	if st.BakeSeconds <= 0 {
		r.open = false
		r.result = fmt.Sprintf("%d alarms OK", len(st.Alarms))
		r.after(func(ctx context.Context) error {
			_ = e.store.DeleteWait(ctx, w)
			return e.tasks.SendTaskSuccess(ctx, in.Token, `{"verified":true}`)
		})
	}
	return out, nil
}

// ApprovalInput is step-approval's input (lambda:invoke.waitForTaskToken;
// TimeoutSecondsPath is the approval's timeout).
type ApprovalInput struct {
	Ref
	Index int    `json:"index"`
	Token string `json:"token"`
}

// ApprovalOutput is the Lambda's own answer.
type ApprovalOutput struct {
	TimeoutSeconds int32                 `json:"timeoutSeconds"`
	OnTimeout      model.ApprovalDefault `json:"onTimeout"`
}

// Approval stores the token for the API (POST .../approve or .../reject
// completes it through internal/deploycontrol) and moves the deployment to
// WAITING_APPROVAL. A timeout takes the approval's onTimeout (REJECT by
// default), decided by the state machine.
func (e *Engine) Approval(ctx context.Context, in ApprovalInput) (ApprovalOutput, error) {
	if err := in.check(); err != nil {
		return ApprovalOutput{}, err
	}
	if in.Token == "" {
		return ApprovalOutput{}, invalidf("approval needs the task token")
	}
	ctx, r := e.begin(ctx, "APPROVAL")
	r.open = true
	out, err := e.approval(ctx, r, in)
	return out, r.end(ctx, in.DeploymentID, err)
}

func (e *Engine) approval(ctx context.Context, r *run, in ApprovalInput) (ApprovalOutput, error) {
	d, err := e.load(ctx, in.DeploymentID)
	if err != nil {
		return ApprovalOutput{}, err
	}
	t, err := targetOf(d)
	if err != nil {
		return ApprovalOutput{}, err
	}
	st, err := stepAt(d, in.Index)
	if err != nil {
		return ApprovalOutput{}, err
	}
	out := ApprovalOutput{TimeoutSeconds: approvalTimeout(st.Approval), OnTimeout: model.ApprovalDefaultReject}
	if st.Approval != nil && st.Approval.OnTimeout != "" {
		out.OnTimeout = st.Approval.OnTimeout
	}
	if err := e.clearWaits(ctx, r, d.ID, store.WaitSteady, store.WaitVerify, store.WaitApproval); err != nil {
		return out, err
	}
	w := store.Wait{Token: in.Token, DeploymentID: d.ID, Cluster: t.Cluster, Service: t.ServiceName, Kind: store.WaitApproval,
		Expires: e.clock().Add(time.Duration(out.TimeoutSeconds)*time.Second + time.Minute)}
	if st.Approval != nil {
		w.Approvers = st.Approval.Approvers
	}
	if err := e.store.PutWait(ctx, w); err != nil {
		return out, err
	}
	r.writes++
	needed := ""
	e.notifyAfter(r, d.ID, &needed)
	r.change(func(cur *model.Deployment) error {
		needed = ""
		if cur.Status == model.StatusWaitingApproval {
			return nil
		}
		if err := model.Transition(cur.Status, model.StatusWaitingApproval); err != nil {
			return &Aborted{errors.New(err.Error())}
		}
		cur.Status = model.StatusWaitingApproval
		needed = NotifyApprovalNeeded
		return nil
	})
	who := "anyone"
	if st.Approval != nil && len(st.Approval.Approvers) > 0 {
		who = strings.Join(st.Approval.Approvers, ", ")
	}
	r.result = "waiting for approval"
	r.note(model.LedgerApproval, "waiting for approval by %s for %ds (on timeout: %s)", who, out.TimeoutSeconds, out.OnTimeout)
	return out, nil
}
