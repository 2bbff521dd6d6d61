// Package ecsflow is the reusable CDK construct that deploys ecsflow:
//
//	e, err := ecsflow.New(stack, "Ecsflow", ecsflow.Props{Clusters: []string{"prod"}})
//
// # What it discovers
//
// Functions: every folder functions/<name> (Props.FunctionsDir) becomes one
// Lambda (provided.al2023, arm64, handler "bootstrap") from
// <Props.AssetRoot>/<name>/bootstrap, which `make build` produces. Each
// folder needs a row in the function table (DefaultSpecs in specs.go:
// memory, timeout, asynchronous or not, the exact IAM actions its code
// calls, extra environment). New fails with a typed error when a folder has
// no row (MissingFunctionSpecError), when its bootstrap is missing
// (MissingBootstrapError) or when a row lists an action with no resource
// scope in iam.go (UnknownActionError). A row without a folder creates
// nothing.
//
// State machines: every Props.Definitions entry (default
// statemachines.All(), i.e. statemachines/*.asl.json) becomes a state
// machine named <NamePrefix>-<name>, its ASL inlined with
// DefinitionBody_FromString and each ${Placeholder} filled through
// DefinitionSubstitutions, logging ALL to its own log group, tracing on.
//
// # Placeholder naming rule
//
// A definition may use exactly these placeholders; any other makes New fail
// with MissingSubstitutionError:
//
//	${<Pascal(function)>Arn}          ARN of the Lambda from functions/<function>
//	                                  step-prepare -> ${StepPrepareArn},
//	                                  ecs-events -> ${EcsEventsArn}
//	${<Pascal(name)>StateMachineArn}  ARN of statemachines/<name>.asl.json
//	                                  rolling -> ${RollingStateMachineArn}
//	${TableName} ${TableArn}          the DynamoDB table
//	${TopicArn}                       the notification topic
//
// Pascal drops "-", "_" and "." and upper-cases the letter after them
// (FunctionArnPlaceholder, StateMachineArnPlaceholder). The local runner
// should fill the same names with its local ARNs.
//
// The state machine role gets lambda:InvokeFunction on exactly the
// functions its placeholders name; states:StartExecution (plus the .sync
// rule) on the state machines it names when it uses
// arn:aws:states:::states:startExecution; table and topic access when it
// calls arn:aws:states:::dynamodb:* or arn:aws:states:::sns:publish.
//
// # Environment of every Lambda
//
//	ECSFLOW_FUNCTION                  the folder name
//	TABLE_NAME                        the table
//	ECSFLOW_TOPIC_ARN                 the notification topic
//	ECSFLOW_STATE_MACHINE_ARN_PREFIX  append a definition name to get its ARN
//	ECSFLOW_TARGET_ROLE_NAME          role to assume in target accounts
//	STATE_MACHINE_ARN_<KEY>           only for functions that call
//	                                  states:StartExecution; KEY = StrategyKey
//	                                  (ROLLING, CANARY, BLUE_GREEN, DAEMON,
//	                                  PIPELINE)
//	EVENT_BUS_NAME                    bus of the status events (Props.EventBusName,
//	                                  default "default")
//	ECSFLOW_NOTIFY                    "off" only with Props.DisableNotifications
//
// A test (env_test.go) runs each shipped function's configuration code on
// the environment its Lambda gets and fails when the code reads a variable
// the construct does not set.
//
// State machine ARNs are built from their fixed names, not referenced, so
// functions and state machines never form a dependency cycle.
//
// # Other resources
//
// A customer-managed KMS key with rotation encrypts the table (PK/SK,
// GSI1 and GSI2 with <g>PK/<g>SK, TTL attribute "ttl", on-demand, PITR,
// retained on delete) and the SNS topic. The HTTP API exists when
// functions/api does: $default route to it, IAM authorization (or the JWT
// authorizer of Props.JWT) on every route, access logs, URL as the ApiUrl
// output. EventBridge rules send ECR pushes (Props.Repositories, or all)
// to functions/trigger and ECS task, deployment and service events whose
// resources lie in Props.Clusters to functions/ecs-events, each with a
// retry policy and a DLQ. Asynchronous functions get an on-failure SQS
// destination. One EventBridge Scheduler schedule (rate(1 minute), no
// flexible window, retry policy and DLQ) ticks functions/trigger with
// ScheduleTickInput for scheduled Triggers (Props.DisableScheduledTriggers
// leaves it out); its role may only invoke that function and send to that
// DLQ. The status events the functions publish ("ecsflow Deployment
// Status", "ecsflow Pipeline Status") go from the bus to the topic (rule
// <NamePrefix>-notices, with a DLQ). Alarms (to the topic) cover Lambda
// errors, failed and timed-out executions, DLQ depth and API 5xx; a
// dashboard shows them.
//
// # Least privilege and cdk-nag
//
// Each function has its own role with only its table-row actions (which
// TestSpecsFollowCode compares, both ways, with the AWS calls its code can
// reach: internal/lambdacalls), each scoped by iam.go: the table and its two indexes, the named state
// machines and their executions (StopExecution: the pipeline's only),
// services/tasks/deployments in the configured clusters (ListServices and
// ListTasks on "*" with the condition ecs:cluster), ecs:TagResource
// only on create (ecs:CreateAction), Cloud Map namespaces and services of
// this account and region, events:PutEvents on the project's bus, iam:PassRole on Props.PassRoles with
// iam:PassedToService = ecs-tasks.amazonaws.com, sts:AssumeRole on the
// TargetAccountRole of Props.TargetAccounts. Actions whose service supports
// no resource-level permission use "*". ApplyNag runs the AwsSolutions
// pack; every deliberate finding is suppressed with its reason (nag.go),
// wildcard suppressions only for findings that match their pattern.
//
// TargetAccountRole is deployed in each target account: a role trusted by
// the ecsflow account only with the external id, allowing the steps'
// target-side actions on its configured clusters.
package ecsflow
