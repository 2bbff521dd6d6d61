package ecsflow

import (
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// The status events the functions publish (internal/steps and
// internal/pipeline): source NotifySource, one of NoticeDetailTypes.
const NotifySource = "ecsflow"

// NoticeDetailTypes are the detail types of the status events.
var NoticeDetailTypes = []string{"ecsflow Deployment Status", "ecsflow Pipeline Status"}

// Retry policy of the notices rule's target.
const (
	noticeRetries   = 4
	noticeMaxAgeSec = 7200
)

// notices sends the status events on the project's bus to the notification
// topic (so NotificationEmails get deployment and pipeline notices, approval
// requests included), with retries and a DLQ. Nothing when notifications
// are off or no function publishes.
//
// EventBridge publishes with a role of its own that may publish to the
// topic and use its key, nothing else: neither the topic policy nor the
// key policy names EventBridge, so no other account's rule can reach the
// topic. (The CDK's SnsTopic target would grant kms:GenerateDataKey*, a
// wildcard action, hence the target is written out here.)
func (b *builder) notices() {
	if b.props.DisableNotifications {
		return
	}
	publishes := false
	for name := range b.e.Functions {
		publishes = publishes || slices.Contains(b.actionsOf(b.props.Specs[name]), "events:PutEvents")
	}
	if !publishes {
		return
	}
	var bus awsevents.IEventBus
	if b.props.EventBusName != DefaultEventBusName {
		bus = awsevents.EventBus_FromEventBusName(b.scope, jsii.String("NotificationBus"), jsii.String(b.props.EventBusName))
	}
	rule := awsevents.NewRule(b.scope, jsii.String("NoticesRule"), &awsevents.RuleProps{
		RuleName:    jsii.String(b.props.NamePrefix + "-notices"),
		Description: jsii.String("ecsflow: deployment and pipeline status events -> the notification topic"),
		EventBus:    bus,
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings(NotifySource),
			DetailType: jsii.Strings(NoticeDetailTypes...),
		},
	})
	role := awsiam.NewRole(b.scope, jsii.String("NoticesRole"), &awsiam.RoleProps{
		Description: jsii.String("ecsflow: EventBridge publishes status events to the notification topic"),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil),
	})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("PublishNotices"), Actions: jsii.Strings("sns:Publish"), Resources: &[]*string{b.e.Topic.TopicArn()},
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("TopicKey"), Actions: jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"), Resources: &[]*string{b.e.Key.KeyArn()},
	}))
	dlq := b.queue("NoticesDlq", "status notifications for the topic")
	dlq.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("NoticesRuleDeadLetters"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sqs:SendMessage"),
		Resources:  &[]*string{dlq.QueueArn()},
		Conditions: &map[string]interface{}{"ArnEquals": map[string]interface{}{"aws:SourceArn": rule.RuleArn()}},
	}))
	cfn := rule.Node().DefaultChild().(awsevents.CfnRule)
	cfn.AddPropertyOverride(jsii.String("Targets"), []any{map[string]any{
		"Id":               "Topic",
		"Arn":              b.e.Topic.TopicArn(),
		"RoleArn":          role.RoleArn(),
		"RetryPolicy":      map[string]any{"MaximumRetryAttempts": noticeRetries, "MaximumEventAgeInSeconds": noticeMaxAgeSec},
		"DeadLetterConfig": map[string]any{"Arn": dlq.QueueArn()},
	}})
	// The role's policy exists before the first event is delivered.
	rule.Node().AddDependency(role)
}
