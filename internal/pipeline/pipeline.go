// Package pipeline runs ecsflow pipelines: the steps of
// statemachines/pipeline.asl.json, the approve/reject controller, the
// starter of pipeline executions, and status notifications on EventBridge.
//
// A pipeline execution (model.PipelineExecution) runs its stages in order,
// as they were when it started (its Definition):
//
//   - WORKFLOW: step-pipeline-next fixes a deployment id on the stage
//     record, creates the deployment QUEUED through the API's creation path
//     (the Creator; with a NestedStarter, so nothing starts it there), and
//     answers the strategy's state machine ARN. The ASL then runs that state
//     machine as a nested execution (states:startExecution.sync:2) named by
//     the deployment id, exactly like a deployment started through the API.
//   - APPROVAL: step-pipeline-approval stores the task token on the stage
//     record; Controller.Approve/Reject (POST /v1/pipeline-executions/{id}/
//     approve|reject) complete it and record who and why. At the stage's
//     timeout its onTimeout default (REJECT unless APPROVE) decides.
//   - WAIT: an ASL Wait of the stage's seconds.
//
// step-pipeline-stage-end records each stage's end; a failed stage stops
// the pipeline, and step-pipeline-finish ends it FAILED naming that stage
// (later stages SKIPPED) or SUCCEEDED.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// Function names of the pipeline steps (functions/<name>; ASL placeholders
// ${StepPipelineNextArn}, ...).
const (
	FnNext     = "step-pipeline-next"
	FnApproval = "step-pipeline-approval"
	FnStageEnd = "step-pipeline-stage-end"
	FnFinish   = "step-pipeline-finish"
)

// Functions lists the pipeline step functions.
var Functions = []string{FnNext, FnApproval, FnStageEnd, FnFinish}

// Invalid is a stage that cannot run as defined (a missing workflow, a
// refused deployment, no state machine for its strategy). Its type name is
// the ASL error name.
type Invalid struct{ Msg string }

func (e *Invalid) Error() string { return e.Msg }

// Transient is a failure that a retry may cure (store throttling, a
// version conflict that kept losing).
type Transient struct{ Msg string }

func (e *Transient) Error() string { return e.Msg }

// Store is what the pipeline needs of the store (*store.Store).
type Store interface {
	Get(ctx context.Context, kind model.Kind, id string) (model.Entity, error)
	Update(ctx context.Context, e model.Entity) error
}

var _ Store = (*store.Store)(nil)

// Creator records a deployment exactly as POST /v1/deployments does, with
// a given id and attribution (trigger.APICreator implements it).
type Creator interface {
	CreateDeployment(ctx context.Context, req api.DeploymentRequest, id string, by model.TriggeredBy) (*model.Deployment, error)
}

// Config wires the pipeline steps.
type Config struct {
	Store   Store
	Creator Creator
	// StateMachines are the deployment state machines by strategy, run as
	// nested executions.
	StateMachines map[model.StrategyType]string
	Notifier      *Notifier // nil: no notifications
	Now           func() time.Time
	Logger        *slog.Logger
}

// Engine holds the pipeline step handlers.
type Engine struct {
	st       Store
	creator  Creator
	machines map[model.StrategyType]string
	notify   *Notifier
	now      func() time.Time
	log      *slog.Logger
}

// New returns the pipeline steps.
func New(c Config) (*Engine, error) {
	if c.Store == nil || c.Creator == nil {
		return nil, errors.New("pipeline: a store and a creator are required")
	}
	e := &Engine{st: c.Store, creator: c.Creator, machines: map[model.StrategyType]string{}, notify: c.Notifier,
		now: c.Now, log: c.Logger}
	for k, v := range c.StateMachines {
		e.machines[k] = v
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	return e, nil
}

// Handler is a step as a Lambda handler on raw JSON.
type Handler func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error)

// Handlers maps each function name to its handler.
func (e *Engine) Handlers() map[string]Handler {
	return map[string]Handler{
		FnNext:     adapt(e.Next),
		FnApproval: adapt(e.Approval),
		FnStageEnd: adapt(e.StageEnd),
		FnFinish:   adapt(e.Finish),
	}
}

func adapt[I, O any](f func(context.Context, I) (O, error)) Handler {
	return func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
		var in I
		if err := json.Unmarshal(payload, &in); err != nil {
			return nil, &Invalid{Msg: fmt.Sprintf("decode input: %v", err)}
		}
		out, err := f(ctx, in)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, fmt.Errorf("encode output: %w", err)
		}
		return b, nil
	}
}

// StageInput names a stage of an execution.
type StageInput struct {
	PipelineExecutionID string `json:"pipelineExecutionId"`
	Index               int    `json:"index"`
	ExecutionARN        string `json:"executionArn,omitempty"`
}

// KindParallel is the kind Next answers for a group of WORKFLOW stages
// that run at the same time (stages marked parallelWithPrevious after it).
const KindParallel model.StageType = "PARALLEL"

// NextOutput says what the state machine runs next.
type NextOutput struct {
	Done            bool            `json:"done"`
	Kind            model.StageType `json:"kind,omitempty"`
	Name            string          `json:"name,omitempty"`
	DeploymentID    string          `json:"deploymentId,omitempty"`
	StateMachineARN string          `json:"stateMachineArn,omitempty"`
	WaitSeconds     int32           `json:"waitSeconds,omitempty"`
	TimeoutSeconds  int32           `json:"timeoutSeconds,omitempty"`
	// Group lists a PARALLEL group's stages, run by the ASL's Map state;
	// NextIndex is the stage after the group.
	Group     []GroupMember `json:"group,omitempty"`
	NextIndex int           `json:"nextIndex,omitempty"`
}

// GroupMember is one WORKFLOW stage of a PARALLEL group.
type GroupMember struct {
	Index           int    `json:"index"`
	Name            string `json:"name"`
	DeploymentID    string `json:"deploymentId"`
	StateMachineARN string `json:"stateMachineArn"`
}

// Next starts stage Index (marking the execution RUNNING on its first
// call) and says how to run it.
func (e *Engine) Next(ctx context.Context, in StageInput) (NextOutput, error) {
	var out NextOutput
	var started *model.PipelineExecution
	var members []int // the WORKFLOW stages to run now
	x, err := e.mutate(ctx, in.PipelineExecutionID, func(x *model.PipelineExecution) error {
		now := e.now().UTC()
		started, members = nil, nil
		if x.Abort != nil && !x.Status.Final() || x.FailedStage != "" {
			// Aborted between stages (or before the first), or a stage of
			// a parallel group failed: end it.
			out = NextOutput{Done: true}
			return nil
		}
		if x.Status == model.PipelinePending {
			x.Status, x.StartedAt = model.PipelineRunning, &now
			if in.ExecutionARN != "" {
				x.ExecutionARN = in.ExecutionARN
			}
			started = x
		}
		if x.Status.Final() {
			return &Invalid{Msg: fmt.Sprintf("pipeline execution %s already ended %s", x.ID, x.Status)}
		}
		if in.Index < 0 || in.Index >= len(x.Definition) || len(x.Stages) != len(x.Definition) {
			out = NextOutput{Done: true}
			return nil
		}
		def, rec := x.Definition[in.Index], &x.Stages[in.Index]
		if rec.Status == model.PipelinePending {
			rec.Status, rec.StartedAt = model.PipelineRunning, &now
		}
		x.Status = model.PipelineRunning
		out = NextOutput{Kind: def.Type, Name: def.Name}
		switch def.Type {
		case model.StageWorkflow:
			last := in.Index
			for last+1 < len(x.Definition) && x.Definition[last+1].ParallelWithPrevious && x.Definition[last+1].Type == model.StageWorkflow {
				last++
			}
			for k := in.Index; k <= last; k++ {
				r := &x.Stages[k]
				if r.Status == model.PipelinePending {
					r.Status, r.StartedAt = model.PipelineRunning, &now
				}
				if r.DeploymentID == "" {
					r.DeploymentID = model.NewID(model.KindDeployment)
				}
				members = append(members, k)
			}
			if last > in.Index {
				out.Kind, out.NextIndex = KindParallel, last+1
			}
		case model.StageApproval:
			out.TimeoutSeconds = model.DefaultApprovalTimeoutSeconds
			if def.Approval != nil && def.Approval.TimeoutSeconds > 0 {
				out.TimeoutSeconds = def.Approval.TimeoutSeconds
			}
		case model.StageWait:
			out.WaitSeconds = max(0, def.WaitSeconds)
		default:
			return &Invalid{Msg: fmt.Sprintf("stage %s has unknown type %q", def.Name, def.Type)}
		}
		return nil
	})
	if err != nil {
		return NextOutput{}, err
	}
	if started != nil {
		e.notify.publish(ctx, e.detail(x, NotifyStarted, ""))
	}
	if out.Done || len(members) == 0 {
		return out, nil
	}
	// The deployment engine announces each deployment itself (STARTED at
	// PREPARE, then its end), as it does every deployment's.
	for _, k := range members {
		d, _, err := e.deployment(ctx, x, k, x.Stages[k].DeploymentID)
		if err != nil {
			return NextOutput{}, err
		}
		arn := e.machines[d.Strategy]
		if arn == "" {
			return NextOutput{}, &Invalid{Msg: fmt.Sprintf("stage %s: no state machine for strategy %q", x.Definition[k].Name, d.Strategy)}
		}
		out.Group = append(out.Group, GroupMember{Index: k, Name: x.Definition[k].Name, DeploymentID: d.ID, StateMachineARN: arn})
	}
	if out.Kind == KindParallel {
		return out, nil
	}
	out.DeploymentID, out.StateMachineARN, out.Group = out.Group[0].DeploymentID, out.Group[0].StateMachineARN, nil
	return out, nil
}

// deployment returns the stage's deployment, creating it on the first call.
func (e *Engine) deployment(ctx context.Context, x *model.PipelineExecution, i int, id string) (d *model.Deployment, created bool, err error) {
	def := x.Definition[i]
	got, err := e.st.Get(ctx, model.KindDeployment, id)
	if err == nil {
		d, ok := got.(*model.Deployment)
		if !ok {
			return nil, false, fmt.Errorf("get deployment %s: store returned %T", id, got)
		}
		if d.PipelineExecutionID != x.ID {
			// An earlier attempt created it and stopped before linking.
			d, err = e.link(ctx, x, id)
		}
		return d, false, err
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, false, &Transient{Msg: fmt.Sprintf("get deployment %s: %v", id, err)}
	}
	svc := def.ServiceID
	if svc == "" {
		svc = x.ServiceID
	}
	// The variables go in the request, not only in link: the API refuses a
	// deployment without the workflow variables its template uses.
	req := api.DeploymentRequest{AppID: x.ApplicationID, WorkflowID: def.WorkflowID, ServiceID: svc,
		Artifact:  api.ArtifactRequest{Tag: x.Artifact.Tag, Digest: x.Artifact.Digest, Image: x.Artifact.Image},
		Variables: maps.Clone(x.Variables)}
	by := model.TriggeredBy{Kind: model.TriggeredByPipeline, ID: x.ID, Principal: x.TriggeredBy.Principal}
	d, err = e.creator.CreateDeployment(ctx, req, id, by)
	if err != nil {
		var r interface{ Retryable() bool }
		if errors.As(err, &r) && r.Retryable() {
			return nil, false, &Transient{Msg: fmt.Sprintf("stage %s: %v", def.Name, err)}
		}
		return nil, false, &Invalid{Msg: fmt.Sprintf("stage %s: %v", def.Name, err)}
	}
	d, err = e.link(ctx, x, id)
	if err != nil {
		return nil, false, err
	}
	return d, true, nil
}

// link ties deployment id to its pipeline execution and gives it the
// execution's variables (its workflow variables, rendered by the deployment
// engine). It runs before the nested execution starts.
func (e *Engine) link(ctx context.Context, x *model.PipelineExecution, id string) (*model.Deployment, error) {
	for attempt := 0; ; attempt++ {
		cur, err := getAs[*model.Deployment](ctx, e.st, model.KindDeployment, id)
		if err != nil {
			return nil, &Transient{Msg: fmt.Sprintf("get deployment %s: %v", id, err)}
		}
		cur.PipelineExecutionID = x.ID
		if len(x.Variables) > 0 {
			cur.Variables = maps.Clone(x.Variables)
		}
		err = e.st.Update(ctx, cur)
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return nil, &Transient{Msg: fmt.Sprintf("link deployment %s: %v", id, err)}
		}
		return cur, nil
	}
}

// ApprovalInput is the payload of the approval wait.
type ApprovalInput struct {
	PipelineExecutionID string `json:"pipelineExecutionId"`
	Index               int    `json:"index"`
	Token               string `json:"token"`
}

// Approval stores the stage's task token and announces that it waits.
func (e *Engine) Approval(ctx context.Context, in ApprovalInput) (struct{}, error) {
	if in.Token == "" {
		return struct{}{}, &Invalid{Msg: "approval: no task token"}
	}
	var def model.Stage
	x, err := e.mutate(ctx, in.PipelineExecutionID, func(x *model.PipelineExecution) error {
		if in.Index < 0 || in.Index >= len(x.Stages) || in.Index >= len(x.Definition) {
			return &Invalid{Msg: fmt.Sprintf("approval: no stage %d", in.Index)}
		}
		if x.Abort != nil {
			return &Invalid{Msg: "approval: the pipeline execution was " + abortReason(x.Abort)}
		}
		def = x.Definition[in.Index]
		rec := &x.Stages[in.Index]
		rec.ApprovalToken, rec.Status = in.Token, model.PipelineWaitingApproval
		x.Status = model.PipelineWaitingApproval
		return nil
	})
	if err != nil {
		return struct{}{}, err
	}
	d := e.detail(x, NotifyApprovalNeeded, def.Name)
	if def.Approval != nil {
		d.Approvers, d.Message = def.Approval.Approvers, def.Approval.Message
	}
	e.notify.publish(ctx, d)
	return struct{}{}, nil
}

// Stage outcomes reported to StageEnd.
const (
	OutcomeSucceeded = "SUCCEEDED"
	OutcomeFailed    = "FAILED"
	OutcomeTimedOut  = "TIMED_OUT"
)

// ErrorInfo is a caught ASL error.
type ErrorInfo struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// StageEndInput reports how a stage ended.
type StageEndInput struct {
	PipelineExecutionID string     `json:"pipelineExecutionId"`
	Index               int        `json:"index"`
	Outcome             string     `json:"outcome"`
	Error               *ErrorInfo `json:"error,omitempty"`
}

// StageEndOutput says whether the pipeline stops.
type StageEndOutput struct {
	Failed bool `json:"failed"`
}

// StageEnd records a stage's end: its status and times, a workflow
// stage's deployment status, an approval's timeout default.
func (e *Engine) StageEnd(ctx context.Context, in StageEndInput) (StageEndOutput, error) {
	var dep *model.Deployment
	x0, err := getExecution(ctx, e.st, in.PipelineExecutionID)
	if err != nil {
		return StageEndOutput{}, err
	}
	if in.Index >= 0 && in.Index < len(x0.Stages) && x0.Stages[in.Index].DeploymentID != "" {
		d, err := getAs[*model.Deployment](ctx, e.st, model.KindDeployment, x0.Stages[in.Index].DeploymentID)
		switch {
		case err == nil:
			dep = d
		case !errors.Is(err, store.ErrNotFound):
			return StageEndOutput{}, &Transient{Msg: fmt.Sprintf("get deployment: %v", err)}
		}
	}
	var out StageEndOutput
	_, err = e.mutate(ctx, in.PipelineExecutionID, func(x *model.PipelineExecution) error {
		out = StageEndOutput{}
		now := e.now().UTC()
		if x.Status.Final() {
			// Ended meanwhile (an abort stopped it): nothing to record.
			out.Failed = true
			return nil
		}
		if in.Index < 0 || in.Index >= len(x.Stages) {
			// A failure before any stage could be named.
			if in.Outcome != OutcomeSucceeded {
				out.Failed = true
				x.Reason = "pipeline failed: " + errText(in.Error)
			}
			return nil
		}
		def, rec := x.Definition[in.Index], &x.Stages[in.Index]
		rec.ApprovalToken = ""
		if rec.StartedAt == nil {
			rec.StartedAt = &now
		}
		rec.EndedAt = &now
		if dep != nil {
			rec.DeploymentStatus = dep.Status
		}
		x.Status = model.PipelineRunning
		if x.Abort != nil {
			// Aborted: the pipeline stops here whatever the stage did.
			out.Failed = true
			if in.Error != nil {
				rec.Error, rec.Cause = in.Error.Error, truncate(in.Error.Cause, 2048)
			}
			rec.Status = model.PipelineAborted
			if in.Outcome == OutcomeSucceeded && (dep == nil || dep.Status == model.StatusSucceeded) {
				rec.Status = model.PipelineSucceeded
			}
			return nil
		}
		fail := func(msg string) {
			rec.Status, out.Failed = model.PipelineFailed, true
			if x.FailedStage == "" { // in a parallel group, the first to fail
				x.FailedStage = rec.Name
				x.Reason = fmt.Sprintf("stage %s failed: %s", rec.Name, msg)
			}
		}
		switch in.Outcome {
		case OutcomeSucceeded:
			if dep != nil && dep.Status != model.StatusSucceeded {
				fail(fmt.Sprintf("deployment %s ended %s: %s", dep.ID, dep.Status, dep.Reason))
				return nil
			}
			rec.Status = model.PipelineSucceeded
		case OutcomeTimedOut:
			approve := def.Approval != nil && def.Approval.OnTimeout == model.ApprovalDefaultApprove
			rec.Approvals = append(rec.Approvals, model.ApprovalRecord{Approved: approve, Principal: "timeout", At: now, Default: true,
				Comment: "nobody answered in time; the stage's onTimeout default applied"})
			if !approve {
				rec.Error, rec.Cause = "ApprovalRejected", "timed out with the REJECT default"
				fail("approval timed out (default REJECT)")
				return nil
			}
			rec.Status = model.PipelineSucceeded
		default:
			if in.Error != nil {
				rec.Error, rec.Cause = in.Error.Error, truncate(in.Error.Cause, 2048)
			}
			msg := errText(in.Error)
			if dep != nil && dep.Status.Final() {
				msg = fmt.Sprintf("deployment %s ended %s", dep.ID, dep.Status)
				if dep.Reason != "" {
					msg += ": " + dep.Reason
				}
			} else if in.Error != nil && in.Error.Error == "ApprovalRejected" {
				msg = "approval rejected: " + in.Error.Cause
			}
			fail(msg)
		}
		return nil
	})
	if err != nil {
		return StageEndOutput{}, err
	}
	return out, nil
}

func errText(ei *ErrorInfo) string {
	if ei == nil {
		return "unknown error"
	}
	if ei.Cause == "" {
		return ei.Error
	}
	return ei.Error + ": " + truncate(ei.Cause, 512)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// FinishInput names the execution to end.
type FinishInput struct {
	PipelineExecutionID string `json:"pipelineExecutionId"`
}

// FinishOutput is the execution's final status.
type FinishOutput struct {
	Status      model.PipelineStatus `json:"status"`
	FailedStage string               `json:"failedStage,omitempty"`
}

// Finish ends the execution: FAILED naming the failed stage (later stages
// SKIPPED), or SUCCEEDED when every stage succeeded.
func (e *Engine) Finish(ctx context.Context, in FinishInput) (FinishOutput, error) {
	already := false
	x, err := e.mutate(ctx, in.PipelineExecutionID, func(x *model.PipelineExecution) error {
		if already = x.Status.Final(); already {
			return nil
		}
		settle(x, e.now().UTC())
		return nil
	})
	if err != nil {
		return FinishOutput{}, err
	}
	if !already {
		st := NotifySucceeded
		switch x.Status {
		case model.PipelineAborted:
			st = NotifyAborted
		case model.PipelineFailed:
			st = NotifyFailed
		}
		e.notify.publish(ctx, e.detail(x, st, ""))
	}
	return FinishOutput{Status: x.Status, FailedStage: x.FailedStage}, nil
}

// settle ends x: ABORTED when an abort was requested (the stage it
// stopped ABORTED), else FAILED naming the failed stage, else SUCCEEDED;
// stages that did not run are SKIPPED.
func settle(x *model.PipelineExecution, now time.Time) {
	var unfinished []string
	for i := range x.Stages {
		r := &x.Stages[i]
		switch {
		case r.Status == model.PipelinePending:
			r.Status = model.PipelineSkipped
		case r.Status.Final():
		case x.Abort != nil:
			r.Status, r.EndedAt, r.ApprovalToken = model.PipelineAborted, &now, ""
		default:
			r.Status, r.EndedAt, r.ApprovalToken = model.PipelineFailed, &now, ""
			unfinished = append(unfinished, r.Name)
		}
	}
	switch {
	case x.Abort != nil:
		x.Status = model.PipelineAborted
		if x.Reason == "" {
			x.Reason = abortReason(x.Abort)
		}
	case x.FailedStage != "" || x.Reason != "":
		x.Status = model.PipelineFailed
	case len(unfinished) > 0:
		x.Status, x.FailedStage = model.PipelineFailed, unfinished[0]
		x.Reason = "stage " + strings.Join(unfinished, ", ") + " did not finish"
	default:
		x.Status = model.PipelineSucceeded
	}
	x.EndedAt = &now
}

func (e *Engine) detail(x *model.PipelineExecution, status, stage string) PipelineDetail {
	return detailOf(x, status, stage)
}

func detailOf(x *model.PipelineExecution, status, stage string) PipelineDetail {
	return PipelineDetail{Status: status, PipelineExecutionID: x.ID, PipelineID: x.PipelineID, PipelineName: x.PipelineName,
		AppID: x.ApplicationID, Stage: stage, FailedStage: x.FailedStage, Reason: x.Reason, Artifact: x.Artifact}
}

func (e *Engine) mutate(ctx context.Context, id string, f func(*model.PipelineExecution) error) (*model.PipelineExecution, error) {
	return mutate(ctx, e.st, id, f)
}

// mutate applies f to the stored execution and writes it, re-reading and
// retrying when another writer came in between.
func mutate(ctx context.Context, st Store, id string, f func(*model.PipelineExecution) error) (*model.PipelineExecution, error) {
	for attempt := 0; ; attempt++ {
		x, err := getExecution(ctx, st, id)
		if err != nil {
			return nil, err
		}
		if err := f(x); err != nil {
			return nil, err
		}
		err = st.Update(ctx, x)
		if errors.Is(err, store.ErrConflict) && attempt < 8 {
			continue
		}
		if err != nil {
			return nil, &Transient{Msg: fmt.Sprintf("update pipeline execution %s: %v", id, err)}
		}
		return x, nil
	}
}

func getExecution(ctx context.Context, st Store, id string) (*model.PipelineExecution, error) {
	if k, ok := model.KindOfID(id); !ok || k != model.KindPipelineExecution {
		return nil, &Invalid{Msg: fmt.Sprintf("%q is not a pipeline execution id", id)}
	}
	x, err := getAs[*model.PipelineExecution](ctx, st, model.KindPipelineExecution, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &Invalid{Msg: fmt.Sprintf("no pipeline execution %s", id)}
	}
	if err != nil {
		return nil, &Transient{Msg: fmt.Sprintf("get pipeline execution %s: %v", id, err)}
	}
	return x, nil
}

func getAs[T model.Entity](ctx context.Context, st Store, kind model.Kind, id string) (T, error) {
	var zero T
	e, err := st.Get(ctx, kind, id)
	if err != nil {
		return zero, err
	}
	t, ok := e.(T)
	if !ok {
		return zero, fmt.Errorf("get %s %s: store returned %T", kind, id, e)
	}
	return t, nil
}
