// Command trigger is the Lambda function behind the EventBridge rule on
// "ECR Image Action" events. All logic lives in internal/trigger; this wires
// config (TABLE_NAME, STATE_MACHINE_ARN_<STRATEGY>), clients, the store and
// the handler.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/awsenv"
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
	// Pipeline triggers launch the pipeline state machine (STATE_MACHINE_ARN_PIPELINE).
	pipelines := pipeline.NewLauncher(st, pipeline.NewSFNStarter(sfnClient, os.Getenv("STATE_MACHINE_ARN_PIPELINE")), nil)
	h := trigger.New(st, trigger.NewAPICreator(st, starter, api.WithLogger(log)), starter,
		trigger.WithLogger(log), trigger.WithPipelines(pipelines))
	// A returned error makes EventBridge retry (then the rule's DLQ); the
	// handler returns one only when a retry may help.
	lambda.Start(h.Lambda)
}
