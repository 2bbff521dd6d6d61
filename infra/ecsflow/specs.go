package ecsflow

import (
	"sort"
	"time"
)

// FunctionSpec is one row of the function table: how the Lambda built from
// functions/<Name> is sized and what its code may call.
//
// Actions lists the exact IAM actions the function's code calls. The
// construct scopes each action to resources by itself (see actionScopes in
// iam.go): an action it does not know makes New fail, so adding a call to a
// function means adding the action here and, for a new action, its scope.
type FunctionSpec struct {
	// Name is the folder name under functions/, for example "step-prepare".
	Name string
	// Description is shown on the Lambda function.
	Description string
	// MemoryMB is the function's memory size.
	MemoryMB int
	// Timeout is the function's timeout.
	Timeout time.Duration
	// Async marks functions invoked asynchronously (EventBridge targets):
	// they get retries, a maximum event age and an on-failure destination
	// (an SQS queue) with a depth alarm.
	Async bool
	// Actions are the IAM actions the function's code calls.
	Actions []string
	// Env holds extra environment variables; the common ones (see
	// EnvTableName and friends) are always set.
	Env map[string]string
}

// Store access (internal/store). Which of these a function's code calls
// depends on the store methods it reaches (TransactWriteItems is authorised
// through the item actions it contains, ConditionCheckItem included); the
// rows below name exactly those.
var (
	// tableItems are the single-item reads and writes and transactions.
	tableItems = []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem",
		"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
	// tableQuery adds the index and partition queries (listings, waits by
	// service, queues).
	tableQuery = []string{"dynamodb:Query"}
	// crossAccount lets the steps assume a target account's TargetAccountRole
	// (stscreds in internal/ecsops).
	crossAccount = []string{"sts:AssumeRole"}
	// notify publishes "ecsflow Deployment Status" / "ecsflow Pipeline
	// Status" events on the project's bus (EVENT_BUS_NAME).
	notify = []string{"events:PutEvents"}
	// dnsWeights are the Route 53 weighted records of DNS blue/green.
	dnsWeights = []string{"route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"}
	// elbWeights move listener and rule weights.
	elbWeights = []string{"elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyRule"}
	// cloudMapRead finds a revision's Cloud Map service (<service>--<n>).
	cloudMapRead = []string{"servicediscovery:GetNamespace", "servicediscovery:GetService", "servicediscovery:ListServices"}
	// cloudMapRemove deletes a retired revision's Cloud Map service.
	cloudMapRemove = []string{"servicediscovery:DeleteService", "servicediscovery:DeregisterInstance", "servicediscovery:ListInstances"}
)

// ImpliedActions are actions a function needs although its code names no
// API operation of that name: AWS authorises part of another call through
// them. Every other action of a row is an operation the function's code
// calls (TestSpecsFollowCode checks both, from the source).
var ImpliedActions = map[string]string{
	"ecs:TagResource":             "tags given to RegisterTaskDefinition or CreateService (tag-on-create) are authorised as ecs:TagResource",
	"iam:PassRole":                "RegisterTaskDefinition with a task or execution role passes that role",
	"iam:CreateServiceLinkedRole": "the first RegisterScalableTarget for ECS in an account creates Application Auto Scaling's service-linked role",
}

func join(groups ...[]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, g := range groups {
		for _, a := range g {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	sort.Strings(out)
	return out
}

// DefaultSpecs is the function table. Every functions/<name> folder needs a
// row here (a test and New enforce it); a row without a folder creates
// nothing. Each row's Actions are the AWS operations the function's code
// can reach (internal/lambdacalls reads them from the source), plus
// ImpliedActions where a call needs them.
//
//	name                    memory timeout async  what it calls
//	api                     512    29s     no     store, StartExecution, SendTaskSuccess/Failure (approve, reject, abort),
//	                                              StopExecution (pipeline abort), PutEvents, ECR / Secrets Manager (digests)
//	trigger                 256    30s     yes    store, StartExecution (pushes and schedule ticks)
//	ecs-events              256    30s     yes    store (ledger, waits), SendTaskSuccess/Failure/Heartbeat
//	collect-artifacts       256    120s    yes    store, StartExecution, ECR DescribeImages, GetSecretValue
//	step-pipeline-*         256    30s     no     store, PutEvents
//	step-prepare            256    60s     no     store, DescribeServices/ListServices, SendTaskSuccess, PutEvents
//	step-next               256    30s     no     store, DescribeServices
//	step-register-taskdef   256    60s     no     Describe/RegisterTaskDefinition (+tags, PassRole)
//	step-update-service     256    60s     no     DescribeServices, UpdateService, CreateService (+tags)
//	step-wait-steady        256    60s     no     store, Describe/ListTasks, DescribeServices, SendTaskSuccess/Failure
//	step-check-steady       256    60s     no     store, Describe/ListTasks, DescribeServices
//	step-verify             256    60s     no     DescribeAlarms, SendTaskSuccess
//	step-approval           256    30s     no     store (task token), PutEvents
//	step-rollback           256    120s    no     ECS, ELB weights, Route 53, Cloud Map, auto scaling
//	step-finish             256    30s     no     store, GetExecutionHistory, SendTaskSuccess, PutEvents
//	step-setup-service      256    120s    no     CreateService (+tags), ELB weights (read, set), Route 53, Cloud Map,
//	                                              reads auto scaling
//	step-scale              256    60s     no     UpdateService, DeregisterScalableTarget
//	step-shift-traffic      256    60s     no     ELB weights, Route 53
//	step-cleanup            256    120s    no     ECS, Route 53, Cloud Map, auto scaling
//
// Every step that talks to ECS, ELB, Route 53, Cloud Map, CloudWatch or
// Application Auto Scaling may do so in a target account (sts:AssumeRole).
func DefaultSpecs() map[string]FunctionSpec {
	specs := []FunctionSpec{
		{
			Name: "api", Description: "ecsflow REST API (API Gateway HTTP API)",
			MemoryMB: 512, Timeout: 29 * time.Second,
			// internal/api starts executions; internal/deploycontrol answers
			// approval and abort waits through their task tokens; a pipeline
			// abort stops a WAIT stage's pipeline execution and announces the
			// end. Deploying a tag resolves its digest: ECR DescribeImages, or
			// a registry manifest with credentials from Secrets Manager.
			Actions: join(tableItems, tableQuery, notify,
				[]string{"states:StartExecution", "states:StopExecution", "states:SendTaskSuccess", "states:SendTaskFailure",
					"ecr:DescribeImages", "secretsmanager:GetSecretValue"}),
		},
		{
			Name: "trigger", Description: "ECR push or schedule tick -> matching Triggers -> StartExecution",
			MemoryMB: 256, Timeout: 30 * time.Second, Async: true,
			Actions: join(tableItems, tableQuery, []string{"states:StartExecution"}),
		},
		{
			Name: "ecs-events", Description: "ECS events -> deployment ledger and task-token resume",
			MemoryMB: 256, Timeout: 30 * time.Second, Async: true,
			Actions: join([]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}, tableQuery,
				[]string{"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}),
		},
		{
			Name: "collect-artifacts", Description: "scheduled: polls DOCKER_REGISTRY artifact servers for new tags, then the trigger path",
			MemoryMB: 256, Timeout: 120 * time.Second, Async: true,
			Actions: join(tableItems, tableQuery, []string{"states:StartExecution", "ecr:DescribeImages", "secretsmanager:GetSecretValue"}),
		},
		// The step-pipeline-* rows follow internal/pipeline: the store, and
		// status notifications. Nested workflow executions are started by
		// the pipeline state machine itself.
		{
			Name: "step-pipeline-next", Description: "pipeline step: start the next stage (creates its deployment)",
			MemoryMB: 256, Timeout: 30 * time.Second,
			Actions: join(tableItems, tableQuery, notify),
		},
		{
			Name: "step-pipeline-approval", Description: "pipeline step: store the approval's task token and announce it",
			MemoryMB: 256, Timeout: 30 * time.Second,
			Actions: join(tableItems, tableQuery, notify),
		},
		{
			Name: "step-pipeline-stage-end", Description: "pipeline step: record a stage's result",
			MemoryMB: 256, Timeout: 30 * time.Second,
			Actions: join(tableItems, tableQuery, notify),
		},
		{
			Name: "step-pipeline-finish", Description: "pipeline step: record the pipeline's result and notify",
			MemoryMB: 256, Timeout: 30 * time.Second,
			Actions: join(tableItems, tableQuery, notify),
		},
		// The step-* rows below follow internal/steps (steps.Function: each
		// Lambda wires only its own handler's clients): the store, AWS
		// through internal/ecsops (in the target account through
		// sts:AssumeRole when the Cloud Provider has a role), task-token
		// callbacks where a step resumes a wait itself, and the deployment
		// notifications of PREPARE (STARTED), APPROVAL (APPROVAL_NEEDED) and
		// FINISH (the end).
		{
			Name: "step-prepare", Description: "step: load the workflow, take the service lease or queue, plan",
			MemoryMB: 256, Timeout: 60 * time.Second,
			// Canary and blue/green size from the live revision <service>__<n>.
			Actions: join(tableItems, tableQuery, crossAccount, notify,
				[]string{"ecs:DescribeServices", "ecs:ListServices", "states:SendTaskSuccess"}),
		},
		{
			Name: "step-next", Description: "step: plan the next action of the workflow (internal/strategy)",
			MemoryMB: 256, Timeout: 30 * time.Second,
			// Next confirms an event-ended steady wait with one DescribeServices.
			Actions: join(tableItems, crossAccount, []string{"ecs:DescribeServices"}),
		},
		{
			Name: "step-register-taskdef", Description: "step: render and register the task definition (idempotent by tag)",
			MemoryMB: 256, Timeout: 60 * time.Second,
			Actions: join(tableItems, crossAccount,
				[]string{"ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:TagResource", "iam:PassRole"}),
		},
		{
			Name: "step-update-service", Description: "step: update or create the service (rolling, daemon)",
			MemoryMB: 256, Timeout: 60 * time.Second,
			Actions: join(tableItems, crossAccount,
				[]string{"ecs:DescribeServices", "ecs:UpdateService", "ecs:CreateService", "ecs:TagResource"}),
		},
		{
			Name: "step-wait-steady", Description: "step: store the task token and wait for steady state (event-driven)",
			MemoryMB: 256, Timeout: 60 * time.Second,
			// An old-first drain waits until the old revision's tasks stopped
			// (ListTasks, DescribeTasks).
			Actions: join(tableItems, tableQuery, crossAccount,
				[]string{"ecs:DescribeServices", "ecs:ListTasks", "ecs:DescribeTasks", "states:SendTaskSuccess", "states:SendTaskFailure"}),
		},
		{
			Name: "step-check-steady", Description: "step: low-rate steady-state check when a wait times out",
			MemoryMB: 256, Timeout: 60 * time.Second,
			Actions: join(tableItems, crossAccount, []string{"ecs:DescribeServices", "ecs:ListTasks", "ecs:DescribeTasks"}),
		},
		{
			Name: "step-verify", Description: "step: verify with CloudWatch alarms",
			MemoryMB: 256, Timeout: 60 * time.Second,
			Actions: join(tableItems, tableQuery, crossAccount, []string{"cloudwatch:DescribeAlarms", "states:SendTaskSuccess"}),
		},
		{
			Name: "step-approval", Description: "step: store the task token of an approval wait and announce it",
			MemoryMB: 256, Timeout: 30 * time.Second,
			Actions: join(tableItems, tableQuery, notify),
		},
		{
			Name: "step-rollback", Description: "step: restore the last known good revision",
			MemoryMB: 256, Timeout: 120 * time.Second,
			// Revision-aware for canary and blue/green: traffic back on the old
			// revision (ELB or Route 53), its count and auto scaling restored,
			// the new revision and its Cloud Map service removed.
			Actions: join(tableItems, tableQuery, crossAccount, elbWeights, dnsWeights, cloudMapRead, cloudMapRemove,
				[]string{"ecs:DescribeServices", "ecs:UpdateService", "ecs:DeleteService",
					"application-autoscaling:RegisterScalableTarget", "application-autoscaling:PutScalingPolicy", "iam:CreateServiceLinkedRole",
					"application-autoscaling:DeregisterScalableTarget"}),
		},
		{
			Name: "step-finish", Description: "step: close the deployment, count state transitions, release the lease, resume the queue",
			MemoryMB: 256, Timeout: 30 * time.Second,
			Actions: join(tableItems, tableQuery, notify, []string{"states:GetExecutionHistory", "states:SendTaskSuccess"}),
		},
		{
			Name: "step-setup-service", Description: "step: set up the new service revision",
			MemoryMB: 256, Timeout: 120 * time.Second,
			// The new revision copies the old one's auto scaling (read here,
			// applied by cleanup) and gets its own Cloud Map service in DNS
			// mode; its target group joins the production forward action at
			// weight 0 (read, then modified) before CreateService, and a
			// blue/green test listener points at it.
			Actions: join(tableItems, crossAccount, elbWeights, dnsWeights, cloudMapRead,
				[]string{"elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules"},
				[]string{"ecs:CreateService", "ecs:DescribeServices", "ecs:ListServices", "ecs:TagResource",
					"servicediscovery:CreateService",
					"application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies"}),
		},
		{
			Name: "step-scale", Description: "step: scale the new revision up and the old one down",
			MemoryMB: 256, Timeout: 60 * time.Second,
			Actions: join(tableItems, crossAccount,
				[]string{"ecs:DescribeServices", "ecs:UpdateService", "application-autoscaling:DeregisterScalableTarget"}),
		},
		{
			Name: "step-shift-traffic", Description: "step: shift listener weights or weighted DNS records",
			MemoryMB: 256, Timeout: 60 * time.Second,
			Actions: join(tableItems, crossAccount, elbWeights, dnsWeights),
		},
		{
			Name: "step-cleanup", Description: "step: downsize the old revision, move auto scaling to the new one",
			MemoryMB: 256, Timeout: 120 * time.Second,
			Actions: join(tableItems, crossAccount, dnsWeights, cloudMapRead, cloudMapRemove,
				[]string{"ecs:DescribeServices", "ecs:ListServices", "ecs:UpdateService", "ecs:DeleteService",
					"application-autoscaling:RegisterScalableTarget", "application-autoscaling:PutScalingPolicy", "iam:CreateServiceLinkedRole",
					"application-autoscaling:DeregisterScalableTarget"}),
		},
	}
	out := make(map[string]FunctionSpec, len(specs))
	for _, s := range specs {
		out[s.Name] = s
	}
	return out
}
