package sfnlocal

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// A Lambda invocation outlives its task, as on AWS: when the task times out
// first, the handler's context is not cancelled, so its own bookkeeping
// (ledger writes, token cleanup) still completes.
func TestLambdaInvocationOutlivesTimedOutTask(t *testing.T) {
	clock := simclock.NewScaled(time.Now(), 1000)
	defer clock.Close()
	s := New(Options{Clock: clock})
	defer s.Close()
	release := make(chan struct{})
	ctxErr := make(chan error, 1)
	s.RegisterLambda("slow", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		<-release
		ctxErr <- ctx.Err()
		return json.RawMessage(`{}`), nil
	})
	arn, err := s.CreateStateMachine(context.Background(), "timeout", `{"StartAt":"T","States":{"T":{"Type":"Task",
		"Resource":"arn:aws:lambda:us-east-1:123456789012:function:slow","TimeoutSeconds":1,"End":true}}}`)
	if err != nil {
		t.Fatal(err)
	}
	exec, err := s.StartExecution(context.Background(), arn, "x", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := s.WaitExecution(ctx, exec)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "FAILED" {
		t.Fatalf("execution status = %s, want FAILED (States.Timeout)", got.Status)
	}
	close(release)
	select {
	case err := <-ctxErr:
		if err != nil {
			t.Fatalf("handler context after the task timed out: %v, want still live", err)
		}
	case <-ctx.Done():
		t.Fatal("handler never finished")
	}
}
