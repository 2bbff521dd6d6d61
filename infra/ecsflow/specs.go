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

// Store access (internal/store), shared by almost every function: items and
// indexes of the single table, conditional writes and transactions
// (TransactWriteItems is authorised through the item actions it contains,
// ConditionCheckItem included).
var (
	tableRead  = []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"}
	tableWrite = []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
	// ecsRead is what the planned steps use to look at services.
	ecsRead = []string{"ecs:DescribeServices"}
	// elbRead is what the traffic steps use to look at listeners and targets.
	elbRead = []string{"elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth"}
	// autoscalingRead looks at scalable targets and policies.
	autoscalingRead = []string{"application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies"}
	// crossAccount lets the steps assume a target account's TargetAccountRole.
	crossAccount = []string{"sts:AssumeRole"}
)

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
// nothing. The lead adjusts rows as the functions land.
//
//	name                 memory timeout async  what it calls
//	api                  512    29s     no     store, StartExecution, SendTaskSuccess/Failure (approve, reject, abort)
//	trigger              256    30s     yes    store, StartExecution
//	ecs-events           256    30s     yes    store (ledger, waits), SendTaskSuccess/Failure/Heartbeat
//	collect-artifacts    256    120s    yes    store, StartExecution, ECR DescribeImages, GetSecretValue (Props.SecretPrefix)
//	step-prepare         256    60s     no     store (lease, queue), DescribeServices, SendTaskSuccess (queue resume), AssumeRole
//	step-next            256    30s     no     store
//	step-register-taskdef 256   60s     no     Describe/RegisterTaskDefinition, TagResource (tags on register), PassRole
//	step-update-service  256    60s     no     DescribeServices, UpdateService, CreateService (+tags)
//	step-wait-steady     256    60s     no     store (task token), DescribeServices, SendTaskSuccess/Failure
//	step-check-steady    256    60s     no     same as step-wait-steady (the wait's safety net)
//	step-verify          256    60s     no     DescribeAlarms, SendTaskSuccess
//	step-approval        256    30s     no     store (task token)
//	step-rollback        256    120s    no     DescribeServices, UpdateService, DeleteService
//	step-finish          256    30s     no     store, GetExecutionHistory (cost), SendTaskSuccess (queue)
//	step-setup-service   256    120s    no     CreateService/TagResource, PassRole, auto scaling
//	step-scale           256    60s     no     UpdateService, auto scaling
//	step-shift-traffic   256    60s     no     ELB ModifyListener/ModifyRule, Route 53 weighted records
//	step-cleanup         256    120s    no     UpdateService/DeleteService, DeregisterTaskDefinition, auto scaling
func DefaultSpecs() map[string]FunctionSpec {
	specs := []FunctionSpec{
		{
			Name: "api", Description: "ecsflow REST API (API Gateway HTTP API)",
			MemoryMB: 512, Timeout: 29 * time.Second,
			// internal/api starts executions; internal/deploycontrol answers
			// approval and abort waits through their task tokens.
			// Deploying a tag resolves its digest: ECR DescribeImages, or a
			// registry manifest with credentials from Secrets Manager.
			Actions: join(tableRead, tableWrite,
				[]string{"states:StartExecution", "states:SendTaskSuccess", "states:SendTaskFailure",
					"ecr:DescribeImages", "secretsmanager:GetSecretValue"}),
		},
		{
			Name: "trigger", Description: "ECR push -> matching Triggers -> StartExecution",
			MemoryMB: 256, Timeout: 30 * time.Second, Async: true,
			Actions: join(tableRead, tableWrite, []string{"states:StartExecution"}),
		},
		{
			Name: "ecs-events", Description: "ECS events -> deployment ledger and task-token resume",
			MemoryMB: 256, Timeout: 30 * time.Second, Async: true,
			Actions: join(tableRead, tableWrite, []string{"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}),
		},
		{
			Name: "collect-artifacts", Description: "scheduled: polls DOCKER_REGISTRY artifact servers for new tags, then the trigger path",
			MemoryMB: 256, Timeout: 120 * time.Second, Async: true,
			Actions: join(tableRead, tableWrite, []string{"states:StartExecution", "ecr:DescribeImages", "secretsmanager:GetSecretValue"}),
		},
		// The step-pipeline-* rows follow internal/pipeline: the store, and
		// status notifications on the default event bus. Nested workflow
		// executions are started by the pipeline state machine itself.
		{
			Name: "step-pipeline-next", Description: "pipeline step: start the next stage (creates its deployment)",
			MemoryMB: 256, Timeout: 30 * time.Second,
			Actions: join(tableRead, tableWrite, []string{"events:PutEvents"}),
		},
		{
			Name: "step-pipeline-approval", Description: "pipeline step: store the approval's task token and announce it",
			MemoryMB: 256, Timeout: 30 * time.Second,
			Actions: join(tableRead, tableWrite, []string{"events:PutEvents"}),
		},
		{
			Name: "step-pipeline-stage-end", Description: "pipeline step: record a stage's result",
			MemoryMB: 256, Timeout: 30 * time.Second,
			Actions: join(tableRead, tableWrite, []string{"events:PutEvents"}),
		},
		{
			Name: "step-pipeline-finish", Description: "pipeline step: record the pipeline's result and notify",
			MemoryMB: 256, Timeout: 30 * time.Second,
			Actions: join(tableRead, tableWrite, []string{"events:PutEvents"}),
		},
		// The step-* rows below follow internal/steps as it calls AWS: the
		// store everywhere, ECS through internal/ecsops (in the target
		// account through sts:AssumeRole when the Cloud Provider has a role),
		// and task-token callbacks where a step resumes a wait itself.
		{
			Name: "step-prepare", Description: "step: load the workflow, take the service lease or queue, plan",
			MemoryMB: 256, Timeout: 60 * time.Second,
			// Canary and blue/green size from the live revision <service>__<n>.
			Actions: join(tableRead, tableWrite, crossAccount, []string{"ecs:DescribeServices", "ecs:ListServices", "states:SendTaskSuccess"}),
		},
		{
			Name: "step-next", Description: "step: plan the next action of the workflow (internal/strategy)",
			MemoryMB: 256, Timeout: 30 * time.Second,
			// Next confirms an event-ended steady wait with one DescribeServices.
			Actions: join(tableRead, tableWrite, crossAccount, []string{"ecs:DescribeServices"}),
		},
		{
			Name: "step-register-taskdef", Description: "step: render and register the task definition (idempotent by tag)",
			MemoryMB: 256, Timeout: 60 * time.Second,
			Actions: join(tableRead, tableWrite, crossAccount,
				[]string{"ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:TagResource", "iam:PassRole"}),
		},
		{
			Name: "step-update-service", Description: "step: update or create the service (rolling, daemon)",
			MemoryMB: 256, Timeout: 60 * time.Second,
			Actions: join(tableRead, tableWrite, crossAccount,
				[]string{"ecs:DescribeServices", "ecs:UpdateService", "ecs:CreateService", "ecs:TagResource"}),
		},
		{
			Name: "step-wait-steady", Description: "step: store the task token and wait for steady state (event-driven)",
			MemoryMB: 256, Timeout: 60 * time.Second,
			Actions: join(tableRead, tableWrite, crossAccount, []string{"ecs:DescribeServices", "states:SendTaskSuccess", "states:SendTaskFailure"}),
		},
		{
			Name: "step-check-steady", Description: "step: low-rate steady-state check when a wait times out",
			MemoryMB: 256, Timeout: 60 * time.Second,
			Actions: join(tableRead, tableWrite, crossAccount, []string{"ecs:DescribeServices", "states:SendTaskSuccess", "states:SendTaskFailure"}),
		},
		{
			Name: "step-verify", Description: "step: verify with CloudWatch alarms",
			MemoryMB: 256, Timeout: 60 * time.Second,
			Actions: join(tableRead, tableWrite, crossAccount, []string{"cloudwatch:DescribeAlarms", "states:SendTaskSuccess"}),
		},
		{
			Name: "step-approval", Description: "step: store the task token of an approval wait",
			MemoryMB: 256, Timeout: 30 * time.Second,
			Actions: join(tableRead, tableWrite),
		},
		{
			Name: "step-rollback", Description: "step: restore the last known good revision",
			MemoryMB: 256, Timeout: 120 * time.Second,
			// Revision-aware for canary and blue/green: traffic back on the old
			// revision (ELB or Route 53), its count and auto scaling restored,
			// the new revision removed.
			Actions: join(tableRead, tableWrite, elbRead, autoscalingRead, crossAccount,
				[]string{"ecs:DescribeServices", "ecs:ListServices", "ecs:UpdateService", "ecs:DeleteService",
					"elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyRule",
					"route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:GetChange",
					"application-autoscaling:RegisterScalableTarget", "application-autoscaling:PutScalingPolicy",
					"application-autoscaling:DeregisterScalableTarget"}),
		},
		{
			Name: "step-finish", Description: "step: close the deployment, count state transitions, release the lease, resume the queue",
			MemoryMB: 256, Timeout: 30 * time.Second,
			Actions: join(tableRead, tableWrite, []string{"states:GetExecutionHistory", "states:SendTaskSuccess"}),
		},
		{
			Name: "step-setup-service", Description: "step: set up the new service revision",
			MemoryMB: 256, Timeout: 120 * time.Second,
			Actions: join(tableRead, tableWrite, ecsRead, elbRead, autoscalingRead, crossAccount,
				[]string{"ecs:CreateService", "ecs:ListServices", "ecs:TagResource", "iam:PassRole",
					"application-autoscaling:RegisterScalableTarget", "application-autoscaling:PutScalingPolicy"}),
		},
		{
			Name: "step-scale", Description: "step: scale the new revision up and the old one down",
			MemoryMB: 256, Timeout: 60 * time.Second,
			Actions: join(tableRead, tableWrite, ecsRead, autoscalingRead, crossAccount,
				[]string{"ecs:UpdateService", "application-autoscaling:RegisterScalableTarget",
					"application-autoscaling:DeregisterScalableTarget"}),
		},
		{
			Name: "step-shift-traffic", Description: "step: shift listener weights or weighted DNS records",
			MemoryMB: 256, Timeout: 60 * time.Second,
			// It finds the old and new revisions (<service>__<n>) and their
			// target groups before it moves the weights.
			Actions: join(tableRead, tableWrite, ecsRead, elbRead, crossAccount,
				[]string{"ecs:ListServices", "elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyRule",
					"route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:GetChange"}),
		},
		{
			Name: "step-cleanup", Description: "step: downsize the old revision and remove its auto scaling",
			MemoryMB: 256, Timeout: 120 * time.Second,
			Actions: join(tableRead, tableWrite, ecsRead, autoscalingRead, crossAccount,
				[]string{"ecs:ListServices", "ecs:UpdateService", "ecs:DeleteService", "ecs:DeregisterTaskDefinition",
					"application-autoscaling:RegisterScalableTarget", "application-autoscaling:PutScalingPolicy",
					"application-autoscaling:DeregisterScalableTarget", "application-autoscaling:DeleteScalingPolicy"}),
		},
	}
	out := make(map[string]FunctionSpec, len(specs))
	for _, s := range specs {
		out[s.Name] = s
	}
	return out
}
