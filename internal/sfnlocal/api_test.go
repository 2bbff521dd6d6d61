package sfnlocal

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// newSDKClient serves svc over httptest and returns the real sfn client.
func newSDKClient(t *testing.T, svc *Service) *sfn.Client {
	t.Helper()
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	return sfn.New(sfn.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", ""),
		RetryMaxAttempts: 1,
	})
}

func fastClock(t *testing.T) *simclock.Scaled {
	c := simclock.NewScaled(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 1000)
	t.Cleanup(c.Close)
	return c
}

const passDef = `{"StartAt":"A","States":{"A":{"Type":"Pass","Result":{"ok":true},"ResultPath":"$.r","Next":"B"},"B":{"Type":"Succeed"}}}`

// waitDef parks on a callback that never answers by itself.
const waitDef = `{"StartAt":"W","States":{"W":{"Type":"Task","Resource":"arn:aws:states:::test:park.waitForTaskToken","End":true}}}`

func parkService(t *testing.T) (*Service, chan string) {
	svc := New(Options{Clock: fastClock(t)})
	t.Cleanup(svc.Close)
	tokens := make(chan string, 16)
	svc.RegisterResource("arn:aws:states:::test:park", func(_ context.Context, _ string, _ json.RawMessage, token string) (json.RawMessage, error) {
		tokens <- token
		return nil, nil
	})
	return svc, tokens
}

func TestAPIStateMachineLifecycle(t *testing.T) {
	ctx := context.Background()
	svc := New(Options{Clock: fastClock(t)})
	t.Cleanup(svc.Close)
	c := newSDKClient(t, svc)

	created, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String("deploy"), Definition: aws.String(passDef), RoleArn: aws.String("arn:aws:iam::123456789012:role/r"),
	})
	if err != nil {
		t.Fatalf("CreateStateMachine: %v", err)
	}
	if got, want := aws.ToString(created.StateMachineArn), "arn:aws:states:us-east-1:123456789012:stateMachine:deploy"; got != want {
		t.Errorf("arn: got %s, want %s", got, want)
	}
	// identical create is idempotent; a different definition is not
	again, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String("deploy"), Definition: aws.String(passDef), RoleArn: aws.String("arn:aws:iam::123456789012:role/r"),
	})
	if err != nil || aws.ToString(again.StateMachineArn) != aws.ToString(created.StateMachineArn) {
		t.Errorf("identical CreateStateMachine: got %v, %v; want the same ARN", again, err)
	}
	_, err = c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String("deploy"), Definition: aws.String(waitDef), RoleArn: aws.String("arn:aws:iam::123456789012:role/r"),
	})
	var exists *types.StateMachineAlreadyExists
	if !errors.As(err, &exists) {
		t.Errorf("conflicting CreateStateMachine: got %v, want StateMachineAlreadyExists", err)
	}

	desc, err := c.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: created.StateMachineArn})
	if err != nil {
		t.Fatalf("DescribeStateMachine: %v", err)
	}
	if aws.ToString(desc.Definition) != passDef || aws.ToString(desc.Name) != "deploy" || desc.Type != types.StateMachineTypeStandard || desc.Status != types.StateMachineStatusActive {
		t.Errorf("DescribeStateMachine: got name=%s type=%s status=%s def=%s", aws.ToString(desc.Name), desc.Type, desc.Status, aws.ToString(desc.Definition))
	}
	if desc.CreationDate == nil || desc.CreationDate.Year() != 2026 {
		t.Errorf("creationDate: got %v, want a 2026 simulated time", desc.CreationDate)
	}

	if _, err := c.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{StateMachineArn: created.StateMachineArn, Definition: aws.String(waitDef)}); err != nil {
		t.Fatalf("UpdateStateMachine: %v", err)
	}
	desc, _ = c.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: created.StateMachineArn})
	if aws.ToString(desc.Definition) != waitDef {
		t.Errorf("definition after update: got %s, want %s", aws.ToString(desc.Definition), waitDef)
	}
	_, err = c.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{StateMachineArn: created.StateMachineArn, Definition: aws.String(`{"StartAt":"X","States":{}}`)})
	var invalid *types.InvalidDefinition
	if !errors.As(err, &invalid) {
		t.Errorf("UpdateStateMachine with a bad definition: got %v, want InvalidDefinition", err)
	}

	for _, n := range []string{"b-machine", "a-machine"} {
		if _, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(n), Definition: aws.String(passDef), RoleArn: aws.String("arn:aws:iam::123456789012:role/r")}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	p := sfn.NewListStateMachinesPaginator(c, &sfn.ListStateMachinesInput{MaxResults: 2})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListStateMachines: %v", err)
		}
		for _, sm := range page.StateMachines {
			names = append(names, aws.ToString(sm.Name))
		}
	}
	if got, want := strings.Join(names, ","), "a-machine,b-machine,deploy"; got != want {
		t.Errorf("ListStateMachines: got %s, want %s", got, want)
	}
}

func TestAPITypedErrors(t *testing.T) {
	ctx := context.Background()
	svc, _ := parkService(t)
	c := newSDKClient(t, svc)
	missingSM := "arn:aws:states:us-east-1:123456789012:stateMachine:nope"
	missingExec := "arn:aws:states:us-east-1:123456789012:execution:nope:x"
	validButUnknownToken := newToken()

	tests := []struct {
		name  string
		call  func() error
		check func(error) bool
		want  string
	}{
		{"InvalidDefinition names the path", func() error {
			_, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("bad"), RoleArn: aws.String("arn:aws:iam::1:role/r"),
				Definition: aws.String(`{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Missing"}}}`)})
			return err
		}, func(err error) bool {
			var e *types.InvalidDefinition
			return errors.As(err, &e) && strings.Contains(aws.ToString(e.Message), "/States/A/Next")
		}, "InvalidDefinition mentioning /States/A/Next"},
		{"InvalidName", func() error {
			_, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("has space"), RoleArn: aws.String("arn:aws:iam::1:role/r"), Definition: aws.String(passDef)})
			return err
		}, func(err error) bool { var e *types.InvalidName; return errors.As(err, &e) }, "InvalidName"},
		{"DescribeStateMachine unknown", func() error {
			_, err := c.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(missingSM)})
			return err
		}, func(err error) bool { var e *types.StateMachineDoesNotExist; return errors.As(err, &e) }, "StateMachineDoesNotExist"},
		{"StartExecution unknown machine", func() error {
			_, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(missingSM)})
			return err
		}, func(err error) bool { var e *types.StateMachineDoesNotExist; return errors.As(err, &e) }, "StateMachineDoesNotExist"},
		{"DescribeExecution unknown", func() error {
			_, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(missingExec)})
			return err
		}, func(err error) bool { var e *types.ExecutionDoesNotExist; return errors.As(err, &e) }, "ExecutionDoesNotExist"},
		{"GetExecutionHistory unknown", func() error {
			_, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(missingExec)})
			return err
		}, func(err error) bool { var e *types.ExecutionDoesNotExist; return errors.As(err, &e) }, "ExecutionDoesNotExist"},
		{"StopExecution unknown", func() error {
			_, err := c.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(missingExec)})
			return err
		}, func(err error) bool { var e *types.ExecutionDoesNotExist; return errors.As(err, &e) }, "ExecutionDoesNotExist"},
		{"malformed ARN", func() error {
			_, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("not-an-arn")})
			return err
		}, func(err error) bool { var e *types.InvalidArn; return errors.As(err, &e) }, "InvalidArn"},
		{"SendTaskSuccess garbage token", func() error {
			_, err := c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String("garbage"), Output: aws.String("{}")})
			return err
		}, func(err error) bool { var e *types.InvalidToken; return errors.As(err, &e) }, "InvalidToken"},
		{"SendTaskSuccess unknown token", func() error {
			_, err := c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(validButUnknownToken), Output: aws.String("{}")})
			return err
		}, func(err error) bool { var e *types.TaskDoesNotExist; return errors.As(err, &e) }, "TaskDoesNotExist"},
		{"SendTaskFailure unknown token", func() error {
			_, err := c.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(validButUnknownToken), Error: aws.String("E")})
			return err
		}, func(err error) bool { var e *types.TaskDoesNotExist; return errors.As(err, &e) }, "TaskDoesNotExist"},
		{"SendTaskHeartbeat garbage token", func() error {
			_, err := c.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String("x")})
			return err
		}, func(err error) bool { var e *types.InvalidToken; return errors.As(err, &e) }, "InvalidToken"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !tc.check(err) {
				t.Errorf("got %T %v, want %s", err, err, tc.want)
			}
		})
	}
}

func TestAPIIdempotentExecutionNames(t *testing.T) {
	ctx := context.Background()
	svc, tokens := parkService(t)
	c := newSDKClient(t, svc)
	sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("park"), Definition: aws.String(waitDef), RoleArn: aws.String("arn:aws:iam::1:role/r")})
	if err != nil {
		t.Fatal(err)
	}
	start := func(name, input string) (*sfn.StartExecutionOutput, error) {
		return c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String(name), Input: aws.String(input)})
	}
	first, err := start("deploy-42", `{"v":1}`)
	if err != nil {
		t.Fatalf("StartExecution: %v", err)
	}
	token := <-tokens
	second, err := start("deploy-42", `{ "v" : 1 }`)
	if err != nil {
		t.Fatalf("same name and input while running: got %v, want the existing execution", err)
	}
	if aws.ToString(second.ExecutionArn) != aws.ToString(first.ExecutionArn) {
		t.Errorf("same name and input: got %s, want %s", aws.ToString(second.ExecutionArn), aws.ToString(first.ExecutionArn))
	}
	_, err = start("deploy-42", `{"v":2}`)
	var exists *types.ExecutionAlreadyExists
	if !errors.As(err, &exists) {
		t.Errorf("same name, different input: got %v, want ExecutionAlreadyExists", err)
	}
	if _, err := c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{"done":1}`)}); err != nil {
		t.Fatalf("SendTaskSuccess: %v", err)
	}
	if x, err := svc.WaitExecution(ctx, aws.ToString(first.ExecutionArn)); err != nil || x.Status != "SUCCEEDED" {
		t.Fatalf("WaitExecution: got %+v, %v", x, err)
	}
	_, err = start("deploy-42", `{"v":1}`)
	if !errors.As(err, &exists) {
		t.Errorf("same name and input after the execution closed: got %v, want ExecutionAlreadyExists", err)
	}
	_, err = start("bad name", `{}`)
	var badName *types.InvalidName
	if !errors.As(err, &badName) {
		t.Errorf("invalid execution name: got %v, want InvalidName", err)
	}
	_, err = start("bad-input", `{not json`)
	var badInput *types.InvalidExecutionInput
	if !errors.As(err, &badInput) {
		t.Errorf("invalid input: got %v, want InvalidExecutionInput", err)
	}
}

func TestAPIExecutionDescribeHistoryList(t *testing.T) {
	ctx := context.Background()
	svc, tokens := parkService(t)
	c := newSDKClient(t, svc)
	sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("pass"), Definition: aws.String(passDef), RoleArn: aws.String("arn:aws:iam::1:role/r")})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String("one"), Input: aws.String(`{"in":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.WaitExecution(ctx, aws.ToString(out.ExecutionArn)); err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
	if err != nil {
		t.Fatalf("DescribeExecution: %v", err)
	}
	if d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"in":1,"r":{"ok":true}}` || aws.ToString(d.Input) != `{"in":1}` || d.StopDate == nil {
		t.Errorf("DescribeExecution: got status=%s input=%s output=%s stop=%v", d.Status, aws.ToString(d.Input), aws.ToString(d.Output), d.StopDate)
	}

	var types_ []string
	var prevOK = true
	p := sfn.NewGetExecutionHistoryPaginator(c, &sfn.GetExecutionHistoryInput{ExecutionArn: out.ExecutionArn, MaxResults: 2})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("GetExecutionHistory: %v", err)
		}
		for _, ev := range page.Events {
			types_ = append(types_, string(ev.Type))
			if ev.Id > 1 && ev.PreviousEventId != ev.Id-1 {
				prevOK = false
			}
		}
	}
	want := "ExecutionStarted,PassStateEntered,PassStateExited,SucceedStateEntered,SucceedStateExited,ExecutionSucceeded"
	if got := strings.Join(types_, ","); got != want {
		t.Errorf("history: got %s, want %s", got, want)
	}
	if !prevOK {
		t.Errorf("history previousEventId chain is broken")
	}
	h, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: out.ExecutionArn, ReverseOrder: true, MaxResults: 1})
	if err != nil || len(h.Events) != 1 || h.Events[0].Type != types.HistoryEventTypeExecutionSucceeded ||
		aws.ToString(h.Events[0].ExecutionSucceededEventDetails.Output) != `{"in":1,"r":{"ok":true}}` {
		t.Errorf("reverse history: got %+v, %v", h, err)
	}
	h, err = c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: out.ExecutionArn, MaxResults: 2})
	if err != nil || h.Events[1].StateEnteredEventDetails == nil || aws.ToString(h.Events[1].StateEnteredEventDetails.Name) != "A" ||
		aws.ToString(h.Events[1].StateEnteredEventDetails.Input) != `{"in":1}` {
		t.Errorf("state entered details: got %+v, %v", h.Events, err)
	}

	// a second machine parked on a callback, to filter by status
	park, _ := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("park"), Definition: aws.String(waitDef), RoleArn: aws.String("arn:aws:iam::1:role/r")})
	var running []string
	for _, n := range []string{"r1", "r2"} {
		o, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: park.StateMachineArn, Name: aws.String(n)})
		if err != nil {
			t.Fatal(err)
		}
		<-tokens
		running = append(running, aws.ToString(o.ExecutionArn))
	}
	stop, err := c.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(running[0]), Error: aws.String("Operator.Stop"), Cause: aws.String("manual")})
	if err != nil || stop.StopDate == nil {
		t.Fatalf("StopExecution: %v %v", stop, err)
	}
	d, _ = c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(running[0])})
	if d.Status != types.ExecutionStatusAborted || aws.ToString(d.Error) != "Operator.Stop" {
		t.Errorf("stopped execution: got %s %s, want ABORTED Operator.Stop", d.Status, aws.ToString(d.Error))
	}
	list, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: park.StateMachineArn, StatusFilter: types.ExecutionStatusRunning})
	if err != nil || len(list.Executions) != 1 || aws.ToString(list.Executions[0].ExecutionArn) != running[1] {
		t.Errorf("ListExecutions RUNNING: got %+v, %v; want only %s", list, err, running[1])
	}
	list, _ = c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: park.StateMachineArn})
	if len(list.Executions) != 2 || aws.ToString(list.Executions[0].Name) != "r2" {
		t.Errorf("ListExecutions: got %d executions (first %v), want 2 newest first", len(list.Executions), list.Executions)
	}
	h, _ = c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(running[0]), ReverseOrder: true, MaxResults: 1})
	if len(h.Events) != 1 || h.Events[0].Type != types.HistoryEventTypeExecutionAborted {
		t.Errorf("last event of a stopped execution: got %+v, want ExecutionAborted", h.Events)
	}
}

func TestAPIValidateStateMachineDefinition(t *testing.T) {
	ctx := context.Background()
	svc := New(Options{Clock: fastClock(t)})
	t.Cleanup(svc.Close)
	c := newSDKClient(t, svc)
	ok, err := c.ValidateStateMachineDefinition(ctx, &sfn.ValidateStateMachineDefinitionInput{Definition: aws.String(passDef)})
	if err != nil || ok.Result != types.ValidateStateMachineDefinitionResultCodeOk {
		t.Fatalf("valid definition: got %+v, %v", ok, err)
	}
	bad, err := c.ValidateStateMachineDefinition(ctx, &sfn.ValidateStateMachineDefinitionInput{
		Definition: aws.String(`{"StartAt":"A","States":{"A":{"Type":"Pass","End":true,"Next":"A"}}}`)})
	if err != nil || bad.Result != types.ValidateStateMachineDefinitionResultCodeFail || len(bad.Diagnostics) == 0 ||
		aws.ToString(bad.Diagnostics[0].Location) != "/States/A" {
		t.Fatalf("invalid definition: got %+v, %v", bad, err)
	}
}

func TestAPIRawProtocol(t *testing.T) {
	svc := New(Options{Clock: fastClock(t)})
	t.Cleanup(svc.Close)
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	tests := []struct {
		name, target, body string
		wantStatus         int
		wantType           string
	}{
		{"unknown operation", "AWSStepFunctions.CreateActivity", `{}`, 400, "UnknownOperationException"},
		{"foreign target", "AWSEvents.PutEvents", `{}`, 400, "UnknownOperationException"},
		{"broken body", "AWSStepFunctions.DescribeExecution", `{`, 400, "SerializationException"},
		{"missing required field", "AWSStepFunctions.StartExecution", `{}`, 400, "ValidationException"},
		{"ok", "AWSStepFunctions.ListStateMachines", ``, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(tc.body))
			req.Header.Set("X-Amz-Target", tc.target)
			req.Header.Set("Content-Type", "application/x-amz-json-1.0")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status: got %d (%s), want %d", resp.StatusCode, b, tc.wantStatus)
			}
			if got := resp.Header.Get("X-Amzn-ErrorType"); got != tc.wantType {
				t.Errorf("X-Amzn-ErrorType: got %q, want %q", got, tc.wantType)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.0" {
				t.Errorf("Content-Type: got %q", ct)
			}
			var v map[string]any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Errorf("body is not JSON: %s", b)
			}
		})
	}
}

// TestAPIHistoryOfEveryKindDecodes runs a machine that produces most event
// kinds and reads its whole history back through the SDK.
func TestAPIHistoryOfEveryKindDecodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	svc := testService(t, fastClock(t))
	c := newSDKClient(t, svc)
	def := `{"StartAt":"Par","States":{
	  "Par":{"Type":"Parallel","Next":"Map","ResultPath":"$.par","Branches":[
	    {"StartAt":"L","States":{"L":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:flaky","Parameters":{"failTimes":1},
	      "Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":1}],"End":true}}},
	    {"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"End":true}}}]},
	  "Map":{"Type":"Map","ItemsPath":"$.items","Next":"Invoke","ResultPath":"$.mapped","ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}},
	  "Invoke":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"fail-custom","Payload":{}},
	    "Catch":[{"ErrorEquals":["CustomError"],"ResultPath":"$.err","Next":"Check"}],"End":true},
	  "Check":{"Type":"Choice","Choices":[{"Variable":"$.err.Error","StringEquals":"CustomError","Next":"Boom"}],"Default":"Done"},
	  "Done":{"Type":"Succeed"},
	  "Boom":{"Type":"Fail","Error":"Final.Error","Cause":"expected"}}}`
	sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("kinds"), Definition: aws.String(def), RoleArn: aws.String("arn:aws:iam::1:role/r")})
	if err != nil {
		t.Fatal(err)
	}
	start, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Input: aws.String(`{"items":[1,2]}`)})
	if err != nil {
		t.Fatal(err)
	}
	x, err := svc.WaitExecution(ctx, aws.ToString(start.ExecutionArn))
	if err != nil || x.Status != "FAILED" || x.Error != "Final.Error" {
		t.Fatalf("execution: %+v %v", x, err)
	}
	seen := map[types.HistoryEventType]int{}
	p := sfn.NewGetExecutionHistoryPaginator(c, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn, MaxResults: 7})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("GetExecutionHistory: %v", err)
		}
		for _, ev := range page.Events {
			seen[ev.Type]++
			switch ev.Type {
			case types.HistoryEventTypeMapStateStarted:
				if ev.MapStateStartedEventDetails == nil || ev.MapStateStartedEventDetails.Length != 2 {
					t.Errorf("MapStateStarted details: got %+v, want length 2", ev.MapStateStartedEventDetails)
				}
			case types.HistoryEventTypeLambdaFunctionFailed:
				if d := ev.LambdaFunctionFailedEventDetails; d == nil || aws.ToString(d.Error) != "CustomError" {
					t.Errorf("LambdaFunctionFailed details: got %+v", d)
				}
			case types.HistoryEventTypeTaskFailed:
				if d := ev.TaskFailedEventDetails; d == nil || aws.ToString(d.Error) != "CustomError" || aws.ToString(d.ResourceType) != "lambda" || aws.ToString(d.Resource) != "invoke" {
					t.Errorf("TaskFailed details: got %+v", d)
				}
			case types.HistoryEventTypeTaskScheduled:
				if d := ev.TaskScheduledEventDetails; d == nil || aws.ToString(d.Region) != "us-east-1" || !strings.Contains(aws.ToString(d.Parameters), "fail-custom") {
					t.Errorf("TaskScheduled details: got %+v", d)
				}
			case types.HistoryEventTypeExecutionFailed:
				if d := ev.ExecutionFailedEventDetails; d == nil || aws.ToString(d.Error) != "Final.Error" || aws.ToString(d.Cause) != "expected" {
					t.Errorf("ExecutionFailed details: got %+v", d)
				}
			}
			if ev.Timestamp == nil || ev.Timestamp.Year() != 2026 {
				t.Errorf("event %d timestamp: got %v", ev.Id, ev.Timestamp)
			}
		}
	}
	for _, want := range []types.HistoryEventType{
		"ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted", "TaskStateEntered", "LambdaFunctionScheduled",
		"LambdaFunctionStarted", "LambdaFunctionFailed", "LambdaFunctionSucceeded", "WaitStateEntered", "WaitStateExited",
		"ParallelStateSucceeded", "ParallelStateExited", "MapStateEntered", "MapStateStarted", "MapIterationStarted",
		"PassStateEntered", "MapIterationSucceeded", "MapStateSucceeded", "MapStateExited", "TaskScheduled", "TaskStarted",
		"TaskFailed", "ChoiceStateEntered", "ChoiceStateExited", "FailStateEntered", "ExecutionFailed",
	} {
		if seen[want] == 0 {
			t.Errorf("history has no %s event", want)
		}
	}
	if seen["MapIterationStarted"] != 2 || seen["LambdaFunctionScheduled"] != 2 {
		t.Errorf("counts: got %d MapIterationStarted and %d LambdaFunctionScheduled, want 2 and 2", seen["MapIterationStarted"], seen["LambdaFunctionScheduled"])
	}
}

func TestMatchesRoutesByTarget(t *testing.T) {
	tests := []struct {
		target string
		want   bool
	}{
		{"AWSStepFunctions.StartExecution", true},
		{"AWSEvents.PutEvents", false},
		{"AmazonEC2ContainerServiceV20141113.DescribeServices", false},
		{"", false},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
		if tc.target != "" {
			r.Header.Set("X-Amz-Target", tc.target)
		}
		if got := Matches(r); got != tc.want {
			t.Errorf("Matches(%q): got %v, want %v", tc.target, got, tc.want)
		}
	}
}
