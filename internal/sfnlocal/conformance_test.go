package sfnlocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// conformanceCase is one ASL case from testdata/conformance/*.json.
type conformanceCase struct {
	Name       string                     `json:"name"`
	Doc        string                     `json:"doc"` // where the behaviour is specified
	Definition json.RawMessage            `json:"definition"`
	Input      json.RawMessage            `json:"input"`
	Machines   map[string]json.RawMessage `json:"machines"` // extra state machines, by name
	// exactly one expectation family:
	Output      json.RawMessage `json:"output"`      // SUCCEEDED with this output
	OutputMatch string          `json:"outputMatch"` // SUCCEEDED, output matches this regexp
	Error       string          `json:"error"`       // FAILED with this error
	Cause       string          `json:"cause"`       // ... and a cause containing this
	Status      string          `json:"status"`      // another terminal status
	Invalid     string          `json:"invalid"`     // load fails; message contains this
	Transitions int             `json:"transitions"` // optional exact count
	Events      []string        `json:"events"`      // optional: these event types appear in order
}

func loadCases(t testing.TB) []conformanceCase {
	t.Helper()
	files, err := filepath.Glob("testdata/conformance/*.json")
	if err != nil {
		t.Fatal(err)
	}
	var all []conformanceCase
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cases []conformanceCase
		if err := json.Unmarshal(b, &cases); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, c := range cases {
			c.Name = strings.TrimSuffix(filepath.Base(f), ".json") + "/" + c.Name
			if seen[c.Name] {
				t.Fatalf("duplicate case name %s", c.Name)
			}
			seen[c.Name] = true
			all = append(all, c)
		}
	}
	return all
}

// CustomError is a pointer error type; aws-lambda-go reports it as "CustomError".
type CustomError struct{ msg string }

func (e *CustomError) Error() string { return e.msg }

// ValueError is a value error type; aws-lambda-go reports it as "ValueError".
type ValueError struct{}

func (ValueError) Error() string { return "value error" }

// testService builds a Service with the handlers conformance cases use.
func testService(t testing.TB, clock simclock.Clock) *Service {
	svc := New(Options{Clock: clock})
	t.Cleanup(svc.Close)
	svc.RegisterLambda("echo", func(_ context.Context, p json.RawMessage) (json.RawMessage, error) { return p, nil })
	svc.RegisterLambda("arn:aws:lambda:us-east-1:123456789012:function:add", func(_ context.Context, p json.RawMessage) (json.RawMessage, error) {
		var in struct{ A, B float64 }
		if err := json.Unmarshal(p, &in); err != nil {
			return nil, fmt.Errorf("decode: %w", err)
		}
		return json.RawMessage(fmt.Sprintf(`{"sum":%g}`, in.A+in.B)), nil
	})
	svc.RegisterLambda("fail-custom", func(_ context.Context, p json.RawMessage) (json.RawMessage, error) {
		return nil, &CustomError{msg: "custom failure"}
	})
	svc.RegisterLambda("fail-value", func(_ context.Context, p json.RawMessage) (json.RawMessage, error) {
		return nil, ValueError{}
	})
	svc.RegisterLambda("fail-plain", func(_ context.Context, p json.RawMessage) (json.RawMessage, error) {
		return nil, errors.New("plain failure")
	})
	svc.RegisterLambda("panic", func(_ context.Context, p json.RawMessage) (json.RawMessage, error) {
		panic("boom")
	})
	// flaky fails with CustomError until $$.State.RetryCount reaches failTimes.
	svc.RegisterLambda("flaky", func(ctx context.Context, p json.RawMessage) (json.RawMessage, error) {
		var in struct {
			FailTimes int             `json:"failTimes"`
			ErrorType string          `json:"errorType"`
			RC        json.RawMessage `json:"rc"`
		}
		_ = json.Unmarshal(p, &in)
		ti, ok := TaskInfoFromContext(ctx)
		if !ok {
			return nil, errors.New("no task info in context")
		}
		if ti.RetryCount < in.FailTimes {
			if in.ErrorType == "value" {
				return nil, ValueError{}
			}
			return nil, &CustomError{msg: fmt.Sprintf("attempt %d", ti.RetryCount)}
		}
		if len(in.RC) > 0 {
			return json.RawMessage(fmt.Sprintf(`{"attempts":%d,"rc":%s}`, ti.RetryCount+1, in.RC)), nil
		}
		return json.RawMessage(fmt.Sprintf(`{"attempts":%d}`, ti.RetryCount+1)), nil
	})
	// slow sleeps for payload.seconds of simulated time.
	svc.RegisterLambda("slow", func(ctx context.Context, p json.RawMessage) (json.RawMessage, error) {
		var in struct{ Seconds int }
		_ = json.Unmarshal(p, &in)
		if err := clock.Sleep(ctx, time.Duration(in.Seconds)*time.Second); err != nil {
			return nil, fmt.Errorf("slow: %w", err)
		}
		return json.RawMessage(`"done"`), nil
	})
	svc.RegisterLambda("taskinfo", func(ctx context.Context, p json.RawMessage) (json.RawMessage, error) {
		ti, _ := TaskInfoFromContext(ctx)
		b, _ := json.Marshal(map[string]any{"exec": ti.ExecutionARN, "state": ti.StateName, "arnFromCtx": ExecutionARNFromContext(ctx)})
		return b, nil
	})
	svc.RegisterResource("arn:aws:states:::events:putEvents", func(_ context.Context, res string, params json.RawMessage, token string) (json.RawMessage, error) {
		var in struct{ Entries []json.RawMessage }
		if err := json.Unmarshal(params, &in); err != nil {
			return nil, fmt.Errorf("decode: %w", err)
		}
		return json.RawMessage(fmt.Sprintf(`{"Entries":[],"FailedEntryCount":0,"Count":%d}`, len(in.Entries))), nil
	})
	svc.RegisterResource("arn:aws:states:::test:named.error", func(_ context.Context, res string, params json.RawMessage, token string) (json.RawMessage, error) {
		return nil, &TaskError{Name: "Custom.Named", Cause: "named by the handler"}
	})
	svc.RegisterResource("arn:aws:states:::test:denied", func(_ context.Context, res string, params json.RawMessage, token string) (json.RawMessage, error) {
		return nil, fmt.Errorf("call %s: %w", res, ErrPermissions)
	})
	svc.RegisterResource("arn:aws:states:::test:big", func(_ context.Context, res string, params json.RawMessage, token string) (json.RawMessage, error) {
		return json.Marshal(map[string]string{"blob": strings.Repeat("x", 300*1024)})
	})
	// callback answers its own token: {"answer": X} succeeds with X,
	// {"fail": "Name"} fails, {"silent": true} never answers.
	svc.RegisterResource("arn:aws:states:::test:callback.waitForTaskToken", func(_ context.Context, res string, params json.RawMessage, token string) (json.RawMessage, error) {
		var in struct {
			Answer json.RawMessage `json:"answer"`
			Fail   string          `json:"fail"`
			Silent bool            `json:"silent"`
		}
		if err := json.Unmarshal(params, &in); err != nil {
			return nil, fmt.Errorf("decode: %w", err)
		}
		if token == "" {
			return nil, errors.New("no token")
		}
		go func() {
			switch {
			case in.Silent:
			case in.Fail != "":
				_ = svc.SendTaskFailure(context.Background(), token, in.Fail, "callback failed")
			default:
				_ = svc.SendTaskSuccess(context.Background(), token, string(in.Answer))
			}
		}()
		return json.RawMessage(`{"accepted":true}`), nil
	})
	// answerer is a Lambda used with lambda:invoke.waitForTaskToken: it
	// answers the token found in its payload.
	svc.RegisterLambda("answerer", func(_ context.Context, p json.RawMessage) (json.RawMessage, error) {
		var in struct {
			Token  string          `json:"token"`
			Answer json.RawMessage `json:"answer"`
		}
		if err := json.Unmarshal(p, &in); err != nil {
			return nil, fmt.Errorf("decode: %w", err)
		}
		go func() { _ = svc.SendTaskSuccess(context.Background(), in.Token, string(in.Answer)) }()
		return json.RawMessage(`null`), nil
	})
	return svc
}

func TestConformance(t *testing.T) {
	cases := loadCases(t)
	if len(cases) < 120 {
		t.Errorf("conformance table has %d cases, want at least 120", len(cases))
	}
	clock := simclock.NewScaled(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 1000)
	t.Cleanup(clock.Close)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			runCase(t, clock, c)
		})
	}
}

func runCase(t *testing.T, clock simclock.Clock, c conformanceCase) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	def := string(c.Definition)
	var asString string
	if json.Unmarshal(c.Definition, &asString) == nil {
		def = asString // a definition given as raw (possibly broken) text
	}
	if c.Invalid != "" {
		err := Validate(def)
		if err == nil {
			t.Fatalf("Validate: got nil, want an error containing %q", c.Invalid)
		}
		var de *DefinitionError
		if !errors.As(err, &de) {
			t.Fatalf("Validate: got %T, want *DefinitionError", err)
		}
		if !strings.Contains(err.Error(), c.Invalid) {
			t.Fatalf("Validate: got %q, want it to contain %q", err, c.Invalid)
		}
		return
	}
	svc := testService(t, clock)
	for name, def := range c.Machines {
		if _, err := svc.CreateStateMachine(ctx, name, string(def)); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	arn, err := svc.CreateStateMachine(ctx, "Main", def)
	if err != nil {
		t.Fatalf("CreateStateMachine: %v", err)
	}
	input := "{}"
	if len(c.Input) > 0 {
		input = string(c.Input)
	}
	execARN, err := svc.StartExecution(ctx, arn, "run", input)
	if err != nil {
		t.Fatalf("StartExecution: %v", err)
	}
	x, err := svc.WaitExecution(ctx, execARN)
	if err != nil {
		t.Fatalf("WaitExecution: %v", err)
	}
	history, _ := svc.GetExecutionHistory(ctx, execARN)
	dump := func() string {
		var b strings.Builder
		for _, ev := range history {
			fmt.Fprintf(&b, "  %s\n", ev)
		}
		return b.String()
	}
	switch {
	case len(c.Output) > 0 || c.OutputMatch != "":
		if x.Status != statusSucceeded {
			t.Fatalf("status: got %s (%s: %s), want SUCCEEDED\n%s", x.Status, x.Error, x.Cause, dump())
		}
		if len(c.Output) > 0 {
			got, err := decodeJSONString(x.Output)
			if err != nil {
				t.Fatalf("output %q: %v", x.Output, err)
			}
			want, err := decodeJSON(c.Output)
			if err != nil {
				t.Fatalf("bad expected output: %v", err)
			}
			if !jsonEqual(got, want) {
				t.Fatalf("output:\n got  %s\n want %s", x.Output, encodeJSON(want))
			}
		}
		if c.OutputMatch != "" && !regexp.MustCompile(c.OutputMatch).MatchString(x.Output) {
			t.Fatalf("output: got %s, want a match for %s", x.Output, c.OutputMatch)
		}
	case c.Error != "":
		if x.Status != statusFailed {
			t.Fatalf("status: got %s (output %s), want FAILED\n%s", x.Status, x.Output, dump())
		}
		if x.Error != c.Error {
			t.Fatalf("error: got %q (cause %q), want %q", x.Error, x.Cause, c.Error)
		}
		if !strings.Contains(x.Cause, c.Cause) {
			t.Fatalf("cause: got %q, want it to contain %q", x.Cause, c.Cause)
		}
	case c.Status != "":
		if x.Status != c.Status {
			t.Fatalf("status: got %s (%s: %s), want %s", x.Status, x.Error, x.Cause, c.Status)
		}
	default:
		t.Fatalf("case has no expectation")
	}
	if c.Transitions > 0 && x.StateTransitions != c.Transitions {
		t.Errorf("state transitions: got %d, want %d\n%s", x.StateTransitions, c.Transitions, dump())
	}
	if len(c.Events) > 0 {
		i := 0
		for _, ev := range history {
			if i < len(c.Events) && ev.Type == c.Events[i] {
				i++
			}
		}
		if i < len(c.Events) {
			t.Errorf("history lacks %v in order (matched %d)\n%s", c.Events, i, dump())
		}
	}
}
