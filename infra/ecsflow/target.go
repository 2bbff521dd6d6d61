package ecsflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ecsflow/ecsflow/internal/ecsevents"
)

// TargetAccountRoleProps configures the role in a target account.
type TargetAccountRoleProps struct {
	// EcsflowAccount is the 12-digit account where ecsflow runs.
	EcsflowAccount string
	// ExternalID must match the external id the steps send.
	ExternalID string
	// RoleName defaults to DefaultTargetRoleName.
	RoleName string
	// Clusters are the ECS clusters in this account ecsflow may deploy to.
	Clusters []string
	// PassRoles are the task and execution role names the steps may pass
	// (same default as Props.PassRoles).
	PassRoles []string
	// Specs is the function table whose step actions the role allows
	// (default DefaultSpecs()).
	Specs map[string]FunctionSpec
	// ForwardEcsEvents adds rules that forward this account's ECS events
	// from Clusters, and its CloudWatch alarm changes, to the ecsflow account's default event bus, where
	// functions/ecs-events receives them (list this account in the ecsflow
	// Props.TargetAccounts so that bus accepts them).
	ForwardEcsEvents bool
	// EcsflowRegion is the ecsflow region (default: this stack's region).
	EcsflowRegion string
}

// TargetAccountRole is the role ecsflow's steps assume in a target account.
type TargetAccountRole struct {
	constructs.Construct
	Role awsiam.Role
}

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)

// Errors returned by NewTargetAccountRole for bad props.
var (
	ErrBadEcsflowAccount = errors.New("ecsflow: TargetAccountRoleProps.EcsflowAccount must be a 12-digit account id")
	ErrNoExternalID      = errors.New("ecsflow: TargetAccountRoleProps.ExternalID is empty")
)

// targetScopes are the scopes that exist in a target account: ECS, load
// balancing, auto scaling, alarms, DNS, Cloud Map, role passing and auto scaling's service-linked role. The table, topic,
// state machines and cross-account roles stay in the ecsflow account.
var targetScopes = map[scope]bool{
	scopeUnscoped: true, scopeServices: true, scopeTaggable: true, scopeTasks: true, scopeDeployments: true,
	scopePassRoles: true, scopeListeners: true, scopeListenerRules: true,
	scopeScalableTarget: true, scopeAlarms: true, scopeHostedZones: true, scopeDNSChanges: true,
	scopeRepositories: true, scopeCloudMapServices: true, scopeCloudMapNamespaces: true, scopeCloudMapCreate: true,
	scopeClusterLists: true, scopeAutoScalingRole: true,
}

// TargetActions returns the actions the target role allows: every action of
// the step functions in specs whose resources live in the target account,
// except task-token callbacks.
func TargetActions(specs map[string]FunctionSpec) []string {
	seen := map[string]bool{}
	var out []string
	for name, s := range specs {
		if len(name) < 5 || name[:5] != "step-" {
			continue
		}
		for _, a := range s.Actions {
			sc := actionScopes[a]
			if !targetScopes[sc] || seen[a] || a == "states:SendTaskSuccess" || a == "states:SendTaskFailure" || a == "states:SendTaskHeartbeat" {
				continue
			}
			seen[a] = true
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// NewTargetAccountRole creates the role in a target account. It trusts the
// ecsflow account, only with the external id.
func NewTargetAccountRole(scope constructs.Construct, id string, props TargetAccountRoleProps) (*TargetAccountRole, error) {
	if !accountRE.MatchString(props.EcsflowAccount) {
		return nil, ErrBadEcsflowAccount
	}
	if props.ExternalID == "" {
		return nil, ErrNoExternalID
	}
	if len(props.Clusters) == 0 {
		return nil, ErrNoClusters
	}
	if props.RoleName == "" {
		props.RoleName = DefaultTargetRoleName
	}
	if len(props.PassRoles) == 0 {
		p := Props{}
		p.defaults()
		props.PassRoles = p.PassRoles
	}
	if props.Specs == nil {
		props.Specs = DefaultSpecs()
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	a := &arns{stack: awscdk.Stack_Of(c), clusters: props.Clusters, passRoles: props.PassRoles}
	stmts, err := a.statements("target-account-role", TargetActions(props.Specs))
	if err != nil {
		return nil, fmt.Errorf("target account role: %w", err)
	}
	role := awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		RoleName:    jsii.String(props.RoleName),
		Description: jsii.String("ecsflow deploys ECS services in this account through this role"),
		AssumedBy: awsiam.NewAccountPrincipal(jsii.String(props.EcsflowAccount)).WithConditions(&map[string]interface{}{
			"StringEquals": map[string]interface{}{"sts:ExternalId": props.ExternalID},
		}),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
	})
	for _, s := range stmts {
		role.AddToPolicy(s)
	}
	suppressTarget(role, TargetActions(props.Specs))
	if props.ForwardEcsEvents {
		if err := forwardEcsEvents(c, a, props); err != nil {
			return nil, err
		}
	}
	return &TargetAccountRole{Construct: c, Role: role}, nil
}

// forwardEcsEvents sends the ECS events of the configured clusters to the
// ecsflow account's default bus, with a DLQ.
func forwardEcsEvents(c constructs.Construct, a *arns, props TargetAccountRoleProps) error {
	stack := a.stack
	region := props.EcsflowRegion
	if region == "" {
		region = *stack.Region()
	}
	bus := awsevents.EventBus_FromEventBusArn(c, jsii.String("EcsflowBus"), stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("events"), Region: jsii.String(region), Account: jsii.String(props.EcsflowAccount),
		Resource: jsii.String("event-bus"), ResourceName: jsii.String("default"), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME,
	}))
	var prefixes []any
	for _, cl := range props.Clusters {
		for _, kind := range []string{"service", "task"} {
			prefixes = append(prefixes, map[string]any{"prefix": a.format("ecs", kind, cl+"/", awscdk.ArnFormat_SLASH_RESOURCE_NAME)})
		}
	}
	dlq := awssqs.NewQueue(c, jsii.String("ForwardDlq"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	s := []*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String("This queue is itself the dead-letter queue of the event forwarding rules; cdk-nag only recognises DLQs named in another queue's redrive policy."),
	}}
	cdknag.NagSuppressions_AddResourceSuppressions(dlq, &s, jsii.Bool(false))
	// The same patterns ecs-events receives in the ecsflow account.
	for _, r := range ecsevents.Rules() {
		if r.Function != ecsevents.FunctionECSEvents {
			continue
		}
		var p map[string]any
		if err := json.Unmarshal([]byte(r.Pattern), &p); err != nil {
			return fmt.Errorf("forward rule %s: pattern: %w", r.Name, err)
		}
		if fmt.Sprint(p["source"]) == "[aws.ecs]" {
			p["resources"] = prefixes
		}
		rule := awsevents.NewRule(c, jsii.String("Forward"+pascal(r.Name)), &awsevents.RuleProps{
			Description:  jsii.String("ecsflow: forward to the ecsflow account: " + r.Description),
			EventPattern: &awsevents.EventPattern{Source: jsii.Strings("aws.ecs")},
		})
		rule.Node().DefaultChild().(awsevents.CfnRule).AddPropertyOverride(jsii.String("EventPattern"), p)
		rule.AddTarget(awseventstargets.NewEventBus(bus, &awseventstargets.EventBusProps{DeadLetterQueue: dlq}))
	}
	return nil
}
