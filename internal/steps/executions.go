package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// ExecutionsFunc adapts a function to Executions (e.g. over
// sfnlocal.Service.DescribeExecution in local mode).
type ExecutionsFunc func(ctx context.Context, executionARN string) (int64, error)

// StateTransitions calls f.
func (f ExecutionsFunc) StateTransitions(ctx context.Context, arn string) (int64, error) {
	return f(ctx, arn)
}

var _ Executions = ExecutionsFunc(nil)

// SFNHistoryAPI is the part of *sfn.Client SFNHistory uses.
type SFNHistoryAPI interface {
	GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, optFns ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
}

// SFNHistory counts an execution's state transitions from its history on
// AWS: every state entered, plus every retried attempt (a task scheduled
// again within the same state).
type SFNHistory struct{ c SFNHistoryAPI }

// NewSFNHistory returns the counter over an sfn client.
func NewSFNHistory(c SFNHistoryAPI) *SFNHistory { return &SFNHistory{c: c} }

var _ Executions = (*SFNHistory)(nil)

// StateTransitions pages through the history (1,000 events per call).
func (h *SFNHistory) StateTransitions(ctx context.Context, arn string) (int64, error) {
	p := sfn.NewGetExecutionHistoryPaginator(h.c, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
	var n int64
	for pages := 0; p.HasMorePages() && pages < 100; pages++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("execution history: %w", err)
		}
		for _, ev := range out.Events {
			if strings.HasSuffix(string(ev.Type), "StateEntered") {
				n++
			}
		}
	}
	return n, nil
}
