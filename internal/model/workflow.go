package model

// StrategyType is how a workflow replaces the running revision.
type StrategyType string

// Strategy types.
const (
	StrategyRolling   StrategyType = "ROLLING"
	StrategyCanary    StrategyType = "CANARY"
	StrategyBlueGreen StrategyType = "BLUE_GREEN"
	StrategyDaemon    StrategyType = "DAEMON"
)

// ConcurrencyPolicy says what a second deployment of a (cluster, service)
// does while one is running.
type ConcurrencyPolicy string

// Concurrency policies.
const (
	ConcurrencyQueue  ConcurrencyPolicy = "QUEUE"
	ConcurrencyReject ConcurrencyPolicy = "REJECT"
)

// ApprovalDefault is what an approval that times out decides.
type ApprovalDefault string

// Approval defaults.
const (
	ApprovalDefaultReject  ApprovalDefault = "REJECT"
	ApprovalDefaultApprove ApprovalDefault = "APPROVE"
)

// Approval is a manual gate.
type Approval struct {
	TimeoutSeconds int32           `json:"timeoutSeconds,omitempty"`
	OnTimeout      ApprovalDefault `json:"onTimeout,omitempty"`
	Approvers      []string        `json:"approvers,omitempty"`
	Message        string          `json:"message,omitempty"`
}

// CircuitBreaker is ECS's deployment circuit breaker.
type CircuitBreaker struct {
	Enable   bool `json:"enable"`
	Rollback bool `json:"rollback"`
}

// RollingStrategy updates the long-lived service in place.
type RollingStrategy struct {
	MinimumHealthyPercent int32           `json:"minimumHealthyPercent"`
	MaximumPercent        int32           `json:"maximumPercent"`
	CircuitBreaker        *CircuitBreaker `json:"circuitBreaker,omitempty"`
}

// CountMode is how the new revision's full count is chosen (Harness's ECS
// Service Setup).
type CountMode string

// Count modes.
const (
	CountSameAsRunning CountMode = "SAME_AS_RUNNING"
	CountFixed         CountMode = "FIXED"
)

// ResizeStrategy orders upsizing the new revision and downsizing the old.
type ResizeStrategy string

// Resize strategies.
const (
	ResizeNewFirst ResizeStrategy = "NEW_FIRST"
	ResizeOldFirst ResizeStrategy = "OLD_FIRST"
)

// ServiceSetup configures the new revisioned service (<service>__<n>).
type ServiceSetup struct {
	CountMode  CountMode      `json:"countMode,omitempty"`
	FixedCount *int32         `json:"fixedCount,omitempty"`
	Resize     ResizeStrategy `json:"resize,omitempty"`
}

// CanaryPhase is one step of a canary: the new revision's size as a count or
// a percent of the full count, an optional traffic weight for it, then
// verification.
type CanaryPhase struct {
	Count         *int32    `json:"count,omitempty"`
	Percent       *int32    `json:"percent,omitempty"`
	TrafficWeight *int32    `json:"trafficWeight,omitempty"`
	BakeSeconds   int32     `json:"bakeSeconds,omitempty"`
	Approval      *Approval `json:"approval,omitempty"`
	Alarms        []string  `json:"alarms,omitempty"`
}

// CanaryStrategy is a new revision grown in phases.
type CanaryStrategy struct {
	Setup  ServiceSetup  `json:"setup,omitempty"`
	Phases []CanaryPhase `json:"phases"`
}

// BlueGreenMode is how traffic moves to green.
type BlueGreenMode string

// Blue/green modes.
const (
	BlueGreenELB     BlueGreenMode = "ELB"
	BlueGreenRoute53 BlueGreenMode = "ROUTE53"
)

// BlueGreenStrategy brings up green next to blue, then swaps.
type BlueGreenStrategy struct {
	Mode  BlueGreenMode `json:"mode"`
	Setup ServiceSetup  `json:"setup,omitempty"`
	// UseTestListener points the infrastructure's test listener at green
	// and verifies it before production traffic moves.
	UseTestListener bool `json:"useTestListener,omitempty"`
	// LinearSteps are green's traffic weights in order, each ending at 100;
	// empty means all at once.
	LinearSteps     []int32 `json:"linearSteps,omitempty"`
	StepBakeSeconds int32   `json:"stepBakeSeconds,omitempty"`
	// BlueBakeSeconds keeps blue at full size after the swap, so a rollback
	// is a swap back.
	BlueBakeSeconds int32 `json:"blueBakeSeconds,omitempty"`
	// DownsizeBlue deletes blue after the bake instead of scaling it to zero.
	DeleteBlue bool `json:"deleteBlue,omitempty"`
}

// DaemonStrategy updates a DAEMON service in place.
type DaemonStrategy struct {
	MinimumHealthyPercent int32 `json:"minimumHealthyPercent"`
	MaximumPercent        int32 `json:"maximumPercent"`
}

// Strategy is a tagged union: Type says which one field is set.
type Strategy struct {
	Type      StrategyType       `json:"type"`
	Rolling   *RollingStrategy   `json:"rolling,omitempty"`
	Canary    *CanaryStrategy    `json:"canary,omitempty"`
	BlueGreen *BlueGreenStrategy `json:"blueGreen,omitempty"`
	Daemon    *DaemonStrategy    `json:"daemon,omitempty"`
}

// Verification runs after the new revision is steady: alarms watched during
// the bake, then an optional approval.
type Verification struct {
	Alarms      []string  `json:"alarms,omitempty"`
	BakeSeconds int32     `json:"bakeSeconds,omitempty"`
	Approval    *Approval `json:"approval,omitempty"`
}

// Default timeouts.
const (
	DefaultSteadyStateTimeoutSeconds = 1800
	DefaultApprovalTimeoutSeconds    = 86400
)

// Workflow is how a service is deployed to one infrastructure of one environment.
type Workflow struct {
	Meta
	ApplicationID    string `json:"appId"`
	Name             string `json:"name"`
	Description      string `json:"description,omitempty"`
	EnvironmentID    string `json:"envId"`
	InfrastructureID string `json:"infraId"`
	// ServiceID, when set, fixes the service; otherwise each deployment names one.
	ServiceID                 string            `json:"serviceId,omitempty"`
	Strategy                  Strategy          `json:"strategy"`
	Verification              Verification      `json:"verification,omitempty"`
	SteadyStateTimeoutSeconds int32             `json:"steadyStateTimeoutSeconds,omitempty"`
	ConcurrencyPolicy         ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`
}

// StageType is what a pipeline stage does.
type StageType string

// Stage types.
const (
	StageWorkflow StageType = "WORKFLOW"
	StageApproval StageType = "APPROVAL"
	StageWait     StageType = "WAIT"
)

// Stage is one step of a pipeline.
type Stage struct {
	Name        string    `json:"name"`
	Type        StageType `json:"type"`
	WorkflowID  string    `json:"workflowId,omitempty"`
	ServiceID   string    `json:"serviceId,omitempty"`
	Approval    *Approval `json:"approval,omitempty"`
	WaitSeconds int32     `json:"waitSeconds,omitempty"`
	// ParallelWithPrevious runs this WORKFLOW stage at the same time as
	// the WORKFLOW stage before it (Harness's "execute in parallel with
	// previous step"): consecutive such stages form one group, which ends
	// when all of its stages have; one failing fails the pipeline.
	ParallelWithPrevious bool `json:"parallelWithPrevious,omitempty"`
}

// Pipeline runs stages in order across environments.
type Pipeline struct {
	Meta
	ApplicationID string  `json:"appId"`
	Name          string  `json:"name"`
	Description   string  `json:"description,omitempty"`
	Stages        []Stage `json:"stages"`
}

// Trigger starts a workflow or pipeline when a new artifact appears.
type Trigger struct {
	Meta
	ApplicationID    string `json:"appId"`
	Name             string `json:"name"`
	ArtifactServerID string `json:"artifactServerId"`
	Repository       string `json:"repository"`
	// TagFilter is a regular expression anchored on the whole tag; empty matches every tag.
	TagFilter  string `json:"tagFilter,omitempty"`
	WorkflowID string `json:"workflowId,omitempty"`
	PipelineID string `json:"pipelineId,omitempty"`
	ServiceID  string `json:"serviceId,omitempty"`
	Disabled   bool   `json:"disabled,omitempty"`
	// Schedule makes this a scheduled trigger: a standard 5-field cron
	// expression in UTC ("0 3 * * 1-5"). It then fires on its schedule,
	// not on pushes, deploying ArtifactTag of Repository (pinned to its
	// digest at each firing when the API resolves tags).
	Schedule    string `json:"schedule,omitempty"`
	ArtifactTag string `json:"artifactTag,omitempty"`
}

func (*Workflow) Kind() Kind { return KindWorkflow }
func (*Pipeline) Kind() Kind { return KindPipeline }
func (*Trigger) Kind() Kind  { return KindTrigger }

func (w *Workflow) AppID() string { return w.ApplicationID }
func (p *Pipeline) AppID() string { return p.ApplicationID }
func (t *Trigger) AppID() string  { return t.ApplicationID }

func (w *Workflow) EntityName() string { return w.Name }
func (p *Pipeline) EntityName() string { return p.Name }
func (t *Trigger) EntityName() string  { return t.Name }

func (w *Workflow) References() []Ref {
	return refs(Ref{KindApplication, w.ApplicationID, "appId"},
		Ref{KindEnvironment, w.EnvironmentID, "envId"},
		Ref{KindInfrastructure, w.InfrastructureID, "infraId"},
		Ref{KindService, w.ServiceID, "serviceId"})
}

func (p *Pipeline) References() []Ref {
	out := refs(Ref{KindApplication, p.ApplicationID, "appId"})
	for i, s := range p.Stages {
		out = append(out, refs(
			Ref{KindWorkflow, s.WorkflowID, fieldIndex("stages", i) + ".workflowId"},
			Ref{KindService, s.ServiceID, fieldIndex("stages", i) + ".serviceId"})...)
	}
	return out
}

func (t *Trigger) References() []Ref {
	return refs(Ref{KindApplication, t.ApplicationID, "appId"},
		Ref{KindArtifactServer, t.ArtifactServerID, "artifactServerId"},
		Ref{KindWorkflow, t.WorkflowID, "workflowId"},
		Ref{KindPipeline, t.PipelineID, "pipelineId"},
		Ref{KindService, t.ServiceID, "serviceId"})
}

// EffectiveSteadyStateTimeout is the workflow's steady-state timeout in
// seconds, defaulted.
func (w *Workflow) EffectiveSteadyStateTimeout() int32 {
	if w.SteadyStateTimeoutSeconds > 0 {
		return w.SteadyStateTimeoutSeconds
	}
	return DefaultSteadyStateTimeoutSeconds
}

// EffectiveConcurrency is the workflow's concurrency policy, defaulted to QUEUE.
func (w *Workflow) EffectiveConcurrency() ConcurrencyPolicy {
	if w.ConcurrencyPolicy == "" {
		return ConcurrencyQueue
	}
	return w.ConcurrencyPolicy
}
