package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/eventbus"
	"github.com/ecsflow/ecsflow/internal/sfnlocal"
	"github.com/ecsflow/ecsflow/internal/simclock"
)

func init() {
	var (
		listen     string
		scale      float64
		region     string
		account    string
		seed       int64
		faultsFile string
		allowAny   bool
	)
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Serve the AWS-wire emulator of ECS, ELBv2, App Auto Scaling, Cloud Map, Route 53, CloudWatch, ECR, Step Functions and EventBridge",
		Long: `Serve the AWS-wire emulator on one endpoint. Point the AWS SDKs or CLI at it with
AWS_ENDPOINT_URL=http://<listen> (any static credentials). Step Functions (the embedded
ASL interpreter) and EventBridge (the local bus, which receives every event the emulated
services emit) share the emulator's clock. The control API lives under
/_emulator/: POST /_emulator/clock {"scale":N}, POST /_emulator/ecr/push
{"repository":"...","tag":"..."}, POST|DELETE /_emulator/faults, GET /_emulator/state.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEmulator(cmd.Context(), emulatorConfig{
				listen: listen, scale: scale, region: region, account: account, seed: seed,
				faultsFile: faultsFile, allowNonLoopback: allowAny,
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:4566", "address to listen on (loopback only unless --allow-non-loopback)")
	f.Float64Var(&scale, "scale", 1, "simulated seconds per real second")
	f.StringVar(&region, "region", "us-east-1", "region of the emulated account")
	f.StringVar(&account, "account", "123456789012", "account ID of the emulated account")
	f.Int64Var(&seed, "seed", 1, "seed for generated IDs and timings")
	f.StringVar(&faultsFile, "faults", "", "fault plan JSON file to load at start")
	f.BoolVar(&allowAny, "allow-non-loopback", false, "allow listening on a non-loopback address")
	rootCmd.AddCommand(cmd)
}

type emulatorConfig struct {
	listen, region, account, faultsFile string
	scale                               float64
	seed                                int64
	allowNonLoopback                    bool
}

// checkLoopback refuses non-loopback listen addresses unless allowed.
func checkLoopback(addr string, allow bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if allow {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listen address %q is not loopback; pass --allow-non-loopback to expose the emulator", addr)
	}
	return nil
}

func runEmulator(ctx context.Context, cfg emulatorConfig) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := checkLoopback(cfg.listen, cfg.allowNonLoopback); err != nil {
		return err
	}
	if cfg.scale <= 0 {
		return fmt.Errorf("scale %v: must be positive", cfg.scale)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	clock := simclock.NewScaled(time.Now().UTC(), cfg.scale)
	defer clock.Close()
	stack := newEmulatorStack(cfg, clock, log)
	defer stack.Close()
	emu := stack.emu
	if cfg.faultsFile != "" {
		data, err := os.ReadFile(cfg.faultsFile)
		if err != nil {
			return fmt.Errorf("read fault plan: %w", err)
		}
		plan, err := awsemu.ParseFaultPlan(data)
		if err != nil {
			return fmt.Errorf("fault plan %s: %w", cfg.faultsFile, err)
		}
		if err := emu.SetFaultPlan(plan); err != nil {
			return fmt.Errorf("install fault plan: %w", err)
		}
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: stack.emu, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 1 << 20}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("emulator listening", "addr", ln.Addr().String(), "endpoint", "http://"+ln.Addr().String(), "scale", cfg.scale, "region", cfg.region)
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// emulatorStack is the whole local AWS of `ecsflow emulator`: the emulator,
// with Step Functions (sfnlocal) and EventBridge (the local bus) mounted on
// its listener by X-Amz-Target prefix, all on one clock. Every event the
// emulator emits is logged and put on the bus.
type emulatorStack struct {
	emu *awsemu.Emulator
	sfn *sfnlocal.Service
	bus *eventbus.Bus
}

func newEmulatorStack(cfg emulatorConfig, clock simclock.Clock, log *slog.Logger) *emulatorStack {
	s := &emulatorStack{}
	s.sfn = sfnlocal.New(sfnlocal.Options{Clock: clock, Region: cfg.region, AccountID: cfg.account, Logger: log})
	s.bus = eventbus.New(eventbus.Options{Clock: clock, Region: cfg.region, AccountID: cfg.account, Starter: s.sfn, Logger: log})
	sink := awsemu.SinkFunc(func(ctx context.Context, ev awsemu.Event) {
		log.Info("event", "detailType", ev.DetailType, "source", ev.Source, "resources", ev.Resources, "detail", string(ev.Detail))
		raw, err := json.Marshal(ev)
		if err == nil {
			_, err = s.bus.PutEnvelope(ctx, raw)
		}
		if err != nil {
			log.Error("put event on the local bus", "id", ev.ID, "error", err)
		}
	})
	s.emu = awsemu.New(awsemu.Options{Clock: clock, Sink: sink, Region: cfg.region, AccountID: cfg.account, Seed: cfg.seed, Logger: log, KeepEvents: 1000,
		Mount: map[string]http.Handler{"AWSStepFunctions": s.sfn, "AWSEvents": s.bus}})
	return s
}

// Close stops the emulator, then the bus and the executions.
func (s *emulatorStack) Close() {
	s.emu.Close()
	s.bus.Close()
	s.sfn.Close()
}
