package ecsevents

// Function names (folders under functions/) that the rules target.
const (
	FunctionECSEvents = "ecs-events"
	FunctionTrigger   = "trigger"
)

// Event patterns: one place for both the local bus and the CDK app. Each is
// an EventBridge event pattern as JSON.
const (
	// PatternDeploymentStateChange: ECS service deployments starting,
	// completing and failing (FAILED needs the circuit breaker).
	PatternDeploymentStateChange = `{"source":["aws.ecs"],"detail-type":["ECS Deployment State Change"]}`
	// PatternServiceAction: SERVICE_STEADY_STATE, SERVICE_TASK_START_IMPAIRED
	// and the other service actions.
	PatternServiceAction = `{"source":["aws.ecs"],"detail-type":["ECS Service Action"]}`
	// PatternTaskStateChange: tasks of services (group "service:NAME")
	// reaching RUNNING or STOPPED; the other task transitions are noise for
	// a deployment.
	PatternTaskStateChange = `{"source":["aws.ecs"],"detail-type":["ECS Task State Change"],` +
		`"detail":{"group":[{"prefix":"service:"}],"lastStatus":["RUNNING","STOPPED"]}}`
	// PatternAlarmStateChange: CloudWatch alarms entering ALARM (a VERIFY
	// wait fails on them).
	PatternAlarmStateChange = `{"source":["aws.cloudwatch"],"detail-type":["CloudWatch Alarm State Change"],` +
		`"detail":{"state":{"value":["ALARM"]}}}`
	// PatternECRPush: successful image pushes, for the trigger function.
	PatternECRPush = `{"source":["aws.ecr"],"detail-type":["ECR Image Action"],` +
		`"detail":{"action-type":["PUSH"],"result":["SUCCESS"]}}`
)

// Rule is an EventBridge rule of ecsflow: its name (a suffix; the CDK app
// adds its prefix), the pattern, and the function it invokes.
type Rule struct {
	Name        string
	Description string
	Pattern     string
	Function    string
}

// Rules returns every rule ecsflow installs, in a fixed order.
func Rules() []Rule {
	return []Rule{
		{"ecs-deployment-state", "ECS deployment state changes resume and fail steady-state waits", PatternDeploymentStateChange, FunctionECSEvents},
		{"ecs-service-action", "ECS service actions (steady state, task start impaired)", PatternServiceAction, FunctionECSEvents},
		{"ecs-task-state", "ECS task RUNNING/STOPPED of services, for the ledger and progress heartbeats", PatternTaskStateChange, FunctionECSEvents},
		{"alarm-state", "CloudWatch alarms entering ALARM fail verification waits", PatternAlarmStateChange, FunctionECSEvents},
		{"ecr-push", "ECR image pushes start matching triggers", PatternECRPush, FunctionTrigger},
	}
}
