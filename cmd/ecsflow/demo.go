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
		Short: "Start the local stack on a free loopback port and walk through the API",
		Long: "demo starts ecsflow locally (embedded DynamoDB, API on 127.0.0.1), creates a full example\n" +
			"entity graph through the REST API, lists it, and shows that invalid input, a stale update and a\n" +
			"referenced delete are refused. It exits non-zero if any step does not behave.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logOut := io.Discard
			if verbose {
				logOut = cmd.ErrOrStderr()
			}
			s, err := localstack.Start(cmd.Context(), localstack.Config{
				Logger: slog.New(slog.NewJSONHandler(logOut, nil)),
			})
			if err != nil {
				return fmt.Errorf("start local stack: %w", err)
			}
			demoErr := localstack.Demo(cmd.Context(), s.URL(), cmd.OutOrStdout())
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
