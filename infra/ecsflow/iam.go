package ecsflow

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// scope names the resources an IAM action is limited to.
type scope string

const (
	// scopeUnscoped is for actions whose service supports no resource-level
	// permissions: the statement must use Resource "*".
	scopeUnscoped       scope = "unscoped"
	scopeTable          scope = "table"
	scopeStateMachines  scope = "state-machines"
	scopeExecutions     scope = "executions"
	scopeServices       scope = "ecs-services"
	scopeTasks          scope = "ecs-tasks"
	scopeDeployments    scope = "ecs-service-deployments"
	scopePassRoles      scope = "pass-roles"
	scopeTargetRoles    scope = "target-roles"
	scopeTopic          scope = "topic"
	scopeRepositories   scope = "ecr-repositories"
	scopeListeners      scope = "elb-listeners"
	scopeListenerRules  scope = "elb-listener-rules"
	scopeScalableTarget scope = "scalable-targets"
	scopeAlarms         scope = "alarms"
	scopeHostedZones    scope = "hosted-zones"
	scopeDNSChanges     scope = "route53-changes"
	scopeSecrets        scope = "secrets"
	scopeTaggable       scope = "ecs-taggable"
	scopeEventBus       scope = "event-bus"
	// scopePipelineExecutions are the executions of the pipeline state
	// machine only (the API stops a WAIT stage's execution).
	scopePipelineExecutions scope = "pipeline-executions"
	scopeCloudMapServices   scope = "cloud-map-services"
	scopeCloudMapNamespaces scope = "cloud-map-namespaces"
	// scopeCloudMapCreate is CreateService's pair: the namespace it is
	// created in and the new service.
	scopeCloudMapCreate scope = "cloud-map-create"
	// scopeClusterLists are the ECS list calls, which take no resource
	// ARN: Resource "*" with the condition ecs:cluster = the configured
	// clusters.
	scopeClusterLists scope = "ecs-cluster-lists"
	// scopeAutoScalingRole is Application Auto Scaling's service-linked
	// role for ECS, which the first RegisterScalableTarget in an account
	// creates (iam:CreateServiceLinkedRole, for that service only).
	scopeAutoScalingRole scope = "autoscaling-service-linked-role"
)

// actionScopes maps every IAM action a function may list to the resources it
// is granted on. The unscoped ones are exactly the actions whose service
// authorization reference lists no resource type.
var actionScopes = map[string]scope{
	"dynamodb:GetItem":            scopeTable,
	"dynamodb:BatchGetItem":       scopeTable,
	"dynamodb:Query":              scopeTable,
	"dynamodb:ConditionCheckItem": scopeTable,
	"dynamodb:PutItem":            scopeTable,
	"dynamodb:UpdateItem":         scopeTable,
	"dynamodb:DeleteItem":         scopeTable,
	"dynamodb:BatchWriteItem":     scopeTable,
	"dynamodb:DescribeTable":      scopeTable,

	"states:StartExecution":       scopeStateMachines,
	"events:PutEvents":            scopeEventBus,
	"states:DescribeStateMachine": scopeStateMachines,
	"states:ListExecutions":       scopeStateMachines,
	"states:DescribeExecution":    scopeExecutions,
	"states:StopExecution":        scopePipelineExecutions,
	"states:GetExecutionHistory":  scopeExecutions,
	// Task tokens carry no ARN, so the callbacks cannot be scoped.
	"states:SendTaskSuccess":   scopeUnscoped,
	"states:SendTaskFailure":   scopeUnscoped,
	"states:SendTaskHeartbeat": scopeUnscoped,

	"ecs:DescribeServices":           scopeServices,
	"ecs:ListServices":               scopeClusterLists,
	"ecs:ListTasks":                  scopeClusterLists,
	"ecs:UpdateService":              scopeServices,
	"ecs:CreateService":              scopeServices,
	"ecs:DeleteService":              scopeServices,
	"ecs:TagResource":                scopeTaggable,
	"ecs:ListServiceDeployments":     scopeServices,
	"ecs:DescribeServiceDeployments": scopeDeployments,
	"ecs:DescribeTasks":              scopeTasks,
	"ecs:DescribeTaskDefinition":     scopeUnscoped,
	"ecs:RegisterTaskDefinition":     scopeUnscoped,
	"ecs:DeregisterTaskDefinition":   scopeUnscoped,

	"iam:PassRole":                scopePassRoles,
	"iam:CreateServiceLinkedRole": scopeAutoScalingRole,
	"sts:AssumeRole":              scopeTargetRoles,
	"sns:Publish":                 scopeTopic,

	"secretsmanager:GetSecretValue": scopeSecrets,

	"ecr:DescribeImages": scopeRepositories,
	"ecr:ListImages":     scopeRepositories,

	"elasticloadbalancing:ModifyListener":              scopeListeners,
	"elasticloadbalancing:ModifyRule":                  scopeListenerRules,
	"elasticloadbalancing:DescribeListeners":           scopeUnscoped,
	"elasticloadbalancing:DescribeRules":               scopeUnscoped,
	"elasticloadbalancing:DescribeTargetGroups":        scopeUnscoped,
	"elasticloadbalancing:DescribeTargetHealth":        scopeUnscoped,
	"application-autoscaling:RegisterScalableTarget":   scopeScalableTarget,
	"application-autoscaling:DeregisterScalableTarget": scopeScalableTarget,
	"application-autoscaling:PutScalingPolicy":         scopeScalableTarget,
	"application-autoscaling:DeleteScalingPolicy":      scopeScalableTarget,
	"application-autoscaling:DescribeScalableTargets":  scopeUnscoped,
	"application-autoscaling:DescribeScalingPolicies":  scopeUnscoped,

	"cloudwatch:DescribeAlarms": scopeAlarms,
	"cloudwatch:GetMetricData":  scopeUnscoped,

	"route53:ChangeResourceRecordSets": scopeHostedZones,
	"route53:ListResourceRecordSets":   scopeHostedZones,
	"route53:GetChange":                scopeDNSChanges,

	"servicediscovery:CreateService":      scopeCloudMapCreate,
	"servicediscovery:DeleteService":      scopeCloudMapServices,
	"servicediscovery:DeregisterInstance": scopeCloudMapServices,
	"servicediscovery:GetService":         scopeCloudMapServices,
	"servicediscovery:ListInstances":      scopeCloudMapServices,
	"servicediscovery:GetNamespace":       scopeCloudMapNamespaces,
	"servicediscovery:ListServices":       scopeUnscoped,
}

// ecsTagCreateActions are the ECS calls whose tags ecs:TagResource is
// granted for (the ecs:CreateAction condition): the steps tag only what they
// create.
var ecsTagCreateActions = []string{"CreateService", "RegisterTaskDefinition"}

// UnknownActionError reports a function-table action that has no scope in
// actionScopes.
type UnknownActionError struct {
	Function string
	Action   string
}

func (e *UnknownActionError) Error() string {
	return fmt.Sprintf("ecsflow: function %q lists IAM action %q, which has no resource scope in infra/ecsflow/iam.go: add it there", e.Function, e.Action)
}

// arns builds the ARNs of the deployment's resources without referencing
// other resources, so that no dependency cycle arises between functions and
// state machines.
type arns struct {
	stack          awscdk.Stack
	tableArn       string
	topicArn       string
	stateMachines  []string // names
	clusters       []string
	passRoles      []string
	targetAccounts []string
	targetRoleName string
	repositories   []string
	secretPrefix   string
	// pipelineMachine is the full name of the pipeline state machine ("" =
	// none: StopExecution is granted on nothing).
	pipelineMachine string
	// eventBus is the name of the bus notifications go to.
	eventBus string
}

func (a *arns) format(service, resource, name string, sep awscdk.ArnFormat) string {
	return *a.stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String(service),
		Resource:     jsii.String(resource),
		ResourceName: jsii.String(name),
		ArnFormat:    sep,
	})
}

// iamArn is an IAM ARN: no region, this stack's account.
func (a *arns) iamArn(resource, name string) string {
	return *a.stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("iam"),
		Region:       jsii.String(""),
		Resource:     jsii.String(resource),
		ResourceName: jsii.String(name),
		ArnFormat:    awscdk.ArnFormat_SLASH_RESOURCE_NAME,
	})
}

// global is an ARN with neither region nor account (Route 53).
func (a *arns) global(service, resource, name string) string {
	return *a.stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String(service),
		Region:       jsii.String(""),
		Account:      jsii.String(""),
		Resource:     jsii.String(resource),
		ResourceName: jsii.String(name),
		ArnFormat:    awscdk.ArnFormat_SLASH_RESOURCE_NAME,
	})
}

// stateMachineArn is the ARN of the state machine with the given full name.
func (a *arns) stateMachineArn(fullName string) string {
	return a.format("states", "stateMachine", fullName, awscdk.ArnFormat_COLON_RESOURCE_NAME)
}

// resources returns the resource ARNs for one scope. An empty result means
// the scope has nothing to grant (for example no target accounts), and the
// action is left out.
func (a *arns) resources(s scope) []string {
	switch s {
	case scopeUnscoped:
		return []string{"*"}
	case scopeClusterLists:
		if len(a.clusters) == 0 {
			return nil
		}
		return []string{"*"}
	case scopeTable:
		out := []string{a.tableArn}
		for _, g := range GSIs {
			out = append(out, a.tableArn+"/index/"+g)
		}
		return out
	case scopeStateMachines:
		out := make([]string, 0, len(a.stateMachines))
		for _, n := range a.stateMachines {
			out = append(out, a.stateMachineArn(n))
		}
		return out
	case scopeExecutions:
		out := make([]string, 0, len(a.stateMachines))
		for _, n := range a.stateMachines {
			out = append(out, a.format("states", "execution", n+":*", awscdk.ArnFormat_COLON_RESOURCE_NAME))
		}
		return out
	case scopePipelineExecutions:
		if a.pipelineMachine == "" {
			return nil
		}
		return []string{a.format("states", "execution", a.pipelineMachine+":*", awscdk.ArnFormat_COLON_RESOURCE_NAME)}
	case scopeServices:
		return a.perCluster("service")
	case scopeTaggable:
		// Services of the clusters, and task definitions tagged when they
		// are registered (tag-on-create is authorised as ecs:TagResource).
		return append(a.perCluster("service"), a.format("ecs", "task-definition", "*", awscdk.ArnFormat_SLASH_RESOURCE_NAME))
	case scopeTasks:
		return a.perCluster("task")
	case scopeDeployments:
		return a.perCluster("service-deployment")
	case scopePassRoles:
		out := make([]string, 0, len(a.passRoles))
		for _, r := range a.passRoles {
			out = append(out, a.iamArn("role", r))
		}
		return out
	case scopeAutoScalingRole:
		return []string{a.iamArn("role", autoScalingRolePath)}
	case scopeTargetRoles:
		out := make([]string, 0, len(a.targetAccounts))
		for _, acct := range a.targetAccounts {
			out = append(out, *a.stack.FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("iam"), Region: jsii.String(""), Account: jsii.String(acct),
				Resource: jsii.String("role"), ResourceName: jsii.String(a.targetRoleName),
				ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME,
			}))
		}
		return out
	case scopeTopic:
		return []string{a.topicArn}
	case scopeSecrets:
		return []string{a.format("secretsmanager", "secret", a.secretPrefix+"*", awscdk.ArnFormat_COLON_RESOURCE_NAME)}
	case scopeRepositories:
		if len(a.repositories) == 0 {
			return []string{a.format("ecr", "repository", "*", awscdk.ArnFormat_SLASH_RESOURCE_NAME)}
		}
		out := make([]string, 0, len(a.repositories))
		for _, r := range a.repositories {
			out = append(out, a.format("ecr", "repository", r, awscdk.ArnFormat_SLASH_RESOURCE_NAME))
		}
		return out
	case scopeListeners:
		return []string{
			a.format("elasticloadbalancing", "listener", "app/*", awscdk.ArnFormat_SLASH_RESOURCE_NAME),
			a.format("elasticloadbalancing", "listener", "net/*", awscdk.ArnFormat_SLASH_RESOURCE_NAME),
		}
	case scopeListenerRules:
		return []string{
			a.format("elasticloadbalancing", "listener-rule", "app/*", awscdk.ArnFormat_SLASH_RESOURCE_NAME),
			a.format("elasticloadbalancing", "listener-rule", "net/*", awscdk.ArnFormat_SLASH_RESOURCE_NAME),
		}
	case scopeScalableTarget:
		return []string{a.format("application-autoscaling", "scalable-target", "*", awscdk.ArnFormat_SLASH_RESOURCE_NAME)}
	case scopeAlarms:
		return []string{a.format("cloudwatch", "alarm", "*", awscdk.ArnFormat_COLON_RESOURCE_NAME)}
	case scopeHostedZones:
		return []string{a.global("route53", "hostedzone", "*")}
	case scopeDNSChanges:
		return []string{a.global("route53", "change", "*")}
	case scopeEventBus:
		bus := a.eventBus
		if bus == "" {
			bus = DefaultEventBusName
		}
		return []string{a.format("events", "event-bus", bus, awscdk.ArnFormat_SLASH_RESOURCE_NAME)}
	case scopeCloudMapServices:
		return []string{a.format("servicediscovery", "service", "*", awscdk.ArnFormat_SLASH_RESOURCE_NAME)}
	case scopeCloudMapNamespaces:
		return []string{a.format("servicediscovery", "namespace", "*", awscdk.ArnFormat_SLASH_RESOURCE_NAME)}
	case scopeCloudMapCreate:
		return append(a.resources(scopeCloudMapNamespaces), a.resources(scopeCloudMapServices)...)
	}
	return nil
}

// clusterArns are the configured clusters' ARNs.
func (a *arns) clusterArns() []string {
	out := make([]string, 0, len(a.clusters))
	for _, c := range a.clusters {
		out = append(out, a.format("ecs", "cluster", c, awscdk.ArnFormat_SLASH_RESOURCE_NAME))
	}
	return out
}

func (a *arns) perCluster(kind string) []string {
	out := make([]string, 0, len(a.clusters))
	for _, c := range a.clusters {
		out = append(out, a.format("ecs", kind, c+"/*", awscdk.ArnFormat_SLASH_RESOURCE_NAME))
	}
	return out
}

// statements turns a function's action list into policy statements, one per
// scope, in a stable order.
func (a *arns) statements(function string, actions []string) ([]awsiam.PolicyStatement, error) {
	byScope := map[scope][]string{}
	for _, act := range actions {
		s, ok := actionScopes[act]
		if !ok {
			return nil, &UnknownActionError{Function: function, Action: act}
		}
		byScope[s] = append(byScope[s], act)
	}
	scopes := make([]string, 0, len(byScope))
	for s := range byScope {
		scopes = append(scopes, string(s))
	}
	sort.Strings(scopes)
	var out []awsiam.PolicyStatement
	for _, s := range scopes {
		res := a.resources(scope(s))
		if len(res) == 0 {
			continue
		}
		acts := byScope[scope(s)]
		sort.Strings(acts)
		props := &awsiam.PolicyStatementProps{
			Sid:       jsii.String(sid(s)),
			Actions:   jsii.Strings(acts...),
			Resources: jsii.Strings(res...),
		}
		switch scope(s) {
		case scopePassRoles:
			props.Conditions = &map[string]interface{}{
				"StringEquals": map[string]interface{}{"iam:PassedToService": "ecs-tasks.amazonaws.com"},
			}
		case scopeAutoScalingRole:
			props.Conditions = &map[string]interface{}{
				"StringLike": map[string]interface{}{"iam:AWSServiceName": autoScalingService},
			}
		case scopeClusterLists:
			props.Conditions = &map[string]interface{}{
				"ArnEquals": map[string]interface{}{"ecs:cluster": a.clusterArns()},
			}
		case scopeTaggable:
			// Tags only as a service or task definition is created.
			props.Conditions = &map[string]interface{}{
				"StringEquals": map[string]interface{}{"ecs:CreateAction": ecsTagCreateActions},
			}
		}
		out = append(out, awsiam.NewPolicyStatement(props))
	}
	return out, nil
}

// sid turns a scope name into a statement id ("ecs-services" -> "EcsServices").
func sid(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, "-") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// Application Auto Scaling's service-linked role for ECS services.
const (
	autoScalingService  = "ecs.application-autoscaling.amazonaws.com"
	autoScalingRolePath = "aws-service-role/" + autoScalingService + "/AWSServiceRoleForApplicationAutoScaling_ECSService"
)
