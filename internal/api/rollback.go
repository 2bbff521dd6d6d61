package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// RollbackRedeployer is a Controller that also rolls back a deployment that
// has already ended, by redeploying the last known good revision before it
// (internal/deploycontrol implements it). POST /v1/deployments/{id}/rollback
// on an ended deployment asks it for the new deployment, records and starts
// it like POST /v1/deployments, and answers 202 with it. Without one, the
// Controller's Rollback answers (409 for an ended deployment).
type RollbackRedeployer interface {
	// RollbackOrPlanRedeploy rolls a deployment that has not ended back
	// (as Controller.Rollback) and answers nil. For one that has ended it
	// returns the QUEUED deployment (with its ID) to record and start, or
	// an error wrapping ErrWrongState when there is nothing to go back to.
	RollbackOrPlanRedeploy(ctx context.Context, id, principal, comment string) (*model.Deployment, error)
	// RecordRollbackRedeploy records, on the original, that nd was started
	// to roll it back (or that it did not start: startErr).
	RecordRollbackRedeploy(ctx context.Context, original, principal, comment string, nd *model.Deployment, startErr error)
}

// rollbackDeployment answers POST /v1/deployments/{id}/rollback through
// a RollbackRedeployer: 200 with the deployment rolled back in place, or,
// for an ended deployment, 202 with the redeploy, its Location, and a
// ledger entry on both deployments. The controller reads the deployment
// itself: nothing is read before the rollback starts (a swap back is on the
// clock).
func (h *Handler) rollbackDeployment(w http.ResponseWriter, r *http.Request, rd RollbackRedeployer, id, who, comment string) {
	ctx := r.Context()
	nd, err := rd.RollbackOrPlanRedeploy(ctx, id, who, comment)
	if err != nil {
		h.writeError(w, r, fmt.Errorf("rollback deployment %s: %w", id, err))
		return
	}
	if nd == nil {
		d, err := getAs[*model.Deployment](ctx, h, model.KindDeployment, id)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		w.Header().Set("ETag", etag(d.Version))
		writeJSON(w, http.StatusOK, d)
		return
	}
	if nd.ID == "" {
		nd.ID = model.NewID(model.KindDeployment)
	}
	if err := h.repo.Create(ctx, nd); err != nil {
		h.writeError(w, r, fmt.Errorf("record the rollback redeploy of %s: %w", id, err))
		return
	}
	h.ledger(ctx, nd.ID, model.LedgerStatus, fmt.Sprintf("queued by %s: rollback of %s: %s %s of %s",
		who, id, nd.Strategy, nd.WorkflowID, nd.Artifact.Reference()))
	final, startErr, err := h.startRecorded(ctx, nd)
	rd.RecordRollbackRedeploy(context.WithoutCancel(ctx), id, who, comment, nd, startErr)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(final.Version))
	w.Header().Set("Location", "/v1/deployments/"+final.ID)
	writeJSON(w, http.StatusAccepted, final)
}

// startRecorded starts the execution of the recorded deployment d and
// stores its ARN. When the start fails, d is marked FAILED with the reason
// and err is the API error to answer (startErr the starter's own error).
func (h *Handler) startRecorded(ctx context.Context, d *model.Deployment) (final *model.Deployment, startErr, err error) {
	arn, startErr := h.starter.Start(ctx, d)
	if startErr != nil {
		reason := "start execution: " + startErr.Error()
		saveCtx := context.WithoutCancel(ctx)
		if err := h.mutateDeployment(saveCtx, d.ID, func(cur *model.Deployment) error {
			if model.Transition(cur.Status, model.StatusFailed) != nil {
				return nil // the engine already moved it on
			}
			now := h.now().UTC()
			cur.Status, cur.Reason, cur.EndedAt = model.StatusFailed, reason, &now
			return nil
		}); err != nil {
			return nil, startErr, fmt.Errorf("mark deployment %s failed after %s: %w", d.ID, reason, err)
		}
		h.ledger(saveCtx, d.ID, model.LedgerStatus, "FAILED: "+reason)
		switch {
		case errors.Is(startErr, store.ErrLeaseHeld):
			return nil, startErr, startErr
		case errors.Is(startErr, ErrNoEngine):
			return nil, startErr, errorf(http.StatusServiceUnavailable, codeNoEngine,
				"deployment %s was recorded and marked FAILED: %v", d.ID, startErr)
		}
		return nil, startErr, &apiError{status: http.StatusBadGateway, body: ErrorDetail{Code: codeStartFailed,
			Message: fmt.Sprintf("deployment %s was recorded and marked FAILED: its execution did not start", d.ID)}, cause: startErr}
	}
	if err := h.mutateDeployment(ctx, d.ID, func(cur *model.Deployment) error {
		cur.ExecutionARN = arn
		final = cur
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("record execution %s of deployment %s: %w", arn, d.ID, err)
	}
	return final, nil, nil
}
