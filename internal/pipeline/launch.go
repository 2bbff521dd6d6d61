package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// LaunchError is a launch that a retry cannot fix: the pipeline is missing
// or the request is invalid, or the execution was recorded FAILED because
// it did not start.
type LaunchError struct {
	Err error
}

func (e *LaunchError) Error() string { return "launch pipeline: " + e.Err.Error() }
func (e *LaunchError) Unwrap() error { return e.Err }

// Retryable is always false: a refusal does not change on retry.
func (e *LaunchError) Retryable() bool { return false }

// Launcher records and starts pipeline executions with a caller-chosen id,
// idempotently: launching an id again finishes what an interrupted attempt
// began and never starts a second execution (the Step Functions execution
// is named by the id). Triggers use it.
type Launcher struct {
	repo    api.Repository
	starter api.PipelineStarter
	now     func() time.Time
}

// NewLauncher returns a launcher; now may be nil (time.Now).
func NewLauncher(repo api.Repository, starter api.PipelineStarter, now func() time.Time) *Launcher {
	if now == nil {
		now = time.Now
	}
	return &Launcher{repo: repo, starter: starter, now: now}
}

// Launch records the execution id of pipelineID for req (PENDING) and
// starts it. An error that is not a *LaunchError may succeed on retry.
func (l *Launcher) Launch(ctx context.Context, pipelineID string, req api.PipelineExecutionRequest, id string, by model.TriggeredBy) (*model.PipelineExecution, error) {
	if k, ok := model.KindOfID(id); !ok || k != model.KindPipelineExecution {
		return nil, &LaunchError{Err: fmt.Errorf("%q is not a pipeline execution id", id)}
	}
	if x, err := l.existing(ctx, id); err != nil || x != nil {
		return x, err
	}
	e, err := l.repo.Get(ctx, model.KindPipeline, pipelineID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &LaunchError{Err: fmt.Errorf("no pipeline %s", pipelineID)}
	}
	if err != nil {
		return nil, fmt.Errorf("get pipeline %s: %w", pipelineID, err)
	}
	pl, ok := e.(*model.Pipeline)
	if !ok {
		return nil, &LaunchError{Err: fmt.Errorf("%s is a %T", pipelineID, e)}
	}
	x, err := api.NewPipelineExecution(ctx, l.repo, pl, req, by)
	if err != nil {
		var ve *model.ValidationError
		if errors.As(err, &ve) {
			return nil, &LaunchError{Err: err}
		}
		return nil, err
	}
	x.ID = id
	if err := l.repo.Create(ctx, x); errors.Is(err, store.ErrAlreadyExists) {
		return l.existing(ctx, id)
	} else if err != nil {
		return nil, fmt.Errorf("record pipeline execution %s: %w", id, err)
	}
	return l.start(ctx, x)
}

// existing finishes a recorded execution's start; nil when there is none.
func (l *Launcher) existing(ctx context.Context, id string) (*model.PipelineExecution, error) {
	e, err := l.repo.Get(ctx, model.KindPipelineExecution, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get pipeline execution %s: %w", id, err)
	}
	x, ok := e.(*model.PipelineExecution)
	if !ok {
		return nil, fmt.Errorf("get pipeline execution %s: store returned %T", id, e)
	}
	if x.ExecutionARN != "" || x.Status != model.PipelinePending {
		return x, nil
	}
	return l.start(ctx, x)
}

func (l *Launcher) start(ctx context.Context, x *model.PipelineExecution) (*model.PipelineExecution, error) {
	arn, err := l.starter.StartPipeline(ctx, x)
	var exists *sfntypes.ExecutionAlreadyExists
	switch {
	case errors.As(err, &exists):
		// An interrupted attempt started it and it has closed: the
		// pipeline steps have recorded its outcome.
		return x, nil
	case err != nil:
		reason := "start execution: " + err.Error()
		if _, merr := mutate(context.WithoutCancel(ctx), l.repo, x.ID, func(cur *model.PipelineExecution) error {
			if cur.Status != model.PipelinePending {
				return nil
			}
			now := l.now().UTC()
			cur.Status, cur.EndedAt, cur.Reason = model.PipelineFailed, &now, reason
			for i := range cur.Stages {
				cur.Stages[i].Status = model.PipelineSkipped
			}
			return nil
		}); merr != nil {
			return nil, fmt.Errorf("mark pipeline execution %s failed after %s: %w", x.ID, reason, merr)
		}
		return nil, &LaunchError{Err: fmt.Errorf("pipeline execution %s recorded FAILED: %w", x.ID, err)}
	}
	return mutate(ctx, l.repo, x.ID, func(cur *model.PipelineExecution) error {
		if cur.ExecutionARN == "" {
			cur.ExecutionARN = arn
		}
		return nil
	})
}
