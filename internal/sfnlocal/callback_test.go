package sfnlocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// notifyService registers a Lambda "notify" that hands the task token it
// receives in its payload to the test and returns, as a step that stores the
// token in DynamoDB would.
func notifyService(t *testing.T, clock simclock.Clock) (*Service, chan string) {
	svc := New(Options{Clock: clock})
	t.Cleanup(svc.Close)
	tokens := make(chan string, 4)
	svc.RegisterLambda("arn:aws:lambda:us-east-1:123456789012:function:notify", func(_ context.Context, p json.RawMessage) (json.RawMessage, error) {
		var in struct{ Token string }
		if err := json.Unmarshal(p, &in); err != nil {
			return nil, fmt.Errorf("decode: %w", err)
		}
		tokens <- in.Token
		return json.RawMessage(`{"stored":true}`), nil
	})
	return svc, tokens
}

const callbackDef = `{
  "StartAt": "WaitForSteadyState",
  "States": {
    "WaitForSteadyState": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
      "Parameters": {"FunctionName": "notify", "Payload": {"Token.$": "$$.Task.Token", "service.$": "$.service"}},
      "HeartbeatSeconds": 30,
      "TimeoutSeconds": 600,
      "ResultPath": "$.event",
      "End": true
    }
  }
}`

func TestCallbackResumedBySendTaskSuccessOverSDK(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	svc, tokens := notifyService(t, fastClock(t))
	c := newSDKClient(t, svc)
	sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("rolling"), Definition: aws.String(callbackDef), RoleArn: aws.String("arn:aws:iam::1:role/r")})
	if err != nil {
		t.Fatal(err)
	}
	start, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Input: aws.String(`{"service":"web"}`)})
	if err != nil {
		t.Fatal(err)
	}
	var token string
	select {
	case token = <-tokens:
	case <-ctx.Done():
		t.Fatal("the Lambda never received a task token")
	}
	d, _ := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: start.ExecutionArn})
	if d.Status != types.ExecutionStatusRunning {
		t.Fatalf("before the callback: got %s, want RUNNING", d.Status)
	}
	if _, err := c.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(token)}); err != nil {
		t.Fatalf("SendTaskHeartbeat: %v", err)
	}
	if _, err := c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{"rollout":"COMPLETED"}`)}); err != nil {
		t.Fatalf("SendTaskSuccess: %v", err)
	}
	x, err := svc.WaitExecution(ctx, aws.ToString(start.ExecutionArn))
	if err != nil {
		t.Fatal(err)
	}
	if x.Status != "SUCCEEDED" || x.Output != `{"service":"web","event":{"rollout":"COMPLETED"}}` {
		t.Errorf("execution: got %s %s (%s), want SUCCEEDED with the callback output at $.event", x.Status, x.Output, x.Cause)
	}
	h, _ := svc.GetExecutionHistory(ctx, x.ExecutionARN)
	var seq []string
	for _, ev := range h {
		seq = append(seq, ev.Type)
	}
	if got, want := strings.Join(seq, ","), "ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,TaskSubmitted,TaskSucceeded,TaskStateExited,ExecutionSucceeded"; got != want {
		t.Errorf("history:\n got  %s\n want %s", got, want)
	}
	// the token is spent: a second answer is refused with the SDK's type
	_, err = c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{}`)})
	var timedOut *types.TaskTimedOut
	if !errors.As(err, &timedOut) {
		t.Errorf("second SendTaskSuccess: got %v, want TaskTimedOut", err)
	}
}

func TestCallbackSendTaskFailureOverSDK(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	svc, tokens := notifyService(t, fastClock(t))
	c := newSDKClient(t, svc)
	sm, _ := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("rolling"), Definition: aws.String(callbackDef), RoleArn: aws.String("arn:aws:iam::1:role/r")})
	start, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Input: aws.String(`{"service":"web"}`)})
	if err != nil {
		t.Fatal(err)
	}
	token := <-tokens
	if _, err := c.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(token), Error: aws.String("Deployment.Failed"), Cause: aws.String("circuit breaker")}); err != nil {
		t.Fatalf("SendTaskFailure: %v", err)
	}
	x, _ := svc.WaitExecution(ctx, aws.ToString(start.ExecutionArn))
	if x.Status != "FAILED" || x.Error != "Deployment.Failed" || x.Cause != "circuit breaker" {
		t.Errorf("execution: got %s %s %s, want FAILED Deployment.Failed", x.Status, x.Error, x.Cause)
	}
}

// waitPending blocks until the manual clock has n timers queued.
func waitPending(t *testing.T, c *simclock.Manual, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.Pending() != n {
		if time.Now().After(deadline) {
			t.Fatalf("timers pending: got %d, want %d", c.Pending(), n)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

func TestCallbackHeartbeatTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	clock := simclock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	svc, tokens := notifyService(t, clock)
	c := newSDKClient(t, svc)
	sm, _ := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("rolling"), Definition: aws.String(callbackDef), RoleArn: aws.String("arn:aws:iam::1:role/r")})
	start, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Input: aws.String(`{"service":"web"}`)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(start.ExecutionArn)
	token := <-tokens
	waitPending(t, clock, 2) // heartbeat (30s) and timeout (600s)

	status := func() string {
		d, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		return string(d.Status)
	}
	clock.Advance(20 * time.Second)
	if _, err := c.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(token)}); err != nil {
		t.Fatalf("SendTaskHeartbeat: %v", err)
	}
	clock.Advance(25 * time.Second) // 45s after start, 25s after the heartbeat
	if got := status(); got != "RUNNING" {
		t.Fatalf("25s after a heartbeat with HeartbeatSeconds 30: got %s, want RUNNING", got)
	}
	clock.Advance(6 * time.Second) // 31s after the heartbeat
	x, err := svc.WaitExecution(ctx, arn)
	if err != nil {
		t.Fatal(err)
	}
	if x.Status != "FAILED" || x.Error != "States.HeartbeatTimeout" {
		t.Fatalf("execution: got %s %s (%s), want FAILED States.HeartbeatTimeout", x.Status, x.Error, x.Cause)
	}
	// the timer fires at 50s; the execution closes within that Advance (<= 51s)
	if got := x.StopDate.Sub(x.StartDate); got < 50*time.Second || got > 51*time.Second {
		t.Errorf("simulated time to the heartbeat timeout: got %v, want 50s..51s", got)
	}
	h, _ := svc.GetExecutionHistory(ctx, arn)
	if len(h) < 2 || h[len(h)-2].Type != "TaskTimedOut" || h[len(h)-2].Details["error"] != "States.HeartbeatTimeout" {
		t.Errorf("history tail: got %v, want TaskTimedOut(States.HeartbeatTimeout), ExecutionFailed", h[max(0, len(h)-2):])
	}
	_, err = c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{}`)})
	var timedOut *types.TaskTimedOut
	if !errors.As(err, &timedOut) {
		t.Errorf("SendTaskSuccess after the timeout: got %v, want TaskTimedOut", err)
	}
}

// driveManual advances the clock in steps whenever a timer is pending, until
// done is closed.
func driveManual(c *simclock.Manual, step time.Duration, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		default:
		}
		if c.Pending() > 0 {
			c.Advance(step)
			continue
		}
		time.Sleep(50 * time.Microsecond)
	}
}

func TestRetryBackoffAndMaxDelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	clock := simclock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	svc := testService(t, clock)
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:flaky",
	  "Parameters":{"failTimes":3},"End":true,
	  "Retry":[{"ErrorEquals":["CustomError"],"IntervalSeconds":2,"BackoffRate":3,"MaxDelaySeconds":10,"MaxAttempts":3}]}}}`
	arn, err := svc.CreateStateMachine(ctx, "retry", def)
	if err != nil {
		t.Fatal(err)
	}
	exec, _ := svc.StartExecution(ctx, arn, "", "{}")
	done := make(chan struct{})
	go driveManual(clock, time.Second, done)
	x, err := svc.WaitExecution(ctx, exec)
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	if x.Status != "SUCCEEDED" || x.Output != `{"attempts":4}` {
		t.Fatalf("execution: got %s %s %s", x.Status, x.Output, x.Cause)
	}
	// delays 2s, 6s, then 18s capped to 10s
	if got, want := x.StopDate.Sub(x.StartDate), 18*time.Second; got != want {
		t.Errorf("simulated time spent retrying: got %v, want %v", got, want)
	}
	if x.StateTransitions != 4 {
		t.Errorf("state transitions: got %d, want 4 (one entry plus three retries)", x.StateTransitions)
	}
}

func TestRetryFullJitterShortensDelays(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	clock := simclock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	svc := testService(t, clock)
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:flaky",
	  "Parameters":{"failTimes":3},"End":true,
	  "Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":2,"BackoffRate":3,"MaxDelaySeconds":10,"MaxAttempts":3,"JitterStrategy":"FULL"}]}}}`
	arn, err := svc.CreateStateMachine(ctx, "jitter", def)
	if err != nil {
		t.Fatal(err)
	}
	shorter := 0
	for i := range 5 {
		exec, _ := svc.StartExecution(ctx, arn, fmt.Sprintf("run-%d", i), "{}")
		done := make(chan struct{})
		go driveManual(clock, 100*time.Millisecond, done)
		x, err := svc.WaitExecution(ctx, exec)
		close(done)
		if err != nil || x.Status != "SUCCEEDED" {
			t.Fatalf("execution %d: %v %+v", i, err, x)
		}
		d := x.StopDate.Sub(x.StartDate)
		if d > 18*time.Second+300*time.Millisecond {
			t.Errorf("run %d: jittered delays took %v, more than the 18s cap", i, d)
		}
		if d < 17*time.Second {
			shorter++
		}
	}
	if shorter == 0 {
		t.Errorf("no run was shortened by FULL jitter")
	}
}

func TestWaitRunsOnTheInjectedClock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	clock := simclock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	svc := New(Options{Clock: clock})
	t.Cleanup(svc.Close)
	arn, err := svc.CreateStateMachine(ctx, "bake", `{"StartAt":"Bake","States":{"Bake":{"Type":"Wait","Seconds":3600,"Next":"Until"},
	  "Until":{"Type":"Wait","TimestampPath":"$.until","End":true}}}`)
	if err != nil {
		t.Fatal(err)
	}
	exec, _ := svc.StartExecution(ctx, arn, "", `{"until":"2026-01-01T02:00:00Z"}`)
	waitPending(t, clock, 1)
	clock.Advance(3599 * time.Second)
	if x, _ := svc.DescribeExecution(ctx, exec); x.Status != "RUNNING" {
		t.Fatalf("after 3599s of a 3600s Wait: got %s, want RUNNING", x.Status)
	}
	clock.Advance(time.Second)
	waitPending(t, clock, 1) // the TimestampPath wait, due at 02:00
	clock.Advance(3599 * time.Second)
	if x, _ := svc.DescribeExecution(ctx, exec); x.Status != "RUNNING" {
		t.Fatalf("before the timestamp: got %s, want RUNNING", x.Status)
	}
	clock.Advance(time.Second)
	x, err := svc.WaitExecution(ctx, exec)
	if err != nil || x.Status != "SUCCEEDED" {
		t.Fatalf("got %+v, %v", x, err)
	}
	if got, want := x.StopDate.Sub(x.StartDate), 2*time.Hour; got != want {
		t.Errorf("simulated duration: got %v, want %v", got, want)
	}
}

func TestStopExecutionCancelsTaskAndClosesChild(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	svc, tokens := parkService(t)
	child, _ := svc.CreateStateMachine(ctx, "child", waitDef)
	parent, err := svc.CreateStateMachine(ctx, "parent", `{"StartAt":"Run","States":{"Run":{"Type":"Task",
	  "Resource":"arn:aws:states:::states:startExecution.sync:2","Parameters":{"StateMachineArn":"`+child+`","Name":"kid"},"End":true}}}`)
	if err != nil {
		t.Fatal(err)
	}
	exec, _ := svc.StartExecution(ctx, parent, "p", "{}")
	<-tokens // the child is parked
	if _, err := svc.StopExecution(ctx, exec, "Stop", "by test"); err != nil {
		t.Fatal(err)
	}
	childARN := "arn:aws:states:us-east-1:123456789012:execution:child:kid"
	x, err := svc.WaitExecution(ctx, childARN)
	if err != nil || x.Status != "ABORTED" {
		t.Errorf("child after the parent stopped: got %+v, %v; want ABORTED", x, err)
	}
	if x, _ := svc.DescribeExecution(ctx, exec); x.Status != "ABORTED" || x.Error != "Stop" {
		t.Errorf("parent: got %s %s, want ABORTED Stop", x.Status, x.Error)
	}
}
