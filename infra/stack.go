package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecsflow/ecsflow/infra/ecsflow"
)

// StackProps configures the ecsflow stack.
type StackProps struct {
	awscdk.StackProps
	Ecsflow ecsflow.Props
}

// NewEcsflowStack creates the stack that holds the whole system.
func NewEcsflowStack(scope constructs.Construct, id string, props StackProps) (awscdk.Stack, *ecsflow.Ecsflow, error) {
	sp := props.StackProps
	if sp.Description == nil {
		sp.Description = jsii.String("ecsflow: continuous delivery for Amazon ECS")
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &sp)
	e, err := ecsflow.New(stack, "Ecsflow", props.Ecsflow)
	if err != nil {
		return nil, nil, fmt.Errorf("ecsflow stack: %w", err)
	}
	return stack, e, nil
}

// TargetStackProps configures the stack deployed in each target account.
type TargetStackProps struct {
	awscdk.StackProps
	Role ecsflow.TargetAccountRoleProps
}

// NewTargetAccountStack creates the small stack with the TargetAccountRole.
func NewTargetAccountStack(scope constructs.Construct, id string, props TargetStackProps) (awscdk.Stack, error) {
	sp := props.StackProps
	if sp.Description == nil {
		sp.Description = jsii.String("ecsflow: role the ecsflow account assumes to deploy here")
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &sp)
	if _, err := ecsflow.NewTargetAccountRole(stack, "TargetAccountRole", props.Role); err != nil {
		return nil, fmt.Errorf("target account stack: %w", err)
	}
	return stack, nil
}

// synthErrors lists the error annotations of every stack in asm (cdk-nag
// findings without a suppression, CDK validation errors), so that a plain
// `go run .` fails as `cdk synth` does.
func synthErrors(asm cxapi.CloudAssembly) []string {
	var out []string
	for _, st := range *asm.StacksRecursively() {
		for _, m := range *st.Messages() {
			if m.Level == cxapi.SynthesisMessageLevel_ERROR {
				out = append(out, fmt.Sprintf("%s: %v", *m.Id, m.Entry.Data))
			}
		}
	}
	return out
}

// contextList reads a comma-separated context value ("-c clusters=a,b").
func contextList(app constructs.Construct, key string) []string {
	v := app.Node().TryGetContext(jsii.String(key))
	s, ok := v.(string)
	if !ok {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func contextString(app constructs.Construct, key string) string {
	s, _ := app.Node().TryGetContext(jsii.String(key)).(string)
	return strings.TrimSpace(s)
}

// propsFromContext reads the deployment settings from CDK context (cdk.json
// or -c key=value).
func propsFromContext(app constructs.Construct) ecsflow.Props {
	p := ecsflow.Props{
		Clusters:           contextList(app, "clusters"),
		Repositories:       contextList(app, "repositories"),
		PassRoles:          contextList(app, "passRoles"),
		TargetAccounts:     contextList(app, "targetAccounts"),
		TargetRoleName:     contextString(app, "targetRoleName"),
		NamePrefix:         contextString(app, "namePrefix"),
		SecretPrefix:       contextString(app, "secretPrefix"),
		NotificationEmails: contextList(app, "notifyEmails"),
		EventBusName:       contextString(app, "eventBusName"),
		// "-c notifications=off" / "-c scheduledTriggers=off".
		DisableNotifications:     contextString(app, "notifications") == "off",
		DisableScheduledTriggers: contextString(app, "scheduledTriggers") == "off",
	}
	if len(p.Clusters) == 0 {
		// ECS's own default cluster, so that a bare `go run .` synthesizes.
		p.Clusters = []string{"default"}
	}
	if iss := contextString(app, "jwtIssuer"); iss != "" {
		p.JWT = &ecsflow.JWTProps{Issuer: iss, Audience: contextList(app, "jwtAudience")}
	}
	return p
}
