package model

import (
	"regexp"
	"time"
)

// KindPipelineExecution is one run of a pipeline.
const KindPipelineExecution Kind = "PipelineExecution"

// PipelineStatus is where a pipeline execution, or one of its stages, is.
type PipelineStatus string

// Pipeline and stage statuses. SUCCEEDED, FAILED and SKIPPED are final.
const (
	PipelinePending         PipelineStatus = "PENDING"
	PipelineRunning         PipelineStatus = "RUNNING"
	PipelineWaitingApproval PipelineStatus = "WAITING_APPROVAL"
	PipelineSucceeded       PipelineStatus = "SUCCEEDED"
	PipelineFailed          PipelineStatus = "FAILED"
	PipelineSkipped         PipelineStatus = "SKIPPED"
	// PipelineAborted: stopped through POST /v1/pipeline-executions/{id}/abort.
	PipelineAborted PipelineStatus = "ABORTED"
)

// Final reports whether s ends a pipeline execution or a stage.
func (s PipelineStatus) Final() bool {
	return s == PipelineSucceeded || s == PipelineFailed || s == PipelineSkipped || s == PipelineAborted
}

// Valid reports whether s is a known status.
func (s PipelineStatus) Valid() bool {
	switch s {
	case PipelinePending, PipelineRunning, PipelineWaitingApproval, PipelineSucceeded, PipelineFailed, PipelineSkipped, PipelineAborted:
		return true
	}
	return false
}

// ApprovalRecord is a decision on an approval stage: who, why, when, and
// whether it was a person or the timeout's default.
type ApprovalRecord struct {
	Approved  bool      `json:"approved"`
	Principal string    `json:"principal"`
	Comment   string    `json:"comment,omitempty"`
	At        time.Time `json:"at"`
	// Default is set when nobody answered and the stage's onTimeout decided.
	Default bool `json:"default,omitempty"`
}

// AbortRequest records who asked to abort a pipeline execution, why and when.
type AbortRequest struct {
	Principal string    `json:"principal"`
	Comment   string    `json:"comment,omitempty"`
	At        time.Time `json:"at"`
}

// StageRecord is one stage's history in a pipeline execution.
type StageRecord struct {
	Name   string         `json:"name"`
	Type   StageType      `json:"type"`
	Status PipelineStatus `json:"status"`
	// WorkflowID and DeploymentID are set for WORKFLOW stages; the
	// deployment id is fixed before the deployment is created, so a retried
	// step creates it at most once.
	WorkflowID       string           `json:"workflowId,omitempty"`
	DeploymentID     string           `json:"deploymentId,omitempty"`
	DeploymentStatus Status           `json:"deploymentStatus,omitempty"`
	StartedAt        *time.Time       `json:"startedAt,omitempty"`
	EndedAt          *time.Time       `json:"endedAt,omitempty"`
	Error            string           `json:"error,omitempty"`
	Cause            string           `json:"cause,omitempty"`
	Approvals        []ApprovalRecord `json:"approvals,omitempty"`
	// ApprovalToken is the task token an APPROVAL stage waits on; cleared
	// when the stage ends. Not shown by the API.
	ApprovalToken string `json:"approvalToken,omitempty"`
}

// PipelineExecution is one run of a pipeline for one artifact.
type PipelineExecution struct {
	Meta
	ApplicationID string `json:"appId"`
	PipelineID    string `json:"pipelineId"`
	PipelineName  string `json:"pipelineName,omitempty"`
	// ServiceID is the service deployed by workflow stages that name none
	// and whose workflow fixes none.
	ServiceID   string            `json:"serviceId,omitempty"`
	Artifact    Artifact          `json:"artifact"`
	Variables   map[string]string `json:"variables,omitempty"`
	TriggeredBy TriggeredBy       `json:"triggeredBy"`
	Status      PipelineStatus    `json:"status"`
	// FailedStage names the stage that stopped a FAILED execution.
	FailedStage  string `json:"failedStage,omitempty"`
	Reason       string `json:"reason,omitempty"`
	ExecutionARN string `json:"executionArn,omitempty"`
	// Definition is the pipeline's stages as they were at start: the
	// execution runs these even if the pipeline is edited meanwhile.
	Definition []Stage       `json:"definition"`
	Stages     []StageRecord `json:"stages"`
	StartedAt  *time.Time    `json:"startedAt,omitempty"`
	EndedAt    *time.Time    `json:"endedAt,omitempty"`
	// Abort is set once an abort was requested (POST .../abort); the
	// execution then ends ABORTED.
	Abort *AbortRequest `json:"abort,omitempty"`
}

func (*PipelineExecution) Kind() Kind { return KindPipelineExecution }

// AppID is the pipeline's application.
func (x *PipelineExecution) AppID() string { return x.ApplicationID }

// EntityName is "": executions have no name.
func (*PipelineExecution) EntityName() string { return "" }

// References is empty: an execution is history. Like a deployment it must
// not keep its pipeline from being changed or deleted; the API checks the
// pipeline when it starts one.
func (*PipelineExecution) References() []Ref { return nil }

var variableNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Validate checks a pipeline execution on its own.
func (x *PipelineExecution) Validate() error {
	var p problems
	p.required("appId", x.ApplicationID)
	p.required("pipelineId", x.PipelineID)
	if x.PipelineID != "" {
		if k, ok := KindOfID(x.PipelineID); !ok || k != KindPipeline {
			p.add("pipelineId", "is not a pipeline id")
		}
	}
	if x.Artifact.Tag == "" && x.Artifact.Digest == "" && x.Artifact.Image == "" {
		p.add("artifact", "needs a tag, a digest or an image")
	}
	if x.Artifact.Digest != "" && !digestRE.MatchString(x.Artifact.Digest) {
		p.add("artifact.digest", "must be sha256: followed by 64 hex digits")
	}
	if x.Artifact.Tag != "" && !tagRE.MatchString(x.Artifact.Tag) {
		p.add("artifact.tag", "is not a valid image tag")
	}
	for _, k := range sortedKeys(x.Variables) {
		if !variableNameRE.MatchString(k) {
			p.add("variables."+k, "must be a letter or '_' then letters, digits or '_', at most 64")
		}
		if len(x.Variables[k]) > 4096 {
			p.add("variables."+k, "must be at most 4096 bytes")
		}
	}
	if x.Status != "" && !x.Status.Valid() {
		p.add("status", "is not a known status")
	}
	for i, s := range x.Stages {
		if s.Status != "" && !s.Status.Valid() {
			p.add(fieldIndex("stages", i)+".status", "is not a known status")
		}
	}
	return p.err()
}
