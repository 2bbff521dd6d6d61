package sfnlocal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/ecsflow/ecsflow/internal/simclock"
)

const (
	resLambdaInvoke   = "arn:aws:states:::lambda:invoke"
	resStartExecution = "arn:aws:states:::states:startExecution"
	suffixToken       = ".waitForTaskToken"
	suffixSync        = ".sync"
	suffixSync2       = ".sync:2"
)

// TaskInfo describes the Task a handler is serving; handlers read it with
// TaskInfoFromContext.
type TaskInfo struct {
	ExecutionARN    string
	ExecutionName   string
	StateMachineARN string
	StateName       string
	RetryCount      int
	TaskToken       string // set for .waitForTaskToken resources
	// ContextObject is the state's "$$" as JSON.
	ContextObject json.RawMessage
}

type taskInfoKey struct{}

// ErrPermissions, returned by (or wrapped in an error from) a
// ResourceHandler, fails the task with States.Permissions, the error AWS
// gives when the execution role may not call the resource.
var ErrPermissions = errors.New("the execution role is not authorized to perform this action")

// TaskInfoFromContext returns the TaskInfo of the Task whose handler got ctx.
func TaskInfoFromContext(ctx context.Context) (TaskInfo, bool) {
	ti, ok := ctx.Value(taskInfoKey{}).(TaskInfo)
	return ti, ok
}

// ExecutionARNFromContext is the execution ARN of the Task whose handler got
// ctx, or "".
func ExecutionARNFromContext(ctx context.Context) string {
	ti, _ := TaskInfoFromContext(ctx)
	return ti.ExecutionARN
}

type tokenWait struct {
	execARN string
	result  chan tokenResult

	// heartbeat: beat re-arms the timer synchronously, so a
	// SendTaskHeartbeat that returned has already moved the deadline.
	clock   simclock.Clock
	mu      sync.Mutex
	hbDur   time.Duration
	hbTimer simclock.Timer
	hbAt    time.Time // current heartbeat deadline
	hbFired chan struct{}
	hbOnce  sync.Once
	stopped bool
}

func (tw *tokenWait) beat() {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.hbDur <= 0 || tw.stopped {
		return
	}
	if tw.hbTimer != nil {
		tw.hbTimer.Stop()
	}
	tw.hbAt = tw.clock.Now().Add(tw.hbDur)
	tw.hbTimer = tw.clock.AfterFunc(tw.hbDur, func() { tw.hbOnce.Do(func() { close(tw.hbFired) }) })
}

func (tw *tokenWait) stop() {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.stopped = true
	if tw.hbTimer != nil {
		tw.hbTimer.Stop()
	}
}

type tokenResult struct {
	output any
	f      *failure
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "AQ" + base64.RawURLEncoding.EncodeToString(b)
}

func wellFormedToken(t string) bool {
	if !strings.HasPrefix(t, "AQ") {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(t[2:])
	return err == nil && len(b) == 32
}

// taskEvents names the history events of one kind of Task.
type taskEvents struct {
	lambda       bool
	resourceType string
	resource     string
}

func classifyResource(res string) taskEvents {
	if strings.HasPrefix(res, "arn:aws:lambda:") {
		return taskEvents{lambda: true}
	}
	if rest, ok := strings.CutPrefix(res, "arn:aws:states:::"); ok {
		typ, r, _ := strings.Cut(rest, ":")
		return taskEvents{resourceType: typ, resource: r}
	}
	parts := strings.SplitN(res, ":", 6)
	if len(parts) == 6 {
		return taskEvents{resourceType: parts[2], resource: parts[5]}
	}
	return taskEvents{resourceType: "unknown", resource: res}
}

func (te taskEvents) details(extra map[string]any) map[string]any {
	d := map[string]any{"resourceType": te.resourceType, "resource": te.resource}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

// taskAttempt runs one attempt of a Task state (Retry is handled above).
func (e *execution) taskAttempt(ctx context.Context, r *stateRun, eff any, c *chain) (any, *failure) {
	st := r.st
	res := st.resource
	isToken := strings.HasSuffix(res, suffixToken)
	r.token = ""
	r.ctxCache = nil
	if isToken {
		r.token = newToken()
	}
	params := eff
	if st.parameters != nil {
		v, err := st.parameters.eval(r.env(eff), "Parameters")
		if err != nil {
			return nil, r.runtime(err.Error())
		}
		params = v
	}
	timeout, f := r.seconds(eff, st.timeoutSeconds, st.timeoutPath, "TimeoutSecondsPath")
	if f != nil {
		return nil, f
	}
	heartbeat, f := r.seconds(eff, st.heartbeatSeconds, st.heartbeatPath, "HeartbeatSecondsPath")
	if f != nil {
		return nil, f
	}
	te := classifyResource(res)
	paramStr := encodeJSON(params)
	if te.lambda {
		d := map[string]any{"resource": res, "input": paramStr, "inputDetails": map[string]any{"truncated": false}}
		if timeout > 0 {
			d["timeoutInSeconds"] = timeout
		}
		e.event(c, "LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails", d)
		e.event(c, "LambdaFunctionStarted", "", nil)
	} else {
		extra := map[string]any{"region": e.svc.region, "parameters": paramStr}
		if timeout > 0 {
			extra["timeoutInSeconds"] = timeout
		}
		if heartbeat > 0 {
			extra["heartbeatInSeconds"] = heartbeat
		}
		e.event(c, "TaskScheduled", "taskScheduledEventDetails", te.details(extra))
		e.event(c, "TaskStarted", "taskStartedEventDetails", te.details(nil))
	}

	var tw *tokenWait
	if isToken {
		tw = &tokenWait{execARN: e.arn, result: make(chan tokenResult, 1), clock: e.svc.clock, hbFired: make(chan struct{})}
		if heartbeat > 0 {
			tw.hbDur = time.Duration(heartbeat) * time.Second
			tw.beat()
		}
		defer tw.stop()
		e.svc.mu.Lock()
		e.svc.tokens[r.token] = tw
		e.svc.mu.Unlock()
		defer func() {
			e.svc.mu.Lock()
			delete(e.svc.tokens, r.token)
			e.svc.doneTokens[r.token] = true
			e.svc.mu.Unlock()
		}()
	}
	info := TaskInfo{
		ExecutionARN: e.arn, ExecutionName: e.name, StateMachineARN: e.sm.arn, StateName: st.name,
		RetryCount: r.retries, TaskToken: r.token, ContextObject: json.RawMessage(encodeJSON(r.contextObject())),
	}
	submitted := func(out any) {
		e.event(c, "TaskSubmitted", "taskSubmittedEventDetails", te.details(map[string]any{
			"output": encodeJSON(out), "outputDetails": map[string]any{"truncated": false}}))
	}
	body := func(tctx context.Context) (any, *failure) {
		tctx = context.WithValue(tctx, taskInfoKey{}, info)
		return e.runResource(tctx, res, params, r.token, tw, submitted)
	}
	hbTW := tw
	if heartbeat <= 0 {
		hbTW = nil
	}
	out, f := e.supervise(ctx, timeout, heartbeat, hbTW, body)
	switch {
	case f != nil && f.aborted:
		return nil, f
	case f != nil && te.lambda && (f.Error == "States.Timeout"):
		e.event(c, "LambdaFunctionTimedOut", "lambdaFunctionTimedOutEventDetails", map[string]any{"error": f.Error, "cause": f.Cause})
	case f != nil && te.lambda:
		e.event(c, "LambdaFunctionFailed", "lambdaFunctionFailedEventDetails", map[string]any{"error": f.Error, "cause": f.Cause})
	case f != nil && (f.Error == "States.Timeout" || f.Error == "States.HeartbeatTimeout"):
		e.event(c, "TaskTimedOut", "taskTimedOutEventDetails", te.details(map[string]any{"error": f.Error, "cause": f.Cause}))
	case f != nil:
		e.event(c, "TaskFailed", "taskFailedEventDetails", te.details(map[string]any{"error": f.Error, "cause": f.Cause}))
	case te.lambda:
		e.event(c, "LambdaFunctionSucceeded", "lambdaFunctionSucceededEventDetails", map[string]any{
			"output": encodeJSON(out), "outputDetails": map[string]any{"truncated": false}})
	default:
		e.event(c, "TaskSucceeded", "taskSucceededEventDetails", te.details(map[string]any{
			"output": encodeJSON(out), "outputDetails": map[string]any{"truncated": false}}))
	}
	return out, f
}

// seconds resolves TimeoutSeconds(Path)/HeartbeatSeconds(Path); 0 = none.
func (r *stateRun) seconds(eff any, fixed int, p *jsonPath, field string) (int, *failure) {
	if p == nil {
		return fixed, nil
	}
	v, ok := p.get(eff)
	n, isInt := intArg(v)
	if !ok || !isInt || n <= 0 {
		return 0, r.runtime(fmt.Sprintf("The %s field does not reference a positive integer: '%s'", field, p.raw))
	}
	return n, nil
}

// supervise runs body under the task's timeout and, when tw is set, its
// heartbeat. When several outcomes are ready at once (a starved scaled
// clock can fire timers late), a finished body wins, then the earlier
// deadline.
func (e *execution) supervise(ctx context.Context, timeout, heartbeat int, tw *tokenWait, body func(context.Context) (any, *failure)) (any, *failure) {
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type outcome struct {
		out any
		f   *failure
	}
	done := make(chan outcome, 1)
	go func() {
		out, f := body(tctx)
		done <- outcome{out, f}
	}()
	var timeoutC chan struct{}
	var timeoutAt time.Time
	if timeout > 0 {
		timeoutC = make(chan struct{})
		timeoutAt = e.svc.clock.Now().Add(time.Duration(timeout) * time.Second)
		t := e.svc.clock.AfterFunc(time.Duration(timeout)*time.Second, func() { close(timeoutC) })
		defer t.Stop()
	}
	var hbC <-chan struct{}
	if tw != nil {
		hbC = tw.hbFired
	}
	select {
	case o := <-done:
		return o.out, o.f
	case <-ctx.Done():
		return nil, abortedFailure()
	case <-timeoutC:
	case <-hbC:
	}
	select {
	case o := <-done:
		return o.out, o.f
	default:
	}
	timedOut := isClosed(timeoutC)
	if timedOut && isClosed(hbC) {
		tw.mu.Lock()
		hbFirst := tw.hbAt.Before(timeoutAt)
		tw.mu.Unlock()
		timedOut = !hbFirst
	}
	if timedOut {
		return nil, &failure{Error: "States.Timeout", Cause: fmt.Sprintf("The task did not finish within %d seconds", timeout)}
	}
	return nil, &failure{Error: "States.HeartbeatTimeout", Cause: fmt.Sprintf("No heartbeat was received within %d seconds", heartbeat)}
}

func isClosed(c <-chan struct{}) bool {
	if c == nil {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// runResource dispatches on the resource ARN.
func (e *execution) runResource(ctx context.Context, res string, params any, token string, tw *tokenWait, submitted func(any)) (any, *failure) {
	base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(res, suffixToken), suffixSync2), suffixSync)
	switch {
	case strings.HasPrefix(res, "arn:aws:lambda:"):
		return e.svc.callLambda(ctx, res, params)
	case base == resLambdaInvoke:
		p, ok := params.(*object)
		var fn string
		if ok {
			v, _ := p.get("FunctionName")
			fn, _ = v.(string)
		}
		if fn == "" {
			return nil, &failure{Error: "States.Runtime", terminal: true, Cause: "The field 'FunctionName' is required for " + res}
		}
		payload, has := p.get("Payload")
		if !has {
			payload = newObject(0)
		}
		out, f := e.svc.callLambda(ctx, fn, payload)
		if f != nil {
			return nil, f
		}
		version := functionQualifier(fn)
		env := objectOf(
			"ExecutedVersion", version,
			"Payload", out,
			"SdkHttpMetadata", objectOf("HttpStatusCode", json.Number("200")),
			"SdkResponseMetadata", objectOf("RequestId", newRequestID()),
			"StatusCode", json.Number("200"),
		)
		if tw == nil {
			return env, nil
		}
		submitted(env)
		return waitToken(ctx, tw)
	case base == resStartExecution:
		return e.startChild(ctx, res, params, tw, submitted)
	}
	e.svc.mu.Lock()
	h, ok := e.svc.resources[res]
	if !ok {
		h, ok = e.svc.resources[base]
	}
	e.svc.mu.Unlock()
	if !ok {
		return nil, &failure{Error: "States.TaskFailed",
			Cause: fmt.Sprintf("No in-process handler is registered for the resource %q (register one with RegisterResource)", res)}
	}
	out, err := safeResource(ctx, h, res, json.RawMessage(encodeJSON(params)), token)
	if err != nil {
		var te *TaskError
		if errors.As(err, &te) {
			return nil, &failure{Error: te.Name, Cause: te.Cause}
		}
		if errors.Is(err, ErrPermissions) {
			return nil, &failure{Error: "States.Permissions", Cause: err.Error()}
		}
		return nil, &failure{Error: "States.TaskFailed", Cause: err.Error()}
	}
	v, f := decodeOutput(out)
	if f != nil {
		return nil, f
	}
	if tw == nil {
		return v, nil
	}
	submitted(v)
	return waitToken(ctx, tw)
}

func waitToken(ctx context.Context, tw *tokenWait) (any, *failure) {
	select {
	case r := <-tw.result:
		return r.output, r.f
	case <-ctx.Done():
		return nil, abortedFailure()
	}
}

func decodeOutput(out json.RawMessage) (any, *failure) {
	if len(strings.TrimSpace(string(out))) == 0 {
		return nil, nil
	}
	v, err := decodeJSON(out)
	if err != nil {
		return nil, &failure{Error: "States.TaskFailed", Cause: fmt.Sprintf("the handler returned invalid JSON: %v", err)}
	}
	return v, nil
}

type panicValue struct{ v any }

func (p panicValue) Error() string { return fmt.Sprintf("%v", p.v) }

func safeResource(ctx context.Context, h ResourceHandler, res string, params json.RawMessage, token string) (out json.RawMessage, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &TaskError{Name: "States.TaskFailed", Cause: fmt.Sprintf("the handler panicked: %v", p)}
		}
	}()
	return h(ctx, res, params, token)
}

func safeLambda(ctx context.Context, h LambdaHandler, payload json.RawMessage) (out json.RawMessage, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicValue{p}
		}
	}()
	return h(ctx, payload)
}

// lambdaErrorType mirrors aws-lambda-go: the reflect type name with a
// pointer stripped, or the Type of a messages.InvokeResponse_Error value.
func lambdaErrorType(err error) (typ, msg string) {
	if p, ok := err.(panicValue); ok {
		t := reflect.TypeOf(p.v)
		if t == nil {
			return "", "<nil>"
		}
		if t.Kind() == reflect.Pointer {
			return t.Elem().Name(), p.Error()
		}
		return t.Name(), p.Error()
	}
	if ive, ok := err.(messages.InvokeResponse_Error); ok {
		return ive.Type, ive.Message
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		return t.Elem().Name(), err.Error()
	}
	return t.Name(), err.Error()
}

// callLambda invokes a registered in-process Lambda function.
func (s *Service) callLambda(ctx context.Context, fn string, payload any) (any, *failure) {
	name := bareFunctionName(fn)
	s.mu.Lock()
	h, ok := s.lambdas[name]
	s.mu.Unlock()
	if !ok {
		return nil, &failure{Error: "States.TaskFailed",
			Cause: fmt.Sprintf("Lambda function %q (%s) is not registered: no in-process handler serves it", name, fn)}
	}
	// As on AWS, an invocation is not cut short when its task ends first
	// (a timeout, a heartbeat timeout, or a token completed while the
	// function still runs): the handler keeps its values but not the
	// task's cancellation, so its own bookkeeping completes.
	out, err := safeLambda(context.WithoutCancel(ctx), h, json.RawMessage(encodeJSON(payload)))
	if err != nil {
		typ, msg := lambdaErrorType(err)
		if typ == "" {
			typ = "Lambda.Unknown"
		}
		cause := encodeJSON(objectOf("errorMessage", msg, "errorType", typ))
		return nil, &failure{Error: typ, Cause: cause}
	}
	return decodeOutput(out)
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func millis(t time.Time) json.Number {
	return json.Number(strconv.FormatInt(t.UnixMilli(), 10))
}

// startChild serves arn:aws:states:::states:startExecution[.sync|.sync:2|.waitForTaskToken].
func (e *execution) startChild(ctx context.Context, res string, params any, tw *tokenWait, submitted func(any)) (any, *failure) {
	p, ok := params.(*object)
	if !ok {
		p = newObject(0)
	}
	smARNv, _ := p.get("StateMachineArn")
	smARN, _ := smARNv.(string)
	if smARN == "" {
		return nil, &failure{Error: "States.Runtime", terminal: true, Cause: "The field 'StateMachineArn' is required for " + res}
	}
	input := "{}"
	inV, _ := p.get("Input")
	switch in := inV.(type) {
	case nil:
	case string:
		input = in
	default:
		input = encodeJSON(in)
	}
	nameV, _ := p.get("Name")
	name, _ := nameV.(string)
	child, err := e.svc.startExecution(ctx, smARN, name, input)
	if err != nil {
		code := "ServiceException"
		if ae, ok := err.(*APIError); ok {
			code = ae.Code
		}
		return nil, &failure{Error: "StepFunctions." + code + "Exception", Cause: err.Error()}
	}
	started := objectOf("ExecutionArn", child.arn, "StartDate", millis(child.startTime))
	sync2 := strings.HasSuffix(res, suffixSync2)
	switch {
	case tw != nil:
		submitted(started)
		return waitToken(ctx, tw)
	case sync2 || strings.HasSuffix(res, suffixSync):
		submitted(started)
		select {
		case <-child.finished:
		case <-ctx.Done():
			child.terminate(statusAborted, "ExecutionAborted", "executionAbortedEventDetails", "", "the parent execution's task was stopped")
			return nil, abortedFailure()
		}
		x := child.snapshot()
		desc := describeForTask(x, sync2)
		if x.Status != statusSucceeded {
			return nil, &failure{Error: "States.TaskFailed", Cause: encodeJSON(desc)}
		}
		return desc, nil
	}
	return started, nil
}

func describeForTask(x Execution, parse bool) *object {
	var input, output any = x.Input, x.Output
	if parse {
		if v, err := decodeJSONString(x.Input); err == nil {
			input = v
		}
		if v, err := decodeJSONString(x.Output); err == nil {
			output = v
		}
	}
	d := objectOf("ExecutionArn", x.ExecutionARN, "Input", input, "InputDetails", objectOf("Included", true),
		"Name", x.Name)
	if x.Status == statusSucceeded {
		d.set("Output", output)
		d.set("OutputDetails", objectOf("Included", true))
	}
	d.set("RedriveCount", json.Number("0"))
	d.set("RedriveStatus", "NOT_REDRIVABLE")
	d.set("StartDate", millis(x.StartDate))
	d.set("StateMachineArn", x.StateMachineARN)
	d.set("Status", x.Status)
	d.set("StopDate", millis(x.StopDate))
	if x.Error != "" {
		d.set("Error", x.Error)
	}
	if x.Cause != "" {
		d.set("Cause", x.Cause)
	}
	return d
}

func (s *Service) tokenFor(token string) (*tokenWait, error) {
	if !wellFormedToken(token) {
		return nil, apiErr("InvalidToken", "Invalid Token: '%s'", token)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tw, ok := s.tokens[token]
	if !ok {
		if s.doneTokens[token] {
			return nil, apiErr("TaskTimedOut", "Task Timed Out: the task for this token has already closed")
		}
		return nil, apiErr("TaskDoesNotExist", "Task Does Not Exist: no task is waiting for this token")
	}
	return tw, nil
}

func (s *Service) complete(token string, r tokenResult) error {
	tw, err := s.tokenFor(token)
	if err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.tokens, token)
	s.doneTokens[token] = true
	s.mu.Unlock()
	tw.result <- r
	return nil
}

// SendTaskSuccess resumes the Task waiting on token with output (JSON).
func (s *Service) SendTaskSuccess(_ context.Context, token, output string) error {
	v, err := decodeJSONString(output)
	if err != nil {
		return apiErr("InvalidOutput", "Invalid Output: %v", err)
	}
	return s.complete(token, tokenResult{output: v})
}

// SendTaskFailure fails the Task waiting on token.
func (s *Service) SendTaskFailure(_ context.Context, token, errName, cause string) error {
	return s.complete(token, tokenResult{f: &failure{Error: errName, Cause: cause}})
}

// SendTaskHeartbeat restarts the heartbeat clock of the Task waiting on token.
func (s *Service) SendTaskHeartbeat(_ context.Context, token string) error {
	tw, err := s.tokenFor(token)
	if err != nil {
		return err
	}
	tw.beat()
	return nil
}

// functionQualifier is the version or alias in a function name or ARN, or
// $LATEST.
func functionQualifier(fn string) string {
	parts := strings.Split(fn, ":")
	var q string
	switch {
	case strings.HasPrefix(fn, "arn:") && len(parts) == 8:
		q = parts[7]
	case !strings.HasPrefix(fn, "arn:") && len(parts) == 2:
		q = parts[1]
	case !strings.HasPrefix(fn, "arn:") && len(parts) == 4 && parts[1] == "function":
		q = parts[3]
	}
	if q == "" {
		return "$LATEST"
	}
	return q
}
