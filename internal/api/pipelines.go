package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// PipelineStarter starts the execution that carries a recorded pipeline
// execution out (internal/pipeline.SFNStarter).
type PipelineStarter interface {
	StartPipeline(ctx context.Context, x *model.PipelineExecution) (executionARN string, err error)
}

// PipelineController ends a pipeline execution's waiting approval stage on
// a user's request (internal/pipeline.Controller). It returns errors
// wrapping ErrWrongState when no stage waits or the principal may not
// decide.
type PipelineController interface {
	ApproveStage(ctx context.Context, id, principal, comment string) error
	RejectStage(ctx context.Context, id, principal, comment string) error
}

// PipelineLister lists one pipeline's executions, newest first
// (*store.Store implements it). The handler uses it when its repository
// implements it.
type PipelineLister interface {
	ListPipelineExecutions(ctx context.Context, appID, pipelineID string, p store.Page) ([]*model.PipelineExecution, string, error)
}

type pipelineDeps struct {
	starter PipelineStarter
	ctrl    PipelineController
}

// WithPipelines connects the pipeline engine: without it, starting a
// pipeline and approving its stages answer 503.
func WithPipelines(s PipelineStarter, c PipelineController) Option {
	return func(h *Handler) { h.pipes = pipelineDeps{starter: s, ctrl: c} }
}

// PipelineExecutionRequest is the body of POST /v1/pipelines/{id}/executions.
// ServiceID names the service for workflow stages that name none and whose
// workflow fixes none. Variables flow into every workflow stage.
type PipelineExecutionRequest struct {
	Artifact  ArtifactRequest   `json:"artifact"`
	ServiceID string            `json:"serviceId,omitempty"`
	Variables map[string]string `json:"variables,omitempty"`
}

// NewPipelineExecution returns the PENDING execution of pl for the
// request, attributed to by, with every stage PENDING. It checks what can
// be checked without the engine: the request itself, that every workflow
// stage resolves a service and, for the request's service (which the
// workflow stages naming no service deploy), that every workflow variable
// its container definitions use is among the request's variables. The
// services that stages name themselves are not loaded here: their
// deployments are checked when each stage creates its deployment. Problems are a *model.ValidationError
// (the API answers 400); other errors are the store's.
func NewPipelineExecution(ctx context.Context, repo Repository, pl *model.Pipeline, req PipelineExecutionRequest, by model.TriggeredBy) (*model.PipelineExecution, error) {
	x := &model.PipelineExecution{ApplicationID: pl.ApplicationID, PipelineID: pl.ID, PipelineName: pl.Name,
		ServiceID: req.ServiceID, Variables: req.Variables, TriggeredBy: by, Status: model.PipelinePending,
		Artifact:   model.Artifact{Tag: req.Artifact.Tag, Digest: req.Artifact.Digest, Image: req.Artifact.Image},
		Definition: append([]model.Stage(nil), pl.Stages...)}
	for _, s := range pl.Stages {
		x.Stages = append(x.Stages, model.StageRecord{Name: s.Name, Type: s.Type, WorkflowID: s.WorkflowID, Status: model.PipelinePending})
	}
	var fe []model.FieldError
	if err := x.Validate(); err != nil {
		var ve *model.ValidationError
		if !errors.As(err, &ve) {
			return nil, err
		}
		fe = append(fe, ve.Fields...)
	}
	if len(pl.Stages) == 0 {
		fe = append(fe, model.FieldError{Field: "pipeline.stages", Message: "the pipeline has no stages"})
	}
	if req.ServiceID != "" {
		if k, ok := model.KindOfID(req.ServiceID); !ok || k != model.KindService {
			fe = append(fe, model.FieldError{Field: "serviceId", Message: "is not a service id"})
		} else if e, err := repo.Get(ctx, model.KindService, req.ServiceID); errors.Is(err, store.ErrNotFound) {
			fe = append(fe, model.FieldError{Field: "serviceId", Message: fmt.Sprintf("no Service with id %q", req.ServiceID)})
		} else if err != nil {
			return nil, fmt.Errorf("get service %s: %w", req.ServiceID, err)
		} else if svc, ok := e.(*model.Service); ok && slices.ContainsFunc(pl.Stages, func(s model.Stage) bool {
			return s.Type == model.StageWorkflow && s.ServiceID == ""
		}) {
			// The workflow stages that name no service deploy this one:
			// a missing workflow variable would fail their PREPARE.
			fe = append(fe, missingVariables(svc, req.Variables, "pipeline execution")...)
		}
	}
	for i, s := range pl.Stages {
		if s.Type != model.StageWorkflow || s.ServiceID != "" || req.ServiceID != "" {
			continue
		}
		e, err := repo.Get(ctx, model.KindWorkflow, s.WorkflowID)
		if errors.Is(err, store.ErrNotFound) {
			fe = append(fe, model.FieldError{Field: fmt.Sprintf("pipeline.stages[%d].workflowId", i), Message: "no such workflow"})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get workflow %s: %w", s.WorkflowID, err)
		}
		if wf, ok := e.(*model.Workflow); ok && wf.ServiceID == "" {
			fe = append(fe, model.FieldError{Field: "serviceId",
				Message: fmt.Sprintf("is required: stage %s's workflow %s does not fix a service", s.Name, wf.Name)})
		}
	}
	if len(fe) > 0 {
		return nil, &model.ValidationError{Fields: fe}
	}
	return x, nil
}

func (h *Handler) startPipeline(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	pl, err := getAs[*model.Pipeline](ctx, h, model.KindPipeline, r.PathValue("id"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	b, err := readBody(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var req PipelineExecutionRequest
	if err := decodeStrict(b, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	x, err := NewPipelineExecution(ctx, h.repo, pl, req, model.TriggeredBy{Kind: model.TriggeredByAPI, Principal: principal(r)})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if h.pipes.starter == nil {
		h.writeError(w, r, errorf(http.StatusServiceUnavailable, codeNoEngine, "no pipeline engine is connected"))
		return
	}
	x.ID = model.NewID(model.KindPipelineExecution)
	if err := h.repo.Create(ctx, x); err != nil {
		h.writeError(w, r, fmt.Errorf("record pipeline execution: %w", err))
		return
	}
	arn, startErr := h.pipes.starter.StartPipeline(ctx, x)
	saveCtx := context.WithoutCancel(ctx)
	final, err := h.mutatePipelineExecution(saveCtx, x.ID, func(cur *model.PipelineExecution) error {
		if startErr != nil {
			if cur.Status != model.PipelinePending {
				return nil // the engine already moved it on
			}
			now := h.now().UTC()
			cur.Status, cur.EndedAt, cur.Reason = model.PipelineFailed, &now, "start execution: "+startErr.Error()
			for i := range cur.Stages {
				cur.Stages[i].Status = model.PipelineSkipped
			}
			return nil
		}
		if cur.ExecutionARN == "" {
			cur.ExecutionARN = arn
		}
		return nil
	})
	if err != nil {
		h.writeError(w, r, fmt.Errorf("record the start of pipeline execution %s: %w", x.ID, err))
		return
	}
	if startErr != nil {
		h.writeError(w, r, &apiError{status: http.StatusBadGateway, body: ErrorDetail{Code: codeStartFailed,
			Message: fmt.Sprintf("pipeline execution %s was recorded and marked FAILED: its execution did not start", x.ID)}, cause: startErr})
		return
	}
	w.Header().Set("ETag", etag(final.Version))
	w.Header().Set("Location", "/v1/pipeline-executions/"+final.ID)
	writeJSON(w, http.StatusCreated, redactTokens(final))
}

func (h *Handler) listPipelineExecutions(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	pl, err := getAs[*model.Pipeline](ctx, h, model.KindPipeline, r.PathValue("id"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	p, err := pageFrom(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	lister, ok := h.repo.(PipelineLister)
	if !ok {
		h.writeError(w, r, errorf(http.StatusServiceUnavailable, codeNoEngine, "this store cannot list pipeline executions"))
		return
	}
	items, next, err := lister.ListPipelineExecutions(ctx, pl.ApplicationID, pl.ID, p)
	if err != nil {
		h.writeError(w, r, fmt.Errorf("list executions of pipeline %s: %w", pl.ID, err))
		return
	}
	out := ListBody[*model.PipelineExecution]{Items: make([]*model.PipelineExecution, 0, len(items)), NextCursor: next}
	for _, x := range items {
		out.Items = append(out.Items, redactTokens(x))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) getPipelineExecution(w http.ResponseWriter, r *http.Request) {
	x, err := getAs[*model.PipelineExecution](r.Context(), h, model.KindPipelineExecution, r.PathValue("id"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(x.Version))
	writeJSON(w, http.StatusOK, redactTokens(x))
}

func (h *Handler) controlPipelineExecution(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := r.PathValue("id")
		req, err := readControlRequest(w, r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if _, err := getAs[*model.PipelineExecution](ctx, h, model.KindPipelineExecution, id); err != nil {
			h.writeError(w, r, err)
			return
		}
		if h.pipes.ctrl == nil {
			h.writeError(w, r, errorf(http.StatusServiceUnavailable, codeNoEngine, "no pipeline engine is connected"))
			return
		}
		do := h.pipes.ctrl.ApproveStage
		if action == "reject" {
			do = h.pipes.ctrl.RejectStage
		}
		if err := do(ctx, id, principal(r), req.Comment); err != nil {
			h.writeError(w, r, fmt.Errorf("%s pipeline execution %s: %w", action, id, err))
			return
		}
		x, err := getAs[*model.PipelineExecution](ctx, h, model.KindPipelineExecution, id)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		w.Header().Set("ETag", etag(x.Version))
		writeJSON(w, http.StatusOK, redactTokens(x))
	}
}

// redactTokens returns x without its stages' task tokens (a token lets its
// holder end the stage without the approver check).
func redactTokens(x *model.PipelineExecution) *model.PipelineExecution {
	c := *x
	c.Stages = append([]model.StageRecord(nil), x.Stages...)
	for i := range c.Stages {
		c.Stages[i].ApprovalToken = ""
	}
	return &c
}

func (h *Handler) mutatePipelineExecution(ctx context.Context, id string, f func(*model.PipelineExecution) error) (*model.PipelineExecution, error) {
	for attempt := 0; ; attempt++ {
		e, err := h.repo.Get(ctx, model.KindPipelineExecution, id)
		if err != nil {
			return nil, fmt.Errorf("get pipeline execution %s: %w", id, err)
		}
		x, ok := e.(*model.PipelineExecution)
		if !ok {
			return nil, fmt.Errorf("get pipeline execution %s: store returned %T", id, e)
		}
		if err := f(x); err != nil {
			return nil, err
		}
		err = h.repo.Update(ctx, x)
		if errors.Is(err, store.ErrConflict) && attempt < 8 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("update pipeline execution %s: %w", id, err)
		}
		return x, nil
	}
}

// pipelineRoutes are the pipeline execution routes.
func (h *Handler) pipelineRoutes(add func(method, pattern string, f http.HandlerFunc)) {
	add(http.MethodGet, "/v1/pipelines/{id}/executions", h.listPipelineExecutions)
	add(http.MethodPost, "/v1/pipelines/{id}/executions", h.startPipeline)
	add(http.MethodGet, "/v1/pipeline-executions/{id}", h.getPipelineExecution)
	for _, a := range []string{"approve", "reject"} {
		add(http.MethodPost, "/v1/pipeline-executions/{id}/"+a, h.controlPipelineExecution(a))
	}
	add(http.MethodPost, "/v1/pipeline-executions/{id}/abort", h.abortPipelineExecution)
}

// pipelineDocs adds the pipeline execution operations to the OpenAPI document.
func pipelineDocs(put func(path, method string, op obj), common func(codes ...string) obj, with func(obj, string, obj) obj, g *schemaGen) {
	put("/v1/pipelines/{id}/executions", http.MethodGet, obj{
		"summary": "List a pipeline's executions, newest first", "operationId": "listPipelineExecutions",
		"parameters": append([]obj{pathParam("id")}, pageParams...),
		"responses":  with(common("400", "404"), "200", okResp("a page of pipeline executions", listSchema("PipelineExecution"), false)),
	})
	put("/v1/pipelines/{id}/executions", http.MethodPost, obj{
		"summary":     "Start a pipeline with an artifact: record the execution PENDING and start it",
		"operationId": "startPipeline", "parameters": []obj{pathParam("id")},
		"requestBody": obj{"required": true, "content": jsonContent(ref("PipelineExecutionRequest"))},
		"responses": with(with(with(common("400", "404", "413", "415"), "201", okResp("recorded and started", ref("PipelineExecution"), true)),
			"502", errResp("recorded, but the execution did not start; it is FAILED")),
			"503", errResp("no pipeline engine is connected")),
	})
	put("/v1/pipeline-executions/{id}", http.MethodGet, obj{
		"summary":     "Get a pipeline execution with every stage's status, times, deployment ids and approvals",
		"operationId": "getPipelineExecution", "parameters": []obj{pathParam("id")},
		"responses": with(common("404"), "200", okResp("the pipeline execution", ref("PipelineExecution"), true)),
	})
	for _, a := range []string{"approve", "reject"} {
		put("/v1/pipeline-executions/{id}/"+a, http.MethodPost, obj{
			"summary": "End the waiting approval stage: " + a, "operationId": a + "PipelineExecution",
			"parameters":  []obj{pathParam("id")},
			"requestBody": obj{"required": false, "content": jsonContent(ref("ControlRequest"))},
			"responses": with(with(common("400", "404", "409", "413", "415"), "200", okResp("the pipeline execution after the request", ref("PipelineExecution"), true)),
				"503", errResp("no pipeline engine is connected")),
		})
	}
	abortPipelineDocs(put, common, with)
	g.named(reflect.TypeOf(model.PipelineExecution{}))
	g.named(reflect.TypeOf(PipelineExecutionRequest{}))
}
