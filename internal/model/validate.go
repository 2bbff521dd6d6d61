package model

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/robfig/cron/v3"
)

// FieldError is one problem, naming its field by path, for example
// "strategy.canary.phases[2].percent".
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError carries every problem found at once.
type ValidationError struct {
	Fields []FieldError `json:"fields"`
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Has reports whether a problem names field.
func (e *ValidationError) Has(field string) bool {
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// problems collects FieldErrors; err returns nil when there are none.
type problems struct{ list []FieldError }

func (p *problems) add(field, format string, args ...any) {
	p.list = append(p.list, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (p *problems) merge(prefix string, err error) {
	if ve, ok := err.(*ValidationError); ok {
		for _, f := range ve.Fields {
			p.list = append(p.list, FieldError{Field: prefix + f.Field, Message: f.Message})
		}
	}
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &ValidationError{Fields: p.list}
}

func fieldIndex(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$`)

// name checks an entity name: it becomes part of ECS family and service
// names, so it keeps to letters, digits, '-' and '_', at most 63 long.
func (p *problems) name(field, v string) {
	switch {
	case v == "":
		p.add(field, "is required")
	case !nameRE.MatchString(v):
		p.add(field, "must be 1-63 letters, digits, '-' or '_', starting with a letter or digit")
	}
}

func (p *problems) required(field, v string) {
	if strings.TrimSpace(v) == "" {
		p.add(field, "is required")
	}
}

// arn checks v is an ARN of service (any when "") whose resource starts with
// resourcePrefix (any when ""). Empty v is fine; use required for that.
func (p *problems) arn(field, v, service, resourcePrefix string) {
	if v == "" {
		return
	}
	a, err := arn.Parse(v)
	if err != nil || a.Partition == "" || a.Service == "" || a.Resource == "" {
		p.add(field, "is not a valid ARN (want arn:partition:service:region:account:resource)")
		return
	}
	if service != "" && a.Service != service {
		p.add(field, "must be an ARN of service %q, not %q", service, a.Service)
		return
	}
	if a.AccountID != "" && !accountRE.MatchString(a.AccountID) {
		p.add(field, "has an invalid account ID %q", a.AccountID)
		return
	}
	if resourcePrefix != "" && !strings.HasPrefix(a.Resource, resourcePrefix) {
		p.add(field, "must be an ARN whose resource starts with %q", resourcePrefix)
	}
}

var (
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	envVarRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func (p *problems) region(field, v string) {
	if v == "" {
		p.add(field, "is required")
	} else if !regionRE.MatchString(v) {
		p.add(field, "is not an AWS region (for example us-east-1)")
	}
}

func (p *problems) percent(field string, v int32) {
	if v < 0 || v > 100 {
		p.add(field, "must be between 0 and 100, got %d", v)
	}
}

func (p *problems) approval(field string, a *Approval) {
	if a == nil {
		return
	}
	if a.TimeoutSeconds < 0 {
		p.add(field+".timeoutSeconds", "must not be negative")
	}
	switch a.OnTimeout {
	case "", ApprovalDefaultApprove, ApprovalDefaultReject:
	default:
		p.add(field+".onTimeout", "must be APPROVE or REJECT")
	}
}

func (p *problems) alarms(field string, names []string) {
	for i, n := range names {
		if strings.TrimSpace(n) == "" || len(n) > 255 {
			p.add(fieldIndex(field, i), "must be a CloudWatch alarm name of 1-255 characters")
		}
	}
}

// Validate checks an application.
func (a *Application) Validate() error {
	var p problems
	p.name("name", a.Name)
	return p.err()
}

// Validate checks an artifact server.
func (a *ArtifactServer) Validate() error {
	var p problems
	p.name("name", a.Name)
	switch a.Type {
	case ArtifactServerECR:
		if a.RegistryID != "" && !accountRE.MatchString(a.RegistryID) {
			p.add("registryId", "must be a 12-digit account ID")
		}
		p.region("region", a.Region)
		if a.CredentialsSecretARN != "" {
			p.add("credentialsSecretArn", "is for DOCKER_REGISTRY servers; ECR uses the cloud provider's role")
		}
	case ArtifactServerDockerRegistry:
		if !strings.HasPrefix(a.URL, "https://") && !strings.HasPrefix(a.URL, "http://") {
			p.add("url", "must be an http(s) URL of the registry")
		}
		p.arn("credentialsSecretArn", a.CredentialsSecretARN, "secretsmanager", "secret:")
	case "":
		p.add("type", "is required (ECR or DOCKER_REGISTRY)")
	default:
		p.add("type", "must be ECR or DOCKER_REGISTRY")
	}
	if a.PollIntervalMinutes < 0 {
		p.add("pollIntervalMinutes", "must not be negative")
	}
	return p.err()
}

// Validate checks a cloud provider.
func (c *CloudProvider) Validate() error {
	var p problems
	p.name("name", c.Name)
	if !accountRE.MatchString(c.AccountID) {
		p.add("accountId", "must be a 12-digit AWS account ID")
	}
	p.required("roleArn", c.RoleARN)
	p.arn("roleArn", c.RoleARN, "iam", "role/")
	if c.RoleARN != "" && accountRE.MatchString(c.AccountID) {
		if a, err := arn.Parse(c.RoleARN); err == nil && a.AccountID != "" && a.AccountID != c.AccountID {
			p.add("roleArn", "is in account %s, not the provider's account %s", a.AccountID, c.AccountID)
		}
	}
	if len(c.ExternalID) > 1224 {
		p.add("externalId", "must be at most 1224 characters")
	}
	if len(c.Regions) == 0 {
		p.add("regions", "needs at least one region")
	}
	for i, r := range c.Regions {
		p.region(fieldIndex("regions", i), r)
	}
	return p.err()
}

// Validate checks a service and its ECS specification.
func (s *Service) Validate() error {
	var p problems
	p.required("appId", s.ApplicationID)
	p.name("name", s.Name)
	p.required("artifact.serverId", s.Artifact.ServerID)
	p.required("artifact.repository", s.Artifact.Repository)
	for k := range s.Variables {
		if !envVarRE.MatchString(k) {
			p.add("variables."+k, "must be a name of letters, digits and '_'")
		}
	}
	p.merge("ecs.", s.ECS.validate())
	return p.err()
}

func (e *ECSSpec) validate() error {
	var p problems
	var defs []map[string]any
	if len(e.ContainerDefinitions) == 0 {
		p.add("containerDefinitions", "is required")
	} else if err := json.Unmarshal(e.ContainerDefinitions, &defs); err != nil {
		p.add("containerDefinitions", "must be a JSON array of container definitions")
	} else if len(defs) == 0 {
		p.add("containerDefinitions", "needs at least one container")
	}
	names := map[string]bool{}
	for i, d := range defs {
		f := fieldIndex("containerDefinitions", i)
		n, _ := d["name"].(string)
		if n == "" {
			p.add(f+".name", "is required")
		} else if names[n] {
			p.add(f+".name", "duplicates container %q", n)
		}
		names[n] = true
		if img, _ := d["image"].(string); img == "" {
			p.add(f+".image", "is required (use ${artifact.image} for the deployed artifact)")
		}
		if _, ok := d["secrets"]; ok {
			p.add(f+".secrets", "belongs in ecs.secrets, as ARNs")
		}
	}
	switch e.NetworkMode {
	case "", NetworkAWSVPC, NetworkBridge, NetworkHost:
	default:
		p.add("networkMode", "must be awsvpc, bridge or host")
	}
	for i, c := range e.RequiresCompatibilities {
		switch c {
		case "FARGATE":
			if e.NetworkMode != NetworkAWSVPC {
				p.add("networkMode", "must be awsvpc when requiresCompatibilities includes FARGATE")
			}
		case "EC2", "EXTERNAL":
		default:
			p.add(fieldIndex("requiresCompatibilities", i), "must be FARGATE, EC2 or EXTERNAL")
		}
	}
	switch e.SchedulingStrategy {
	case SchedulingReplica:
		if e.DesiredCount != nil && *e.DesiredCount < 0 {
			p.add("desiredCount", "must not be negative")
		}
	case SchedulingDaemon:
		if e.DesiredCount != nil {
			p.add("desiredCount", "must not be set for a DAEMON service (one task per instance)")
		}
	case "":
		p.add("schedulingStrategy", "is required (REPLICA or DAEMON)")
	default:
		p.add("schedulingStrategy", "must be REPLICA or DAEMON")
	}
	p.arn("taskRoleArn", e.TaskRoleARN, "iam", "role/")
	p.arn("executionRoleArn", e.ExecutionRoleARN, "iam", "role/")
	if e.HealthCheckGracePeriodSeconds < 0 {
		p.add("healthCheckGracePeriodSeconds", "must not be negative")
	}
	if r := e.ServiceRegistry; r != nil {
		p.required("serviceRegistry.registryArn", r.RegistryARN)
		p.arn("serviceRegistry.registryArn", r.RegistryARN, "servicediscovery", "service/")
		if r.ContainerName != "" && len(defs) > 0 && !names[r.ContainerName] {
			p.add("serviceRegistry.containerName", "names no container in containerDefinitions")
		}
	}
	if lb := e.LoadBalancer; lb != nil {
		p.required("loadBalancer.containerName", lb.ContainerName)
		if lb.ContainerName != "" && len(defs) > 0 && !names[lb.ContainerName] {
			p.add("loadBalancer.containerName", "names no container in containerDefinitions")
		}
		if lb.ContainerPort <= 0 || lb.ContainerPort > 65535 {
			p.add("loadBalancer.containerPort", "must be a port between 1 and 65535")
		}
	}
	seen := map[string]bool{}
	for i, s := range e.Secrets {
		f := fieldIndex("secrets", i)
		if !envVarRE.MatchString(s.Name) {
			p.add(f+".name", "must be an environment variable name")
		} else if seen[s.Name] {
			p.add(f+".name", "duplicates secret %q", s.Name)
		}
		seen[s.Name] = true
		a, err := arn.Parse(s.ValueFrom)
		if err != nil || (a.Service != "secretsmanager" && a.Service != "ssm") {
			p.add(f+".valueFrom", "must be a Secrets Manager or SSM parameter ARN, never a value")
		}
	}
	return p.err()
}

// Validate checks an environment.
func (e *Environment) Validate() error {
	var p problems
	p.required("appId", e.ApplicationID)
	p.name("name", e.Name)
	switch e.Type {
	case EnvProd, EnvNonProd:
	case "":
		p.add("type", "is required (PROD or NON_PROD)")
	default:
		p.add("type", "must be PROD or NON_PROD")
	}
	p.merge("overrides.", e.Overrides.validate())
	for _, id := range sortedKeys(e.ServiceOverrides) {
		o := e.ServiceOverrides[id]
		p.merge("serviceOverrides."+id+".", o.validate())
	}
	return p.err()
}

func (o *Overrides) validate() error {
	var p problems
	for k := range o.EnvVars {
		if !envVarRE.MatchString(k) {
			p.add("envVars."+k, "must be an environment variable name")
		}
	}
	for k := range o.Variables {
		if !envVarRE.MatchString(k) {
			p.add("variables."+k, "must be a name of letters, digits and '_'")
		}
	}
	if o.DesiredCount != nil && *o.DesiredCount < 0 {
		p.add("desiredCount", "must not be negative")
	}
	if o.CPU != "" {
		if _, err := strconv.Atoi(o.CPU); err != nil {
			p.add("cpu", "must be CPU units as a number, e.g. \"256\"")
		}
	}
	if o.Memory != "" {
		if _, err := strconv.Atoi(o.Memory); err != nil {
			p.add("memory", "must be MiB as a number, e.g. \"512\"")
		}
	}
	return p.err()
}

// Validate checks an infrastructure definition.
func (i *InfrastructureDefinition) Validate() error {
	var p problems
	p.required("appId", i.ApplicationID)
	p.required("envId", i.EnvironmentID)
	p.name("name", i.Name)
	p.required("cloudProviderId", i.CloudProviderID)
	p.region("region", i.Region)
	p.required("cluster", i.Cluster)
	switch {
	case i.LaunchType != "" && len(i.CapacityProviderStrategy) > 0:
		p.add("launchType", "cannot be set together with capacityProviderStrategy")
	case i.LaunchType == "" && len(i.CapacityProviderStrategy) == 0:
		p.add("launchType", "is required (FARGATE or EC2) unless capacityProviderStrategy is set")
	}
	switch i.LaunchType {
	case "", LaunchFargate, LaunchEC2:
	default:
		p.add("launchType", "must be FARGATE or EC2")
	}
	for k, c := range i.CapacityProviderStrategy {
		f := fieldIndex("capacityProviderStrategy", k)
		p.required(f+".capacityProvider", c.CapacityProvider)
		if c.Weight < 0 || c.Weight > 1000 {
			p.add(f+".weight", "must be between 0 and 1000")
		}
		if c.Base < 0 || c.Base > 100000 {
			p.add(f+".base", "must be between 0 and 100000")
		}
	}
	if i.LaunchType == LaunchFargate && len(i.Network.Subnets) == 0 {
		p.add("network.subnets", "needs at least one subnet for FARGATE (awsvpc)")
	}
	for k, s := range i.Network.Subnets {
		if !strings.HasPrefix(s, "subnet-") {
			p.add(fieldIndex("network.subnets", k), "must be a subnet ID (subnet-...)")
		}
	}
	for k, s := range i.Network.SecurityGroups {
		if !strings.HasPrefix(s, "sg-") {
			p.add(fieldIndex("network.securityGroups", k), "must be a security group ID (sg-...)")
		}
	}
	if lb := i.LoadBalancing; lb != nil {
		for k, tg := range lb.TargetGroupARNs {
			p.arn(fieldIndex("loadBalancing.targetGroupArns", k), tg, "elasticloadbalancing", "targetgroup/")
		}
		if len(lb.TargetGroupARNs) > 2 {
			p.add("loadBalancing.targetGroupArns", "takes at most two target groups (blue and green)")
		}
		if len(lb.TargetGroupARNs) == 2 && lb.TargetGroupARNs[0] == lb.TargetGroupARNs[1] {
			p.add("loadBalancing.targetGroupArns[1]", "must differ from the first target group")
		}
		p.arn("loadBalancing.prodListenerArn", lb.ProdListenerARN, "elasticloadbalancing", "listener/")
		p.arn("loadBalancing.prodListenerRuleArn", lb.ProdListenerRuleARN, "elasticloadbalancing", "listener-rule/")
		p.arn("loadBalancing.testListenerArn", lb.TestListenerARN, "elasticloadbalancing", "listener/")
		if lb.TestListenerARN != "" && lb.TestListenerARN == lb.ProdListenerARN {
			p.add("loadBalancing.testListenerArn", "must differ from the production listener")
		}
	}
	if d := i.DNS; d != nil {
		p.required("dns.hostedZoneId", d.HostedZoneID)
		p.required("dns.recordName", d.RecordName)
		if d.TTL < 0 {
			p.add("dns.ttl", "must not be negative")
		}
	}
	return p.err()
}

// Validate checks a workflow and its strategy.
func (w *Workflow) Validate() error {
	var p problems
	p.required("appId", w.ApplicationID)
	p.name("name", w.Name)
	p.required("envId", w.EnvironmentID)
	p.required("infraId", w.InfrastructureID)
	if w.SteadyStateTimeoutSeconds < 0 || w.SteadyStateTimeoutSeconds > 86400 {
		p.add("steadyStateTimeoutSeconds", "must be between 0 (default %d) and 86400", DefaultSteadyStateTimeoutSeconds)
	}
	switch w.ConcurrencyPolicy {
	case "", ConcurrencyQueue, ConcurrencyReject:
	default:
		p.add("concurrencyPolicy", "must be QUEUE or REJECT")
	}
	p.alarms("verification.alarms", w.Verification.Alarms)
	if w.Verification.BakeSeconds < 0 {
		p.add("verification.bakeSeconds", "must not be negative")
	}
	p.approval("verification.approval", w.Verification.Approval)
	p.merge("strategy.", w.Strategy.validate())
	return p.err()
}

func (s *Strategy) validate() error {
	var p problems
	set := map[StrategyType]bool{
		StrategyRolling: s.Rolling != nil, StrategyCanary: s.Canary != nil,
		StrategyBlueGreen: s.BlueGreen != nil, StrategyDaemon: s.Daemon != nil,
	}
	for t, ok := range set {
		if ok && t != s.Type {
			p.add(strategyField(t), "is set but strategy.type is %q", s.Type)
		}
	}
	switch s.Type {
	case StrategyRolling:
		if r := s.Rolling; r != nil {
			p.percent("rolling.minimumHealthyPercent", r.MinimumHealthyPercent)
			if r.MaximumPercent < 100 || r.MaximumPercent > 200 {
				p.add("rolling.maximumPercent", "must be between 100 and 200, got %d", r.MaximumPercent)
			}
		}
	case StrategyDaemon:
		if d := s.Daemon; d != nil {
			p.percent("daemon.minimumHealthyPercent", d.MinimumHealthyPercent)
			if d.MaximumPercent != 0 && d.MaximumPercent != 100 {
				p.add("daemon.maximumPercent", "must be 100 for DAEMON services (ECS replaces tasks in place)")
			}
		}
	case StrategyCanary:
		if s.Canary == nil {
			p.add("canary", "is required for a CANARY strategy")
			break
		}
		p.setup("canary.setup", s.Canary.Setup)
		p.phases("canary.phases", s.Canary.Phases)
	case StrategyBlueGreen:
		b := s.BlueGreen
		if b == nil {
			p.add("blueGreen", "is required for a BLUE_GREEN strategy")
			break
		}
		switch b.Mode {
		case BlueGreenELB, BlueGreenRoute53:
		case "":
			p.add("blueGreen.mode", "is required (ELB or ROUTE53)")
		default:
			p.add("blueGreen.mode", "must be ELB or ROUTE53")
		}
		p.setup("blueGreen.setup", b.Setup)
		prev := int32(0)
		for i, w := range b.LinearSteps {
			f := fieldIndex("blueGreen.linearSteps", i)
			p.percent(f, w)
			if w <= prev {
				p.add(f, "must be greater than the step before (%d)", prev)
			}
			prev = w
		}
		if n := len(b.LinearSteps); n > 0 && b.LinearSteps[n-1] != 100 {
			p.add(fieldIndex("blueGreen.linearSteps", n-1), "the last step must be 100")
		}
		if b.StepBakeSeconds < 0 {
			p.add("blueGreen.stepBakeSeconds", "must not be negative")
		}
		if b.BlueBakeSeconds < 0 {
			p.add("blueGreen.blueBakeSeconds", "must not be negative")
		}
	case "":
		p.add("type", "is required (ROLLING, CANARY, BLUE_GREEN or DAEMON)")
	default:
		p.add("type", "must be ROLLING, CANARY, BLUE_GREEN or DAEMON")
	}
	return p.err()
}

func strategyField(t StrategyType) string {
	switch t {
	case StrategyRolling:
		return "rolling"
	case StrategyCanary:
		return "canary"
	case StrategyBlueGreen:
		return "blueGreen"
	}
	return "daemon"
}

func (p *problems) setup(field string, s ServiceSetup) {
	switch s.CountMode {
	case "", CountSameAsRunning:
		if s.FixedCount != nil {
			p.add(field+".fixedCount", "is only for countMode FIXED")
		}
	case CountFixed:
		if s.FixedCount == nil || *s.FixedCount < 1 {
			p.add(field+".fixedCount", "must be at least 1 when countMode is FIXED")
		}
	default:
		p.add(field+".countMode", "must be SAME_AS_RUNNING or FIXED")
	}
	switch s.Resize {
	case "", ResizeNewFirst, ResizeOldFirst:
	default:
		p.add(field+".resize", "must be NEW_FIRST or OLD_FIRST")
	}
}

// phases checks canary phases: each a count or a percent, sizes rising, and
// the last one at 100 percent; traffic weights within 0..100 and never falling.
func (p *problems) phases(field string, phases []CanaryPhase) {
	if len(phases) == 0 {
		p.add(field, "needs at least one phase, the last at percent 100")
		return
	}
	var lastPct, lastCount, lastWeight int32 = 0, 0, 0
	for i, ph := range phases {
		f := fieldIndex(field, i)
		switch {
		case ph.Count != nil && ph.Percent != nil:
			p.add(f, "set count or percent, not both")
		case ph.Count == nil && ph.Percent == nil:
			p.add(f, "needs a count or a percent")
		case ph.Percent != nil:
			v := *ph.Percent
			if v < 1 || v > 100 {
				p.add(f+".percent", "must be between 1 and 100, got %d", v)
			} else if v <= lastPct {
				p.add(f+".percent", "must rise above the previous phase's %d%%", lastPct)
			}
			lastPct = v
		case ph.Count != nil:
			v := *ph.Count
			if v < 1 {
				p.add(f+".count", "must be at least 1, got %d", v)
			} else if v <= lastCount {
				p.add(f+".count", "must rise above the previous phase's count %d", lastCount)
			}
			lastCount = v
		}
		if ph.TrafficWeight != nil {
			w := *ph.TrafficWeight
			if w < 0 || w > 100 {
				p.add(f+".trafficWeight", "must be between 0 and 100, got %d", w)
			} else if w < lastWeight {
				p.add(f+".trafficWeight", "must not fall below the previous phase's %d", lastWeight)
			}
			lastWeight = w
		}
		if ph.BakeSeconds < 0 {
			p.add(f+".bakeSeconds", "must not be negative")
		}
		p.approval(f+".approval", ph.Approval)
		p.alarms(f+".alarms", ph.Alarms)
	}
	last := phases[len(phases)-1]
	if last.Percent == nil || *last.Percent != 100 {
		p.add(fieldIndex(field, len(phases)-1)+".percent", "the last phase must reach 100 percent")
	}
}

// Validate checks a pipeline.
func (pl *Pipeline) Validate() error {
	var p problems
	p.required("appId", pl.ApplicationID)
	p.name("name", pl.Name)
	if len(pl.Stages) == 0 {
		p.add("stages", "needs at least one stage")
	}
	names := map[string]bool{}
	for i, s := range pl.Stages {
		f := fieldIndex("stages", i)
		p.name(f+".name", s.Name)
		if names[s.Name] {
			p.add(f+".name", "duplicates stage %q", s.Name)
		}
		names[s.Name] = true
		switch s.Type {
		case StageWorkflow:
			p.required(f+".workflowId", s.WorkflowID)
		case StageApproval:
			p.approval(f+".approval", s.Approval)
		case StageWait:
			if s.WaitSeconds <= 0 {
				p.add(f+".waitSeconds", "must be positive for a WAIT stage")
			}
		case "":
			p.add(f+".type", "is required (WORKFLOW, APPROVAL or WAIT)")
		default:
			p.add(f+".type", "must be WORKFLOW, APPROVAL or WAIT")
		}
		if s.Type != StageWorkflow && s.WorkflowID != "" {
			p.add(f+".workflowId", "is only for WORKFLOW stages")
		}
		if s.ParallelWithPrevious && (s.Type != StageWorkflow || i == 0 || pl.Stages[i-1].Type != StageWorkflow) {
			p.add(f+".parallelWithPrevious", "is only for a WORKFLOW stage after another WORKFLOW stage")
		}
	}
	return p.err()
}

// Validate checks a trigger.
func (t *Trigger) Validate() error {
	var p problems
	p.required("appId", t.ApplicationID)
	p.name("name", t.Name)
	p.required("artifactServerId", t.ArtifactServerID)
	p.required("repository", t.Repository)
	if t.TagFilter != "" {
		if _, err := CompileTagFilter(t.TagFilter); err != nil {
			p.add("tagFilter", "is not a valid regular expression: %v", err)
		}
	}
	if t.Schedule != "" {
		if _, err := cron.ParseStandard(t.Schedule); err != nil || strings.HasPrefix(t.Schedule, "@every") ||
			strings.HasPrefix(t.Schedule, "TZ=") || strings.HasPrefix(t.Schedule, "CRON_TZ=") {
			p.add("schedule", "must be a 5-field cron expression in UTC (minute hour day-of-month month day-of-week)")
		}
		if t.ArtifactTag == "" {
			p.add("artifactTag", "is required with a schedule: the tag a scheduled run deploys")
		} else if !tagRE.MatchString(t.ArtifactTag) {
			p.add("artifactTag", "is not a valid image tag")
		}
	} else if t.ArtifactTag != "" {
		p.add("artifactTag", "is only for scheduled triggers (with a schedule)")
	}
	switch {
	case t.WorkflowID == "" && t.PipelineID == "":
		p.add("workflowId", "a trigger needs a workflowId or a pipelineId")
	case t.WorkflowID != "" && t.PipelineID != "":
		p.add("pipelineId", "set workflowId or pipelineId, not both")
	}
	return p.err()
}

// CompileTagFilter compiles a trigger's tag filter anchored on the whole tag.
func CompileTagFilter(filter string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + filter + `)$`)
}

// Validate checks a deployment request's own fields.
func (d *Deployment) Validate() error {
	var p problems
	p.required("appId", d.ApplicationID)
	p.required("workflowId", d.WorkflowID)
	if d.Artifact.Tag == "" && d.Artifact.Digest == "" && d.Artifact.Image == "" {
		p.add("artifact", "needs a tag, a digest or an image")
	}
	if d.Artifact.Digest != "" && !digestRE.MatchString(d.Artifact.Digest) {
		p.add("artifact.digest", "must be sha256: followed by 64 hex digits")
	}
	if d.Artifact.Tag != "" && !tagRE.MatchString(d.Artifact.Tag) {
		p.add("artifact.tag", "is not a valid image tag")
	}
	if d.Status != "" && !d.Status.Valid() {
		p.add("status", "is not a known status")
	}
	return p.err()
}

var (
	digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	tagRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
