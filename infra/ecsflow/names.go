package ecsflow

import (
	"strings"
	"unicode"
)

// Environment variables every ecsflow Lambda gets. The function code reads
// its configuration from these.
const (
	// EnvFunction is the function's folder name, for example "step-prepare".
	EnvFunction = "ECSFLOW_FUNCTION"
	// EnvTableName is the DynamoDB table name (internal/api reads it).
	EnvTableName = "TABLE_NAME"
	// EnvStateMachineArn is the prefix of the per-definition variables:
	// STATE_MACHINE_ARN_<KEY> holds the ARN of statemachines/<name>.asl.json,
	// KEY = StrategyKey(name) (internal/api reads these). Functions that
	// call states:StartExecution get one per definition.
	EnvStateMachineArn = "STATE_MACHINE_ARN_"
	// EnvTopicArn is the notification SNS topic ARN.
	EnvTopicArn = "ECSFLOW_TOPIC_ARN"
	// EnvStateMachineArnPrefix is the ARN of a state machine without its
	// definition name: append "rolling" to get the rolling workflow's ARN.
	EnvStateMachineArnPrefix = "ECSFLOW_STATE_MACHINE_ARN_PREFIX"
	// EnvTargetRoleName is the role name to assume in target accounts.
	EnvTargetRoleName = "ECSFLOW_TARGET_ROLE_NAME"
	// EnvEventBusName is the bus status notifications go to
	// (internal/steps and internal/pipeline EnvEventBus).
	EnvEventBusName = "EVENT_BUS_NAME"
	// EnvNotify, set to "off", turns status notifications off
	// (internal/steps and internal/pipeline EnvNotify).
	EnvNotify = "ECSFLOW_NOTIFY"
)

// PipelineDefinition is the name of the pipeline state machine's
// definition (statemachines/pipeline.asl.json); the API may stop its
// executions.
const PipelineDefinition = "pipeline"

// Placeholders that are not named after a function or a state machine.
const (
	PlaceholderTableName = "TableName"
	PlaceholderTableArn  = "TableArn"
	PlaceholderTopicArn  = "TopicArn"
)

// strategyAliases maps definition names whose strategy key is not simply
// the upper-cased name.
var strategyAliases = map[string]string{"bluegreen": "BLUE_GREEN", "blue-green": "BLUE_GREEN"}

// StrategyKey is the key of a definition in STATE_MACHINE_ARN_<KEY>: the
// model's strategy type for the four strategies ("rolling" -> "ROLLING",
// "bluegreen" -> "BLUE_GREEN"), and the upper-cased name with "-" -> "_"
// for the others ("pipeline" -> "PIPELINE").
func StrategyKey(name string) string {
	if k, ok := strategyAliases[name]; ok {
		return k
	}
	return strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// pascal turns "step-register-taskdef" into "StepRegisterTaskdef".
func pascal(name string) string {
	var b strings.Builder
	up := true
	for _, r := range name {
		if r == '-' || r == '_' || r == '.' {
			up = true
			continue
		}
		if up {
			b.WriteRune(unicode.ToUpper(r))
			up = false
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// FunctionArnPlaceholder is the ASL placeholder that stands for the ARN of
// the Lambda built from functions/<name>: "step-prepare" -> "StepPrepareArn",
// written ${StepPrepareArn} in a definition.
func FunctionArnPlaceholder(name string) string { return pascal(name) + "Arn" }

// StateMachineArnPlaceholder is the ASL placeholder that stands for the ARN
// of the state machine built from statemachines/<name>.asl.json:
// "rolling" -> "RollingStateMachineArn".
func StateMachineArnPlaceholder(name string) string { return pascal(name) + "StateMachineArn" }
