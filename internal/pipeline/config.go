package pipeline

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/trigger"
)

// Environment variables the pipeline step functions read, besides the API's
// TABLE_NAME and STATE_MACHINE_ARN_<STRATEGY> / STATE_MACHINE_ARNS
// (api.ConfigFromEnv). EVENT_BUS_NAME is the bus notifications go to
// ("" = the default bus); ECSFLOW_NOTIFY=off turns them off.
const (
	EnvEventBus = "EVENT_BUS_NAME"
	EnvNotify   = "ECSFLOW_NOTIFY"
)

// FromEnv builds the pipeline steps a Lambda runs, from its environment.
// AWS_ENDPOINT_URL (read by the SDK) switches every client to local mode.
func FromEnv(ctx context.Context, getenv func(string) string, log *slog.Logger) (*Engine, error) {
	c, err := api.ConfigFromEnv(getenv)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("pipeline: load aws config: %w", err)
	}
	st := store.New(dynamodb.NewFromConfig(cfg), c.Table, store.WithLogger(log))
	var n *Notifier
	if getenv(EnvNotify) != "off" {
		n = NewNotifier(eventbridge.NewFromConfig(cfg), getenv(EnvEventBus), log, nil)
	}
	return New(Config{Store: st, Creator: trigger.NewAPICreator(st, NewNestedStarter(c.StateMachines), api.WithLogger(log)),
		StateMachines: c.StateMachines, Notifier: n, Logger: log})
}

// Handler returns the handler of the named step function.
func (e *Engine) Handler(name string) (Handler, error) {
	h, ok := e.Handlers()[name]
	if !ok {
		return nil, fmt.Errorf("pipeline: no step function %q", name)
	}
	return h, nil
}
