package api

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsflow/ecsflow/internal/model"
)

// StepFunctions is the part of *sfn.Client SFNStarter uses.
type StepFunctions interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

// SFNStarter starts a deployment as a Step Functions execution of the state
// machine for its strategy. The execution name is the deployment ID, so a
// retried start with the same input is idempotent in Step Functions.
type SFNStarter struct {
	client        StepFunctions
	stateMachines map[model.StrategyType]string
}

var _ Starter = (*SFNStarter)(nil)

// NewSFNStarter returns a starter using the state machine ARN per strategy.
func NewSFNStarter(client StepFunctions, stateMachines map[model.StrategyType]string) *SFNStarter {
	m := make(map[model.StrategyType]string, len(stateMachines))
	for k, v := range stateMachines {
		m[k] = v
	}
	return &SFNStarter{client: client, stateMachines: m}
}

// ExecutionInput is the input every deployment execution starts with.
type ExecutionInput struct {
	DeploymentID string             `json:"deploymentId"`
	AppID        string             `json:"appId"`
	WorkflowID   string             `json:"workflowId"`
	ServiceID    string             `json:"serviceId"`
	EnvID        string             `json:"envId"`
	InfraID      string             `json:"infraId"`
	Strategy     model.StrategyType `json:"strategy"`
	Artifact     model.Artifact     `json:"artifact"`
	Image        string             `json:"image"`
}

// Start starts the execution and returns its ARN.
func (s *SFNStarter) Start(ctx context.Context, d *model.Deployment) (string, error) {
	arn, ok := s.stateMachines[d.Strategy]
	if !ok || arn == "" {
		return "", fmt.Errorf("no state machine configured for strategy %q", d.Strategy)
	}
	in, err := json.Marshal(ExecutionInput{
		DeploymentID: d.ID, AppID: d.ApplicationID, WorkflowID: d.WorkflowID, ServiceID: d.ServiceID,
		EnvID: d.EnvironmentID, InfraID: d.InfrastructureID, Strategy: d.Strategy,
		Artifact: d.Artifact, Image: d.Artifact.Reference(),
	})
	if err != nil {
		return "", fmt.Errorf("encode execution input: %w", err)
	}
	out, err := s.client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(arn),
		Name:            aws.String(d.ID),
		Input:           aws.String(string(in)),
	})
	if err != nil {
		return "", fmt.Errorf("start execution of %s: %w", arn, err)
	}
	return aws.ToString(out.ExecutionArn), nil
}

// UnavailableStarter refuses every start with ErrNoEngine: it is what a
// stack without a deployment engine uses, so a deployment request is recorded
// and marked FAILED with that reason instead of sitting QUEUED forever.
type UnavailableStarter struct {
	// Reason says why there is no engine, e.g. "the local runner is not wired yet".
	Reason string
}

var _ Starter = UnavailableStarter{}

// Start always fails with ErrNoEngine.
func (u UnavailableStarter) Start(_ context.Context, _ *model.Deployment) (string, error) {
	return "", fmt.Errorf("%s: %w", u.Reason, ErrNoEngine)
}
