package steps

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecsflow/ecsflow/internal/awsenv"
	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/store"
)

// Environment variables the step functions read. TABLE_NAME is set by the
// CDK app (infra/ecsflow EnvTableName); the Lambda runtime sets the
// function's memory; AWS_ENDPOINT_URL (read by the SDK) switches to local
// mode: every AWS call goes to that endpoint, with no role assumption.
const (
	EnvTableName        = "TABLE_NAME"
	EnvMemoryMB         = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
	EnvHeartbeatSeconds = "ECSFLOW_HEARTBEAT_SECONDS"
	EnvSessionName      = "AWS_LAMBDA_FUNCTION_NAME"
)

// FromEnv builds the engine a step Lambda runs, from its environment, with
// every AWS service's client (ecsops.NewFactory) and every dependency, but
// no notifier factory: its notifications fail with ErrNoNotifier. A step
// Lambda uses FunctionFromEnv instead, which wires only the clients its
// handler calls.
func FromEnv(ctx context.Context, getenv func(string) string, log *slog.Logger) (*Engine, error) {
	return engineFromEnv(ctx, getenv, log, ecsops.NewFactory, AllDeps(), nil)
}

// FunctionFromEnv builds f's handler from the environment, on an engine
// whose client factory builds only f.Services' clients and which has only
// f.Deps.
func FunctionFromEnv(ctx context.Context, getenv func(string) string, log *slog.Logger, f Function) (Handler, error) {
	e, err := engineFromEnv(ctx, getenv, log, func(cfg aws.Config, opts ...ecsops.Option) *ecsops.Factory {
		return ecsops.NewFactoryFor(cfg, f.Services, opts...)
	}, f.Deps, f.newNotifier)
	if err != nil {
		return nil, err
	}
	return f.Handler(e), nil
}

// engineFromEnv is the configuration every step Lambda shares; newFactory
// builds its AWS client factory, deps wire the rest (wire.go).
func engineFromEnv(ctx context.Context, getenv func(string) string, log *slog.Logger,
	newFactory func(cfg aws.Config, opts ...ecsops.Option) *ecsops.Factory, deps []Dep,
	newNotifier func(cfg aws.Config, bus string) Notifier) (*Engine, error) {
	table := getenv(EnvTableName)
	if table == "" {
		return nil, fmt.Errorf("steps: %s is not set", EnvTableName)
	}
	// The process environment, as the SDK's own loader reads it, without
	// linking that loader (awsenv).
	cfg, err := awsenv.Config()
	if err != nil {
		return nil, fmt.Errorf("steps: load aws config: %w", err)
	}
	var opts []ecsops.Option
	if cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "" {
		opts = append(opts, ecsops.WithLocalEndpoint(aws.ToString(cfg.BaseEndpoint)))
	}
	opts = append(opts, ecsops.WithSessionName(getenv(EnvSessionName)))
	c := Config{
		Store:  store.New(dynamodb.NewFromConfig(cfg), table, store.WithLogger(log)),
		AWS:    newFactory(cfg, opts...),
		Tasks:  unwiredTasks{},
		Logger: log,
	}
	for _, d := range deps {
		d.wire(wiring{cfg: cfg, getenv: getenv, newNotifier: newNotifier}, &c)
	}
	if v := getenv(EnvMemoryMB); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("steps: %s=%q is not a positive number", EnvMemoryMB, v)
		}
		c.LambdaMemoryMB = n
	}
	if v := getenv(EnvHeartbeatSeconds); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("steps: %s=%q is not a positive number", EnvHeartbeatSeconds, v)
		}
		c.HeartbeatSeconds = n
	}
	return New(c)
}
