package steps

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
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
			d.wire(aws.Config{Region: "eu-west-1"}, getenv, &c)
			if got := filled(c); len(got) != 1 || got[0] != d.Name() {
				t.Errorf("filled %v, want [%s]", got, d.Name())
			}
		})
	}
	env[EnvNotify] = "off"
	var c Config
	Notifications().wire(aws.Config{Region: "eu-west-1"}, getenv, &c)
	if c.Notifier != nil {
		t.Errorf("%s=off: notifier %T, want none", EnvNotify, c.Notifier)
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
