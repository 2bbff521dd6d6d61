// Command collect-artifacts is the scheduled Lambda function that polls the
// repositories of DOCKER_REGISTRY artifact servers for new tags and sends
// them down the trigger path. All logic lives in internal/trigger; this
// wires config (TABLE_NAME, STATE_MACHINE_ARN_<STRATEGY>), clients, the
// store, the trigger handler and the collector.
package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/awsenv"
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
	starter := api.NewSFNStarter(sfn.NewFromConfig(awsCfg), cfg.StateMachines)
	h := trigger.New(st, trigger.NewAPICreator(st, starter, api.WithLogger(log)), starter, trigger.WithLogger(log))
	// Only DOCKER_REGISTRY servers are polled (ECR sends push events), so
	// no ECR client is needed.
	reg := trigger.NewRegistries(nil, secretsmanager.NewFromConfig(awsCfg))
	c := trigger.NewCollector(st, reg, h, trigger.WithCollectorLogger(log))
	// Registry failures are recorded per server and never returned: the
	// schedule is the retry.
	lambda.Start(func(ctx context.Context, _ json.RawMessage) error {
		reports, err := c.CollectAll(ctx)
		for _, r := range reports {
			if !r.Skipped {
				log.InfoContext(ctx, "collected", "artifact_server_id", r.ServerID, "repositories", len(r.Repositories),
					"new_tags", len(r.NewTags), "deployments", len(r.Deployments), "error", r.Err)
			}
		}
		return err
	})
}
