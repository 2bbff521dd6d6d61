// Command step-verify is the step-verify Lambda of the deployment state machines. All
// logic lives in internal/steps; this wires the step's AWS clients (only
// those its handler calls, steps.VerifyFunction, and the CloudWatch alarm reader) from the environment and
// starts the Lambda runtime.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ecsflow/ecsflow/internal/ecsops/cwalarms"
	"github.com/ecsflow/ecsflow/internal/steps"
)

func main() {
	// It reads CloudWatch alarms.
	f := steps.WithServices(steps.VerifyFunction(), cwalarms.Service())
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("function", f.Name)
	h, err := steps.FunctionFromEnv(context.Background(), os.Getenv, log, f)
	if err != nil {
		log.Error("configuration", "error", err)
		os.Exit(1)
	}
	lambda.Start(h)
}
