// Command api is the REST API Lambda function behind API Gateway (HTTP API,
// payload format 2.0). All logic lives in internal/api; this wires config,
// AWS clients, the store and the handler, and adapts the events.
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/awsenv"
	"github.com/ecsflow/ecsflow/internal/deploycontrol"
	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/internal/notification/ebnotify"
	"github.com/ecsflow/ecsflow/internal/pipeline"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/trigger"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := api.ConfigFromEnv(os.Getenv)
	if err != nil {
		log.Error("configuration", "error", err)
		os.Exit(1)
	}
	awsCfg, err := awsenv.Config()
	if err != nil {
		log.Error("load aws config", "error", err)
		os.Exit(1)
	}
	st := store.New(dynamodb.NewFromConfig(awsCfg), cfg.Table, store.WithLogger(log))
	sfnClient := sfn.NewFromConfig(awsCfg)
	starter := api.NewSFNStarter(sfnClient, cfg.StateMachines)
	// Approve, reject, rollback and abort resume the deployment's stored
	// task tokens in Step Functions.
	completer := ecsevents.NewSFNCompleter(sfnClient)
	controlOpts := []deploycontrol.Option{deploycontrol.WithLogger(log)}
	// A QUEUED deployment aborted before its execution reached PREPARE is
	// ended here, not by a FINISH step: the controller announces its
	// ABORTED on EVENT_BUS_NAME, unless ECSFLOW_NOTIFY=off.
	notify := os.Getenv(pipeline.EnvNotify) != "off"
	if notify {
		controlOpts = append(controlOpts, deploycontrol.WithNotifier(ebnotify.NewFromConfig(awsCfg, os.Getenv(pipeline.EnvEventBus))))
	}
	control := deploycontrol.New(st, completer, controlOpts...)
	// Pipeline executions start the pipeline state machine; their approvals
	// resume its stored task tokens.
	// Aborts go through the deployment abort path, stop a WAIT stage's
	// execution and announce the end on EVENT_BUS_NAME, unless
	// ECSFLOW_NOTIFY=off (then the function has no events:PutEvents grant,
	// and a nil notifier publishes nothing).
	var notices *pipeline.Notifier
	if notify {
		notices = pipeline.NewNotifier(eventbridge.NewFromConfig(awsCfg), os.Getenv(pipeline.EnvEventBus), log, nil)
	}
	pipes := api.WithPipelines(pipeline.NewSFNStarter(sfnClient, os.Getenv("STATE_MACHINE_ARN_PIPELINE")),
		pipeline.NewController(st, completer, nil).WithAbort(control, sfnClient, notices))
	// Deploying a tag pins its digest (ECR DescribeImages, or the registry's
	// manifest with credentials from Secrets Manager); a missing tag is a 400.
	digests := api.WithDigestResolver(trigger.NewRegistries(ecr.NewFromConfig(awsCfg), secretsmanager.NewFromConfig(awsCfg)))
	lambda.Start(proxy(api.New(st, starter, api.WithLogger(log), api.WithController(control), pipes, digests)))
}

// proxy adapts API Gateway HTTP API v2 events to h. The context variant puts
// the request context (request id, IAM identity) in the request's context,
// where the API reads it; nothing is taken from client-settable headers.
func proxy(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return httpadapter.NewV2(h).ProxyWithContext
}
