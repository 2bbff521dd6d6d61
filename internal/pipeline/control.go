package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
)

// TaskCompleter completes Step Functions task tokens (*sfnlocal.Service, or
// ecsevents.SFNCompleter over the SDK client).
type TaskCompleter interface {
	SendTaskSuccess(ctx context.Context, token, output string) error
	SendTaskFailure(ctx context.Context, token, errName, cause string) error
}

// ErrNotApprover is returned (wrapped) when the principal is not among the
// stage's approvers. It wraps api.ErrWrongState, so the API answers 409.
var ErrNotApprover = fmt.Errorf("not an approver: %w", api.ErrWrongState)

// Controller approves and rejects pipeline approval stages.
type Controller struct {
	st    Store
	tasks TaskCompleter
	now   func() time.Time
	// Set by WithAbort (abort.go).
	deployments DeploymentAborter
	stopper     ExecutionStopper
	notify      *Notifier
}

var _ api.PipelineController = (*Controller)(nil)

// NewController returns a controller; now may be nil (time.Now).
func NewController(st Store, tasks TaskCompleter, now func() time.Time) *Controller {
	if now == nil {
		now = time.Now
	}
	return &Controller{st: st, tasks: tasks, now: now}
}

// ApproveStage releases the execution's waiting approval stage.
func (c *Controller) ApproveStage(ctx context.Context, id, principal, comment string) error {
	return c.decide(ctx, id, principal, comment, true)
}

// RejectStage fails the execution's waiting approval stage (ApprovalRejected),
// which stops the pipeline.
func (c *Controller) RejectStage(ctx context.Context, id, principal, comment string) error {
	return c.decide(ctx, id, principal, comment, false)
}

func (c *Controller) decide(ctx context.Context, id, principal, comment string, approve bool) error {
	action := "reject"
	if approve {
		action = "approve"
	}
	x, err := getExecution(ctx, c.st, id)
	if err != nil {
		var inv *Invalid
		if errors.As(err, &inv) {
			return fmt.Errorf("%s: %s: %w", action, inv.Msg, api.ErrWrongState)
		}
		return err
	}
	i := waitingStage(x)
	if i < 0 {
		return fmt.Errorf("%s: pipeline execution %s (%s) has no stage waiting for approval: %w", action, id, x.Status, api.ErrWrongState)
	}
	rec := x.Stages[i]
	var approvers []string
	if a := x.Definition[i].Approval; a != nil {
		approvers = a.Approvers
	}
	if !mayApprove(principal, approvers) {
		return fmt.Errorf("%s: %s is not an approver of stage %s (approvers: %s): %w",
			action, principal, rec.Name, strings.Join(approvers, ", "), ErrNotApprover)
	}
	if approve {
		out, _ := json.Marshal(map[string]any{"approved": true, "principal": principal})
		err = c.tasks.SendTaskSuccess(ctx, rec.ApprovalToken, string(out))
	} else {
		cause := "rejected by " + principal
		if comment != "" {
			cause += ": " + comment
		}
		err = c.tasks.SendTaskFailure(ctx, rec.ApprovalToken, "ApprovalRejected", cause)
	}
	if err != nil {
		return fmt.Errorf("%s stage %s: the approval is no longer waiting (%v): %w", action, rec.Name, err, api.ErrWrongState)
	}
	_, err = mutate(context.WithoutCancel(ctx), c.st, id, func(cur *model.PipelineExecution) error {
		cur.Stages[i].Approvals = append(cur.Stages[i].Approvals, model.ApprovalRecord{Approved: approve,
			Principal: principal, Comment: comment, At: c.now().UTC()})
		return nil
	})
	if err != nil {
		return fmt.Errorf("record the %s of stage %s: %w", action, rec.Name, err)
	}
	return nil
}

// waitingStage is the index of the stage waiting for approval, or -1.
func waitingStage(x *model.PipelineExecution) int {
	for i, s := range x.Stages {
		if s.Status == model.PipelineWaitingApproval && s.ApprovalToken != "" && i < len(x.Definition) {
			return i
		}
	}
	return -1
}

// mayApprove reports whether principal is one of approvers (anyone, when
// there are none): an approver matches the whole principal or its last
// path element (an IAM user or role session name).
func mayApprove(principal string, approvers []string) bool {
	if len(approvers) == 0 {
		return true
	}
	last := principal[strings.LastIndexByte(principal, '/')+1:]
	for _, a := range approvers {
		if a != "" && (a == principal || a == last) {
			return true
		}
	}
	return false
}

// StepFunctions is the part of *sfn.Client the starter uses.
type StepFunctions interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

// SFNStarter starts pipeline executions of the pipeline state machine; the
// execution is named by the pipeline execution id.
type SFNStarter struct {
	client StepFunctions
	arn    string
}

var _ api.PipelineStarter = (*SFNStarter)(nil)

// NewSFNStarter returns a starter of the pipeline state machine arn.
func NewSFNStarter(client StepFunctions, stateMachineARN string) *SFNStarter {
	return &SFNStarter{client: client, arn: stateMachineARN}
}

// ExecutionInput is the pipeline state machine's input.
type ExecutionInput struct {
	PipelineExecutionID string `json:"pipelineExecutionId"`
}

// StartPipeline starts x's execution and returns its ARN.
func (s *SFNStarter) StartPipeline(ctx context.Context, x *model.PipelineExecution) (string, error) {
	if s.arn == "" {
		return "", fmt.Errorf("no pipeline state machine configured: %w", api.ErrNoEngine)
	}
	in, err := json.Marshal(ExecutionInput{PipelineExecutionID: x.ID})
	if err != nil {
		return "", fmt.Errorf("encode pipeline input: %w", err)
	}
	out, err := s.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(s.arn),
		Name: aws.String(x.ID), Input: aws.String(string(in))})
	if err != nil {
		return "", fmt.Errorf("start pipeline execution of %s: %w", s.arn, err)
	}
	return aws.ToString(out.ExecutionArn), nil
}

// NestedStarter is the api.Starter of deployments that a pipeline creates:
// it starts nothing, since the pipeline's state machine runs the
// deployment's state machine itself (startExecution.sync:2, named by the
// deployment id), and answers the ARN that execution will have.
type NestedStarter struct {
	machines map[model.StrategyType]string
}

var _ api.Starter = (*NestedStarter)(nil)

// NewNestedStarter returns a starter over the strategies' state machine ARNs.
func NewNestedStarter(stateMachines map[model.StrategyType]string) *NestedStarter {
	m := make(map[model.StrategyType]string, len(stateMachines))
	for k, v := range stateMachines {
		m[k] = v
	}
	return &NestedStarter{machines: m}
}

// Start answers the execution ARN of d's nested execution.
func (n *NestedStarter) Start(_ context.Context, d *model.Deployment) (string, error) {
	arn := n.machines[d.Strategy]
	if arn == "" || !strings.Contains(arn, ":stateMachine:") {
		return "", fmt.Errorf("no state machine configured for strategy %q", d.Strategy)
	}
	return strings.Replace(arn, ":stateMachine:", ":execution:", 1) + ":" + d.ID, nil
}
