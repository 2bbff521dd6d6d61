// Command infra is the ecsflow CDK app: `cdk deploy Ecsflow` installs the
// system; `cdk deploy EcsflowTargetAccount -c ecsflowAccount=... -c
// externalId=...` installs the role in a target account.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecsflow/ecsflow/infra/ecsflow"
)

func main() {
	defer jsii.Close()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	app := awscdk.NewApp(nil)
	env := &awscdk.Environment{
		Account: jsii.String(os.Getenv("CDK_DEFAULT_ACCOUNT")),
		Region:  jsii.String(os.Getenv("CDK_DEFAULT_REGION")),
	}
	if os.Getenv("CDK_DEFAULT_ACCOUNT") == "" {
		env = nil
	}
	if _, _, err := NewEcsflowStack(app, "Ecsflow", StackProps{
		StackProps: awscdk.StackProps{Env: env},
		Ecsflow:    propsFromContext(app),
	}); err != nil {
		return err
	}
	if acct := contextString(app, "ecsflowAccount"); acct != "" {
		if _, err := NewTargetAccountStack(app, "EcsflowTargetAccount", TargetStackProps{
			StackProps: awscdk.StackProps{Env: env},
			Role: ecsflow.TargetAccountRoleProps{
				EcsflowAccount: acct,
				ExternalID:     contextString(app, "externalId"),
				RoleName:       contextString(app, "targetRoleName"),
				Clusters:       contextList(app, "clusters"),
				PassRoles:      contextList(app, "passRoles"),
				// Send this account's ECS events to the ecsflow account.
				ForwardEcsEvents: true,
			},
		}); err != nil {
			return err
		}
	}
	ecsflow.ApplyNag(app)
	if errs := synthErrors(app.Synth(nil)); len(errs) > 0 {
		return fmt.Errorf("synth: %d error annotations (cdk-nag or CDK):\n%s", len(errs), strings.Join(errs, "\n"))
	}
	return nil
}
