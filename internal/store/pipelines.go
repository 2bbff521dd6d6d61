package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsflow/ecsflow/internal/model"
)

// ListPipelineExecutions returns a page of one pipeline's executions,
// newest first. It queries the application's executions (GSI2
// "L#PipelineExecution#<appId>", descending) with a FilterExpression on the
// stored document's pipelineId, at most five Queries per page, so a page
// may hold fewer than Limit items while more follow: keep paging while
// next != "".
func (s *Store) ListPipelineExecutions(ctx context.Context, appID, pipelineID string, p Page) ([]*model.PipelineExecution, string, error) {
	if appID == "" || pipelineID == "" {
		return nil, "", errors.New("list pipeline executions: an application and a pipeline are required")
	}
	q := query{index: index2, pkAttr: attrGSI2PK, skAttr: attrGSI2SK, pk: listPK(model.KindPipelineExecution, appID),
		filter:       "#f0.#f1 = :f0",
		filterNames:  map[string]string{"#f0": attrDoc, "#f1": "pipelineId"},
		filterValues: map[string]types.AttributeValue{":f0": avS(pipelineID)},
	}
	items, next, err := s.fill(ctx, q, p)
	if err != nil {
		return nil, "", fmt.Errorf("list pipeline executions: %w", err)
	}
	out := make([]*model.PipelineExecution, 0, len(items))
	for _, it := range items {
		e, err := decodeEntity(it)
		if err != nil {
			return nil, "", fmt.Errorf("list pipeline executions: %w", err)
		}
		x, ok := e.(*model.PipelineExecution)
		if !ok {
			return nil, "", fmt.Errorf("list pipeline executions: item %s is a %s", e.GetMeta().ID, e.Kind())
		}
		out = append(out, x)
	}
	return out, next, nil
}
