package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/ecsflow/ecsflow/internal/localstack"
)

func init() {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start the whole local stack and run real deployments on it",
		Long: "demo starts ecsflow locally (AWS emulator, embedded Step Functions and EventBridge, embedded\n" +
			"DynamoDB, API on 127.0.0.1) on a fast clock, creates a full example entity graph through the REST\n" +
			"API, shows that invalid input, a stale update and a referenced delete are refused, then deploys\n" +
			"v1 and v2 of a service with the rolling workflow and a crash-looping v3 that is rolled back\n" +
			"automatically. It exits non-zero if any step does not behave.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logOut := io.Discard
			if verbose {
				logOut = cmd.ErrOrStderr()
			}
			s, err := localstack.Start(cmd.Context(), localstack.Config{
				Logger: slog.New(slog.NewJSONHandler(logOut, nil)),
				// 100 simulated seconds per real second: a rollout takes
				// well under a second of wall time.
				ClockScale: 100,
			})
			if err != nil {
				return fmt.Errorf("start local stack: %w", err)
			}
			demoErr := localstack.Demo(cmd.Context(), s.URL(), cmd.OutOrStdout())
			if demoErr == nil {
				demoErr = localstack.DemoDeployment(cmd.Context(), s, cmd.OutOrStdout())
			}
			closeErr := s.Close()
			if demoErr != nil {
				return fmt.Errorf("demo: %w", demoErr)
			}
			if closeErr != nil {
				return fmt.Errorf("stop local stack: %w", closeErr)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print the API's access log on stderr")
	rootCmd.AddCommand(cmd)
}
