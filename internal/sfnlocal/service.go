package sfnlocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ecsflow/ecsflow/internal/simclock"
	"github.com/google/uuid"
)

// Options configures a Service.
type Options struct {
	Clock     simclock.Clock // nil → simclock.Real(); all Waits, retries' intervals and timeouts use it
	Region    string         // default us-east-1
	AccountID string         // default 123456789012
	Logger    *slog.Logger
}

// LambdaHandler is an in-process Lambda function. A returned error is
// reported with the errorType aws-lambda-go would give it (the reflect type
// name with the pointer stripped), so the same handler yields the same ASL
// error name in-process and on AWS. A panic is recovered and reported the
// same way.
type LambdaHandler func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error)

// ResourceHandler serves any other Task resource ARN (for example
// "arn:aws:states:::events:putEvents"). token is "" unless the resource ends
// in .waitForTaskToken. Returning a *TaskError fails the task with that
// error name; any other error fails it with States.TaskFailed.
type ResourceHandler func(ctx context.Context, resource string, params json.RawMessage, taskToken string) (json.RawMessage, error)

// TaskError lets a ResourceHandler choose the ASL error name.
type TaskError struct {
	Name  string
	Cause string
}

func (e *TaskError) Error() string { return e.Name + ": " + e.Cause }

// APIError is a Step Functions API error; Code is what the SDK sees as the
// error type (InvalidDefinition, ExecutionDoesNotExist, ...).
type APIError struct {
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// ErrorCode is the error's code, as the SDK's API errors report theirs.
func (e *APIError) ErrorCode() string { return e.Code }

func apiErr(code, format string, a ...any) *APIError {
	return &APIError{Code: code, Message: fmt.Sprintf(format, a...)}
}

// Execution is a snapshot of one execution.
type Execution struct {
	ExecutionARN    string
	StateMachineARN string
	Name            string
	Status          string // RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED
	Input           string
	Output          string // set when SUCCEEDED
	Error           string
	Cause           string
	StartDate       time.Time
	StopDate        time.Time // zero while RUNNING
	// StateTransitions counts states entered plus retry attempts, the unit
	// AWS bills Standard workflows by.
	StateTransitions int
}

// HistoryEvent is one execution history event. Details is keyed like the
// API (DetailsKey is e.g. "stateEnteredEventDetails").
type HistoryEvent struct {
	ID              int64
	PreviousEventID int64
	Timestamp       time.Time
	Type            string
	DetailsKey      string
	Details         map[string]any
}

// Service is the embedded Step Functions.
type Service struct {
	clock    simclock.Clock
	ownClock *simclock.Scaled
	region   string
	account  string
	log      *slog.Logger

	mu         sync.Mutex
	machines   map[string]*stateMachine
	executions map[string]*execution
	byMachine  map[string][]*execution
	lambdas    map[string]LambdaHandler
	resources  map[string]ResourceHandler
	tokens     map[string]*tokenWait
	doneTokens map[string]bool
	closed     bool
	wg         sync.WaitGroup
}

type stateMachine struct {
	arn        string
	name       string
	definition string
	roleARN    string
	typ        string
	created    time.Time
	revision   string
	m          *machine
}

// New returns a Service. Close it to stop running executions.
func New(opts Options) *Service {
	s := &Service{
		clock:      opts.Clock,
		region:     opts.Region,
		account:    opts.AccountID,
		log:        opts.Logger,
		machines:   map[string]*stateMachine{},
		executions: map[string]*execution{},
		byMachine:  map[string][]*execution{},
		lambdas:    map[string]LambdaHandler{},
		resources:  map[string]ResourceHandler{},
		tokens:     map[string]*tokenWait{},
		doneTokens: map[string]bool{},
	}
	if s.clock == nil {
		s.ownClock = simclock.Real()
		s.clock = s.ownClock
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.account == "" {
		s.account = "123456789012"
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// RegisterLambda registers an in-process Lambda function. Tasks naming it by
// bare name, partial or full ARN (any region/account, any qualifier) resolve
// to h.
func (s *Service) RegisterLambda(functionNameOrARN string, h LambdaHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lambdas[bareFunctionName(functionNameOrARN)] = h
}

// RegisterResource registers a handler for a Task resource ARN. A handler
// registered for the base ARN also serves its .waitForTaskToken, .sync and
// .sync:2 variants unless those are registered separately.
func (s *Service) RegisterResource(resourceARN string, h ResourceHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resources[resourceARN] = h
}

// bareFunctionName strips ARN parts and any version/alias qualifier.
func bareFunctionName(s string) string {
	if strings.HasPrefix(s, "arn:") {
		s = lambdaNameFromARN(s)
	} else if parts := strings.Split(s, ":"); len(parts) >= 3 && parts[1] == "function" {
		// partial ARN: account:function:name[:qualifier]
		s = strings.Join(parts[2:], ":")
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return s
}

func (s *Service) stateMachineARN(name string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", s.region, s.account, name)
}

func (s *Service) executionARN(smName, name string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", s.region, s.account, smName, name)
}

// validName applies AWS's naming rules for state machines and executions.
func validName(name string) error {
	if name == "" || len([]rune(name)) > 80 {
		return errors.New("name must be 1 to 80 characters")
	}
	for _, r := range name {
		if r <= 0x20 || r >= 0x7f && r <= 0x9f || strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r) {
			return fmt.Errorf("name contains the invalid character %q", r)
		}
	}
	return nil
}

// CreateStateMachine validates and stores a STANDARD state machine.
func (s *Service) CreateStateMachine(ctx context.Context, name, definition string) (string, error) {
	sm, err := s.createStateMachine(ctx, name, definition, "")
	if err != nil {
		return "", err
	}
	return sm.arn, nil
}

func (s *Service) createStateMachine(_ context.Context, name, definition, roleARN string) (*stateMachine, error) {
	if err := validName(name); err != nil {
		return nil, apiErr("InvalidName", "Invalid Name: '%s': %v", name, err)
	}
	m, err := loadDefinition(definition)
	if err != nil {
		return nil, apiErr("InvalidDefinition", "%v", err)
	}
	if roleARN == "" {
		roleARN = fmt.Sprintf("arn:aws:iam::%s:role/sfnlocal", s.account)
	}
	arn := s.stateMachineARN(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.machines[arn]; ok {
		if old.definition == definition && old.roleARN == roleARN {
			return old, nil
		}
		return nil, apiErr("StateMachineAlreadyExists", "State Machine Already Exists: '%s'", arn)
	}
	sm := &stateMachine{arn: arn, name: name, definition: definition, roleARN: roleARN, typ: "STANDARD",
		created: s.clock.Now(), revision: uuid.NewString(), m: m}
	s.machines[arn] = sm
	s.log.Info("sfnlocal: state machine created", "arn", arn)
	return sm, nil
}

// UpdateStateMachine replaces a state machine's definition; running
// executions keep the definition they started with.
func (s *Service) UpdateStateMachine(_ context.Context, arn, definition, roleARN string) error {
	var m *machine
	if definition != "" {
		var err error
		if m, err = loadDefinition(definition); err != nil {
			return apiErr("InvalidDefinition", "%v", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sm, ok := s.machines[arn]
	if !ok {
		return apiErr("StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn)
	}
	cp := *sm
	if m != nil {
		cp.definition, cp.m = definition, m
	}
	if roleARN != "" {
		cp.roleARN = roleARN
	}
	cp.revision = uuid.NewString()
	s.machines[arn] = &cp
	return nil
}

func (s *Service) lookupMachine(arn string) (*stateMachine, error) {
	if !strings.HasPrefix(arn, "arn:aws:states:") || !strings.Contains(arn, ":stateMachine:") {
		return nil, apiErr("InvalidArn", "Invalid Arn: '%s'", arn)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sm, ok := s.machines[arn]
	if !ok {
		return nil, apiErr("StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn)
	}
	return sm, nil
}

func (s *Service) lookupExecution(arn string) (*execution, error) {
	if !strings.HasPrefix(arn, "arn:aws:states:") || !strings.Contains(arn, ":execution:") {
		return nil, apiErr("InvalidArn", "Invalid Arn: '%s'", arn)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.executions[arn]
	if !ok {
		return nil, apiErr("ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn)
	}
	return e, nil
}

// StartExecution starts an execution. An empty name gets a UUID; an empty
// input is "{}". Starting a RUNNING execution again with the same name and
// input returns it; a different input, or a name whose execution has
// closed, is ExecutionAlreadyExists.
func (s *Service) StartExecution(ctx context.Context, stateMachineARN, name, input string) (string, error) {
	e, err := s.startExecution(ctx, stateMachineARN, name, input)
	if err != nil {
		return "", err
	}
	return e.arn, nil
}

func (s *Service) startExecution(_ context.Context, smARN, name, input string) (*execution, error) {
	sm, err := s.lookupMachine(smARN)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = uuid.NewString()
	}
	if err := validName(name); err != nil {
		return nil, apiErr("InvalidName", "Invalid Name: '%s': %v", name, err)
	}
	if strings.TrimSpace(input) == "" {
		input = "{}"
	}
	inVal, err := decodeJSONString(input)
	if err != nil {
		return nil, apiErr("InvalidExecutionInput", "Invalid State Machine Execution Input: '%v'", err)
	}
	arn := s.executionARN(sm.name, name)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, apiErr("ServiceUnavailable", "the service is closed")
	}
	if old, ok := s.executions[arn]; ok {
		s.mu.Unlock()
		old.mu.Lock()
		running := old.status == statusRunning
		old.mu.Unlock()
		if running && jsonEqual(old.inputVal, inVal) {
			return old, nil
		}
		return nil, apiErr("ExecutionAlreadyExists", "Execution Already Exists: '%s'", arn)
	}
	e := newExecution(s, sm, arn, name, input, inVal)
	s.executions[arn] = e
	s.byMachine[sm.arn] = append(s.byMachine[sm.arn], e)
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		e.run()
	}()
	return e, nil
}

// DescribeExecution returns a snapshot of an execution.
func (s *Service) DescribeExecution(_ context.Context, executionARN string) (Execution, error) {
	e, err := s.lookupExecution(executionARN)
	if err != nil {
		return Execution{}, err
	}
	return e.snapshot(), nil
}

// WaitExecution blocks until the execution is no longer RUNNING.
func (s *Service) WaitExecution(ctx context.Context, executionARN string) (Execution, error) {
	e, err := s.lookupExecution(executionARN)
	if err != nil {
		return Execution{}, err
	}
	select {
	case <-e.finished:
		return e.snapshot(), nil
	case <-ctx.Done():
		return e.snapshot(), fmt.Errorf("wait for execution %s: %w", executionARN, ctx.Err())
	}
}

// StopExecution aborts a RUNNING execution.
func (s *Service) StopExecution(_ context.Context, executionARN, errName, cause string) (time.Time, error) {
	e, err := s.lookupExecution(executionARN)
	if err != nil {
		return time.Time{}, err
	}
	e.terminate(statusAborted, "ExecutionAborted", "executionAbortedEventDetails", errName, cause)
	return e.snapshot().StopDate, nil
}

// GetExecutionHistory returns every event of an execution, oldest first.
func (s *Service) GetExecutionHistory(_ context.Context, executionARN string) ([]HistoryEvent, error) {
	e, err := s.lookupExecution(executionARN)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]HistoryEvent(nil), e.events...), nil
}

// ListExecutions returns a state machine's executions, newest first,
// optionally only those with the given status.
func (s *Service) ListExecutions(_ context.Context, stateMachineARN, statusFilter string) ([]Execution, error) {
	if _, err := s.lookupMachine(stateMachineARN); err != nil {
		return nil, err
	}
	s.mu.Lock()
	list := append([]*execution(nil), s.byMachine[stateMachineARN]...)
	s.mu.Unlock()
	var out []Execution
	for i := len(list) - 1; i >= 0; i-- {
		snap := list[i].snapshot()
		if statusFilter == "" || snap.Status == statusFilter {
			out = append(out, snap)
		}
	}
	return out, nil
}

func (s *Service) listMachines() []*stateMachine {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*stateMachine, 0, len(s.machines))
	for _, sm := range s.machines {
		out = append(out, sm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Close aborts every running execution and waits for their goroutines.
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	var running []*execution
	for _, e := range s.executions {
		running = append(running, e)
	}
	s.mu.Unlock()
	for _, e := range running {
		e.terminate(statusAborted, "ExecutionAborted", "executionAbortedEventDetails", "", "the service was closed")
	}
	s.wg.Wait()
	if s.ownClock != nil {
		s.ownClock.Close()
	}
}
