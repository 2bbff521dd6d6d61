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
	// EnvTableName is the DynamoDB table name.
	EnvTableName = "ECSFLOW_TABLE_NAME"
	// EnvTopicArn is the notification SNS topic ARN.
	EnvTopicArn = "ECSFLOW_TOPIC_ARN"
	// EnvStateMachineArnPrefix is the ARN of a state machine without its
	// definition name: append "rolling" to get the rolling workflow's ARN.
	EnvStateMachineArnPrefix = "ECSFLOW_STATE_MACHINE_ARN_PREFIX"
	// EnvTargetRoleName is the role name to assume in target accounts.
	EnvTargetRoleName = "ECSFLOW_TARGET_ROLE_NAME"
)

// Placeholders that are not named after a function or a state machine.
const (
	PlaceholderTableName = "TableName"
	PlaceholderTableArn  = "TableArn"
	PlaceholderTopicArn  = "TopicArn"
)

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
