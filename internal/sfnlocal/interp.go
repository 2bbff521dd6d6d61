package sfnlocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

const (
	statusRunning   = "RUNNING"
	statusSucceeded = "SUCCEEDED"
	statusFailed    = "FAILED"
	statusTimedOut  = "TIMED_OUT"
	statusAborted   = "ABORTED"
)

const errRuntime = "States.Runtime"

// maxPayloadBytes is AWS's 256 KiB limit on a state's input and output.
const maxPayloadBytes = 256 * 1024

// failure is an ASL error travelling up to a Retry/Catch or the execution.
type failure struct {
	Error string
	Cause string
	// terminal failures (States.Runtime) are never retried or caught.
	terminal bool
	// aborted means the execution was stopped; nothing more runs.
	aborted bool
}

var errStopped = errors.New("execution stopped")

type execution struct {
	svc       *Service
	sm        *stateMachine
	m         *machine
	arn       string
	name      string
	input     string
	inputVal  any
	startTime time.Time

	ctx    context.Context
	cancel context.CancelCauseFunc

	// ctxBase is the immutable part of the context object.
	ctxExecution    *object
	ctxStateMachine *object

	mu          sync.Mutex
	status      string
	output      string
	errName     string
	cause       string
	stopTime    time.Time
	events      []HistoryEvent
	transitions int
	finished    chan struct{}
	timer       interface{ Stop() bool }
}

// chain tracks previousEventId along one thread of control (the execution,
// a Parallel branch or a Map iteration).
type chain struct{ last int64 }

type mapItem struct {
	index int
	value any
}

func newExecution(s *Service, sm *stateMachine, arn, name, input string, inVal any) *execution {
	ctx, cancel := context.WithCancelCause(context.Background())
	now := s.clock.Now().UTC()
	e := &execution{
		svc: s, sm: sm, m: sm.m, arn: arn, name: name, input: input, inputVal: inVal,
		startTime: now, ctx: ctx, cancel: cancel, status: statusRunning, finished: make(chan struct{}),
	}
	e.ctxExecution = objectOf("Id", arn, "Input", inVal, "StartTime", isoTime(now), "Name", name,
		"RoleArn", sm.roleARN, "RedriveCount", json.Number("0"))
	e.ctxStateMachine = objectOf("Id", sm.arn, "Name", sm.name)
	return e
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (e *execution) snapshot() Execution {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Execution{
		ExecutionARN: e.arn, StateMachineARN: e.sm.arn, Name: e.name, Status: e.status,
		Input: e.input, Output: e.output, Error: e.errName, Cause: e.cause,
		StartDate: e.startTime, StopDate: e.stopTime, StateTransitions: e.transitions,
	}
}

// event appends a history event unless the execution has already closed.
func (e *execution) event(c *chain, typ, key string, details map[string]any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.status != statusRunning {
		return
	}
	e.appendLocked(c, typ, key, details)
}

func (e *execution) appendLocked(c *chain, typ, key string, details map[string]any) {
	id := int64(len(e.events) + 1)
	ev := HistoryEvent{ID: id, Timestamp: e.svc.clock.Now().UTC(), Type: typ, DetailsKey: key, Details: details}
	if c != nil {
		ev.PreviousEventID = c.last
		c.last = id
	} else if id > 1 {
		ev.PreviousEventID = id - 1
	}
	e.events = append(e.events, ev)
}

func (e *execution) countTransition() {
	e.mu.Lock()
	e.transitions++
	e.mu.Unlock()
}

// terminate closes the execution with a non-success status (stop, timeout,
// close) and cancels everything still running.
func (e *execution) terminate(status, eventType, key, errName, cause string) {
	e.mu.Lock()
	if e.status != statusRunning {
		e.mu.Unlock()
		return
	}
	details := map[string]any{}
	if errName != "" {
		details["error"] = errName
	}
	if cause != "" {
		details["cause"] = cause
	}
	e.appendLocked(nil, eventType, key, details)
	e.closeLocked(status, "", errName, cause)
	e.mu.Unlock()
	e.cancel(errStopped)
}

func (e *execution) closeLocked(status, output, errName, cause string) {
	e.status, e.output, e.errName, e.cause = status, output, errName, cause
	e.stopTime = e.svc.clock.Now().UTC()
	if e.timer != nil {
		e.timer.Stop()
	}
	close(e.finished)
}

func (e *execution) run() {
	c := &chain{}
	e.event(c, "ExecutionStarted", "executionStartedEventDetails", map[string]any{
		"input": e.input, "inputDetails": map[string]any{"truncated": false}, "roleArn": e.sm.roleARN,
	})
	if e.m.timeoutSeconds > 0 {
		t := e.svc.clock.AfterFunc(time.Duration(e.m.timeoutSeconds)*time.Second, func() {
			e.terminate(statusTimedOut, "ExecutionTimedOut", "executionTimedOutEventDetails", "States.Timeout",
				fmt.Sprintf("The execution timed out after %d seconds", e.m.timeoutSeconds))
		})
		e.mu.Lock()
		e.timer = t
		e.mu.Unlock()
	}
	out, f := e.runMachine(e.ctx, e.m, e.inputVal, c)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.status != statusRunning {
		return
	}
	if f != nil {
		e.appendLocked(c, "ExecutionFailed", "executionFailedEventDetails", map[string]any{"error": f.Error, "cause": f.Cause})
		e.closeLocked(statusFailed, "", f.Error, f.Cause)
		e.svc.log.Info("sfnlocal: execution failed", "arn", e.arn, "error", f.Error)
		return
	}
	outStr := encodeJSON(out)
	e.appendLocked(c, "ExecutionSucceeded", "executionSucceededEventDetails", map[string]any{
		"output": outStr, "outputDetails": map[string]any{"truncated": false},
	})
	e.closeLocked(statusSucceeded, outStr, "", "")
}

func abortedFailure() *failure { return &failure{Error: "States.Aborted", aborted: true} }

// runMachine runs states from StartAt until an End, Succeed or failure.
func (e *execution) runMachine(ctx context.Context, m *machine, input any, c *chain) (any, *failure) {
	name := m.startAt
	for {
		if ctx.Err() != nil {
			return nil, abortedFailure()
		}
		st := m.states[name]
		out, next, f := e.runState(ctx, st, input, c)
		if f != nil {
			return nil, f
		}
		if next == "" {
			return out, nil
		}
		input, name = out, next
	}
}

// stateRun carries what one state visit needs for paths and $$.
type stateRun struct {
	e        *execution
	st       *state
	entered  time.Time
	enterID  int64
	retries  int
	token    string
	item     *mapItem
	ctxCache any
}

func (r *stateRun) contextObject() any {
	if r.ctxCache != nil {
		return r.ctxCache
	}
	obj := objectOf(
		"Execution", r.e.ctxExecution,
		"State", objectOf("EnteredTime", isoTime(r.entered), "Name", r.st.name, "RetryCount", json.Number(strconv.Itoa(r.retries))),
		"StateMachine", r.e.ctxStateMachine,
	)
	if r.token != "" {
		obj.set("Task", objectOf("Token", r.token))
	}
	if r.item != nil {
		obj.set("Map", objectOf("Item", objectOf("Index", json.Number(strconv.Itoa(r.item.index)), "Value", r.item.value)))
	}
	r.ctxCache = obj
	return obj
}

func (r *stateRun) env(input any) *evalEnv {
	return &evalEnv{input: input, ctxObj: r.contextObject}
}

func (r *stateRun) runtime(msg string) *failure {
	return &failure{Error: errRuntime, terminal: true,
		Cause: fmt.Sprintf("An error occurred while executing the state '%s' (entered at the event id #%d). %s", r.st.name, r.enterID, msg)}
}

var enteredEvent = map[string]string{
	"Task": "TaskStateEntered", "Pass": "PassStateEntered", "Choice": "ChoiceStateEntered", "Wait": "WaitStateEntered",
	"Succeed": "SucceedStateEntered", "Fail": "FailStateEntered", "Parallel": "ParallelStateEntered", "Map": "MapStateEntered",
}
var exitedEvent = map[string]string{
	"Task": "TaskStateExited", "Pass": "PassStateExited", "Choice": "ChoiceStateExited", "Wait": "WaitStateExited",
	"Succeed": "SucceedStateExited", "Parallel": "ParallelStateExited", "Map": "MapStateExited",
}

func (e *execution) runState(ctx context.Context, st *state, raw any, c *chain) (any, string, *failure) {
	e.countTransition()
	e.event(c, enteredEvent[st.typ], "stateEnteredEventDetails", map[string]any{
		"name": st.name, "input": encodeJSON(raw), "inputDetails": map[string]any{"truncated": false},
	})
	r := &stateRun{e: e, st: st, entered: e.svc.clock.Now(), enterID: c.last}
	out, next, f := e.dispatch(ctx, r, raw, c)
	if f != nil {
		return nil, "", f
	}
	outStr := encodeJSON(out)
	if len(outStr) > maxPayloadBytes {
		return nil, "", &failure{Error: "States.DataLimitExceeded", terminal: true,
			Cause: fmt.Sprintf("The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit (%d > %d).", st.name, len(outStr), maxPayloadBytes)}
	}
	if ev, ok := exitedEvent[st.typ]; ok {
		e.event(c, ev, "stateExitedEventDetails", map[string]any{
			"name": st.name, "output": outStr, "outputDetails": map[string]any{"truncated": false},
		})
	}
	return out, next, nil
}

func (e *execution) dispatch(ctx context.Context, r *stateRun, raw any, c *chain) (any, string, *failure) {
	st := r.st
	if st.typ == "Fail" {
		return nil, "", e.failState(r, raw)
	}
	eff, f := r.inputPath(raw)
	if f != nil {
		return nil, "", f
	}
	switch st.typ {
	case "Pass":
		result := eff
		if st.parameters != nil {
			v, err := st.parameters.eval(r.env(eff), "Parameters")
			if err != nil {
				return nil, "", r.runtime(err.Error())
			}
			result = v
		}
		if st.hasResult {
			result = st.result
		}
		out, f := r.resultAndOutput(raw, result, st.resultPath, st.resultNull)
		return out, st.next, f
	case "Succeed":
		out, f := r.outputPath(eff)
		return out, "", f
	case "Choice":
		env := r.env(eff)
		next := ""
		for _, rule := range st.choices {
			ok, err := rule.eval(env)
			if err != nil {
				return nil, "", r.runtime(err.Error())
			}
			if ok {
				next = rule.next
				break
			}
		}
		if next == "" {
			next = st.defaultNext
		}
		if next == "" {
			return nil, "", &failure{Error: "States.NoChoiceMatched",
				Cause: fmt.Sprintf("No Matches! No choice rule of the state '%s' matched the input", st.name)}
		}
		out, f := r.outputPath(eff)
		return out, next, f
	case "Wait":
		d, f := r.waitDuration(eff)
		if f != nil {
			return nil, "", f
		}
		if d > 0 {
			if err := e.svc.clock.Sleep(ctx, d); err != nil {
				return nil, "", abortedFailure()
			}
		}
		out, f := r.outputPath(eff)
		return out, st.next, f
	case "Task", "Parallel", "Map":
		return e.runWithRetry(ctx, r, raw, eff, c)
	}
	return nil, "", r.runtime("unknown state type " + st.typ)
}

func (r *stateRun) inputPath(raw any) (any, *failure) {
	if r.st.inputNull {
		return newObject(0), nil
	}
	if r.st.inputPath == nil {
		return raw, nil
	}
	v, ok := r.st.inputPath.get(raw)
	if !ok {
		return nil, r.runtime(fmt.Sprintf("Invalid path '%s' : No results for path: %s", r.st.inputPath.raw, r.st.inputPath.bracketed()))
	}
	return v, nil
}

func (r *stateRun) outputPath(v any) (any, *failure) {
	if r.st.outputNull {
		return newObject(0), nil
	}
	if r.st.outputPath == nil {
		return v, nil
	}
	out, ok := r.st.outputPath.get(v)
	if !ok {
		return nil, r.runtime(fmt.Sprintf("Invalid path '%s' : No results for path: %s", r.st.outputPath.raw, r.st.outputPath.bracketed()))
	}
	return out, nil
}

// resultAndOutput applies ResultPath to the raw input, then OutputPath.
func (r *stateRun) resultAndOutput(raw, result any, rp *jsonPath, rpNull bool) (any, *failure) {
	var combined any
	switch {
	case rpNull:
		combined = raw
	case rp == nil:
		combined = result
	default:
		v, err := rp.set(raw, result)
		if err != nil {
			return nil, r.runtime(fmt.Sprintf("Unable to apply ResultPath '%s' to the input: %v", rp.raw, err))
		}
		combined = v
	}
	return r.outputPath(combined)
}

func (r *stateRun) waitDuration(eff any) (time.Duration, *failure) {
	st := r.st
	now := r.e.svc.clock.Now()
	switch {
	case st.waitSeconds != nil:
		return time.Duration(*st.waitSeconds) * time.Second, nil
	case st.waitTimestamp != nil:
		return st.waitTimestamp.Sub(now), nil
	case st.waitSecondsPath != nil:
		v, ok := st.waitSecondsPath.get(eff)
		n, isInt := intArg(v)
		if !ok || !isInt || n < 0 {
			return 0, r.runtime(fmt.Sprintf("The SecondsPath parameter does not reference a valid non-negative integer: '%s'", st.waitSecondsPath.raw))
		}
		return time.Duration(n) * time.Second, nil
	case st.waitTimestampPath != nil:
		v, ok := st.waitTimestampPath.get(eff)
		s, isStr := v.(string)
		t, err := parseTimestamp(s)
		if !ok || !isStr || err != nil {
			return 0, r.runtime(fmt.Sprintf("The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: '%s'", st.waitTimestampPath.raw))
		}
		return t.Sub(now), nil
	}
	return 0, nil
}

func (e *execution) failState(r *stateRun, raw any) *failure {
	st := r.st
	f := &failure{Error: st.errName, Cause: st.cause}
	eval := func(t *template, field string) (string, *failure) {
		v, err := t.eval(r.env(raw), field)
		if err != nil {
			return "", r.runtime(err.Error())
		}
		s, ok := v.(string)
		if !ok {
			return "", r.runtime(fmt.Sprintf("The value of '%s' must resolve to a string, got %s", field, jsonTypeName(v)))
		}
		return s, nil
	}
	if st.errorExpr != nil {
		s, rf := eval(st.errorExpr, "ErrorPath")
		if rf != nil {
			return rf
		}
		f.Error = s
	}
	if st.causeExpr != nil {
		s, rf := eval(st.causeExpr, "CausePath")
		if rf != nil {
			return rf
		}
		f.Cause = s
	}
	return f
}

// errorMatches reports whether a Retrier/Catcher's ErrorEquals covers name.
func errorMatches(list []string, name string) bool {
	for _, x := range list {
		switch {
		case x == name:
			return true
		case x == "States.ALL":
			return true
		case x == "States.Timeout" && name == "States.HeartbeatTimeout":
			// the spec's States.Timeout covers a missed heartbeat too
			return true
		case x == "States.TaskFailed" && name != "States.Timeout" && name != "States.HeartbeatTimeout":
			// As documented: in Retry/Catch States.TaskFailed matches any
			// error except a timeout.
			return true
		}
	}
	return false
}

// runWithRetry runs a Task, Parallel or Map attempt under its Retry and
// Catch policies and then applies ResultSelector, ResultPath and OutputPath.
func (e *execution) runWithRetry(ctx context.Context, r *stateRun, raw, eff any, c *chain) (any, string, *failure) {
	st := r.st
	attempts := make([]int, len(st.retry))
	for {
		var result any
		var f *failure
		switch st.typ {
		case "Task":
			result, f = e.taskAttempt(ctx, r, eff, c)
		case "Parallel":
			result, f = e.parallelAttempt(ctx, r, eff, c)
		case "Map":
			result, f = e.mapAttempt(ctx, r, eff, c)
		}
		if f == nil {
			if st.resultSelector != nil {
				v, err := st.resultSelector.eval(r.env(result), "ResultSelector")
				if err != nil {
					return nil, "", r.runtime(err.Error())
				}
				result = v
			}
			out, f := r.resultAndOutput(raw, result, st.resultPath, st.resultNull)
			return out, st.next, f
		}
		if f.terminal || f.aborted {
			return nil, "", f
		}
		retried := false
		for i, rt := range st.retry {
			if !errorMatches(rt.errorEquals, f.Error) {
				continue
			}
			if attempts[i] >= rt.maxAttempts {
				break
			}
			delay := rt.intervalSeconds * math.Pow(rt.backoffRate, float64(attempts[i]))
			if rt.maxDelaySeconds > 0 && delay > rt.maxDelaySeconds {
				delay = rt.maxDelaySeconds
			}
			if rt.jitterFull {
				delay = rand.Float64() * delay
			}
			attempts[i]++
			if err := e.svc.clock.Sleep(ctx, time.Duration(delay*float64(time.Second))); err != nil {
				return nil, "", abortedFailure()
			}
			r.retries++
			r.ctxCache = nil
			e.countTransition()
			retried = true
			break
		}
		if retried {
			continue
		}
		for _, ct := range st.catch {
			if !errorMatches(ct.errorEquals, f.Error) {
				continue
			}
			errOut := objectOf("Error", f.Error, "Cause", f.Cause)
			var combined any
			switch {
			case ct.resultNull:
				combined = raw
			case ct.resultPath == nil:
				combined = errOut
			default:
				v, err := ct.resultPath.set(raw, errOut)
				if err != nil {
					return nil, "", r.runtime(fmt.Sprintf("Unable to apply Catch ResultPath '%s' to the input: %v", ct.resultPath.raw, err))
				}
				combined = v
			}
			return combined, ct.next, nil
		}
		return nil, "", f
	}
}

func (e *execution) parallelAttempt(ctx context.Context, r *stateRun, eff any, c *chain) (any, *failure) {
	st := r.st
	input := eff
	if st.parameters != nil {
		v, err := st.parameters.eval(r.env(eff), "Parameters")
		if err != nil {
			return nil, r.runtime(err.Error())
		}
		input = v
	}
	e.event(c, "ParallelStateStarted", "", nil)
	results := make([]any, len(st.branches))
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var first *failure
	var wg sync.WaitGroup
	for i, b := range st.branches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bc := &chain{last: c.last}
			out, f := e.runMachine(bctx, b, input, bc)
			if f != nil {
				mu.Lock()
				if first == nil && !f.aborted {
					first = f
					cancel()
				}
				mu.Unlock()
				return
			}
			results[i] = out
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, abortedFailure()
	}
	if first != nil {
		e.event(c, "ParallelStateFailed", "", nil)
		return nil, first
	}
	e.event(c, "ParallelStateSucceeded", "", nil)
	return results, nil
}

func (e *execution) mapAttempt(ctx context.Context, r *stateRun, eff any, c *chain) (any, *failure) {
	st := r.st
	itemsVal := eff
	if st.itemsPath != nil {
		v, ok := st.itemsPath.get(eff)
		if !ok {
			return nil, r.runtime(fmt.Sprintf("Invalid path '%s': the ItemsPath could not be found in the input", st.itemsPath.raw))
		}
		itemsVal = v
	}
	items, ok := itemsVal.([]any)
	if !ok {
		return nil, r.runtime(fmt.Sprintf("Items of the Map state must be a JSON array, got %s", jsonTypeName(itemsVal)))
	}
	e.event(c, "MapStateStarted", "mapStateStartedEventDetails", map[string]any{"length": len(items)})
	results := make([]any, len(items))
	inputs := make([]any, len(items))
	for i, it := range items {
		inputs[i] = it
		if st.itemSelector != nil {
			ir := &stateRun{e: e, st: st, entered: r.entered, enterID: r.enterID, retries: r.retries, item: &mapItem{index: i, value: it}}
			v, err := st.itemSelector.eval(ir.env(eff), "ItemSelector")
			if err != nil {
				return nil, r.runtime(err.Error())
			}
			inputs[i] = v
		}
	}
	limit := st.maxConcurrency
	if limit <= 0 || limit > len(items) {
		limit = len(items)
	}
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, max(limit, 1))
	var mu sync.Mutex
	var first *failure
	var wg sync.WaitGroup
loop:
	for i := range items {
		select {
		case sem <- struct{}{}:
		case <-mctx.Done():
			break loop
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ic := &chain{last: c.last}
			iter := map[string]any{"name": st.name, "index": i}
			e.event(ic, "MapIterationStarted", "mapIterationStartedEventDetails", iter)
			out, f := e.runMachine(mctx, st.processor, inputs[i], ic)
			if f != nil {
				if f.aborted {
					e.event(ic, "MapIterationAborted", "mapIterationAbortedEventDetails", iter)
					return
				}
				e.event(ic, "MapIterationFailed", "mapIterationFailedEventDetails", iter)
				mu.Lock()
				if first == nil {
					first = f
					cancel()
				}
				mu.Unlock()
				return
			}
			e.event(ic, "MapIterationSucceeded", "mapIterationSucceededEventDetails", iter)
			results[i] = out
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, abortedFailure()
	}
	if first != nil {
		e.event(c, "MapStateFailed", "", nil)
		return nil, first
	}
	e.event(c, "MapStateSucceeded", "", nil)
	return results, nil
}
