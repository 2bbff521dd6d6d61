package model

import (
	"encoding/json"
	"fmt"
	"time"
)

// Status is where a deployment is in its life.
type Status string

// Deployment statuses. SUCCEEDED, FAILED, ROLLED_BACK and ABORTED are final.
const (
	StatusQueued          Status = "QUEUED"
	StatusRunning         Status = "RUNNING"
	StatusWaitingApproval Status = "WAITING_APPROVAL"
	StatusRollingBack     Status = "ROLLING_BACK"
	StatusSucceeded       Status = "SUCCEEDED"
	StatusFailed          Status = "FAILED"
	StatusRolledBack      Status = "ROLLED_BACK"
	StatusAborted         Status = "ABORTED"
)

var transitions = map[Status][]Status{
	StatusQueued:          {StatusRunning, StatusFailed, StatusAborted},
	StatusRunning:         {StatusWaitingApproval, StatusRollingBack, StatusSucceeded, StatusFailed, StatusAborted},
	StatusWaitingApproval: {StatusRunning, StatusRollingBack, StatusFailed, StatusAborted},
	StatusRollingBack:     {StatusRolledBack, StatusFailed, StatusAborted},
}

// Final reports whether s ends a deployment.
func (s Status) Final() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusRolledBack, StatusAborted:
		return true
	}
	return false
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	_, ok := transitions[s]
	return ok || s.Final()
}

// CanTransition reports whether a deployment may move from one status to
// another. Staying in the same non-final status is allowed (idempotent steps).
func CanTransition(from, to Status) bool {
	if from == to {
		return !from.Final()
	}
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Transition returns an error naming both statuses when the move is not allowed.
func Transition(from, to Status) error {
	if !CanTransition(from, to) {
		return fmt.Errorf("deployment cannot move from %s to %s", from, to)
	}
	return nil
}

// Artifact is the image a deployment ships. Digest pins it when known.
type Artifact struct {
	ServerID   string `json:"serverId,omitempty"`
	Repository string `json:"repository,omitempty"`
	// Image is the full reference without tag or digest, e.g.
	// 123456789012.dkr.ecr.us-east-1.amazonaws.com/web.
	Image  string `json:"image,omitempty"`
	Tag    string `json:"tag,omitempty"`
	Digest string `json:"digest,omitempty"`
}

// Reference is the image reference a task definition should use: pinned to
// the digest when known, else the tag.
func (a Artifact) Reference() string {
	if a.Digest != "" {
		return a.Image + "@" + a.Digest
	}
	if a.Tag != "" {
		return a.Image + ":" + a.Tag
	}
	return a.Image
}

// Revision is a deployed state of a service that can be restored.
type Revision struct {
	ServiceName       string `json:"serviceName"`
	TaskDefinitionARN string `json:"taskDefinitionArn"`
	DesiredCount      int32  `json:"desiredCount"`
	DeploymentID      string `json:"deploymentId,omitempty"`
	Image             string `json:"image,omitempty"`
}

// Trigger kinds for TriggeredBy.
const (
	TriggeredByAPI      = "API"
	TriggeredByTrigger  = "TRIGGER"
	TriggeredByPipeline = "PIPELINE"
	// TriggeredByRollback is a deployment that rolls an ended deployment
	// (TriggeredBy.ID) back by redeploying the last known good revision
	// before it: internal/deploycontrol creates it, and the engine's
	// register step reuses that revision's task definition instead of
	// rendering a new one.
	TriggeredByRollback = "ROLLBACK"
)

// TriggeredBy records who or what started a deployment.
type TriggeredBy struct {
	Kind      string `json:"kind"`
	ID        string `json:"id,omitempty"`
	Principal string `json:"principal,omitempty"`
}

// StepRecord is one step's outcome in the ledger.
type StepRecord struct {
	Name      string    `json:"name"`
	StartedAt time.Time `json:"startedAt"`
	EndedAt   time.Time `json:"endedAt,omitempty"`
	Result    string    `json:"result,omitempty"`
	Error     string    `json:"error,omitempty"`
	Cause     string    `json:"cause,omitempty"`
}

// Ledger entry kinds.
const (
	LedgerStep        = "STEP"
	LedgerECSEvent    = "ECS_EVENT"
	LedgerTaskStopped = "TASK_STOPPED"
	LedgerTraffic     = "TRAFFIC"
	LedgerStatus      = "STATUS"
	LedgerApproval    = "APPROVAL"
	LedgerRollback    = "ROLLBACK"
	LedgerNote        = "NOTE"
)

// LedgerEntry is one fact in a deployment's history. The store keeps them as
// separate items, ordered by time then sequence.
type LedgerEntry struct {
	DeploymentID string          `json:"deploymentId"`
	Seq          int64           `json:"seq"`
	At           time.Time       `json:"at"`
	Kind         string          `json:"kind"`
	Message      string          `json:"message"`
	Data         json.RawMessage `json:"data,omitempty"`
}

// Usage is what a deployment consumed, for the cost estimate.
type Usage struct {
	StateTransitions int64            `json:"stateTransitions"`
	APICalls         map[string]int64 `json:"apiCalls,omitempty"`
	LambdaGBSeconds  float64          `json:"lambdaGbSeconds"`
	DynamoDBWrites   int64            `json:"dynamodbWrites"`
	EstimatedCostUSD float64          `json:"estimatedCostUsd"`
}

// Deployment is one run of a workflow for one service and artifact.
type Deployment struct {
	Meta
	ApplicationID       string       `json:"appId"`
	WorkflowID          string       `json:"workflowId"`
	ServiceID           string       `json:"serviceId"`
	EnvironmentID       string       `json:"envId"`
	InfrastructureID    string       `json:"infraId"`
	PipelineExecutionID string       `json:"pipelineExecutionId,omitempty"`
	Status              Status       `json:"status"`
	Strategy            StrategyType `json:"strategy,omitempty"`
	Artifact            Artifact     `json:"artifact"`
	TriggeredBy         TriggeredBy  `json:"triggeredBy"`
	ExecutionARN        string       `json:"executionArn,omitempty"`
	Steps               []StepRecord `json:"steps,omitempty"`
	PreviousRevision    *Revision    `json:"previousRevision,omitempty"`
	LastKnownGood       *Revision    `json:"lastKnownGood,omitempty"`
	NewRevision         *Revision    `json:"newRevision,omitempty"`
	Reason              string       `json:"reason,omitempty"`
	StartedAt           *time.Time   `json:"startedAt,omitempty"`
	EndedAt             *time.Time   `json:"endedAt,omitempty"`
	Usage               Usage        `json:"usage"`
	// Runtime is the engine's state for a started deployment (runtime.go).
	Runtime *Runtime `json:"runtime,omitempty"`
	// Variables are the deployment's workflow variables (a pipeline
	// execution's variables for its stages): ${workflow.variables.NAME} in
	// the container definitions; they win over service variables of the
	// same name (internal/steps/render.go).
	Variables map[string]string `json:"variables,omitempty"`
}

func (*Deployment) Kind() Kind           { return KindDeployment }
func (d *Deployment) AppID() string      { return d.ApplicationID }
func (d *Deployment) EntityName() string { return "" }

// References of a deployment are not protected by referential integrity (a
// deployment is history), but the store checks they exist at creation.
func (d *Deployment) References() []Ref {
	return refs(Ref{KindApplication, d.ApplicationID, "appId"},
		Ref{KindWorkflow, d.WorkflowID, "workflowId"},
		Ref{KindService, d.ServiceID, "serviceId"},
		Ref{KindEnvironment, d.EnvironmentID, "envId"},
		Ref{KindInfrastructure, d.InfrastructureID, "infraId"})
}
