package trigger

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
)

// PipelineLauncher records and starts a pipeline execution with a given id,
// idempotently (pipeline.Launcher). An error with Retryable() false is a
// refusal, acknowledged like a refused deployment.
type PipelineLauncher interface {
	Launch(ctx context.Context, pipelineID string, req api.PipelineExecutionRequest, id string, by model.TriggeredBy) (*model.PipelineExecution, error)
}

// WithPipelines lets pipeline triggers start pipeline executions; without
// it they are acknowledged with a warning and start nothing.
func WithPipelines(l PipelineLauncher) Option { return func(h *Handler) { h.pipelines = l } }

// PipelineExecutionID is the execution id a (event, trigger) pair proposes:
// DeploymentID's scheme with the pipeline execution prefix.
func PipelineExecutionID(eventID, triggerID string, at time.Time) string {
	return "plx-" + strings.TrimPrefix(DeploymentID(eventID, triggerID, at), "dep-")
}

// firePipeline handles one (push, pipeline trigger) match, with the same
// claim as a deployment: it returns the execution id it launched, dup when
// the claim was taken, "" and no error when the launch was refused, and an
// error when a retry may help (the claim is then released).
func (h *Handler) firePipeline(ctx context.Context, p Push, srv *model.ArtifactServer, t *model.Trigger) (id string, dup bool, err error) {
	key := ClaimKey(p.EventID, t.ID)
	claimed, xID, err := h.store.ClaimEventValue(ctx, key, PipelineExecutionID(p.EventID, t.ID, h.now()), h.claimTTL)
	if err != nil {
		return "", false, fmt.Errorf("trigger %s: %w", t.ID, err)
	}
	if !claimed {
		h.log.InfoContext(ctx, "duplicate delivery skipped", "event_id", p.EventID, "trigger_id", t.ID)
		return "", true, nil
	}
	log := h.log.With("event_id", p.EventID, "trigger_id", t.ID, "pipeline_execution_id", xID)
	req := api.PipelineExecutionRequest{ServiceID: t.ServiceID, Artifact: api.ArtifactRequest{Tag: p.Tag, Digest: p.Digest}}
	if img, err := h.image(ctx, srv, p.Repository); err == nil {
		req.Artifact.Image = img
	}
	x, err := h.pipelines.Launch(ctx, t.PipelineID, req, xID, model.TriggeredBy{Kind: model.TriggeredByTrigger, ID: t.ID,
		Principal: "event " + p.EventID})
	var r interface{ Retryable() bool }
	switch {
	case errors.As(err, &r) && !r.Retryable():
		log.WarnContext(ctx, "triggered pipeline refused or not started", "error", err)
		if cerr := h.store.CompleteClaim(context.WithoutCancel(ctx), key); cerr != nil {
			log.ErrorContext(ctx, "complete claim", "error", cerr)
		}
		return "", false, nil
	case err != nil:
		if rerr := h.store.ReleaseClaim(context.WithoutCancel(ctx), key); rerr != nil {
			log.ErrorContext(ctx, "release claim", "error", rerr)
		}
		return "", false, fmt.Errorf("trigger %s: %w", t.ID, err)
	}
	if cerr := h.store.CompleteClaim(context.WithoutCancel(ctx), key); cerr != nil {
		log.ErrorContext(ctx, "complete claim", "error", cerr)
	}
	h.stats.started.Add(1)
	log.InfoContext(ctx, "triggered pipeline started", "pipeline_id", t.PipelineID, "execution_arn", x.ExecutionARN)
	return x.ID, false, nil
}
