package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ecsflow/ecsflow/internal/localstack"
)

func init() {
	var cfg localstack.Config
	var seed string
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run all of ecsflow on this machine: API, deployment engine, Step Functions, event bus and an AWS emulator",
		Long: "local runs ecsflow in one process until SIGINT or SIGTERM: the REST API at http://LISTEN/v1/...,\n" +
			"the AWS emulator (ECS, ELBv2, App Auto Scaling, Cloud Map, Route 53, CloudWatch, ECR, with Step\n" +
			"Functions and EventBridge on the same endpoint) at http://AWS-LISTEN, the real state machines and\n" +
			"step handlers, and the ECS event intake fed through the local bus. All share one simulated clock\n" +
			"(--clock-scale simulated seconds per real second). Data lives in an embedded, in-memory\n" +
			"DynamoDB-compatible server unless --dynamodb-endpoint points at another one (for example DynamoDB\n" +
			"Local); the table is created on start. Point the AWS CLI or SDKs at the printed AWS_ENDPOINT_URL to\n" +
			"create clusters, load balancers and alarms, then POST /v1/deployments.\n\n" +
			"--seed-example[=FILE] creates the AWS world of examples/ecsflow.yaml (clusters dev and prod, an ALB\n" +
			"with two target groups, listeners and a 5XX alarm per environment) and applies the example with the\n" +
			"emulator's ARNs, so that `ecsflow push web:v1.0.0` starts its pipeline right away.\n\n" +
			"--data-dir DIR keeps the state across restarts: the embedded table and the emulator's world (images,\n" +
			"clusters, services and their tasks, load balancers and weights, Route 53 records, alarms, auto scaling)\n" +
			"are loaded from DIR on start, and written there (atomically) on Ctrl-C and every second while they\n" +
			"change. Deployments and pipeline executions still running when it stopped cannot resume: on restart\n" +
			"they are marked FAILED (\"Interrupted\"), with a ledger entry, and their service locks are released.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cfg.Logger = slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			out := cmd.OutOrStdout()
			return runLocal(ctx, cfg, func(s *localstack.Stack) error {
				return startedLocal(ctx, out, s, cfg.ClockScale, seed)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "loopback address for the API")
	f.StringVar(&cfg.AWSListen, "aws-listen", "127.0.0.1:4566", "loopback address for the AWS emulator (with Step Functions and EventBridge)")
	f.Float64Var(&cfg.ClockScale, "clock-scale", 1, "simulated seconds per real second")
	f.StringVar(&cfg.DynamoDBEndpoint, "dynamodb-endpoint", "", "use this DynamoDB endpoint instead of the embedded server")
	f.StringVar(&cfg.Table, "table", localstack.DefaultTable, "DynamoDB table name")
	f.StringVar(&cfg.Region, "region", localstack.DefaultRegion, "region of the emulated account")
	f.StringVar(&cfg.AccountID, "account", localstack.DefaultAccountID, "account ID of the emulated account")
	f.StringVar(&cfg.DataDir, "data-dir", "", "keep the state in this directory across restarts (created if missing)")
	f.StringVar(&seed, "seed-example", "", "create the AWS world of this example file and apply it (no value: "+localstack.ExamplePath+")")
	f.Lookup("seed-example").NoOptDefVal = localstack.ExamplePath
	cfg.ResolveTags = true // deploying a tag pins its digest; push it first (ecsflow push)
	f.IntVar(&cfg.HeartbeatSeconds, "heartbeat-seconds", 60, "steady-state wait safety net: check ECS after this many silent simulated seconds")
	rootCmd.AddCommand(cmd)
}

// startedLocal reports a started stack and seeds the example when asked
// (not on a restored data dir, which already has it).
func startedLocal(ctx context.Context, out io.Writer, s *localstack.Stack, scale float64, seed string) error {
	printLocal(out, s, scale)
	if seed == "" {
		return nil
	}
	if s.Restored() {
		fmt.Fprintf(out, "The data dir already holds a state: --seed-example=%s skipped.\n", seed)
		return nil
	}
	return seedExample(ctx, out, s, seed)
}

// printLocal tells the user where everything is and what to export.
func printLocal(w io.Writer, s *localstack.Stack, scale float64) {
	if scale == 0 {
		scale = 1
	}
	fmt.Fprintf(w, "ecsflow local is running (clock x%g); Ctrl-C stops it\n", scale)
	fmt.Fprintf(w, "  API          %s/v1   (OpenAPI: %s/v1/openapi.json)\n", s.URL(), s.URL())
	fmt.Fprintf(w, "  AWS emulator %s   (ECS, ELBv2, App Auto Scaling, Cloud Map, Route 53, CloudWatch, ECR, Step Functions, EventBridge)\n", s.AWSURL())
	fmt.Fprintf(w, "  DynamoDB     %s   (table %s)\n", s.DynamoDBURL(), s.Table())
	if dir := s.DataDir(); dir != "" {
		if s.Restored() {
			fmt.Fprintf(w, "  State        %s   (restored; saved on Ctrl-C and while it changes)\n", dir)
		} else {
			fmt.Fprintf(w, "  State        %s   (new; saved on Ctrl-C and while it changes)\n", dir)
		}
		for _, in := range s.Interrupted() {
			line := fmt.Sprintf("  Interrupted  %s %s was %s when ecsflow local stopped: marked FAILED", in.Kind, in.ID, in.Was)
			if in.Lease != "" {
				line += ", lock " + in.Lease + " released"
			}
			fmt.Fprintln(w, line)
		}
	}
	fmt.Fprintln(w, "Environment for the AWS CLI/SDKs and the ecsflow CLI:")
	for _, kv := range s.Environment() {
		fmt.Fprintf(w, "  export %s\n", kv)
	}
}

// seedExample creates the example's world on s and applies it.
func seedExample(ctx context.Context, w io.Writer, s *localstack.Stack, file string) error {
	src, err := localstack.ReadExample(file)
	if err != nil {
		return fmt.Errorf("seed example: %w", err)
	}
	fmt.Fprintf(w, "Seeding %s: clusters dev and prod, ALBs, target groups, listeners and alarms in the emulator; applying it:\n", file)
	if _, err := localstack.SeedExample(ctx, s, file, src, localstack.ExampleOptions{}, w); err != nil {
		return fmt.Errorf("seed example: %w", err)
	}
	fmt.Fprintln(w, "Next (in another shell, after the exports above):")
	fmt.Fprintln(w, "  ecsflow push web:v1.0.0                       # the trigger starts pipeline shop/web-release")
	fmt.Fprintln(w, "  ecsflow pipeline list shop/web-release        # its execution ID")
	fmt.Fprintln(w, "  ecsflow pipeline status <id> --watch          # dev canary, then the approval")
	fmt.Fprintln(w, "  ecsflow approve <id> --comment 'dev is fine'  # then prod blue/green")
	return nil
}

// runLocal starts the stack, reports it through started, and runs until ctx
// ends. An error from started stops the stack and is returned.
func runLocal(ctx context.Context, cfg localstack.Config, started func(*localstack.Stack) error) error {
	s, err := localstack.Start(ctx, cfg)
	if err != nil {
		return fmt.Errorf("start local stack: %w", err)
	}
	if err := started(s); err != nil {
		_ = s.Close()
		return err
	}
	<-ctx.Done()
	if err := s.Close(); err != nil {
		return fmt.Errorf("stop local stack: %w", err)
	}
	return nil
}
