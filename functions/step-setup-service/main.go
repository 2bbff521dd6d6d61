// Command step-setup-service is the step-setup-service Lambda of the deployment state
// machines. All logic lives in internal/steps; this wires the configuration
// from the environment and starts the Lambda runtime.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ecsflow/ecsflow/internal/steps"
)

const name = "step-setup-service"

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("function", name)
	e, err := steps.FromEnv(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("configuration", "error", err)
		os.Exit(1)
	}
	h, err := e.Handler(name)
	if err != nil {
		log.Error("handler", "error", err)
		os.Exit(1)
	}
	lambda.Start(h)
}
