package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/ecsflow/ecsflow/internal/model"
)

// PipelineAborter aborts pipeline executions. The handler uses it when its
// PipelineController implements it (pipeline.Controller, given WithAbort).
type PipelineAborter interface {
	AbortExecution(ctx context.Context, id, principal, comment string) error
}

// abortPipelineExecution serves POST /v1/pipeline-executions/{id}/abort:
// the execution stops (its running deployment aborted as through its own
// abort), records who and why, and ends ABORTED; 409 once it has ended.
func (h *Handler) abortPipelineExecution(w http.ResponseWriter, r *http.Request) {
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
	ab, ok := h.pipes.ctrl.(PipelineAborter)
	if h.pipes.ctrl == nil || !ok {
		h.writeError(w, r, errorf(http.StatusServiceUnavailable, codeNoEngine, "no pipeline engine that can abort is connected"))
		return
	}
	if err := ab.AbortExecution(ctx, id, principal(r), req.Comment); err != nil {
		h.writeError(w, r, fmt.Errorf("abort pipeline execution %s: %w", id, err))
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

// abortPipelineDocs adds the abort operation to the OpenAPI document.
func abortPipelineDocs(put func(path, method string, op obj), common func(codes ...string) obj, with func(obj, string, obj) obj) {
	put("/v1/pipeline-executions/{id}/abort", http.MethodPost, obj{
		"summary": "Abort a pipeline execution: its running stage's deployment is aborted, a waiting approval or wait ends; " +
			"the execution records who and why and ends ABORTED",
		"operationId": "abortPipelineExecution", "parameters": []obj{pathParam("id")},
		"requestBody": obj{"required": false, "content": jsonContent(ref("ControlRequest"))},
		"responses": with(with(common("400", "404", "409", "413", "415"), "200", okResp("the pipeline execution after the request", ref("PipelineExecution"), true)),
			"503", errResp("no pipeline engine is connected")),
	})
}
