package steps

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ecsflow/ecsflow/internal/model"
)

// Each Dep fills exactly its own Config field.
func TestDepsFillTheirField(t *testing.T) {
	env := map[string]string{EnvEventBus: "ecsflow-bus"}
	getenv := func(k string) string { return env[k] }
	filled := func(c Config) []string {
		var got []string
		if c.Tasks != nil {
			got = append(got, "tasks")
		}
		if c.Executions != nil {
			got = append(got, "executions")
		}
		if c.Notifier != nil {
			got = append(got, "notifier")
		}
		return got
	}
	for _, d := range AllDeps() {
		t.Run(d.Name(), func(t *testing.T) {
			var c Config
			d.wire(wiring{cfg: aws.Config{Region: "eu-west-1"}, getenv: getenv}, &c)
			if got := filled(c); len(got) != 1 || got[0] != d.Name() {
				t.Errorf("filled %v, want [%s]", got, d.Name())
			}
		})
	}
}

// fixedNotifier is a Notifier a test factory returns.
type fixedNotifier struct{ bus string }

func (*fixedNotifier) NotifyDeployment(context.Context, *model.Deployment, string) error { return nil }

// Notifications builds the notifier with the function's factory, on
// EVENT_BUS_NAME; ECSFLOW_NOTIFY=off means none; without a factory, every
// notification fails with ErrNoNotifier.
func TestNotificationsUseTheFunctionsFactory(t *testing.T) {
	env := map[string]string{EnvEventBus: "ecsflow-bus"}
	getenv := func(k string) string { return env[k] }
	cfg := aws.Config{Region: "eu-west-1"}
	var gotCfg aws.Config
	f := WithNotifier(PrepareFunction(), func(cfg aws.Config, bus string) *fixedNotifier {
		gotCfg = cfg
		return &fixedNotifier{bus: bus}
	})
	if f.Name != FnPrepare || len(f.Deps) != len(PrepareFunction().Deps) {
		t.Fatalf("WithNotifier changed the function: %s with %d deps", f.Name, len(f.Deps))
	}
	var c Config
	Notifications().wire(wiring{cfg: cfg, getenv: getenv, newNotifier: f.newNotifier}, &c)
	n, ok := c.Notifier.(*fixedNotifier)
	if !ok || n.bus != "ecsflow-bus" || gotCfg.Region != "eu-west-1" {
		t.Fatalf("notifier %#v (config region %q), want the factory's on ecsflow-bus with the Lambda's config", c.Notifier, gotCfg.Region)
	}

	c = Config{}
	Notifications().wire(wiring{cfg: cfg, getenv: getenv}, &c)
	if err := c.Notifier.NotifyDeployment(context.Background(), &model.Deployment{}, NotifyStarted); !errors.Is(err, ErrNoNotifier) {
		t.Errorf("without a factory: notifier %T, NotifyDeployment err = %v, want ErrNoNotifier", c.Notifier, err)
	}

	env[EnvNotify] = "off"
	for name, factory := range map[string]func(aws.Config, string) Notifier{"with a factory": f.newNotifier, "without": nil} {
		c = Config{}
		Notifications().wire(wiring{cfg: cfg, getenv: getenv, newNotifier: factory}, &c)
		if c.Notifier != nil {
			t.Errorf("%s=off, %s: notifier %T, want none", EnvNotify, name, c.Notifier)
		}
	}
}

// A function built without TaskTokens gets a typed error, never a nil
// dereference, if it ever completes a token.
func TestUnwiredTasks(t *testing.T) {
	var tasks TaskCompleter = unwiredTasks{}
	ctx := context.Background()
	for name, err := range map[string]error{
		"success":   tasks.SendTaskSuccess(ctx, "tok", "{}"),
		"failure":   tasks.SendTaskFailure(ctx, "tok", "E", "cause"),
		"heartbeat": tasks.SendTaskHeartbeat(ctx, "tok"),
	} {
		if !errors.Is(err, ErrNoTaskTokens) {
			t.Errorf("%s: err = %v, want ErrNoTaskTokens", name, err)
		}
	}
}

// FunctionFromEnv builds every step's handler from a Lambda environment,
// and refuses one without the table.
func TestFunctionFromEnv(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIA")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	env := map[string]string{EnvTableName: "ecsflow"}
	getenv := func(k string) string { return env[k] }
	for _, f := range Functions() {
		h, err := FunctionFromEnv(context.Background(), getenv, log, f)
		if err != nil || h == nil {
			t.Errorf("%s: handler %v, err %v", f.Name, h != nil, err)
		}
	}
	delete(env, EnvTableName)
	if _, err := FunctionFromEnv(context.Background(), getenv, log, NextFunction()); err == nil {
		t.Errorf("no %s: no error", EnvTableName)
	}
}
