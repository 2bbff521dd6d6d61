package ecsflow

import (
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// The status events the functions publish (internal/steps and
// internal/pipeline): source NotifySource, one of NoticeDetailTypes.
const NotifySource = "ecsflow"

// NoticeDetailTypes are the detail types of the status events.
var NoticeDetailTypes = []string{"ecsflow Deployment Status", "ecsflow Pipeline Status"}

// notices sends the status events on the project's bus to the notification
// topic (so NotificationEmails get deployment and pipeline notices, approval
// requests included), with retries and a DLQ. Nothing when notifications
// are off or no function publishes.
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
	rule.AddTarget(awseventstargets.NewSnsTopic(b.e.Topic, &awseventstargets.SnsTopicProps{
		DeadLetterQueue: b.queue("NoticesDlq", "status notifications for the topic"),
		RetryAttempts:   jsii.Number(4),
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(2)),
	}))
	// EventBridge publishes to the encrypted topic.
	b.e.Key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowEventBridgeToUseTheKey"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]interface{}{
			"StringEquals": map[string]interface{}{"aws:SourceAccount": awscdk.Stack_Of(b.scope).Account()},
		},
	}), nil)
}
