package steps

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// Rollback actions.
const (
	ActionNone        = "NONE"
	ActionRestore     = "RESTORE"
	ActionScaleToZero = "SCALE_TO_ZERO"
	ActionDelete      = "DELETE"
)

// RollbackInput is step-rollback's input: the error a Catch caught.
type RollbackInput struct {
	Ref
	Error *TaskFailure `json:"error,omitempty"`
}

// RollbackOutput says what the rollback did and whether to wait for it.
type RollbackOutput struct {
	Action string `json:"action"`
	// Result is what finish records: ROLLED_BACK, FAILED (nothing was
	// changed, so nothing was rolled back) or ABORTED.
	Result string `json:"result"`
	// Wait says the state machine must wait for the restored revision.
	Wait              bool   `json:"wait"`
	TaskDefinitionARN string `json:"taskDefinitionArn,omitempty"`
	Reason            string `json:"reason"`
}

// Rollback restores the last known good revision (the newest SUCCEEDED
// deployment's task definition and count; without one, what ran before this
// deployment) after any failure. A service this deployment created, with
// nothing good to go back to, is scaled to zero (a DAEMON service, which has
// no count, is deleted), and the reason is recorded. An abort changes
// nothing and ends ABORTED. A deployment that failed before it changed the
// service ends FAILED.
func (e *Engine) Rollback(ctx context.Context, in RollbackInput) (RollbackOutput, error) {
	if err := in.check(); err != nil {
		return RollbackOutput{}, err
	}
	ctx, r := e.begin(ctx, "ROLLBACK")
	out, err := e.rollback(ctx, r, in)
	return out, r.end(ctx, in.DeploymentID, err)
}

func (e *Engine) rollback(ctx context.Context, r *run, in RollbackInput) (RollbackOutput, error) {
	d, err := e.load(ctx, in.DeploymentID)
	if err != nil {
		return RollbackOutput{}, err
	}
	cause := "unknown failure"
	errName := ""
	if in.Error != nil {
		errName, cause = in.Error.Error, in.Error.Cause
		cause = causeMessage(cause)
		if errName != "" {
			cause = errName + ": " + cause
		}
	}
	now := e.clock()
	r.change(func(cur *model.Deployment) error {
		closeOpen(cur, now, "FAILED", errName, cause)
		return nil
	})
	out := RollbackOutput{Action: ActionNone, Result: string(model.StatusFailed)}
	setReason := func(reason string, status model.Status) {
		out.Reason = reason
		r.change(func(cur *model.Deployment) error {
			if cur.Runtime != nil {
				cur.Runtime.RollbackReason = reason
				cur.Runtime.RollbackTaskDefinition = out.TaskDefinitionARN
			}
			cur.Reason = reason
			if status != "" && cur.Status != status && model.CanTransition(cur.Status, status) {
				cur.Status = status
			}
			return nil
		})
	}
	if errName != ErrAborted && d.NewRevision != nil && d.Runtime != nil && d.Runtime.Target.Cluster != "" &&
		d.Runtime.Revisions != nil && d.Runtime.Revisions.New != "" {
		// CANARY / BLUE_GREEN (rollback_revision.go): traffic goes back
		// first, the waits are cleared after.
		c, err := e.clients(ctx, d.Runtime.Target)
		if err != nil {
			return out, err
		}
		if err := e.rollbackRevisions(ctx, r, d, c, cause, &out, setReason); err != nil {
			return out, err
		}
		return out, e.clearWaits(ctx, r, d.ID, store.WaitSteady, store.WaitVerify, store.WaitApproval)
	}
	if err := e.clearWaits(ctx, r, d.ID, store.WaitSteady, store.WaitVerify, store.WaitApproval); err != nil {
		return out, err
	}
	if errName == ErrAborted {
		out.Result = string(model.StatusAborted)
		setReason("aborted: "+cause, "")
		r.result = "aborted: nothing rolled back"
		return out, nil
	}
	if d.Runtime == nil || d.Runtime.Target.Cluster == "" || d.NewRevision == nil {
		setReason("failed before a task definition was registered: "+cause, "")
		r.result = "nothing to roll back"
		return out, nil
	}
	t := d.Runtime.Target
	c, err := e.clients(ctx, t)
	if err != nil {
		return out, err
	}
	svc, exists, err := c.DescribeService(ctx, t.Cluster, t.ServiceName)
	if err != nil {
		return out, err
	}
	ours := d.NewRevision.TaskDefinitionARN
	// Our own record first: ECS forgets a failed deployment once its
	// circuit breaker's rollback completes.
	touched := false
	for _, s := range d.Steps {
		touched = touched || (s.Name == "UPDATE_SERVICE" && s.Error == "" && !s.EndedAt.IsZero())
	}
	if exists {
		touched = touched || aws.ToString(svc.TaskDefinition) == ours
		for _, dep := range svc.Deployments {
			touched = touched || aws.ToString(dep.TaskDefinition) == ours
		}
	}
	if !touched || !exists {
		setReason(fmt.Sprintf("failed before the service was changed (exists %v): %s", exists, cause), "")
		r.result = "nothing to roll back"
		return out, nil
	}
	good := d.LastKnownGood
	source := "last known good"
	if good == nil || good.TaskDefinitionARN == "" {
		good, source = d.PreviousRevision, "revision running before this deployment"
	}
	out.Result, out.Wait = string(model.StatusRolledBack), true
	switch {
	case good != nil && good.TaskDefinitionARN != "":
		out.Action, out.TaskDefinitionARN = ActionRestore, good.TaskDefinitionARN
		input := &ecs.UpdateServiceInput{Cluster: aws.String(t.Cluster), Service: aws.String(t.ServiceName),
			TaskDefinition: aws.String(good.TaskDefinitionARN)}
		if !t.Daemon {
			input.DesiredCount = aws.Int32(good.DesiredCount)
		}
		updated, err := c.UpdateService(ctx, input)
		if err != nil {
			return out, err
		}
		pinRollbackDeployment(r, updated, ours)
		setReason(fmt.Sprintf("%s; restored %s %s x%d", cause, source, shortTD(good.TaskDefinitionARN), good.DesiredCount), model.StatusRollingBack)
	case t.Daemon:
		out.Action, out.Wait = ActionDelete, false
		if err := c.DeleteService(ctx, t.Cluster, t.ServiceName); err != nil {
			return out, err
		}
		setReason(cause+"; first deployment of a DAEMON service with nothing to go back to: service deleted", model.StatusRollingBack)
	default:
		out.Action = ActionScaleToZero
		updated, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(t.Cluster), Service: aws.String(t.ServiceName),
			DesiredCount: aws.Int32(0)})
		if err != nil {
			return out, err
		}
		pinRollbackDeployment(r, updated, ours)
		setReason(cause+"; first deployment with nothing to go back to: service scaled to 0", model.StatusRollingBack)
	}
	r.result = out.Action + " " + shortTD(out.TaskDefinitionARN)
	r.note(model.LedgerRollback, "rollback: %s", out.Reason)
	return out, nil
}

// pinRollbackDeployment records the ECS deployment the rollback's
// UpdateService left primary, so that the rollback's steady wait is
// decided by that deployment's events only: the circuit breaker's failure
// of the deployment being rolled back (running ours) can be delivered after
// the rollback started. A primary that still runs ours (a scale to zero
// that started no deployment) is not pinned: the wait takes any.
func pinRollbackDeployment(r *run, svc *ecstypes.Service, ours string) {
	id := ""
	if svc != nil {
		for _, dep := range svc.Deployments {
			if aws.ToString(dep.Status) == "PRIMARY" && aws.ToString(dep.TaskDefinition) != ours {
				id = aws.ToString(dep.Id)
			}
		}
	}
	r.change(func(cur *model.Deployment) error {
		if cur.Runtime != nil {
			cur.Runtime.RollbackECSDeployment = id
		}
		return nil
	})
}

// causeMessage unwraps a Lambda error cause ({"errorMessage","errorType"}).
func causeMessage(c string) string {
	var v struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if len(c) > 0 && c[0] == '{' && jsonUnmarshal(c, &v) && v.ErrorMessage != "" {
		return v.ErrorMessage
	}
	return c
}
