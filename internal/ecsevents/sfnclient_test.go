package ecsevents_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/internal/sfnlocal"
	"github.com/ecsflow/ecsflow/internal/simclock"
)

// In local mode the embedded Step Functions completes tokens in process.
var _ ecsevents.TaskCompleter = (*sfnlocal.Service)(nil)

// waitMachine is a state machine whose only Task waits for a token that
// its Lambda hands to got.
const waitMachine = `{"StartAt":"Wait","States":{"Wait":{"Type":"Task",
 "Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
 "Parameters":{"FunctionName":"park","Payload":{"token.$":"$$.Task.Token"}},
 "HeartbeatSeconds":3600,"End":true}}}`

type parked struct {
	svc   *sfnlocal.Service
	clock *simclock.Scaled
	arn   string
	token chan string
}

func newParked(t *testing.T) *parked {
	t.Helper()
	clock := simclock.NewScaled(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 1)
	p := &parked{clock: clock, token: make(chan string, 8)}
	p.svc = sfnlocal.New(sfnlocal.Options{Clock: clock})
	p.svc.RegisterLambda("park", func(_ context.Context, payload json.RawMessage) (json.RawMessage, error) {
		var in struct{ Token string }
		if err := json.Unmarshal(payload, &in); err != nil {
			return nil, err
		}
		p.token <- in.Token
		return json.RawMessage(`{}`), nil
	})
	arn, err := p.svc.CreateStateMachine(context.Background(), "park", waitMachine)
	if err != nil {
		t.Fatal(err)
	}
	p.arn = arn
	t.Cleanup(func() { p.svc.Close(); clock.Close() })
	return p
}

// start runs an execution and returns its ARN and the token it waits on.
func (p *parked) start(t *testing.T, name string) (string, string) {
	t.Helper()
	ex, err := p.svc.StartExecution(context.Background(), p.arn, name, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case tok := <-p.token:
		return ex, tok
	case <-time.After(10 * time.Second):
		t.Fatal("no token")
	}
	return "", ""
}

func (p *parked) result(t *testing.T, ex string) sfnlocal.Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	x, err := p.svc.WaitExecution(ctx, ex)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestSFNCompleterOverTheWire(t *testing.T) {
	p := newParked(t)
	srv := httptest.NewServer(p.svc)
	defer srv.Close()
	c := ecsevents.NewSFNCompleter(sfn.New(sfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}))
	ctx := context.Background()

	ex1, tok1 := p.start(t, "ok")
	if err := c.SendTaskHeartbeat(ctx, tok1); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	if err := c.SendTaskSuccess(ctx, tok1, `{"steady":true}`); err != nil {
		t.Fatalf("success: %v", err)
	}
	if x := p.result(t, ex1); x.Status != "SUCCEEDED" || x.Output != `{"steady":true}` {
		t.Errorf("execution = %s %s, want SUCCEEDED with the output", x.Status, x.Output)
	}

	ex2, tok2 := p.start(t, "bad")
	if err := c.SendTaskFailure(ctx, tok2, "NotStable", "circuit breaker"); err != nil {
		t.Fatalf("failure: %v", err)
	}
	if x := p.result(t, ex2); x.Status != "FAILED" || x.Error != "NotStable" || x.Cause != "circuit breaker" {
		t.Errorf("execution = %s %s %s, want FAILED NotStable", x.Status, x.Error, x.Cause)
	}

	// The token is spent now: typed SDK errors that TokenSpent recognises.
	err := c.SendTaskSuccess(ctx, tok1, `{}`)
	var tto *sfntypes.TaskTimedOut
	if !errors.As(err, &tto) || !ecsevents.TokenSpent(err) {
		t.Errorf("success on a spent token = %v, want TaskTimedOut recognised as spent", err)
	}
	if err := c.SendTaskHeartbeat(ctx, "not a token"); !ecsevents.TokenSpent(err) {
		t.Errorf("heartbeat with a garbage token = %v, want InvalidToken recognised as spent", err)
	}
	if ecsevents.TokenSpent(errors.New("TaskTimedOut")) || ecsevents.TokenSpent(nil) {
		t.Error("TokenSpent must look at the error code, not the text")
	}
}
