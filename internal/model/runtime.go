package model

import "encoding/json"

// Target is where a deployment acts, resolved once by the engine's prepare
// step from the graph so that later steps need only the deployment.
type Target struct {
	Region          string `json:"region"`
	AccountID       string `json:"accountId,omitempty"`
	CloudProviderID string `json:"cloudProviderId,omitempty"`
	RoleARN         string `json:"roleArn,omitempty"`
	ExternalID      string `json:"externalId,omitempty"`
	Cluster         string `json:"cluster"`
	ServiceName     string `json:"serviceName"`
	// Family is the task definition family, <app>-<service>-<env>.
	Family string `json:"family"`
	// LeaseKey names the per-(cluster, service) deployment lock.
	LeaseKey string `json:"leaseKey"`
	// Daemon is set for DAEMON services (no desired count).
	Daemon bool `json:"daemon,omitempty"`
}

// Runtime is what the deployment engine keeps on a deployment while it
// runs: the resolved target, the frozen plan and the settings the state
// machine reads.
type Runtime struct {
	Target Target `json:"target"`
	// Plan is the strategy's step list ([]strategy.Step as JSON; model
	// cannot import strategy).
	Plan json.RawMessage `json:"plan,omitempty"`
	// Policy is the workflow's concurrency policy at start.
	Policy ConcurrencyPolicy `json:"policy,omitempty"`
	// SteadyTimeoutSeconds bounds every steady-state wait.
	SteadyTimeoutSeconds int32 `json:"steadyTimeoutSeconds,omitempty"`
	// Existed says whether the service existed before this deployment.
	Existed bool `json:"existed,omitempty"`
	// StepDeadline is the Unix time (seconds) after which the current wait
	// step gives up; set by the step that starts a wait.
	StepDeadline int64 `json:"stepDeadline,omitempty"`
	// DeadlineStep names the wait StepDeadline belongs to, so that a wait
	// entered again after a heartbeat check keeps its deadline.
	DeadlineStep string `json:"deadlineStep,omitempty"`
	// RollbackReason says why the deployment rolled back, and what the
	// rollback did.
	RollbackReason string `json:"rollbackReason,omitempty"`
	// RollbackTaskDefinition is what the rollback restored ("" when it
	// scaled the service to zero or had nothing to undo).
	RollbackTaskDefinition string `json:"rollbackTaskDefinition,omitempty"`
	// RollbackECSDeployment is the ECS deployment (ecs-svc/…) the
	// rollback's UpdateService started, which the rollback's steady wait
	// is for ("" when it started none).
	RollbackECSDeployment string `json:"rollbackEcsDeploymentId,omitempty"`
	// Revisions is set by SETUP_SERVICE (CANARY, BLUE_GREEN).
	Revisions *Revisions `json:"revisions,omitempty"`
}

// Revisions is the state of a CANARY or BLUE_GREEN deployment, which runs
// the new version as its own service <service>__<n> next to the old one.
type Revisions struct {
	// Old is the revision serving before this deployment ("" on a first
	// deployment); OldTaskDefinition and OldCount are what it ran.
	Old               string `json:"old,omitempty"`
	OldTaskDefinition string `json:"oldTaskDefinition,omitempty"`
	OldCount          int32  `json:"oldCount,omitempty"`
	OldTargetGroup    string `json:"oldTargetGroup,omitempty"`
	// New is the revision this deployment set up.
	New            string `json:"new,omitempty"`
	NewTargetGroup string `json:"newTargetGroup,omitempty"`
	// OldScaling is the old revision's auto scaling (scalable target and
	// policies) as found at setup, JSON; empty when it had none.
	OldScaling json.RawMessage `json:"oldScaling,omitempty"`
	// OldScalingRemoved says the old revision's auto scaling was removed.
	OldScalingRemoved bool `json:"oldScalingRemoved,omitempty"`
	// NewWeight is the new revision's production traffic weight now.
	NewWeight int32 `json:"newWeight"`
	// CleanedUp says the old revision was downsized or deleted.
	CleanedUp  bool `json:"cleanedUp,omitempty"`
	OldDeleted bool `json:"oldDeleted,omitempty"`
}

// LeaseKey names the per-(cluster, service) deployment lock: one active
// deployment per ECS service of a cluster in an account and region. The
// engine takes it in prepare; the API reads it to refuse a REJECT workflow's
// deployment with 409 before anything starts.
func LeaseKey(accountID, region, cluster, service string) string {
	return "ecs:" + accountID + ":" + region + ":" + cluster + "/" + service
}
