package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// Interrupted is a deployment or pipeline execution that was in progress
// when the stack last stopped. Its Step Functions execution did not
// survive, so the restarted stack marked it FAILED.
type Interrupted struct {
	// Kind is model.KindDeployment or model.KindPipelineExecution.
	Kind model.Kind `json:"kind"`
	ID   string     `json:"id"`
	// Was is the status it had ("RUNNING", "WAITING_APPROVAL", ...).
	Was string `json:"was"`
	// Lease is the service lease the restart released ("" if none).
	Lease string `json:"lease,omitempty"`
}

// interruptedReason is the reason recorded on what a restart interrupted.
const interruptedReason = "Interrupted: ecsflow local stopped while this ran, and its Step Functions execution does not survive a restart"

// recoverInterrupted ends what the last run left in progress: every
// deployment not in a final status becomes FAILED (with the reason above, a
// STATUS ledger entry, its waits deleted and its service lease released, so
// that the next deployment of that service is not refused or queued
// forever), and every pipeline execution not in a final status becomes
// FAILED (ABORTED when an abort was requested) with its unfinished stages. The AWS world is left as it was: a
// canary or blue/green interrupted midway keeps its extra service and
// weights until the next deployment of that service or a rollback.
func recoverInterrupted(ctx context.Context, st *store.Store, now func() time.Time) ([]Interrupted, error) {
	var out []Interrupted
	var errs []error
	apps, err := listAll(ctx, func(p store.Page) ([]model.Entity, string, error) {
		return st.List(ctx, model.KindApplication, "", p)
	})
	if err != nil {
		return nil, fmt.Errorf("recover interrupted work: %w", err)
	}
	for _, a := range apps {
		appID := a.(*model.Application).ID
		deps, err := listAll(ctx, func(p store.Page) ([]*model.Deployment, string, error) {
			return st.ListDeployments(ctx, store.DeploymentFilter{AppID: appID}, p)
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, d := range deps {
			if d.Status.Final() {
				continue
			}
			in, err := failDeployment(ctx, st, d.ID, now)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if in != nil {
				out = append(out, *in)
			}
		}
		pls, err := listAll(ctx, func(p store.Page) ([]model.Entity, string, error) {
			return st.List(ctx, model.KindPipeline, appID, p)
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, pl := range pls {
			xs, err := listAll(ctx, func(p store.Page) ([]*model.PipelineExecution, string, error) {
				return st.ListPipelineExecutions(ctx, appID, pl.(*model.Pipeline).ID, p)
			})
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, x := range xs {
				if x.Status.Final() {
					continue
				}
				in, err := failExecution(ctx, st, x.ID, now)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if in != nil {
					out = append(out, *in)
				}
			}
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("recover interrupted work: %w", errors.Join(errs...))
	}
	return out, nil
}

func listAll[T any](ctx context.Context, page func(store.Page) ([]T, string, error)) ([]T, error) {
	var all []T
	p := store.Page{Limit: store.MaxLimit}
	for {
		items, next, err := page(p)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" || ctx.Err() != nil {
			return all, ctx.Err()
		}
		p.Cursor = next
	}
}

// failDeployment marks one deployment FAILED, records why, deletes its
// waits and releases its lease. nil means it had ended meanwhile.
func failDeployment(ctx context.Context, st *store.Store, id string, now func() time.Time) (*Interrupted, error) {
	var in *Interrupted
	for attempt := 0; ; attempt++ {
		d, err := store.Get[*model.Deployment](ctx, st, id)
		if err != nil {
			return nil, fmt.Errorf("deployment %s: %w", id, err)
		}
		if d.Status.Final() {
			return nil, nil
		}
		in = &Interrupted{Kind: model.KindDeployment, ID: id, Was: string(d.Status)}
		if d.Runtime != nil {
			in.Lease = d.Runtime.Target.LeaseKey
		}
		t := now().UTC()
		d.Status, d.EndedAt = model.StatusFailed, &t
		if d.Reason != "" {
			d.Reason += "; "
		}
		d.Reason += interruptedReason
		for i := range d.Steps {
			if d.Steps[i].EndedAt.IsZero() {
				d.Steps[i].EndedAt, d.Steps[i].Result, d.Steps[i].Error = t, "INTERRUPTED", "Interrupted"
			}
		}
		err = st.Update(ctx, d)
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("mark deployment %s failed: %w", id, err)
		}
		break
	}
	data, _ := json.Marshal(map[string]any{"status": model.StatusFailed, "was": in.Was, "interrupted": true})
	var errs []error
	if err := st.AppendLedger(ctx, id, model.LedgerEntry{At: now().UTC(), Kind: model.LedgerStatus,
		Message: fmt.Sprintf("FAILED: interrupted while %s (ecsflow local restarted; its execution did not survive)", in.Was), Data: data}); err != nil {
		errs = append(errs, err)
	}
	ws, err := st.WaitsForDeployment(ctx, id)
	if err != nil {
		errs = append(errs, err)
	}
	for _, w := range ws {
		if err := st.DeleteWait(ctx, w); err != nil {
			errs = append(errs, err)
		}
	}
	if in.Lease != "" {
		if err := st.ReleaseLease(ctx, in.Lease, id); err != nil && !errors.Is(err, store.ErrLeaseHeld) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return in, fmt.Errorf("deployment %s: %w", id, errors.Join(errs...))
	}
	return in, nil
}

// failExecution marks one pipeline execution FAILED (ABORTED if an abort
// was requested) with its unfinished stages. nil means it had ended
// meanwhile.
func failExecution(ctx context.Context, st *store.Store, id string, now func() time.Time) (*Interrupted, error) {
	for attempt := 0; ; attempt++ {
		x, err := store.Get[*model.PipelineExecution](ctx, st, id)
		if err != nil {
			return nil, fmt.Errorf("pipeline execution %s: %w", id, err)
		}
		if x.Status.Final() {
			return nil, nil
		}
		in := &Interrupted{Kind: model.KindPipelineExecution, ID: id, Was: string(x.Status)}
		t := now().UTC()
		for i := range x.Stages {
			s := &x.Stages[i]
			if s.Status.Final() {
				continue
			}
			if s.Status == model.PipelineRunning || s.Status == model.PipelineWaitingApproval {
				if x.FailedStage == "" {
					x.FailedStage = s.Name
				}
				s.Status, s.EndedAt, s.Error, s.Cause = model.PipelineFailed, &t, "Interrupted", strings.TrimPrefix(interruptedReason, "Interrupted: ")
				s.ApprovalToken = ""
				if s.DeploymentID != "" && !s.DeploymentStatus.Final() {
					s.DeploymentStatus = model.StatusFailed
				}
			} else {
				s.Status = model.PipelineSkipped
			}
		}
		x.Status, x.EndedAt = model.PipelineFailed, &t
		if x.Abort != nil {
			x.Status = model.PipelineAborted // an abort was asked for: it has its way
		}
		if x.Reason != "" {
			x.Reason += "; "
		}
		x.Reason += interruptedReason
		err = st.Update(ctx, x)
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("mark pipeline execution %s failed: %w", id, err)
		}
		return in, nil
	}
}
