// Package localstack wires ecsflow's parts into one local system for
// `ecsflow local`, `make demo` and end-to-end tests:
//
//   - a DynamoDB-compatible server (internal/memdynamo's, in process,
//     reached over loopback HTTP by the real AWS SDK client — or any
//     endpoint given, such as DynamoDB Local) and the store on it;
//   - the AWS emulator (internal/awsemu) on its own loopback listener, with
//     Step Functions (internal/sfnlocal) and EventBridge (internal/eventbus)
//     mounted on the same endpoint, all on one shared simulated clock;
//   - the real state machines (statemachines/*.asl.json) with their
//     placeholders substituted by local function ARNs
//     (arn:aws:lambda:<region>:<account>:function:ecsflow-<name>);
//   - every step handler (internal/steps) and the ecs-events handler
//     registered in process; they reach the emulator, Step Functions and
//     DynamoDB over HTTP with the real SDK clients, as the Lambdas do on AWS;
//   - the emulator's events delivered through the local bus with the rule
//     patterns the CDK app uses (internal/ecsevents.Rules);
//   - the REST API, whose Starter starts the strategy's state machine
//     (execution name = deployment ID) and whose Controller is
//     internal/deploycontrol; pipelines (internal/pipeline: their steps in
//     process, stage deployments as nested executions) and the ECR-push
//     trigger (internal/trigger) on the same store and bus.
package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/client"
	"github.com/ecsflow/ecsflow/internal/deploycontrol"
	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/internal/ecsevents/localrules"
	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/ecsops/cwalarms"
	"github.com/ecsflow/ecsflow/internal/eventbus"
	"github.com/ecsflow/ecsflow/internal/memdynamo"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/notification/ebnotify"
	"github.com/ecsflow/ecsflow/internal/pipeline"
	"github.com/ecsflow/ecsflow/internal/sfnlocal"
	"github.com/ecsflow/ecsflow/internal/simclock"
	"github.com/ecsflow/ecsflow/internal/steps"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/trigger"
	"github.com/ecsflow/ecsflow/statemachines"
)

// DefaultTable is the table the local stack uses unless told otherwise.
const DefaultTable = "ecsflow"

// Defaults of the emulated account.
const (
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "123456789012"
)

// FunctionPrefix prefixes every local function name: step-prepare runs as
// arn:aws:lambda:<region>:<account>:function:ecsflow-step-prepare.
const FunctionPrefix = "ecsflow-"

// Config says how to start the stack. Zero values are fine.
type Config struct {
	// Listen is the API's loopback address (default 127.0.0.1:0, a free port).
	Listen string
	// AWSListen is the emulator's loopback address (ECS, ELBv2, CloudWatch,
	// ..., Step Functions and EventBridge on one endpoint); default
	// 127.0.0.1:0. `ecsflow local` uses 127.0.0.1:4566.
	AWSListen string
	// DynamoDBEndpoint, when set, is used instead of the embedded server
	// (for example DynamoDB Local at http://127.0.0.1:8000).
	DynamoDBEndpoint string
	// Table is the DynamoDB table (default DefaultTable); created if missing.
	Table string
	// Logger receives the API's access log and the engine's logs (default:
	// JSON on stderr).
	Logger *slog.Logger
	// Starter, when set, replaces the engine's starter (for example
	// api.UnavailableStarter, to run the API alone).
	Starter api.Starter

	// ClockScale is simulated seconds per real second for the shared clock
	// (default 1). Ignored when Clock is set.
	ClockScale float64
	// Clock, when set, is the shared clock (the caller closes it).
	Clock *simclock.Scaled
	// Region and AccountID of the emulated account (defaults DefaultRegion,
	// DefaultAccountID).
	Region, AccountID string
	// Seed makes the emulator's IDs and timings deterministic (default 1).
	Seed int64
	// Timings overrides the emulator's simulated ECS durations.
	Timings awsemu.Timings
	// HeartbeatSeconds is the steady-state wait's safety net (default 60).
	HeartbeatSeconds int
	// KeepEvents is how many recent emulator events GET /_emulator/events
	// serves (default 0: none).
	KeepEvents int
	// ResolveTags makes POST /v1/deployments pin a tag to its digest in the
	// emulator's ECR and refuse a tag never pushed there (400), as on AWS.
	// `ecsflow local` sets it; tests that deploy tags they never push leave
	// it off.
	ResolveTags bool
	// WrapHandler, when set, wraps each step handler as it is registered
	// (fault injection in tests); name is the function name, e.g.
	// "step-update-service".
	WrapHandler func(name string, h steps.Handler) steps.Handler
	// StartWait bounds (in real time) how long a start under the REJECT
	// concurrency policy waits for the prepare step's verdict, so that a
	// deployment refused for a held lease is answered 409 (default 10s).
	StartWait time.Duration

	// DataDir, when set, keeps the state across restarts (see datadir.go):
	// the embedded table (not one at DynamoDBEndpoint, which keeps its own
	// data) and the AWS emulator's world are loaded from it on Start and
	// written to it on Close and every SaveInterval when they changed.
	DataDir string
	// SaveInterval is how often (real time) a running stack saves a
	// changed state to DataDir (default 1s; negative: only on Close).
	SaveInterval time.Duration
}

// Stack is a running local system.
type Stack struct {
	url     string
	ddbURL  string
	awsURL  string
	region  string
	account string
	table   string
	store   *store.Store
	handler *api.Handler
	apiSrv  *http.Server
	ddbSrv  *http.Server
	// Data directory (nil without Config.DataDir).
	data        *dataDir
	saver       *saver
	restored    bool
	interrupted []Interrupted
	awsSrv      *http.Server
	clock       *simclock.Scaled
	ownClock    bool
	emu         *awsemu.Emulator
	sfn         *sfnlocal.Service
	bus         *eventbus.Bus
	engine      *steps.Engine
	machines    map[model.StrategyType]string
	// pipelineARN is the pipeline state machine ("" if it cannot run here).
	pipelineARN string
	awsCfg      aws.Config
	serveErr    chan error
	once        sync.Once
	closeErr    error
	// notes keeps the ecsflow notifications for `ecsflow events`.
	notes *steps.NotificationLog
	// stopSchedule stops the scheduled triggers' minute ticks.
	stopSchedule func()
	// stopExpiry stops the embedded table's TTL expiry (nil without one).
	stopExpiry func()
}

// strategyMachines maps the embedded definitions to the strategies they run.
var strategyMachines = map[string]model.StrategyType{
	"rolling":   model.StrategyRolling,
	"daemon":    model.StrategyDaemon,
	"canary":    model.StrategyCanary,
	"bluegreen": model.StrategyBlueGreen,
}

// Start brings the stack up and returns once the API answers on its listener.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.AWSListen == "" {
		cfg.AWSListen = "127.0.0.1:0"
	}
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.AccountID == "" {
		cfg.AccountID = DefaultAccountID
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.StartWait <= 0 {
		cfg.StartWait = 10 * time.Second
	}
	if cfg.Clock == nil && cfg.ClockScale < 0 {
		return nil, fmt.Errorf("clock scale %v: must be positive", cfg.ClockScale)
	}
	if err := checkLoopback(cfg.Listen); err != nil {
		return nil, err
	}
	if err := checkLoopback(cfg.AWSListen); err != nil {
		return nil, err
	}
	if cfg.SaveInterval == 0 {
		cfg.SaveInterval = time.Second
	}
	s := &Stack{serveErr: make(chan error, 3), region: cfg.Region, account: cfg.AccountID, table: cfg.Table}
	if cfg.DataDir != "" {
		d, err := openDataDir(cfg.DataDir, cfg.Region, cfg.AccountID, cfg.Table)
		if err != nil {
			return nil, err
		}
		s.data = d
	}
	s.clock = cfg.Clock
	if s.clock == nil {
		scale := cfg.ClockScale
		if scale == 0 {
			scale = 1
		}
		start := time.Now().UTC().Truncate(time.Second)
		if s.data != nil {
			start = s.data.resumeAt(start)
		}
		s.clock = simclock.NewScaled(start, scale)
		s.ownClock = true
	}

	// DynamoDB.
	ddbURL := cfg.DynamoDBEndpoint
	var ddbWrites *writeCounter
	var table *memdynamo.DB
	if ddbURL == "" {
		if s.data != nil {
			restoring := s.data.exists(tableFile)
			mdb, err := memdynamo.Open(s.data.path(tableFile))
			if err != nil {
				s.Close()
				return nil, &DataDirError{Dir: cfg.DataDir, Problem: fmt.Sprintf("%s: %v; start with an empty --data-dir", tableFile, err)}
			}
			table, s.restored = mdb, restoring
		} else {
			table = memdynamo.New()
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("listen for the embedded dynamodb: %w", err)
		}
		ddbWrites = &writeCounter{h: table.Handler(), isWrite: ddbWrite}
		s.ddbSrv = &http.Server{Handler: ddbWrites, ReadHeaderTimeout: 10 * time.Second}
		go func() { s.serveErr <- serveUntilClosed(s.ddbSrv, ln) }()
		ddbURL = "http://" + ln.Addr().String()
	}
	s.ddbURL = ddbURL
	db := NewDynamoDBClient(ddbURL)
	if err := store.CreateTable(ctx, db, cfg.Table); err != nil {
		s.Close()
		return nil, fmt.Errorf("create table %s at %s: %w", cfg.Table, ddbURL, err)
	}
	if table != nil {
		// Claims, leases and waits expire through TTL, as on AWS: the
		// embedded table removes them every simulated minute.
		if err := enableTTL(ctx, table, cfg.Table); err != nil {
			s.Close()
			return nil, err
		}
		s.stopExpiry = runExpiry(s.clock, table, ExpiryInterval, cfg.Logger)
	}
	s.store = store.New(db, cfg.Table, store.WithClock(s.clock.Now), store.WithLogger(cfg.Logger))

	// The AWS emulator with Step Functions and EventBridge on its endpoint.
	s.sfn = sfnlocal.New(sfnlocal.Options{Clock: s.clock, Region: cfg.Region, AccountID: cfg.AccountID, Logger: cfg.Logger})
	s.bus = eventbus.New(eventbus.Options{Clock: s.clock, Region: cfg.Region, AccountID: cfg.AccountID, Starter: s.sfn, Logger: cfg.Logger})
	log := cfg.Logger
	sink := awsemu.SinkFunc(func(ctx context.Context, ev awsemu.Event) {
		raw, err := json.Marshal(ev)
		if err == nil {
			_, err = s.bus.PutEnvelope(ctx, raw)
		}
		if err != nil {
			log.ErrorContext(ctx, "put emulator event on the local bus", "id", ev.ID, "error", err)
		}
	})
	s.emu = awsemu.New(awsemu.Options{Clock: s.clock, Sink: sink, Region: cfg.Region, AccountID: cfg.AccountID,
		Seed: cfg.Seed, Timings: cfg.Timings, Logger: cfg.Logger, KeepEvents: cfg.KeepEvents,
		Mount: map[string]http.Handler{"AWSStepFunctions": s.sfn, "AWSEvents": s.bus}})
	if s.data != nil && s.data.exists(awsFile) {
		if err := s.data.load(awsFile, s.emu.Load); err != nil {
			s.Close()
			return nil, fmt.Errorf("restore the aws world from %s: %w", cfg.DataDir, err)
		}
		s.restored = true
	}
	awsWrites := &writeCounter{h: s.emu, isWrite: awsWrite}
	awsLn, err := net.Listen("tcp", cfg.AWSListen)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("listen for the aws emulator on %s: %w", cfg.AWSListen, err)
	}
	s.awsSrv = &http.Server{Handler: awsWrites, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 1 << 20}
	go func() { s.serveErr <- serveUntilClosed(s.awsSrv, awsLn) }()
	s.awsURL = "http://" + awsLn.Addr().String()
	s.awsCfg = LocalAWSConfig(s.awsURL, cfg.Region)

	// The engine: step handlers and ecs-events, in process, over the wire.
	sfnClient := sfn.NewFromConfig(s.awsCfg)
	completer := ecsevents.NewSFNCompleter(sfnClient)
	s.engine, err = steps.New(steps.Config{
		Store:            s.store,
		AWS:              cwalarms.NewFactory(s.awsCfg, ecsops.WithLocalEndpoint(s.awsURL)),
		Tasks:            completer,
		Executions:       steps.NewSFNHistory(sfnClient),
		Now:              s.clock.Now,
		HeartbeatSeconds: cfg.HeartbeatSeconds,
		Logger:           cfg.Logger,
		Notifier:         ebnotify.New(eventbridge.NewFromConfig(s.awsCfg), "", s.clock.Now),
	})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("deployment engine: %w", err)
	}
	for name, h := range s.engine.Handlers() {
		if cfg.WrapHandler != nil {
			h = cfg.WrapHandler(name, h)
		}
		s.sfn.RegisterLambda(s.FunctionARN(name), sfnlocal.LambdaHandler(h))
	}
	s.machines, err = s.createMachines(ctx, cfg.Logger)
	if err != nil {
		s.Close()
		return nil, err
	}
	starter := cfg.Starter
	if starter == nil {
		starter = &engineStarter{inner: api.NewSFNStarter(sfnClient, s.machines), sfn: sfnClient, store: s.store, wait: cfg.StartWait}
	}
	// Aborting a QUEUED deployment before its execution reaches PREPARE
	// ends it in the controller, which announces ABORTED on the local bus.
	control := deploycontrol.New(s.store, completer, deploycontrol.WithClock(s.clock.Now), deploycontrol.WithLogger(cfg.Logger),
		deploycontrol.WithNotifier(ebnotify.New(eventbridge.NewFromConfig(s.awsCfg), "", s.clock.Now)))
	apiOpts := []api.Option{api.WithLogger(cfg.Logger), api.WithClock(s.clock.Now), api.WithController(control)}

	// Pipelines: their steps in process, stages' deployments as nested
	// executions of the strategies' state machines, status notifications on
	// the local bus.
	var launcher *pipeline.Launcher
	if s.pipelineARN != "" {
		creator := trigger.NewAPICreator(s.store, pipeline.NewNestedStarter(s.machines), api.WithLogger(cfg.Logger), api.WithClock(s.clock.Now))
		pe, err := pipeline.New(pipeline.Config{Store: s.store, Creator: creator, StateMachines: s.machines,
			Notifier: pipeline.NewNotifier(eventbridge.NewFromConfig(s.awsCfg), "", cfg.Logger, s.clock.Now),
			Now:      s.clock.Now, Logger: cfg.Logger})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("pipeline engine: %w", err)
		}
		for name, h := range pe.Handlers() {
			sh := steps.Handler(h)
			if cfg.WrapHandler != nil {
				sh = cfg.WrapHandler(name, sh)
			}
			s.sfn.RegisterLambda(s.FunctionARN(name), sfnlocal.LambdaHandler(sh))
		}
		plStarter := pipeline.NewSFNStarter(sfnClient, s.pipelineARN)
		launcher = pipeline.NewLauncher(s.store, plStarter, s.clock.Now)
		apiOpts = append(apiOpts, api.WithPipelines(plStarter, pipeline.NewController(s.store, completer, s.clock.Now).
			WithAbort(control, sfnClient, pipeline.NewNotifier(eventbridge.NewFromConfig(s.awsCfg), "", cfg.Logger, s.clock.Now))))
	}

	// The event intake: ECS and alarm events to ecs-events, ECR pushes to
	// the trigger, with the rules the CDK app installs.
	events := ecsevents.New(s.store, completer, ecsevents.WithClock(s.clock.Now), ecsevents.WithLogger(cfg.Logger))
	s.bus.RegisterLambda(s.FunctionARN(ecsevents.FunctionECSEvents), events.Handle)
	trigOpts := []trigger.Option{trigger.WithClock(s.clock.Now), trigger.WithLogger(cfg.Logger)}
	if launcher != nil {
		trigOpts = append(trigOpts, trigger.WithPipelines(launcher))
	}
	trig := trigger.New(s.store, trigger.NewAPICreator(s.store, starter, api.WithLogger(cfg.Logger), api.WithClock(s.clock.Now)), starter, trigOpts...)
	// Scheduled triggers: a tick each simulated minute (EventBridge
	// Scheduler's rate(1 minute) schedule on AWS).
	s.stopSchedule = trigger.RunSchedule(s.clock, trig)
	s.bus.RegisterLambda(s.FunctionARN(ecsevents.FunctionTrigger), trig.Lambda)
	if err := localrules.Install(s.bus, func(fn string) string {
		switch fn {
		case ecsevents.FunctionECSEvents, ecsevents.FunctionTrigger:
			return s.FunctionARN(fn)
		}
		return ""
	}); err != nil {
		s.Close()
		return nil, fmt.Errorf("install event rules: %w", err)
	}
	// ecsflow's own notifications, kept for `ecsflow events` (GET
	// /_local/events on the API's listener).
	s.notes = steps.NewNotificationLog(0)
	notesFn := s.FunctionARN("notification-log")
	s.bus.RegisterLambda(notesFn, s.notes.Deliver)
	if _, err := s.bus.PutRule(eventbus.Rule{Name: "ecsflow-notifications", EventPattern: steps.NotificationPattern}); err != nil {
		s.Close()
		return nil, fmt.Errorf("install the notification rule: %w", err)
	}
	if _, err := s.bus.PutTargets("ecsflow-notifications", "", []eventbus.Target{{Id: "notification-log", Arn: notesFn}}); err != nil {
		s.Close()
		return nil, fmt.Errorf("install the notification rule: %w", err)
	}

	if cfg.ResolveTags {
		apiOpts = append(apiOpts, api.WithDigestResolver(trigger.NewRegistries(ecr.NewFromConfig(s.awsCfg), nil)))
	}
	s.handler = api.New(s.store, starter, apiOpts...)
	if s.data != nil {
		// What the last run left in progress cannot resume: end it before
		// anyone can read or start deployments.
		s.interrupted, err = recoverInterrupted(ctx, s.store, s.clock.Now)
		if err != nil {
			s.Close()
			return nil, err
		}
		for _, in := range s.interrupted {
			cfg.Logger.WarnContext(ctx, "interrupted by the restart: marked FAILED", "kind", in.Kind, "id", in.ID, "was", in.Was, "lease_released", in.Lease)
		}
		log := cfg.Logger
		s.saver = &saver{dir: s.data, emu: s.emu, tableWrites: ddbWrites, awsWrites: awsWrites, now: s.clock.Now,
			meta: dataMeta{Format: dataDirFormat, Version: DataDirVersion, Region: cfg.Region, AccountID: cfg.AccountID, Table: cfg.Table, DynamoDB: "embedded"},
			stop: make(chan struct{}), done: make(chan struct{}),
			log: func(msg string, args ...any) { log.Error(msg, args...) }}
		if table != nil {
			s.saver.table = table
		} else {
			s.saver.meta.DynamoDB = "external"
		}
		if err := s.saver.save(ctx, true); err != nil {
			s.saver = nil
			s.Close()
			return nil, err
		}
		if cfg.SaveInterval > 0 {
			go s.saver.run(cfg.SaveInterval)
		} else {
			close(s.saver.done)
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle(steps.NotificationLogPath, s.notes)
	mux.Handle("/", s.handler)
	s.apiSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { s.serveErr <- serveUntilClosed(s.apiSrv, ln) }()
	s.url = "http://" + ln.Addr().String()
	return s, nil
}

// createMachines creates every embedded state machine whose placeholders
// the local runner can fill, and maps the strategies to them.
func (s *Stack) createMachines(ctx context.Context, log *slog.Logger) (map[model.StrategyType]string, error) {
	out := map[model.StrategyType]string{}
	for _, d := range statemachines.All() {
		body, err := s.Definition(d.Name)
		if err != nil {
			log.WarnContext(ctx, "state machine not runnable locally", "name", d.Name, "error", err)
			continue
		}
		arn, err := s.sfn.CreateStateMachine(ctx, FunctionPrefix+d.Name, body)
		if err != nil {
			return nil, fmt.Errorf("create state machine %s: %w", d.Name, err)
		}
		if st, ok := strategyMachines[d.Name]; ok {
			out[st] = arn
		}
		if d.Name == "pipeline" {
			s.pipelineARN = arn
		}
	}
	for _, st := range []model.StrategyType{model.StrategyRolling, model.StrategyDaemon} {
		if out[st] == "" {
			return nil, fmt.Errorf("no runnable state machine for %s", st)
		}
	}
	return out, nil
}

// Definition returns the named embedded state machine with its
// placeholders substituted for this stack: ${<PascalName>Arn} by the local
// ARN of function <kebab-name>, ${TableName} by the table, ${Region} and
// ${AccountId} by the emulated account's. A placeholder it cannot fill
// is an error.
func (s *Stack) Definition(name string) (string, error) {
	d, ok := statemachines.Get(name)
	if !ok {
		return "", fmt.Errorf("no state machine %q", name)
	}
	vals := map[string]string{}
	for _, p := range d.Placeholders {
		switch {
		case p == "TableName":
			vals[p] = s.table
		case p == "Region":
			vals[p] = s.region
		case p == "AccountId" || p == "AccountID":
			vals[p] = s.account
		case strings.HasSuffix(p, "Arn") && len(p) > 3:
			vals[p] = s.FunctionARN(kebab(strings.TrimSuffix(p, "Arn")))
		default:
			return "", fmt.Errorf("state machine %s: placeholder ${%s} has no local value", name, p)
		}
	}
	body, err := statemachines.Substitute(d.Body, vals)
	if err != nil {
		return "", fmt.Errorf("state machine %s: %w", name, err)
	}
	return body, nil
}

// kebab turns a placeholder stem into a function name: StepRegisterTaskdef
// → step-register-taskdef, EcsEvents → ecs-events.
func kebab(stem string) string {
	var b strings.Builder
	for i, r := range stem {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('-')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// FunctionARN is the local ARN of a function (e.g. "step-prepare").
func (s *Stack) FunctionARN(name string) string {
	return "arn:aws:lambda:" + s.region + ":" + s.account + ":function:" + FunctionPrefix + name
}

// LocalAWSConfig is an SDK configuration for a local endpoint: static
// dummy credentials, and a retryer whose real-time back-off is short and
// unlimited by a retry quota (the simulated world runs scaled, so AWS's
// client-side pacing would only slow it down).
func LocalAWSConfig(endpoint, region string) aws.Config {
	return aws.Config{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 6
				o.Backoff = retry.NewExponentialJitterBackoff(20 * time.Millisecond)
				o.RateLimiter = ratelimit.None
			})
		},
	}
}

// NewDynamoDBClient returns the real SDK client for a local endpoint, with
// static dummy credentials (local endpoints do not check signatures).
func NewDynamoDBClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

func serveUntilClosed(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listen address %q: only loopback addresses (127.0.0.1) are allowed", addr)
	}
	return nil
}

// URL is the API's base URL, e.g. http://127.0.0.1:8080 (routes are under /v1).
func (s *Stack) URL() string { return s.url }

// DynamoDBURL is the DynamoDB endpoint the stack uses.
func (s *Stack) DynamoDBURL() string { return s.ddbURL }

// AWSURL is the emulator's endpoint (ECS, ELBv2, Application Auto Scaling,
// Cloud Map, Route 53, CloudWatch, ECR, Step Functions, EventBridge), the
// value for AWS_ENDPOINT_URL.
func (s *Stack) AWSURL() string { return s.awsURL }

// AWSConfig is an SDK configuration pointing at the emulator.
func (s *Stack) AWSConfig() aws.Config { return s.awsCfg.Copy() }

// Region and AccountID are the emulated account's.
func (s *Stack) Region() string { return s.region }

// AccountID is the emulated account.
func (s *Stack) AccountID() string { return s.account }

// Table is the DynamoDB table.
func (s *Stack) Table() string { return s.table }

// Store is the stack's store.
func (s *Stack) Store() *store.Store { return s.store }

// Handler is the stack's API handler.
func (s *Stack) Handler() *api.Handler { return s.handler }

// PipelineStateMachineARN is the pipeline state machine's ARN ("" when the
// pipeline definition cannot run here).
func (s *Stack) PipelineStateMachineARN() string { return s.pipelineARN }

// Clock is the shared simulated clock.
func (s *Stack) Clock() *simclock.Scaled { return s.clock }

// DataDir is the data directory ("" without one).
func (s *Stack) DataDir() string {
	if s.data == nil {
		return ""
	}
	return s.data.dir
}

// Restored reports whether Start loaded a saved state from the data dir.
func (s *Stack) Restored() bool { return s.restored }

// Interrupted lists what the last run left in progress, which Start marked
// FAILED (empty without a data dir).
func (s *Stack) Interrupted() []Interrupted { return append([]Interrupted(nil), s.interrupted...) }

// Save writes the state to the data dir now (no-op without one).
func (s *Stack) Save(ctx context.Context) error {
	if s.saver == nil {
		return nil
	}
	return s.saver.save(ctx, true)
}

// Emulator is the AWS emulator (fault plans, state).
func (s *Stack) Emulator() *awsemu.Emulator { return s.emu }

// StepFunctions is the embedded Step Functions service.
func (s *Stack) StepFunctions() *sfnlocal.Service { return s.sfn }

// Notifications are the ecsflow notifications the local bus delivered.
func (s *Stack) Notifications() *steps.NotificationLog { return s.notes }

// Bus is the local event bus.
func (s *Stack) Bus() *eventbus.Bus { return s.bus }

// Engine is the deployment engine whose handlers run the steps.
func (s *Stack) Engine() *steps.Engine { return s.engine }

// StateMachineARN is the state machine that runs a strategy ("" if none).
func (s *Stack) StateMachineARN(st model.StrategyType) string { return s.machines[st] }

// Environment is what a shell needs to use the stack with the AWS CLI and
// SDKs and the ecsflow CLI, as NAME=value lines in a stable order.
func (s *Stack) Environment() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.awsURL,
		"AWS_REGION=" + s.region,
		"AWS_ACCESS_KEY_ID=local",
		"AWS_SECRET_ACCESS_KEY=local",
		"AWS_ENDPOINT_URL_DYNAMODB=" + s.ddbURL,
		"ECSFLOW_API_URL=" + s.url,
		"TABLE_NAME=" + s.table,
	}
}

// Close stops the API (letting requests in flight finish, for up to 5 s),
// then the executions, the bus, the emulator and the embedded DynamoDB
// server. It is safe to call more than once.
func (s *Stack) Close() error {
	s.once.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Stack) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	if s.stopSchedule != nil {
		s.stopSchedule()
	}
	if s.stopExpiry != nil {
		s.stopExpiry()
	}
	if s.apiSrv != nil {
		if err := s.apiSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shut down api: %w", err))
		}
	}
	if s.sfn != nil {
		s.sfn.Close()
	}
	if s.bus != nil {
		s.bus.Close()
	}
	if s.saver != nil {
		// The last save, with the executions stopped and the servers still up.
		s.saver.halt()
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := s.saver.save(sctx, true); err != nil {
			errs = append(errs, err)
		}
		scancel()
	}
	if s.emu != nil {
		s.emu.Close()
	}
	// Nothing is left to serve once the API and the executions have
	// stopped: close the internal servers outright (Shutdown would wait for
	// the SDK clients' idle, freshly dialled connections).
	if s.awsSrv != nil {
		if err := s.awsSrv.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close aws emulator: %w", err))
		}
	}
	if s.ddbSrv != nil {
		if err := s.ddbSrv.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close embedded dynamodb: %w", err))
		}
	}
	if s.data != nil {
		s.data.unlock()
	}
	if s.ownClock && s.clock != nil {
		s.clock.Close()
	}
	for range cap(s.serveErr) {
		select {
		case err := <-s.serveErr:
			if err != nil {
				errs = append(errs, err)
			}
		default:
		}
	}
	return errors.Join(errs...)
}

// engineStarter starts the strategy's state machine through the Step
// Functions API (over the wire). Under the REJECT concurrency policy it
// waits for the prepare step's verdict, so that a deployment refused
// because another one holds the service's lease is answered 409 by the API
// instead of 201 followed by a failure.
type engineStarter struct {
	inner *api.SFNStarter
	sfn   *sfn.Client
	store *store.Store
	wait  time.Duration
}

var _ api.Starter = (*engineStarter)(nil)

func (e *engineStarter) Start(ctx context.Context, d *model.Deployment) (string, error) {
	arn, err := e.inner.Start(ctx, d)
	if err != nil {
		return "", err
	}
	wf, err := store.Get[*model.Workflow](ctx, e.store, d.WorkflowID)
	if err != nil {
		return "", fmt.Errorf("load workflow %s: %w", d.WorkflowID, err)
	}
	if wf.EffectiveConcurrency() != model.ConcurrencyReject {
		return arn, nil
	}
	ctx, cancel := context.WithTimeout(ctx, e.wait)
	defer cancel()
	for {
		cur, err := store.Get[*model.Deployment](ctx, e.store, d.ID)
		if err != nil {
			return "", fmt.Errorf("await the start of deployment %s: %w", d.ID, err)
		}
		if cur.Status != model.StatusQueued && cur.Status != model.StatusFailed {
			return arn, nil // prepare took the lease
		}
		x, err := e.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			return "", fmt.Errorf("await the start of deployment %s: %w", d.ID, err)
		}
		if x.Status != "RUNNING" {
			if aws.ToString(x.Error) == "LockHeld" {
				return "", e.held(ctx, cur)
			}
			return arn, nil
		}
		select {
		case <-ctx.Done():
			// Undecided: the execution runs on; answer as a started deployment.
			return arn, nil
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// held describes the lease that refused d.
func (e *engineStarter) held(ctx context.Context, d *model.Deployment) error {
	if d.Runtime != nil && d.Runtime.Target.LeaseKey != "" {
		if l, ok, err := e.store.GetLease(ctx, d.Runtime.Target.LeaseKey); err == nil && ok {
			return fmt.Errorf("deployment %s refused: %w", d.ID, &store.LeaseHeldError{Key: l.Key, Holder: l.Holder, Expires: l.Expires})
		}
	}
	return fmt.Errorf("deployment %s refused (%s): %w", d.ID, d.Reason, store.ErrLeaseHeld)
}

// APIClient is a client of the stack's API, the one the CLI uses (plain
// HTTP on loopback).
func (s *Stack) APIClient(ctx context.Context) (*client.Client, error) {
	return client.New(ctx, s.URL(), client.Options{})
}
