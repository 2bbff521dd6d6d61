package ecsevents

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// SFNAPI is the part of the Step Functions SDK client SFNCompleter uses.
type SFNAPI interface {
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
	SendTaskFailure(ctx context.Context, in *sfn.SendTaskFailureInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error)
	SendTaskHeartbeat(ctx context.Context, in *sfn.SendTaskHeartbeatInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskHeartbeatOutput, error)
}

var _ SFNAPI = (*sfn.Client)(nil)

// SFNCompleter is a TaskCompleter over the Step Functions SDK client. Its
// errors keep the SDK's typed errors (errors.As to *types.TaskTimedOut and
// friends, or TokenSpent).
type SFNCompleter struct {
	c SFNAPI
}

var _ TaskCompleter = (*SFNCompleter)(nil)

// NewSFNCompleter returns a completer on c.
func NewSFNCompleter(c SFNAPI) *SFNCompleter { return &SFNCompleter{c: c} }

// SendTaskSuccess resumes the task with output (JSON).
func (s *SFNCompleter) SendTaskSuccess(ctx context.Context, token, output string) error {
	if _, err := s.c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(output)}); err != nil {
		return fmt.Errorf("send task success: %w", err)
	}
	return nil
}

// SendTaskFailure fails the task with errName and cause.
func (s *SFNCompleter) SendTaskFailure(ctx context.Context, token, errName, cause string) error {
	in := &sfn.SendTaskFailureInput{TaskToken: aws.String(token), Error: aws.String(errName)}
	if cause != "" {
		in.Cause = aws.String(cause)
	}
	if _, err := s.c.SendTaskFailure(ctx, in); err != nil {
		return fmt.Errorf("send task failure: %w", err)
	}
	return nil
}

// SendTaskHeartbeat tells Step Functions the task is making progress.
func (s *SFNCompleter) SendTaskHeartbeat(ctx context.Context, token string) error {
	if _, err := s.c.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(token)}); err != nil {
		return fmt.Errorf("send task heartbeat: %w", err)
	}
	return nil
}
