package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/awsenv"
	"github.com/ecsflow/ecsflow/internal/model"
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
	// EnvStateMachinePrefix is the ARN of a state machine without its
	// definition name (the CDK app sets it on every function); it names the
	// strategies' state machines when no STATE_MACHINE_ARN_* is set.
	EnvStateMachinePrefix = "ECSFLOW_STATE_MACHINE_ARN_PREFIX"
)

// definitionNames are the statemachines/<name>.asl.json of each strategy.
var definitionNames = map[model.StrategyType]string{
	model.StrategyRolling: "rolling", model.StrategyCanary: "canary",
	model.StrategyBlueGreen: "bluegreen", model.StrategyDaemon: "daemon",
}

// withPrefix is getenv, answering STATE_MACHINE_ARNS from the ARN prefix
// when neither it nor any STATE_MACHINE_ARN_<STRATEGY> is set.
func withPrefix(getenv func(string) string) func(string) string {
	prefix := getenv(EnvStateMachinePrefix)
	if prefix == "" || getenv("STATE_MACHINE_ARNS") != "" {
		return getenv
	}
	m := map[string]string{}
	for st, name := range definitionNames {
		if getenv("STATE_MACHINE_ARN_"+string(st)) != "" {
			return getenv
		}
		m[string(st)] = prefix + name
	}
	b, _ := json.Marshal(m)
	return func(k string) string {
		if k == "STATE_MACHINE_ARNS" {
			return string(b)
		}
		return getenv(k)
	}
}

// FromEnv builds the pipeline steps a Lambda runs, from its environment.
// AWS_ENDPOINT_URL (read by the SDK) switches every client to local mode.
func FromEnv(ctx context.Context, getenv func(string) string, log *slog.Logger) (*Engine, error) {
	c, err := api.ConfigFromEnv(withPrefix(getenv))
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	// The process environment, as the SDK's own loader reads it, without
	// linking that loader (awsenv).
	cfg, err := awsenv.Config()
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
