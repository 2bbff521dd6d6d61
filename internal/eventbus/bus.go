package eventbus

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// LambdaHandler is an in-process target: it receives the event (or the
// target's transformed input) and returns an error to make the bus retry.
type LambdaHandler func(ctx context.Context, event json.RawMessage) error

// ExecutionStarter starts Step Functions executions for state machine
// targets (sfnlocal satisfies it).
type ExecutionStarter interface {
	StartExecution(ctx context.Context, stateMachineARN, name, input string) (executionARN string, err error)
}

// Options configure a Bus. Zero values pick defaults.
type Options struct {
	// Clock drives event times, retry back-off and event age; default real time.
	Clock simclock.Clock
	// Region and AccountID appear in ARNs and event envelopes; defaults
	// us-east-1 and 123456789012.
	Region, AccountID string
	// Starter runs state machine targets; without it they fail.
	Starter ExecutionStarter
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// RetryAttempts is the number of retries after a failed delivery when a
	// target has no RetryPolicy: 0 means AWS's default of 185, negative means
	// none.
	RetryAttempts int
	// RetryInterval is the first back-off (simulated time); it doubles per
	// attempt up to MaxRetryInterval. Default 1s.
	RetryInterval time.Duration
	// MaxRetryInterval caps the back-off; default 5m.
	MaxRetryInterval time.Duration
}

// Rule is an EventBridge rule as PutRule takes it and DescribeRule returns
// it. The JSON names are the wire names.
type Rule struct {
	Name               string `json:"Name,omitempty"`
	Arn                string `json:"Arn,omitempty"`
	EventBusName       string `json:"EventBusName,omitempty"`
	EventPattern       string `json:"EventPattern,omitempty"`
	ScheduleExpression string `json:"ScheduleExpression,omitempty"`
	State              string `json:"State,omitempty"`
	Description        string `json:"Description,omitempty"`
	RoleArn            string `json:"RoleArn,omitempty"`
	CreatedBy          string `json:"CreatedBy,omitempty"`
}

// Target is a rule target as PutTargets takes it.
type Target struct {
	Id               string            `json:"Id"`
	Arn              string            `json:"Arn"`
	RoleArn          string            `json:"RoleArn,omitempty"`
	Input            string            `json:"Input,omitempty"`
	InputPath        string            `json:"InputPath,omitempty"`
	InputTransformer *InputTransformer `json:"InputTransformer,omitempty"`
	RetryPolicy      *RetryPolicy      `json:"RetryPolicy,omitempty"`
	DeadLetterConfig *DeadLetterConfig `json:"DeadLetterConfig,omitempty"`
}

// InputTransformer rewrites the event for a target.
type InputTransformer struct {
	InputPathsMap map[string]string `json:"InputPathsMap,omitempty"`
	InputTemplate string            `json:"InputTemplate"`
}

// RetryPolicy bounds redelivery of a failing target.
type RetryPolicy struct {
	MaximumRetryAttempts     *int32 `json:"MaximumRetryAttempts,omitempty"`
	MaximumEventAgeInSeconds *int32 `json:"MaximumEventAgeInSeconds,omitempty"`
}

// DeadLetterConfig names where undeliverable events go. The local bus keeps
// them in memory (see DeadLetters) whatever the ARN.
type DeadLetterConfig struct {
	Arn string `json:"Arn,omitempty"`
}

// FailedEntry is a target PutTargets or RemoveTargets could not process.
type FailedEntry struct {
	TargetId     string `json:"TargetId"`
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

// Entry is one event for Put: the fields of a PutEvents entry, plus optional
// envelope fields for events that already have them (from the emulator).
type Entry struct {
	Source       string
	DetailType   string
	Detail       json.RawMessage
	Resources    []string
	Time         time.Time // zero: now on the bus clock
	EventBusName string    // empty: "default"
	ID           string    // empty: a new UUID
	Account      string    // empty: the bus account
	Region       string    // empty: the bus region
}

// Stats counts what the bus did.
type Stats struct {
	Events     int64 // events accepted
	Matched    int64 // events that matched at least one rule
	Unmatched  int64 // events that matched no rule (dropped)
	Deliveries int64 // (event, target) deliveries started
	Delivered  int64 // deliveries that succeeded
	Retries    int64 // redelivery attempts
	Failed     int64 // deliveries given up after retries (see DeadLetters)
}

// DeadLetter is a delivery the bus gave up on.
type DeadLetter struct {
	EventID   string
	RuleARN   string
	TargetID  string
	TargetARN string
	DLQArn    string
	Input     json.RawMessage
	Attempts  int
	Err       string
	At        time.Time
}

// APIError is an EventBridge error; Code is the AWS error type that the SDK
// maps to a typed error (e.g. ResourceNotFoundException).
type APIError struct {
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

func apiErr(code, format string, args ...any) *APIError {
	return &APIError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Bus is a local EventBridge: rules on named event buses, targets, and
// at-least-once delivery. It serves the EventBridge API as an http.Handler.
type Bus struct {
	opts   Options
	clock  simclock.Clock
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	starter  ExecutionStarter
	buses    map[string]*eventBus
	handlers map[string]LambdaHandler
	dead     []DeadLetter

	flightMu sync.Mutex
	inflight int
	idle     chan struct{}

	events, matched, unmatched, deliveries, delivered, retries, failed atomic.Int64
}

var _ http.Handler = (*Bus)(nil)

type eventBus struct {
	name  string
	rules map[string]*rule
	snap  *snapshot // nil when rules changed since the last build
}

type rule struct {
	Rule
	pattern *Pattern // nil for schedule-only rules
	targets []*target
}

type target struct {
	Target
	tf        *transformer
	inputPath []pathStep
}

// snapshot is an immutable view of a bus's enabled pattern rules.
type snapshot struct {
	matcher *Matcher
	rules   []ruleView
}

type ruleView struct {
	arn, name string
	targets   []*target
}

// New returns a Bus. Close it to stop pending retries.
func New(opts Options) *Bus {
	if opts.Clock == nil {
		opts.Clock = simclock.Real()
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "123456789012"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RetryAttempts == 0 {
		opts.RetryAttempts = 185
	} else if opts.RetryAttempts < 0 {
		opts.RetryAttempts = 0
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = time.Second
	}
	if opts.MaxRetryInterval <= 0 {
		opts.MaxRetryInterval = 5 * time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	idle := make(chan struct{})
	close(idle)
	return &Bus{
		opts:     opts,
		clock:    opts.Clock,
		log:      opts.Logger.With("component", "eventbus"),
		ctx:      ctx,
		cancel:   cancel,
		starter:  opts.Starter,
		buses:    map[string]*eventBus{"default": {name: "default", rules: map[string]*rule{}}},
		handlers: map[string]LambdaHandler{},
		idle:     idle,
	}
}

// Close stops retries in progress; deliveries cut short count as failed.
func (b *Bus) Close() { b.cancel() }

// SetStarter replaces Options.Starter, for wiring where the Step Functions
// service is built after the bus.
func (b *Bus) SetStarter(s ExecutionStarter) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.starter = s
}

// RegisterLambda makes h the handler for target ARN functionARN. Any ARN can
// be registered this way; Lambda ARNs also match with a version or alias
// qualifier.
func (b *Bus) RegisterLambda(functionARN string, h LambdaHandler) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.handlers[functionARN] = h
}

// Stats returns the counters.
func (b *Bus) Stats() Stats {
	return Stats{
		Events: b.events.Load(), Matched: b.matched.Load(), Unmatched: b.unmatched.Load(),
		Deliveries: b.deliveries.Load(), Delivered: b.delivered.Load(),
		Retries: b.retries.Load(), Failed: b.failed.Load(),
	}
}

// DeadLetters returns the deliveries the bus gave up on, oldest first.
func (b *Bus) DeadLetters() []DeadLetter {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]DeadLetter(nil), b.dead...)
}

// Drain waits until no delivery is in flight (including retry waits), or ctx
// ends.
func (b *Bus) Drain(ctx context.Context) error {
	b.flightMu.Lock()
	ch := b.idle
	b.flightMu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("drain event bus: %w", ctx.Err())
	}
}

func (b *Bus) startFlight() {
	b.flightMu.Lock()
	if b.inflight == 0 {
		b.idle = make(chan struct{})
	}
	b.inflight++
	b.flightMu.Unlock()
}

func (b *Bus) endFlight() {
	b.flightMu.Lock()
	b.inflight--
	if b.inflight == 0 {
		close(b.idle)
	}
	b.flightMu.Unlock()
}

var (
	nameRE     = regexp.MustCompile(`^[\.\-_A-Za-z0-9]{1,64}$`)
	scheduleRE = regexp.MustCompile(`^(rate\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\))$`)
)

func busName(s string) string {
	if s == "" {
		return "default"
	}
	if strings.HasPrefix(s, "arn:") {
		if i := strings.LastIndex(s, "event-bus/"); i >= 0 {
			return s[i+len("event-bus/"):]
		}
	}
	return s
}

func (b *Bus) ruleARN(bus, name string) string {
	if bus == "default" {
		return fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", b.opts.Region, b.opts.AccountID, name)
	}
	return fmt.Sprintf("arn:aws:events:%s:%s:rule/%s/%s", b.opts.Region, b.opts.AccountID, bus, name)
}

// busLocked returns the named bus, creating it: the local bus has no
// CreateEventBus, any name works.
func (b *Bus) busLocked(name string) *eventBus {
	eb := b.buses[name]
	if eb == nil {
		eb = &eventBus{name: name, rules: map[string]*rule{}}
		b.buses[name] = eb
	}
	return eb
}

func (b *Bus) ruleLocked(name, bus string) (*eventBus, *rule, error) {
	eb := b.buses[bus]
	if eb != nil {
		if r := eb.rules[name]; r != nil {
			return eb, r, nil
		}
	}
	return nil, nil, apiErr("ResourceNotFoundException", "Rule %s does not exist on EventBus %s.", name, bus)
}

func validationf(format string, args ...any) *APIError {
	return apiErr("ValidationException", format, args...)
}

// PutRule creates or updates a rule and returns its ARN. Updating keeps the
// rule's targets.
func (b *Bus) PutRule(in Rule) (string, error) {
	if !nameRE.MatchString(in.Name) {
		return "", validationf("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", in.Name)
	}
	if in.EventPattern == "" && in.ScheduleExpression == "" {
		return "", validationf("Parameter(s) EventPattern or ScheduleExpression must be specified.")
	}
	switch in.State {
	case "":
		in.State = "ENABLED"
	case "ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS":
	default:
		return "", validationf("1 validation error detected: Value '%s' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]", in.State)
	}
	if in.ScheduleExpression != "" {
		if !scheduleRE.MatchString(in.ScheduleExpression) {
			return "", validationf("Parameter ScheduleExpression is not valid.")
		}
		if busName(in.EventBusName) != "default" {
			return "", validationf("ScheduleExpression is supported only on the default event bus.")
		}
	}
	var pat *Pattern
	if in.EventPattern != "" {
		p, err := Compile([]byte(in.EventPattern))
		if err != nil {
			return "", &APIError{Code: "InvalidEventPatternException", Message: err.Error()}
		}
		pat = p
	}
	bus := busName(in.EventBusName)
	in.EventBusName = bus
	in.Arn = b.ruleARN(bus, in.Name)
	in.CreatedBy = b.opts.AccountID
	b.mu.Lock()
	defer b.mu.Unlock()
	eb := b.busLocked(bus)
	r := &rule{Rule: in, pattern: pat}
	if old := eb.rules[in.Name]; old != nil {
		r.targets = old.targets
	}
	eb.rules[in.Name] = r
	eb.snap = nil
	return in.Arn, nil
}

// DescribeRule returns a rule.
func (b *Bus) DescribeRule(name, eventBus string) (Rule, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, r, err := b.ruleLocked(name, busName(eventBus))
	if err != nil {
		return Rule{}, err
	}
	return r.Rule, nil
}

// ListRules returns the rules of a bus whose names start with prefix, sorted
// by name.
func (b *Bus) ListRules(prefix, eventBus string) []Rule {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Rule
	if eb := b.buses[busName(eventBus)]; eb != nil {
		for name, r := range eb.rules {
			if strings.HasPrefix(name, prefix) {
				out = append(out, r.Rule)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SetRuleState enables or disables a rule (EnableRule / DisableRule).
func (b *Bus) SetRuleState(name, eventBus string, enabled bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	eb, r, err := b.ruleLocked(name, busName(eventBus))
	if err != nil {
		return err
	}
	r.State = "DISABLED"
	if enabled {
		r.State = "ENABLED"
	}
	eb.snap = nil
	return nil
}

// DeleteRule deletes a rule, which must have no targets unless force is set.
// Deleting a rule that does not exist succeeds, as on AWS.
func (b *Bus) DeleteRule(name, eventBus string, force bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	eb, r, err := b.ruleLocked(name, busName(eventBus))
	if err != nil {
		return nil
	}
	if len(r.targets) > 0 && !force {
		return validationf("Rule can't be deleted since it has targets.")
	}
	delete(eb.rules, name)
	eb.snap = nil
	return nil
}

const maxTargets = 5

func (b *Bus) compileTarget(t Target) (*target, error) {
	if !nameRE.MatchString(t.Id) {
		return nil, validationf("1 validation error detected: Value '%s' at 'targets.id' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", t.Id)
	}
	if !strings.HasPrefix(t.Arn, "arn:") {
		return nil, validationf("Parameter %s is not valid. Reason: Provided Arn is not in correct format.", t.Arn)
	}
	set := 0
	for _, present := range []bool{t.Input != "", t.InputPath != "", t.InputTransformer != nil} {
		if present {
			set++
		}
	}
	if set > 1 {
		return nil, validationf("Only one of Input, InputPath, or InputTransformer must be provided for target %s.", t.Id)
	}
	ct := &target{Target: t}
	if t.Input != "" && !json.Valid([]byte(t.Input)) {
		return nil, validationf("Input for target %s is not valid JSON text.", t.Id)
	}
	if t.InputPath != "" {
		steps, err := parseJSONPath(t.InputPath)
		if err != nil {
			return nil, validationf("InputPath for target %s is invalid: %v", t.Id, err)
		}
		ct.inputPath = steps
	}
	if t.InputTransformer != nil {
		tf, err := newTransformer(t.InputTransformer)
		if err != nil {
			return nil, validationf("InputTransformer for target %s is invalid: %v", t.Id, err)
		}
		ct.tf = tf
	}
	if rp := t.RetryPolicy; rp != nil {
		if rp.MaximumRetryAttempts != nil && (*rp.MaximumRetryAttempts < 0 || *rp.MaximumRetryAttempts > 185) {
			return nil, validationf("RetryPolicy.MaximumRetryAttempts for target %s must be between 0 and 185.", t.Id)
		}
		if rp.MaximumEventAgeInSeconds != nil && (*rp.MaximumEventAgeInSeconds < 60 || *rp.MaximumEventAgeInSeconds > 86400) {
			return nil, validationf("RetryPolicy.MaximumEventAgeInSeconds for target %s must be between 60 and 86400.", t.Id)
		}
	}
	return ct, nil
}

// PutTargets adds or replaces (by Id) targets of a rule.
func (b *Bus) PutTargets(ruleName, eventBus string, targets []Target) ([]FailedEntry, error) {
	if len(targets) == 0 || len(targets) > 10 {
		return nil, validationf("1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length between 1 and 10")
	}
	compiled := make([]*target, 0, len(targets))
	for _, t := range targets {
		ct, err := b.compileTarget(t)
		if err != nil {
			return nil, err
		}
		compiled = append(compiled, ct)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	eb, r, err := b.ruleLocked(ruleName, busName(eventBus))
	if err != nil {
		return nil, err
	}
	next := append([]*target(nil), r.targets...)
	for _, ct := range compiled {
		replaced := false
		for i, old := range next {
			if old.Id == ct.Id {
				next[i] = ct
				replaced = true
				break
			}
		}
		if !replaced {
			next = append(next, ct)
		}
	}
	if len(next) > maxTargets {
		return nil, apiErr("LimitExceededException", "The requested resource exceeds the maximum number allowed: a rule can have at most %d targets.", maxTargets)
	}
	r.targets = next
	eb.snap = nil
	return nil, nil
}

// RemoveTargets removes targets by Id; unknown Ids are reported as failed
// entries.
func (b *Bus) RemoveTargets(ruleName, eventBus string, ids []string) ([]FailedEntry, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	eb, r, err := b.ruleLocked(ruleName, busName(eventBus))
	if err != nil {
		return nil, err
	}
	var failed []FailedEntry
	next := append([]*target(nil), r.targets...)
	for _, id := range ids {
		found := false
		for i, t := range next {
			if t.Id == id {
				next = append(next[:i], next[i+1:]...)
				found = true
				break
			}
		}
		if !found {
			failed = append(failed, FailedEntry{TargetId: id, ErrorCode: "ResourceNotFoundException",
				ErrorMessage: fmt.Sprintf("Target %s does not exist on rule %s.", id, ruleName)})
		}
	}
	r.targets = next
	eb.snap = nil
	return failed, nil
}

// ListTargetsByRule returns a rule's targets in the order they were added.
func (b *Bus) ListTargetsByRule(ruleName, eventBus string) ([]Target, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, r, err := b.ruleLocked(ruleName, busName(eventBus))
	if err != nil {
		return nil, err
	}
	out := make([]Target, len(r.targets))
	for i, t := range r.targets {
		out[i] = t.Target
	}
	return out, nil
}

// TestEventPattern reports whether event matches pattern, validating both
// as the TestEventPattern API does.
func TestEventPattern(pattern, event string) (bool, error) {
	p, err := Compile([]byte(pattern))
	if err != nil {
		return false, &APIError{Code: "InvalidEventPatternException", Message: err.Error()}
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal([]byte(event), &env); err != nil {
		return false, validationf("Parameter Event is not valid.")
	}
	for _, f := range []string{"id", "account", "source", "time", "region", "resources", "detail-type"} {
		if _, ok := env[f]; !ok {
			return false, validationf("Parameter Event is not valid. Reason: Missing required field %s.", f)
		}
	}
	return p.Match([]byte(event)), nil
}

// snapshotFor returns the current matcher for a bus (nil if it has no rules).
func (b *Bus) snapshotFor(bus string) *snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	eb := b.buses[bus]
	if eb == nil {
		return nil
	}
	if eb.snap == nil {
		names := make([]string, 0, len(eb.rules))
		for n, r := range eb.rules {
			if r.pattern != nil && r.State != "DISABLED" {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		s := &snapshot{}
		pats := make([]*Pattern, len(names))
		for i, n := range names {
			r := eb.rules[n]
			pats[i] = r.pattern
			s.rules = append(s.rules, ruleView{arn: r.Arn, name: r.Name, targets: r.targets})
		}
		s.matcher = NewMatcher(pats)
		eb.snap = s
	}
	return eb.snap
}

// envelope is the JSON form of an event, in the order AWS writes it.
type envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

// entryError is an entry PutEvents rejects, with AWS's per-entry code.
type entryError struct {
	code, msg string
}

func (e *entryError) Error() string { return e.code + ": " + e.msg }

func (b *Bus) validateEntry(e *Entry) *entryError {
	if e.Source == "" {
		return &entryError{"InvalidArgument", "Parameter Source is not valid. Reason: Source is a required argument."}
	}
	if e.DetailType == "" {
		return &entryError{"InvalidArgument", "Parameter DetailType is not valid. Reason: DetailType is a required argument."}
	}
	if len(bytes.TrimSpace(e.Detail)) == 0 {
		return &entryError{"InvalidArgument", "Parameter Detail is not valid. Reason: Detail is a required argument."}
	}
	d := bytes.TrimSpace(e.Detail)
	if d[0] != '{' || !json.Valid(d) {
		return &entryError{"MalformedDetail", "Detail is malformed."}
	}
	return nil
}

// Put publishes events, returning their ids. Invalid entries are skipped and
// reported in the error (errors.Join of each entry's problem); the others
// are still published.
func (b *Bus) Put(ctx context.Context, entries ...Entry) ([]string, error) {
	ids := make([]string, len(entries))
	var errs []error
	for i := range entries {
		id, eerr := b.putOne(ctx, entries[i])
		if eerr != nil {
			errs = append(errs, fmt.Errorf("put event %d: %w", i, eerr))
			continue
		}
		ids[i] = id
	}
	return ids, errors.Join(errs...)
}

// PutEnvelope publishes an event that is already a full EventBridge
// envelope (version, id, detail-type, source, account, time, region,
// resources, detail), as the AWS emulator produces them.
func (b *Bus) PutEnvelope(ctx context.Context, raw []byte) (string, error) {
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return "", fmt.Errorf("decode event envelope: %w", err)
	}
	e := Entry{Source: env.Source, DetailType: env.DetailType, Detail: env.Detail, Resources: env.Resources,
		ID: env.ID, Account: env.Account, Region: env.Region}
	if env.Time != "" {
		t, err := time.Parse(time.RFC3339, env.Time)
		if err != nil {
			return "", fmt.Errorf("decode event envelope time: %w", err)
		}
		e.Time = t
	}
	id, eerr := b.putOne(ctx, e)
	if eerr != nil {
		return "", fmt.Errorf("put event envelope: %w", eerr)
	}
	return id, nil
}

func (b *Bus) putOne(ctx context.Context, e Entry) (string, *entryError) {
	if err := b.validateEntry(&e); err != nil {
		return "", err
	}
	now := b.clock.Now().UTC()
	env := envelope{Version: "0", ID: e.ID, DetailType: e.DetailType, Source: e.Source,
		Account: e.Account, Region: e.Region, Resources: e.Resources, Detail: bytes.TrimSpace(e.Detail)}
	if env.ID == "" {
		env.ID = newUUID()
	}
	if env.Account == "" {
		env.Account = b.opts.AccountID
	}
	if env.Region == "" {
		env.Region = b.opts.Region
	}
	if env.Resources == nil {
		env.Resources = []string{}
	}
	t := e.Time
	if t.IsZero() {
		t = now
	}
	env.Time = t.UTC().Format("2006-01-02T15:04:05Z")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(env); err != nil {
		return "", &entryError{"MalformedDetail", "Detail is malformed."}
	}
	raw := bytes.TrimRight(buf.Bytes(), "\n")

	b.events.Add(1)
	snap := b.snapshotFor(busName(e.EventBusName))
	var hits []int
	if snap != nil {
		var err error
		hits, err = snap.matcher.Matches(raw, nil)
		if err != nil {
			return "", &entryError{"MalformedDetail", "Detail is malformed."}
		}
	}
	if len(hits) == 0 {
		b.unmatched.Add(1)
		b.log.DebugContext(ctx, "event matched no rule", "id", env.ID, "source", env.Source, "detailType", env.DetailType)
		return env.ID, nil
	}
	b.matched.Add(1)
	for _, i := range hits {
		rv := snap.rules[i]
		for _, t := range rv.targets {
			b.deliveries.Add(1)
			b.startFlight()
			d := &delivery{rule: rv, target: t, eventID: env.ID, event: raw, ingested: now}
			go b.deliver(d)
		}
	}
	return env.ID, nil
}

// delivery is one event on its way to one target.
type delivery struct {
	rule     ruleView
	target   *target
	eventID  string
	event    []byte
	ingested time.Time
}

func (d *delivery) input() []byte {
	t := d.target
	switch {
	case t.Input != "":
		return []byte(t.Input)
	case t.inputPath != nil:
		if raw, ok := evalPath(d.event, t.inputPath); ok {
			return raw
		}
		return []byte("null")
	case t.tf != nil:
		return t.tf.render(deliveryContext{ruleARN: d.rule.arn, ruleName: d.rule.name,
			ingestionTime: d.ingested.Format("2006-01-02T15:04:05Z"), event: d.event})
	default:
		return d.event
	}
}

func (b *Bus) deliver(d *delivery) {
	defer b.endFlight()
	ctx := b.ctx
	t := d.target
	input := d.input()
	retries := b.opts.RetryAttempts
	maxAge := 24 * time.Hour
	if rp := t.RetryPolicy; rp != nil {
		if rp.MaximumRetryAttempts != nil {
			retries = int(*rp.MaximumRetryAttempts)
		}
		if rp.MaximumEventAgeInSeconds != nil {
			maxAge = time.Duration(*rp.MaximumEventAgeInSeconds) * time.Second
		}
	}
	wait := b.opts.RetryInterval
	var err error
	attempt := 0
	for {
		attempt++
		err = b.invoke(ctx, d, input, attempt > 1)
		if err == nil {
			b.delivered.Add(1)
			b.log.Debug("event delivered", "id", d.eventID, "rule", d.rule.name, "target", t.Id, "attempt", attempt)
			return
		}
		if attempt > retries || ctx.Err() != nil {
			break
		}
		if b.clock.Now().Add(wait).Sub(d.ingested) > maxAge {
			err = fmt.Errorf("maximum event age exceeded: %w", err)
			break
		}
		b.log.Debug("event delivery failed, will retry", "id", d.eventID, "target", t.Id, "attempt", attempt, "err", err)
		if serr := b.clock.Sleep(ctx, wait); serr != nil {
			err = fmt.Errorf("retry of %w cancelled: %w", err, serr)
			break
		}
		b.retries.Add(1)
		wait *= 2
		if wait > b.opts.MaxRetryInterval {
			wait = b.opts.MaxRetryInterval
		}
	}
	b.failed.Add(1)
	b.log.Warn("event delivery failed", "id", d.eventID, "rule", d.rule.name, "target", t.Id, "attempts", attempt, "err", err)
	dl := DeadLetter{EventID: d.eventID, RuleARN: d.rule.arn, TargetID: t.Id, TargetARN: t.Arn,
		Input: input, Attempts: attempt, Err: err.Error(), At: b.clock.Now()}
	if t.DeadLetterConfig != nil {
		dl.DLQArn = t.DeadLetterConfig.Arn
	}
	b.mu.Lock()
	b.dead = append(b.dead, dl)
	b.mu.Unlock()
}

func (b *Bus) handler(arn string) LambdaHandler {
	b.mu.Lock()
	defer b.mu.Unlock()
	if h := b.handlers[arn]; h != nil {
		return h
	}
	// arn:aws:lambda:region:account:function:name[:qualifier]
	if parts := strings.Split(arn, ":"); len(parts) == 8 && parts[2] == "lambda" {
		return b.handlers[strings.Join(parts[:7], ":")]
	}
	return nil
}

// isAlreadyExists reports a Step Functions ExecutionAlreadyExists error,
// typed (an ErrorCode method, as smithy errors have) or by its text.
func isAlreadyExists(err error) bool {
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		return coded.ErrorCode() == "ExecutionAlreadyExists"
	}
	return strings.Contains(err.Error(), "ExecutionAlreadyExists")
}

// invoke calls the target once; retry is true for redeliveries.
func (b *Bus) invoke(ctx context.Context, d *delivery, input []byte, retry bool) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("target %s panicked: %v", d.target.Arn, p)
		}
	}()
	arn := d.target.Arn
	if h := b.handler(arn); h != nil {
		if err := h(ctx, json.RawMessage(input)); err != nil {
			return fmt.Errorf("invoke %s: %w", arn, err)
		}
		return nil
	}
	if strings.HasPrefix(arn, "arn:aws:states:") && strings.Contains(arn, ":stateMachine:") {
		b.mu.Lock()
		starter := b.starter
		b.mu.Unlock()
		if starter == nil {
			return fmt.Errorf("start execution of %s: no Step Functions endpoint is configured", arn)
		}
		if _, err := starter.StartExecution(ctx, arn, executionName(d), string(input)); err != nil {
			if retry && isAlreadyExists(err) {
				// An earlier attempt started it; the retry has nothing to do.
				return nil
			}
			return fmt.Errorf("start execution of %s: %w", arn, err)
		}
		return nil
	}
	return fmt.Errorf("no handler is registered for target %s", arn)
}

// executionName is stable for one (event, rule, target) so that a retried
// StartExecution is idempotent under Step Functions' name rules: the event
// id (letters, digits, - and _ only; at most 70 characters), "_", and a hash
// of the rule ARN and target id.
func executionName(d *delivery) string {
	h := fnv.New32a()
	h.Write([]byte(d.rule.arn))
	h.Write([]byte{0})
	h.Write([]byte(d.target.Id))
	id := []byte(d.eventID)
	for i, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			id[i] = '-'
		}
	}
	if len(id) > 70 {
		id = id[:70]
	}
	return fmt.Sprintf("%s_%08x", id, h.Sum32())
}
