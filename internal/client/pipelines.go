package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/ecsflow/ecsflow/internal/model"
)

// PipelineRequest is the body of POST /v1/pipelines/{id}/executions.
type PipelineRequest struct {
	Artifact  ArtifactRequest   `json:"artifact"`
	ServiceID string            `json:"serviceId,omitempty"`
	Variables map[string]string `json:"variables,omitempty"`
}

// StartPipeline starts an execution of a pipeline.
func (c *Client) StartPipeline(ctx context.Context, pipelineID string, req PipelineRequest) (*model.PipelineExecution, error) {
	var x model.PipelineExecution
	if _, err := c.DoJSON(ctx, http.MethodPost, "/v1/pipelines/"+url.PathEscape(pipelineID)+"/executions", req, nil, &x); err != nil {
		return nil, err
	}
	return &x, nil
}

// PipelineExecution returns one pipeline execution.
func (c *Client) PipelineExecution(ctx context.Context, id string) (*model.PipelineExecution, error) {
	var x model.PipelineExecution
	if _, err := c.DoJSON(ctx, http.MethodGet, "/v1/pipeline-executions/"+url.PathEscape(id), nil, nil, &x); err != nil {
		return nil, err
	}
	return &x, nil
}

// PipelineExecutions lists a pipeline's executions, newest first (one page of at most 100).
func (c *Client) PipelineExecutions(ctx context.Context, pipelineID string) ([]*model.PipelineExecution, error) {
	var pg struct {
		Items []*model.PipelineExecution `json:"items"`
	}
	if _, err := c.DoJSON(ctx, http.MethodGet, "/v1/pipelines/"+url.PathEscape(pipelineID)+"/executions?limit=100", nil, nil, &pg); err != nil {
		return nil, err
	}
	return pg.Items, nil
}

// ControlPipeline approves or rejects a pipeline execution's approval stage.
func (c *Client) ControlPipeline(ctx context.Context, id, action, comment string) (*model.PipelineExecution, error) {
	if action != "approve" && action != "reject" {
		return nil, fmt.Errorf("unknown pipeline action %q", action)
	}
	var body any
	if comment != "" {
		body = map[string]string{"comment": comment}
	}
	var x model.PipelineExecution
	if _, err := c.DoJSON(ctx, http.MethodPost, "/v1/pipeline-executions/"+url.PathEscape(id)+"/"+action, body, nil, &x); err != nil {
		return nil, err
	}
	return &x, nil
}
