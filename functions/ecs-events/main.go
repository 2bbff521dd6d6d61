// Command ecs-events is the Lambda function behind the EventBridge rules of
// internal/ecsevents (ECS deployment, service and task events; CloudWatch
// alarm state changes). All logic lives in internal/ecsevents; this wires
// the configuration, the AWS clients and the store.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsflow/ecsflow/internal/awsenv"
	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/internal/store"
)

// envTableName is the variable the CDK app sets (infra/ecsflow EnvTableName).
const envTableName = "TABLE_NAME"

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	h, err := build(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("ecs-events: configuration", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// build makes the handler from the environment.
func build(ctx context.Context, getenv func(string) string, log *slog.Logger) (*ecsevents.Handler, error) {
	table := getenv(envTableName)
	if table == "" {
		return nil, fmt.Errorf("%s is not set", envTableName)
	}
	cfg, err := awsenv.Config()
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	st := store.New(dynamodb.NewFromConfig(cfg), table, store.WithLogger(log))
	return ecsevents.New(st, ecsevents.NewSFNCompleter(sfn.NewFromConfig(cfg)), ecsevents.WithLogger(log)), nil
}
