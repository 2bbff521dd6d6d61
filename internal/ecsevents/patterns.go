package ecsevents

import (
	"fmt"

	"github.com/ecsflow/ecsflow/internal/eventbus"
)

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

// RuleInstaller is the part of the local bus (eventbus.Bus) that Install uses.
type RuleInstaller interface {
	PutRule(in eventbus.Rule) (string, error)
	PutTargets(ruleName, eventBus string, targets []eventbus.Target) ([]eventbus.FailedEntry, error)
}

var _ RuleInstaller = (*eventbus.Bus)(nil)

// Install puts the rules on the default bus of b, each targeting the ARN
// that functionARN returns for its function; a rule whose function gets ""
// is skipped (for example trigger, when no trigger function runs).
func Install(b RuleInstaller, functionARN func(function string) string) error {
	for _, r := range Rules() {
		arn := functionARN(r.Function)
		if arn == "" {
			continue
		}
		if _, err := b.PutRule(eventbus.Rule{Name: "ecsflow-" + r.Name, EventPattern: r.Pattern, Description: r.Description}); err != nil {
			return fmt.Errorf("put rule %s: %w", r.Name, err)
		}
		failed, err := b.PutTargets("ecsflow-"+r.Name, "", []eventbus.Target{{Id: r.Function, Arn: arn}})
		if err != nil {
			return fmt.Errorf("put targets of rule %s: %w", r.Name, err)
		}
		if len(failed) > 0 {
			return fmt.Errorf("put targets of rule %s: %s: %s", r.Name, failed[0].ErrorCode, failed[0].ErrorMessage)
		}
	}
	return nil
}
