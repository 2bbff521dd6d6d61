// Package model holds ecsflow's entities — the Harness CD for ECS model —
// with their validation and status transitions. Everything here is pure: no
// I/O, no clocks except the ones passed in.
//
// The entities and how they map to Harness FirstGen:
//
//	Application            Application
//	ArtifactServer         Artifact Server (ECR, Docker registry)
//	CloudProvider          AWS Cloud Provider (an account reached through a role)
//	Service                Service (ECS task definition + service specification)
//	Environment            Environment, with overrides
//	InfrastructureDefinition  Infrastructure Definition (cluster, launch type, networking)
//	Workflow               Workflow (Rolling, Canary, Blue/Green, Daemon)
//	Pipeline               Pipeline (stages of workflows, approvals and waits)
//	Trigger                Trigger (on new artifact)
//	Deployment             a workflow execution, with its ledger
package model

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Kind names an entity type. It is also the ID prefix and the store's key prefix.
type Kind string

// The entity kinds.
const (
	KindApplication    Kind = "Application"
	KindArtifactServer Kind = "ArtifactServer"
	KindCloudProvider  Kind = "CloudProvider"
	KindService        Kind = "Service"
	KindEnvironment    Kind = "Environment"
	KindInfrastructure Kind = "InfrastructureDefinition"
	KindWorkflow       Kind = "Workflow"
	KindPipeline       Kind = "Pipeline"
	KindTrigger        Kind = "Trigger"
	KindDeployment     Kind = "Deployment"
)

// Kinds lists every kind, in dependency order (a kind only references kinds before it).
var Kinds = []Kind{
	KindApplication, KindCloudProvider, KindArtifactServer, KindService, KindEnvironment,
	KindInfrastructure, KindWorkflow, KindPipeline, KindTrigger, KindDeployment,
	KindPipelineExecution,
}

var idPrefix = map[Kind]string{
	KindApplication:       "app",
	KindArtifactServer:    "as",
	KindCloudProvider:     "cp",
	KindService:           "svc",
	KindEnvironment:       "env",
	KindInfrastructure:    "infra",
	KindWorkflow:          "wf",
	KindPipeline:          "pl",
	KindTrigger:           "trg",
	KindDeployment:        "dep",
	KindPipelineExecution: "plx",
}

// NewID returns a fresh, time-ordered ID for kind, such as "svc-0190b2c4...".
// IDs sort by creation time, which the store uses for newest-first listings.
func NewID(k Kind) string {
	u, err := uuid.NewV7()
	if err != nil {
		u = uuid.New()
	}
	return idPrefix[k] + "-" + strings.ReplaceAll(u.String(), "-", "")
}

// KindOfID returns the kind an ID was minted for.
func KindOfID(id string) (Kind, bool) {
	p, _, ok := strings.Cut(id, "-")
	if !ok {
		return "", false
	}
	for k, pre := range idPrefix {
		if pre == p {
			return k, true
		}
	}
	return "", false
}

// Meta is what every stored entity carries. Version is the optimistic
// concurrency token: every successful write increments it, and the API shows
// it as the ETag.
type Meta struct {
	ID        string    `json:"id"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// GetMeta returns the entity's metadata for the store.
func (m *Meta) GetMeta() *Meta { return m }

// Ref is a reference from one entity to another, named by the field holding it.
type Ref struct {
	Kind  Kind
	ID    string
	Field string
}

// Entity is what the store and the API handle generically.
type Entity interface {
	Kind() Kind
	GetMeta() *Meta
	// AppID is the owning application, or "" for account-level entities
	// (applications, artifact servers, cloud providers).
	AppID() string
	// EntityName is the name that must be unique per application (or per
	// account for account-level entities); "" when the kind has no name.
	EntityName() string
	// Validate checks the entity on its own and returns *ValidationError.
	Validate() error
	// References lists every entity this one points at.
	References() []Ref
}

// New returns an empty entity of kind k, for decoding.
func New(k Kind) (Entity, bool) {
	switch k {
	case KindApplication:
		return &Application{}, true
	case KindArtifactServer:
		return &ArtifactServer{}, true
	case KindCloudProvider:
		return &CloudProvider{}, true
	case KindService:
		return &Service{}, true
	case KindEnvironment:
		return &Environment{}, true
	case KindInfrastructure:
		return &InfrastructureDefinition{}, true
	case KindWorkflow:
		return &Workflow{}, true
	case KindPipeline:
		return &Pipeline{}, true
	case KindTrigger:
		return &Trigger{}, true
	case KindDeployment:
		return &Deployment{}, true
	case KindPipelineExecution:
		return &PipelineExecution{}, true
	}
	return nil, false
}

// Application groups services, environments, workflows, pipelines and triggers.
type Application struct {
	Meta
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// ArtifactServerType is where images come from.
type ArtifactServerType string

// Artifact server types.
const (
	ArtifactServerECR            ArtifactServerType = "ECR"
	ArtifactServerDockerRegistry ArtifactServerType = "DOCKER_REGISTRY"
)

// ArtifactServer is an image registry: ECR in an account and region, or a
// Docker registry reached with credentials kept in Secrets Manager (only the
// secret's ARN is stored, never the credentials).
type ArtifactServer struct {
	Meta
	Name string             `json:"name"`
	Type ArtifactServerType `json:"type"`
	// ECR: the registry's account and region, reached through a cloud provider.
	RegistryID      string `json:"registryId,omitempty"`
	Region          string `json:"region,omitempty"`
	CloudProviderID string `json:"cloudProviderId,omitempty"`
	// DOCKER_REGISTRY: base URL and the Secrets Manager secret holding
	// {"username","password"}.
	URL                  string `json:"url,omitempty"`
	CredentialsSecretARN string `json:"credentialsSecretArn,omitempty"`
	// PollIntervalMinutes is how often a Docker registry's tags are collected.
	PollIntervalMinutes int `json:"pollIntervalMinutes,omitempty"`
}

// CloudProvider is an AWS account that ecsflow deploys into by assuming a role.
type CloudProvider struct {
	Meta
	Name      string `json:"name"`
	AccountID string `json:"accountId"`
	RoleARN   string `json:"roleArn"`
	// ExternalID guards the role's trust policy against the confused deputy.
	ExternalID string   `json:"externalId,omitempty"`
	Regions    []string `json:"regions"`
}

// SchedulingStrategy is ECS's service scheduling strategy.
type SchedulingStrategy string

// Scheduling strategies.
const (
	SchedulingReplica SchedulingStrategy = "REPLICA"
	SchedulingDaemon  SchedulingStrategy = "DAEMON"
)

// NetworkMode is the task definition's network mode.
type NetworkMode string

// Network modes.
const (
	NetworkAWSVPC NetworkMode = "awsvpc"
	NetworkBridge NetworkMode = "bridge"
	NetworkHost   NetworkMode = "host"
)

// ArtifactSource says where a service's image comes from.
type ArtifactSource struct {
	ServerID   string `json:"serverId"`
	Repository string `json:"repository"`
}

// Secret is a container secret: an environment variable filled by ECS from
// Secrets Manager or SSM Parameter Store. Only the ARN is ever stored.
type Secret struct {
	Name      string `json:"name"`
	ValueFrom string `json:"valueFrom"`
}

// ServiceRegistry is a Cloud Map registration for the service's tasks.
type ServiceRegistry struct {
	RegistryARN   string `json:"registryArn"`
	ContainerName string `json:"containerName,omitempty"`
	ContainerPort int32  `json:"containerPort,omitempty"`
}

// LoadBalancerSpec is the container and port that a target group routes to;
// the target groups themselves belong to the infrastructure definition.
type LoadBalancerSpec struct {
	ContainerName string `json:"containerName"`
	ContainerPort int32  `json:"containerPort"`
}

// ECSSpec is the task definition template and service specification.
type ECSSpec struct {
	// ContainerDefinitions is a JSON array of ECS container definitions in
	// which strings may hold placeholders: ${artifact.image}, ${artifact.tag},
	// ${env.name}, ${service.name}, ${app.name}, ${serviceVariable.NAME},
	// ${workflow.variables.NAME} (internal/steps.RenderContainers has the rules).
	ContainerDefinitions    json.RawMessage    `json:"containerDefinitions"`
	CPU                     string             `json:"cpu,omitempty"`
	Memory                  string             `json:"memory,omitempty"`
	TaskRoleARN             string             `json:"taskRoleArn,omitempty"`
	ExecutionRoleARN        string             `json:"executionRoleArn,omitempty"`
	NetworkMode             NetworkMode        `json:"networkMode,omitempty"`
	RequiresCompatibilities []string           `json:"requiresCompatibilities,omitempty"`
	SchedulingStrategy      SchedulingStrategy `json:"schedulingStrategy"`
	// DesiredCount is for REPLICA services only.
	DesiredCount                  *int32            `json:"desiredCount,omitempty"`
	HealthCheckGracePeriodSeconds int32             `json:"healthCheckGracePeriodSeconds,omitempty"`
	ServiceRegistry               *ServiceRegistry  `json:"serviceRegistry,omitempty"`
	LoadBalancer                  *LoadBalancerSpec `json:"loadBalancer,omitempty"`
	Secrets                       []Secret          `json:"secrets,omitempty"`
}

// Service is a deployable unit: an ECS task definition template plus its
// service specification.
type Service struct {
	Meta
	ApplicationID string            `json:"appId"`
	Name          string            `json:"name"`
	Description   string            `json:"description,omitempty"`
	Artifact      ArtifactSource    `json:"artifact"`
	Variables     map[string]string `json:"variables,omitempty"`
	ECS           ECSSpec           `json:"ecs"`
}

// EnvironmentType separates production from the rest.
type EnvironmentType string

// Environment types.
const (
	EnvProd    EnvironmentType = "PROD"
	EnvNonProd EnvironmentType = "NON_PROD"
)

// Overrides change a service's settings in an environment.
type Overrides struct {
	Variables    map[string]string `json:"variables,omitempty"`
	EnvVars      map[string]string `json:"envVars,omitempty"`
	CPU          string            `json:"cpu,omitempty"`
	Memory       string            `json:"memory,omitempty"`
	DesiredCount *int32            `json:"desiredCount,omitempty"`
}

// Environment is a deployment target (dev, staging, prod) with overrides for
// every service and per service.
type Environment struct {
	Meta
	ApplicationID string          `json:"appId"`
	Name          string          `json:"name"`
	Type          EnvironmentType `json:"type"`
	Description   string          `json:"description,omitempty"`
	Overrides     Overrides       `json:"overrides,omitempty"`
	// ServiceOverrides are keyed by service ID and apply on top of Overrides.
	ServiceOverrides map[string]Overrides `json:"serviceOverrides,omitempty"`
}

// LaunchType is ECS's launch type.
type LaunchType string

// Launch types.
const (
	LaunchFargate LaunchType = "FARGATE"
	LaunchEC2     LaunchType = "EC2"
)

// CapacityProviderItem is one entry of a capacity provider strategy.
type CapacityProviderItem struct {
	CapacityProvider string `json:"capacityProvider"`
	Weight           int32  `json:"weight,omitempty"`
	Base             int32  `json:"base,omitempty"`
}

// Network is awsvpc configuration.
type Network struct {
	Subnets        []string `json:"subnets,omitempty"`
	SecurityGroups []string `json:"securityGroups,omitempty"`
	AssignPublicIP bool     `json:"assignPublicIp,omitempty"`
}

// LoadBalancing is the ELB side of an infrastructure: the target groups (for
// blue/green and canary, the first is blue/stable and the second green/canary),
// the production listener, and an optional test listener.
type LoadBalancing struct {
	TargetGroupARNs []string `json:"targetGroupArns,omitempty"`
	ProdListenerARN string   `json:"prodListenerArn,omitempty"`
	// ProdListenerRuleARN, when set, is the rule whose forward action is
	// weighted instead of the listener's default action.
	ProdListenerRuleARN string `json:"prodListenerRuleArn,omitempty"`
	TestListenerARN     string `json:"testListenerArn,omitempty"`
}

// DNS is the Route 53 side of an infrastructure, for DNS blue/green.
type DNS struct {
	HostedZoneID string `json:"hostedZoneId"`
	RecordName   string `json:"recordName"`
	TTL          int64  `json:"ttl,omitempty"`
}

// InfrastructureDefinition says where, in an environment, services run.
type InfrastructureDefinition struct {
	Meta
	ApplicationID            string                 `json:"appId"`
	EnvironmentID            string                 `json:"envId"`
	Name                     string                 `json:"name"`
	CloudProviderID          string                 `json:"cloudProviderId"`
	Region                   string                 `json:"region"`
	Cluster                  string                 `json:"cluster"`
	LaunchType               LaunchType             `json:"launchType,omitempty"`
	CapacityProviderStrategy []CapacityProviderItem `json:"capacityProviderStrategy,omitempty"`
	Network                  Network                `json:"network,omitempty"`
	LoadBalancing            *LoadBalancing         `json:"loadBalancing,omitempty"`
	DNS                      *DNS                   `json:"dns,omitempty"`
}

// Kind implementations.
func (*Application) Kind() Kind              { return KindApplication }
func (*ArtifactServer) Kind() Kind           { return KindArtifactServer }
func (*CloudProvider) Kind() Kind            { return KindCloudProvider }
func (*Service) Kind() Kind                  { return KindService }
func (*Environment) Kind() Kind              { return KindEnvironment }
func (*InfrastructureDefinition) Kind() Kind { return KindInfrastructure }

// AppID implementations.
func (*Application) AppID() string                { return "" }
func (*ArtifactServer) AppID() string             { return "" }
func (*CloudProvider) AppID() string              { return "" }
func (s *Service) AppID() string                  { return s.ApplicationID }
func (e *Environment) AppID() string              { return e.ApplicationID }
func (i *InfrastructureDefinition) AppID() string { return i.ApplicationID }

// EntityName implementations.
func (a *Application) EntityName() string    { return a.Name }
func (a *ArtifactServer) EntityName() string { return a.Name }
func (c *CloudProvider) EntityName() string  { return c.Name }
func (s *Service) EntityName() string        { return s.Name }
func (e *Environment) EntityName() string    { return e.Name }

// EntityName is unique per environment for infrastructure definitions; the
// store scopes it by prefixing the environment.
func (i *InfrastructureDefinition) EntityName() string { return i.EnvironmentID + "/" + i.Name }

// References implementations.
func (*Application) References() []Ref { return nil }
func (a *ArtifactServer) References() []Ref {
	return refs(Ref{KindCloudProvider, a.CloudProviderID, "cloudProviderId"})
}
func (*CloudProvider) References() []Ref { return nil }
func (s *Service) References() []Ref {
	return refs(Ref{KindApplication, s.ApplicationID, "appId"},
		Ref{KindArtifactServer, s.Artifact.ServerID, "artifact.serverId"})
}
func (e *Environment) References() []Ref {
	out := refs(Ref{KindApplication, e.ApplicationID, "appId"})
	for _, id := range sortedKeys(e.ServiceOverrides) {
		out = append(out, Ref{KindService, id, "serviceOverrides." + id})
	}
	return out
}
func (i *InfrastructureDefinition) References() []Ref {
	return refs(Ref{KindApplication, i.ApplicationID, "appId"},
		Ref{KindEnvironment, i.EnvironmentID, "envId"},
		Ref{KindCloudProvider, i.CloudProviderID, "cloudProviderId"})
}

// refs drops references whose ID is empty (optional fields).
func refs(rs ...Ref) []Ref {
	out := rs[:0:0]
	for _, r := range rs {
		if r.ID != "" {
			out = append(out, r)
		}
	}
	return out
}
