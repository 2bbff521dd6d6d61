package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// Outcome is how a deployment ended, as the state machine knows it.
type Outcome struct {
	Result string       `json:"result"`
	Error  *TaskFailure `json:"error,omitempty"`
}

// FinishInput is step-finish's input.
type FinishInput struct {
	Ref
	Outcome      Outcome `json:"outcome"`
	ExecutionARN string  `json:"executionArn,omitempty"`
}

// FinishOutput echoes the recorded result.
type FinishOutput struct {
	Result string `json:"result"`
	// Resumed is the queued deployment whose token was completed, if any.
	Resumed string `json:"resumed,omitempty"`
}

// Finish records the result (SUCCEEDED, FAILED, ROLLED_BACK or ABORTED),
// the end time and the usage; a SUCCEEDED deployment's NewRevision becomes
// the service's last known good for later deployments. Then, whatever
// happened, it deletes the deployment's waits, releases the lease and
// resumes the oldest deployment queued for it.
func (e *Engine) Finish(ctx context.Context, in FinishInput) (FinishOutput, error) {
	if err := in.check(); err != nil {
		return FinishOutput{}, err
	}
	res := model.Status(in.Outcome.Result)
	switch res {
	case model.StatusSucceeded, model.StatusFailed, model.StatusRolledBack, model.StatusAborted:
	default:
		return FinishOutput{}, invalidf("finish: result %q is not SUCCEEDED, FAILED, ROLLED_BACK or ABORTED", in.Outcome.Result)
	}
	ctx, r := e.begin(ctx, "FINISH")
	out, err := e.finish(ctx, r, in, res)
	if err := r.end(ctx, in.DeploymentID, err); err != nil {
		return FinishOutput{}, err
	}
	// The lease and the queue, after the record: always.
	resumed, err := e.release(ctx, in.DeploymentID)
	out.Resumed = resumed
	return out, Classify(err)
}

func (e *Engine) finish(ctx context.Context, r *run, in FinishInput, res model.Status) (FinishOutput, error) {
	var transitions int64 = -1
	if e.execs != nil && in.ExecutionARN != "" {
		n, err := e.execs.StateTransitions(ctx, in.ExecutionARN)
		if err != nil {
			e.log.WarnContext(ctx, "state transitions", "deployment_id", in.DeploymentID, "error", err)
		} else {
			// The final Succeed/Fail state is still to come.
			transitions = n + 1
		}
	}
	reason := ""
	if in.Outcome.Error != nil {
		reason = in.Outcome.Error.Error + ": " + causeMessage(in.Outcome.Error.Cause)
	}
	now := e.clock()
	r.result = string(res)
	ended := ""
	e.notifyAfter(r, in.DeploymentID, &ended)
	r.change(func(cur *model.Deployment) error {
		ended = ""
		closeOpen(cur, now, "ENDED", "", "")
		if transitions >= 0 {
			cur.Usage.StateTransitions = transitions
		}
		if !cur.Status.Final() {
			to := res
			if res == model.StatusRolledBack && cur.Status != model.StatusRollingBack {
				// Only a rollback that changed something is ROLLED_BACK.
				to = model.StatusFailed
			}
			if !model.CanTransition(cur.Status, to) {
				to = model.StatusFailed
			}
			cur.Status = to
			cur.EndedAt = &now
			ended = NotifyStatusOf(to)
		}
		if reason != "" && !strings.Contains(cur.Reason, causeMessage(in.Outcome.Error.Cause)) {
			if cur.Reason != "" {
				cur.Reason += "; "
			}
			cur.Reason += reason
		}
		return nil
	})
	r.note(model.LedgerStatus, "%s", res)
	return FinishOutput{Result: string(res)}, nil
}

// release deletes the deployment's task waits, releases its lease and resumes
// the oldest deployment queued on it.
func (e *Engine) release(ctx context.Context, id string) (string, error) {
	d, err := e.load(ctx, id)
	if err != nil {
		return "", err
	}
	var errs []error
	// WATCH waits (functions/ecs-events) are left to expire: they keep
	// routing late ECS events (stopped tasks) to this deployment's ledger.
	if err := e.clearWaits(ctx, nil, id, store.WaitSteady, store.WaitVerify, store.WaitApproval, store.WaitLease); err != nil {
		errs = append(errs, fmt.Errorf("clear waits: %w", err))
	}
	if d.Runtime == nil || d.Runtime.Target.LeaseKey == "" {
		return "", errors.Join(errs...)
	}
	t := d.Runtime.Target
	if err := e.store.ReleaseLease(ctx, t.LeaseKey, id); err != nil && !errors.Is(err, store.ErrLeaseHeld) {
		return "", errors.Join(append(errs, err)...)
	}
	ws, err := e.store.WaitsForService(ctx, t.Cluster, t.ServiceName)
	if err != nil {
		return "", errors.Join(append(errs, err)...)
	}
	for _, w := range ws {
		if w.Kind != store.WaitLease || w.DeploymentID == id {
			continue
		}
		body, _ := json.Marshal(map[string]string{"resumedBy": id})
		serr := e.tasks.SendTaskSuccess(ctx, w.Token, string(body))
		if derr := e.store.DeleteWait(ctx, w); derr != nil {
			errs = append(errs, derr)
		}
		if serr == nil {
			_ = e.store.AppendLedger(ctx, w.DeploymentID, model.LedgerEntry{At: e.clock(), Kind: model.LedgerStatus,
				Message: fmt.Sprintf("lease %s released by %s: resuming", t.LeaseKey, id)})
			return w.DeploymentID, errors.Join(errs...)
		}
		// A token that timed out or was closed: its execution moved on; try the next.
		e.log.InfoContext(ctx, "stale queued token", "deployment_id", w.DeploymentID, "error", serr)
	}
	return "", errors.Join(errs...)
}

func jsonUnmarshal(s string, v any) bool { return json.Unmarshal([]byte(s), v) == nil }
