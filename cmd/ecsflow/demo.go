package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/ecsflow/ecsflow/internal/localstack"
)

func init() {
	var verbose, apiChecks, rolling bool
	var scale float64
	var example string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start the whole local stack and run a release pipeline and an automatic rollback on it",
		Long: "demo starts ecsflow locally (AWS emulator, embedded Step Functions and EventBridge, embedded\n" +
			"DynamoDB, API on 127.0.0.1) on a fast clock, creates the AWS world of examples/ecsflow.yaml and\n" +
			"applies it, pushes web:v1.0.0 (the ECR push event starts the web-release pipeline), follows the dev\n" +
			"canary, approves the promotion, follows the prod blue/green, then makes web:v1.0.1-broken crash (a\n" +
			"fault plan), pushes it and shows the automatic rollback. It ends with a table per deployment:\n" +
			"strategy, result, simulated and real duration, AWS API calls, state transitions, estimated cost.\n" +
			"It exits non-zero, naming the step, if any step does not end as expected. First, on a stack of its\n" +
			"own, it walks through the REST API: an entity graph is created, and invalid input, a stale update\n" +
			"(412) and a referenced delete (409) are refused (--api-checks=false skips it; --rolling adds\n" +
			"rolling deployments of v1, v2 and a crash-looping v3 that is rolled back).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logOut := io.Discard
			if verbose {
				logOut = cmd.ErrOrStderr()
			}
			src, err := localstack.ReadExample(example)
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			logger := slog.New(slog.NewJSONHandler(logOut, nil))
			if apiChecks || rolling {
				if err := runAPITour(cmd.Context(), cmd.OutOrStdout(), logger, rolling); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout())
			}
			return runDemo(cmd.Context(), cmd.OutOrStdout(), logger, scale, src)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&verbose, "verbose", "v", false, "print the stack's logs on stderr")
	f.Float64Var(&scale, "clock-scale", localstack.DemoClockScale, "simulated seconds per real second")
	f.StringVar(&example, "example", localstack.ExamplePath, "the example configuration to seed and apply")
	f.BoolVar(&apiChecks, "api-checks", true, "first walk through the REST API (validation, 412, 409) on a stack of its own")
	f.BoolVar(&rolling, "rolling", false, "also run rolling deployments (v1, v2, crash-looping v3 rolled back) on that stack")
	rootCmd.AddCommand(cmd)
}

// runDemo starts a stack at the given clock scale and runs the pipeline
// demo on it.
func runDemo(ctx context.Context, out io.Writer, logger *slog.Logger, scale float64, src []byte) error {
	s, err := localstack.Start(ctx, localstack.Config{Logger: logger, ClockScale: scale})
	if err != nil {
		return fmt.Errorf("start local stack: %w", err)
	}
	_, demoErr := localstack.DemoPipeline(ctx, s, src, out)
	closeErr := s.Close()
	if demoErr != nil {
		return fmt.Errorf("demo: %w", demoErr)
	}
	if closeErr != nil {
		return fmt.Errorf("stop local stack: %w", closeErr)
	}
	return nil
}

// runAPITour runs the REST API walkthrough and, when asked, the rolling
// deployments (v1, v2, crash-looping v3 rolled back) on a stack of its own.
func runAPITour(ctx context.Context, out io.Writer, logger *slog.Logger, rolling bool) error {
	s, err := localstack.Start(ctx, localstack.Config{Logger: logger, ClockScale: 100})
	if err != nil {
		return fmt.Errorf("start local stack: %w", err)
	}
	demoErr := localstack.Demo(ctx, s.URL(), out)
	if demoErr == nil && rolling {
		demoErr = localstack.DemoDeployment(ctx, s, out)
	}
	closeErr := s.Close()
	if demoErr != nil {
		return fmt.Errorf("api tour: %w", demoErr)
	}
	if closeErr != nil {
		return fmt.Errorf("stop local stack: %w", closeErr)
	}
	return nil
}
