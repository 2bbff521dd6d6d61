package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ecsflow/ecsflow/internal/localstack"
)

func init() {
	var cfg localstack.Config
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run ecsflow on this machine: the REST API on a loopback port, backed by an embedded DynamoDB",
		Long: "local serves the ecsflow API at http://LISTEN/v1/... until SIGINT or SIGTERM.\n" +
			"Data lives in an embedded, in-memory DynamoDB-compatible server unless --dynamodb-endpoint\n" +
			"points at another one (for example DynamoDB Local); the table is created on start.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cfg.Logger = slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			return runLocal(ctx, cfg, func(s *localstack.Stack) {
				fmt.Fprintf(cmd.OutOrStdout(), "ecsflow API listening on %s/v1 (dynamodb %s, table %s); Ctrl-C stops it\n",
					s.URL(), s.DynamoDBURL(), cfg.Table)
			})
		},
	}
	cmd.Flags().StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "loopback address for the API")
	cmd.Flags().StringVar(&cfg.DynamoDBEndpoint, "dynamodb-endpoint", "", "use this DynamoDB endpoint instead of the embedded server")
	cmd.Flags().StringVar(&cfg.Table, "table", localstack.DefaultTable, "DynamoDB table name")
	rootCmd.AddCommand(cmd)
}

// runLocal starts the stack, reports it through started, and runs until ctx ends.
func runLocal(ctx context.Context, cfg localstack.Config, started func(*localstack.Stack)) error {
	s, err := localstack.Start(ctx, cfg)
	if err != nil {
		return fmt.Errorf("start local stack: %w", err)
	}
	started(s)
	<-ctx.Done()
	if err := s.Close(); err != nil {
		return fmt.Errorf("stop local stack: %w", err)
	}
	return nil
}
