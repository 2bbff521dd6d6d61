package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/localstack"
	"github.com/ecsflow/ecsflow/internal/model"
)

// TestLocalSeedExample: `ecsflow local --seed-example` prints where things
// are, creates the example's world and applies it, so that a push of
// web:v1.0.0 starts the example's pipeline right away; an unreadable file
// stops the stack with an error.
func TestLocalSeedExample(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := localstack.Config{Listen: "127.0.0.1:0", AWSListen: "127.0.0.1:0", ClockScale: 200,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	var out bytes.Buffer
	var started string
	err := runLocal(ctx, cfg, func(s *localstack.Stack) error {
		printLocal(&out, s, cfg.ClockScale)
		if err := seedExample(ctx, &out, s, filepath.Join("..", "..", localstack.ExamplePath)); err != nil {
			return err
		}
		c := &cli{t: t, endpoint: s.URL(), awsURL: s.AWSURL()}
		c.must("push", "web:v1.0.0")
		for started == "" && ctx.Err() == nil {
			var xs []model.PipelineExecution
			if err := decodeJSON(c.must("pipeline", "list", "shop/web-release", "-o", "json"), &xs); err != nil {
				return err
			}
			if len(xs) > 0 {
				started = xs[0].ID
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel() // as Ctrl-C does
		return nil
	})
	if err != nil {
		t.Fatalf("local: %v\n%s", err, out.String())
	}
	for _, s := range []string{"ecsflow local is running (clock x200)", "+ create    Pipeline                 shop/web-release",
		"Plan: 13 to create, 0 to update, 0 unchanged.", "ecsflow push web:v1.0.0"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
	if started == "" {
		t.Fatal("the push of web:v1.0.0 started no pipeline execution")
	}

	err = runLocal(context.Background(), cfg, func(s *localstack.Stack) error {
		return seedExample(context.Background(), io.Discard, s, filepath.Join(t.TempDir(), "missing.yaml"))
	})
	if err == nil || !strings.Contains(err.Error(), "seed example") {
		t.Fatalf("seeding a missing file: got %v, want a seed example error", err)
	}
}

func decodeJSON(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// TestLocalDataDir: `ecsflow local --data-dir DIR --seed-example` seeds a
// new directory; started again on it, it says the state was restored,
// skips the seeding (the world is already there) and serves the example's
// entities and pushed images.
func TestLocalDataDir(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "state")
	example := filepath.Join("..", "..", localstack.ExamplePath)
	cfg := localstack.Config{Listen: "127.0.0.1:0", AWSListen: "127.0.0.1:0", ClockScale: 200, DataDir: dir,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	run := func(body func(s *localstack.Stack, c *cli)) string {
		t.Helper()
		var out bytes.Buffer
		runCtx, stop := context.WithCancel(ctx)
		defer stop()
		err := runLocal(runCtx, cfg, func(s *localstack.Stack) error {
			if err := startedLocal(runCtx, &out, s, cfg.ClockScale, example); err != nil {
				return err
			}
			body(s, &cli{t: t, endpoint: s.URL(), awsURL: s.AWSURL()})
			stop() // as Ctrl-C does
			return nil
		})
		if err != nil {
			t.Fatalf("local: %v\n%s", err, out.String())
		}
		return out.String()
	}
	var started string
	first := run(func(s *localstack.Stack, c *cli) {
		c.must("push", "web:v9.9.9")
		for started == "" && ctx.Err() == nil {
			var xs []model.PipelineExecution
			if err := decodeJSON(c.must("pipeline", "list", "shop/web-release", "-o", "json"), &xs); err != nil {
				t.Fatal(err)
			}
			if len(xs) > 0 {
				started = xs[0].ID
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	if !strings.Contains(first, "State        "+dir+"   (new;") || !strings.Contains(first, "Plan: 13 to create") {
		t.Errorf("first run output lacks the new state dir or the seeding:\n%s", first)
	}
	second := run(func(s *localstack.Stack, c *cli) {
		out, err := c.run("pipeline", "status", started)
		if err == nil || !strings.Contains(out, "web-release") || !strings.Contains(err.Error(), "ended FAILED") || !strings.Contains(err.Error(), "Interrupted") {
			t.Errorf("after the restart, the execution the push started: err %v, want it FAILED as interrupted:\n%s", err, out)
		}
	})
	for _, want := range []string{"State        " + dir + "   (restored;", "--seed-example=" + example + " skipped",
		"Interrupted  PipelineExecution " + started + " was RUNNING when ecsflow local stopped: marked FAILED"} {
		if !strings.Contains(second, want) {
			t.Errorf("second run output lacks %q:\n%s", want, second)
		}
	}
	if strings.Contains(second, "Plan: ") {
		t.Errorf("the second run seeded again:\n%s", second)
	}
}
