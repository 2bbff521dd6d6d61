package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
)

// ErrorPipelineAborted is the error an aborted approval stage's task is
// failed with.
const ErrorPipelineAborted = "PipelineAborted"

// DeploymentAborter aborts a deployment as POST /v1/deployments/{id}/abort
// does (internal/deploycontrol's Controller).
type DeploymentAborter interface {
	Abort(ctx context.Context, id, principal, comment string) error
}

// ExecutionStopper stops a Step Functions execution (*sfn.Client).
type ExecutionStopper interface {
	StopExecution(ctx context.Context, in *sfn.StopExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error)
}

var _ ExecutionStopper = (*sfn.Client)(nil)

// WithAbort lets c abort executions (AbortExecution): running deployments
// are aborted through deployments, a WAIT stage's execution is stopped
// through stopper, and the end is announced through n (nil: not at all).
func (c *Controller) WithAbort(deployments DeploymentAborter, stopper ExecutionStopper, n *Notifier) *Controller {
	c.deployments, c.stopper, c.notify = deployments, stopper, n
	return c
}

// deploymentAbortTries bounds how long an abort waits for the running
// deployment to reach a point where it can be interrupted (a wait).
var (
	deploymentAbortTries = 30
	deploymentAbortPause = 100 * time.Millisecond
)

// AbortExecution aborts a pipeline execution that has not ended, recording
// who and why; the execution ends ABORTED. What runs is stopped by its own
// path: a WORKFLOW stage's deployment is aborted as through its own abort
// request (the deployment's state machine then ends, and the pipeline after
// it); an APPROVAL stage's wait is failed (PipelineAborted); a WAIT stage's
// execution is stopped and the record ended here; between stages, the next
// step sees the request and ends the execution. An execution that has
// ended, or whose abort was already requested, is refused with an error
// wrapping api.ErrWrongState (409).
func (c *Controller) AbortExecution(ctx context.Context, id, principal, comment string) error {
	if c.deployments == nil {
		return fmt.Errorf("abort: this controller cannot abort pipeline executions: %w", api.ErrNoEngine)
	}
	now := c.now().UTC()
	x, err := mutate(ctx, c.st, id, func(cur *model.PipelineExecution) error {
		if cur.Status.Final() {
			return fmt.Errorf("abort: pipeline execution %s already ended %s: %w", id, cur.Status, api.ErrWrongState)
		}
		if cur.Abort != nil {
			return fmt.Errorf("abort: already requested by %s at %s: %w", cur.Abort.Principal, cur.Abort.At.Format(time.RFC3339), api.ErrWrongState)
		}
		cur.Abort = &model.AbortRequest{Principal: principal, Comment: comment, At: now}
		cur.Reason = abortReason(cur.Abort)
		return nil
	})
	if err != nil {
		var inv *Invalid
		if errors.As(err, &inv) {
			return fmt.Errorf("abort: %s: %w", inv.Msg, api.ErrWrongState)
		}
		return err
	}
	i := runningStage(x)
	if i < 0 {
		return nil // not started, or between stages: Next ends it.
	}
	rec := x.Stages[i]
	cause := abortReason(x.Abort)
	switch x.Definition[i].Type {
	case model.StageWorkflow:
		if rec.DeploymentID != "" {
			return c.abortDeployment(ctx, x, rec.DeploymentID, principal, comment)
		}
	case model.StageApproval:
		if rec.ApprovalToken != "" {
			// A token already spent means the stage is ending on its own;
			// the next step sees the request.
			_ = c.tasks.SendTaskFailure(ctx, rec.ApprovalToken, ErrorPipelineAborted, cause)
		}
	case model.StageWait:
		return c.stopWait(ctx, x)
	}
	return nil
}

// abortDeployment aborts the running stage's deployment, retrying briefly
// while it is between two steps (nothing to interrupt yet). When it cannot
// be interrupted, it runs to its end and the pipeline ends ABORTED after it.
func (c *Controller) abortDeployment(ctx context.Context, x *model.PipelineExecution, depID, principal, comment string) error {
	var err error
	for try := 0; try < deploymentAbortTries; try++ {
		err = c.deployments.Abort(ctx, depID, principal, comment)
		if err == nil || !errors.Is(err, api.ErrWrongState) {
			break
		}
		d, gerr := getAs[*model.Deployment](ctx, c.st, model.KindDeployment, depID)
		if gerr == nil && d.Status.Final() {
			return nil // it ended meanwhile: the pipeline ends after it
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("abort deployment %s: %w", depID, ctx.Err())
		case <-time.After(deploymentAbortPause):
		}
	}
	if err != nil {
		_, merr := mutate(context.WithoutCancel(ctx), c.st, x.ID, func(cur *model.PipelineExecution) error {
			cur.Reason = abortReason(cur.Abort) + fmt.Sprintf("; deployment %s could not be interrupted (%v): the pipeline stops after it", depID, err)
			return nil
		})
		return errors.Join(fmt.Errorf("abort deployment %s: %w", depID, err), merr)
	}
	return nil
}

// stopWait stops the execution waiting in a WAIT stage and ends the record
// ABORTED: no step of the execution will run again.
func (c *Controller) stopWait(ctx context.Context, x *model.PipelineExecution) error {
	if c.stopper == nil || x.ExecutionARN == "" {
		return nil // the stage's wait ends, then StageEnd sees the request
	}
	_, err := c.stopper.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(x.ExecutionARN),
		Error: aws.String(ErrorPipelineAborted), Cause: aws.String(abortReason(x.Abort))})
	if err != nil {
		// The wait may have just ended: then the execution's next step
		// sees the request and ends it ABORTED.
		cur, gerr := getExecution(ctx, c.st, x.ID)
		if gerr == nil && (cur.Status.Final() || runningStage(cur) != runningStage(x)) {
			return nil
		}
		return fmt.Errorf("abort: stop execution %s: %w", x.ExecutionARN, err)
	}
	ended := false
	out, err := mutate(context.WithoutCancel(ctx), c.st, x.ID, func(cur *model.PipelineExecution) error {
		ended = !cur.Status.Final()
		if ended {
			settle(cur, c.now().UTC())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("abort: record the end of %s: %w", x.ID, err)
	}
	if ended {
		c.notify.publish(ctx, detailOf(out, NotifyAborted, ""))
	}
	return nil
}

// runningStage is the index of the stage that runs or waits, or -1.
func runningStage(x *model.PipelineExecution) int {
	for i, s := range x.Stages {
		if (s.Status == model.PipelineRunning || s.Status == model.PipelineWaitingApproval) && i < len(x.Definition) {
			return i
		}
	}
	return -1
}

func abortReason(a *model.AbortRequest) string {
	if a == nil {
		return ""
	}
	r := "aborted by " + a.Principal
	if a.Comment != "" {
		r += ": " + a.Comment
	}
	return r
}
