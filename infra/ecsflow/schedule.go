package ecsflow

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/jsii-runtime-go"
)

// ScheduleTickInput is the trigger function's input from the schedule:
// internal/trigger's ScheduleTickInput (a test keeps the two equal; the
// CDK app does not link internal/trigger and its registry clients).
// Scheduler replaces <aws.scheduler.scheduled-time> with the tick's
// scheduled time (RFC 3339).
const ScheduleTickInput = `{"ecsflowScheduleTick":"<aws.scheduler.scheduled-time>"}`

// Retry policy of the schedule tick. A tick names its minute (the event id
// of its runs is schedule-<minute>), so a retried or late tick starts each
// scheduled run once, for the minute it was meant for.
const (
	scheduleRetries   = 3
	scheduleMaxAgeSec = 600
)

// schedule installs the EventBridge Scheduler schedule that drives scheduled
// Triggers: every minute, with no flexible time window, it invokes the
// trigger function with ScheduleTickInput, whose
// <aws.scheduler.scheduled-time> Scheduler fills in. Its role, trusted by
// scheduler.amazonaws.com for schedules of this account only, may invoke
// the trigger function and send undeliverable ticks to the schedule's DLQ,
// nothing else.
func (b *builder) schedule() {
	fn, ok := b.e.Functions["trigger"]
	if !ok || b.props.DisableScheduledTriggers {
		return
	}
	stack := awscdk.Stack_Of(b.scope)
	dlq := b.queue("TriggerScheduleDlq", "schedule ticks for trigger")
	role := awsiam.NewRole(b.scope, jsii.String("TriggerScheduleRole"), &awsiam.RoleProps{
		Description: jsii.String("ecsflow: EventBridge Scheduler ticks the trigger function (scheduled Triggers)"),
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), nil).WithConditions(&map[string]interface{}{
			"StringEquals": map[string]interface{}{"aws:SourceAccount": stack.Account()},
		}),
	})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("InvokeTrigger"),
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: &[]*string{fn.FunctionArn()},
	}))
	// Scheduler sends a tick it could not deliver to the DLQ with the
	// schedule's role.
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("DeadLetters"),
		Actions:   jsii.Strings("sqs:SendMessage"),
		Resources: &[]*string{dlq.QueueArn()},
	}))
	s := awsscheduler.NewCfnSchedule(b.scope, jsii.String("TriggerSchedule"), &awsscheduler.CfnScheduleProps{
		Name:               jsii.String(b.props.NamePrefix + "-trigger-tick"),
		Description:        jsii.String("ecsflow: scheduled Triggers fire on the minute their cron expression names"),
		ScheduleExpression: jsii.String(ScheduleTickRate),
		FlexibleTimeWindow: &awsscheduler.CfnSchedule_FlexibleTimeWindowProperty{Mode: jsii.String("OFF")},
		State:              jsii.String("ENABLED"),
		Target: &awsscheduler.CfnSchedule_TargetProperty{
			Arn:     fn.FunctionArn(),
			RoleArn: role.RoleArn(),
			Input:   jsii.String(ScheduleTickInput),
			RetryPolicy: &awsscheduler.CfnSchedule_RetryPolicyProperty{
				MaximumRetryAttempts:     jsii.Number(scheduleRetries),
				MaximumEventAgeInSeconds: jsii.Number(scheduleMaxAgeSec),
			},
			DeadLetterConfig: &awsscheduler.CfnSchedule_DeadLetterConfigProperty{Arn: dlq.QueueArn()},
		},
	})
	// The role's policy must exist before Scheduler first invokes.
	s.Node().AddDependency(role)
	b.e.Schedule = s
}
