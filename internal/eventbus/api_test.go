package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

var testStart = time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)

const fnARN = "arn:aws:lambda:us-east-1:123456789012:function:ecs-events"

// newTestBus returns a bus on a fast simulated clock (a simulated second
// lasts 100 real microseconds) and an SDK client talking to it over HTTP.
func newTestBus(t *testing.T, opts Options) (*Bus, *eventbridge.Client) {
	t.Helper()
	clock := simclock.NewScaled(testStart, 1e4)
	t.Cleanup(clock.Close)
	if opts.Clock == nil {
		opts.Clock = clock
	}
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	b := New(opts)
	t.Cleanup(b.Close)
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	client := eventbridge.New(eventbridge.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", ""),
		RetryMaxAttempts: 1,
	})
	return b, client
}

// recorder is a Lambda handler that keeps what it receives and fails the
// first failures calls.
type recorder struct {
	mu       sync.Mutex
	got      []json.RawMessage
	calls    int
	failures int
}

func (r *recorder) handle(_ context.Context, ev json.RawMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.calls <= r.failures {
		return fmt.Errorf("simulated failure %d", r.calls)
	}
	r.got = append(r.got, append(json.RawMessage(nil), ev...))
	return nil
}

func (r *recorder) snapshot() (calls int, got []json.RawMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls, append([]json.RawMessage(nil), r.got...)
}

func drain(t *testing.T, b *Bus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
}

const deploymentPattern = `{"source":["aws.ecs"],"detail-type":["ECS Deployment State Change"],"detail":{"eventName":["SERVICE_DEPLOYMENT_COMPLETED","SERVICE_DEPLOYMENT_FAILED"]}}`

func putRuleAndTarget(t *testing.T, c *eventbridge.Client, name, pattern string, target types.Target) {
	t.Helper()
	ctx := context.Background()
	out, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: aws.String(pattern)})
	if err != nil {
		t.Fatalf("PutRule: %v", err)
	}
	if want := "arn:aws:events:us-east-1:123456789012:rule/" + name; aws.ToString(out.RuleArn) != want {
		t.Errorf("RuleArn = %q, want %q", aws.ToString(out.RuleArn), want)
	}
	pt, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), Targets: []types.Target{target}})
	if err != nil {
		t.Fatalf("PutTargets: %v", err)
	}
	if pt.FailedEntryCount != 0 {
		t.Fatalf("PutTargets failed entries: %+v", pt.FailedEntries)
	}
}

func TestPutEventsDeliversToLambda(t *testing.T) {
	b, c := newTestBus(t, Options{})
	rec := &recorder{}
	b.RegisterLambda(fnARN, rec.handle)
	putRuleAndTarget(t, c, "deployments", deploymentPattern, types.Target{Id: aws.String("fn"), Arn: aws.String(fnARN)})

	when := time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)
	out, err := c.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
		{
			Source: aws.String("aws.ecs"), DetailType: aws.String("ECS Deployment State Change"), Time: &when,
			Resources: []string{"arn:aws:ecs:us-east-1:123456789012:service/c/web"},
			Detail:    aws.String(`{"eventName":"SERVICE_DEPLOYMENT_COMPLETED","deploymentId":"ecs-svc/1"}`),
		},
		{
			Source: aws.String("aws.ecs"), DetailType: aws.String("ECS Deployment State Change"),
			Detail: aws.String(`{"eventName":"SERVICE_DEPLOYMENT_IN_PROGRESS"}`),
		},
	}})
	if err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	if out.FailedEntryCount != 0 || len(out.Entries) != 2 || aws.ToString(out.Entries[0].EventId) == "" {
		t.Fatalf("PutEvents result = %+v", out)
	}
	drain(t, b)

	calls, got := rec.snapshot()
	if calls != 1 || len(got) != 1 {
		t.Fatalf("handler calls = %d (events %d), want 1", calls, len(got))
	}
	var ev struct {
		Version, ID, Source, Account, Time, Region string
		DetailType                                 string `json:"detail-type"`
		Resources                                  []string
		Detail                                     map[string]string
	}
	if err := json.Unmarshal(got[0], &ev); err != nil {
		t.Fatalf("delivered event is not JSON: %v", err)
	}
	if ev.ID != aws.ToString(out.Entries[0].EventId) || ev.Version != "0" || ev.Source != "aws.ecs" ||
		ev.DetailType != "ECS Deployment State Change" || ev.Account != "123456789012" || ev.Region != "us-east-1" ||
		ev.Time != "2026-11-26T01:02:03Z" || len(ev.Resources) != 1 || ev.Detail["deploymentId"] != "ecs-svc/1" {
		t.Errorf("delivered envelope = %+v", ev)
	}
	if !strings.HasPrefix(string(got[0]), `{"version":"0","id":`) {
		t.Errorf("envelope field order: %s", got[0])
	}
	want := Stats{Events: 2, Matched: 1, Unmatched: 1, Deliveries: 1, Delivered: 1}
	if s := b.Stats(); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
}

func TestInputTransformer(t *testing.T) {
	b, c := newTestBus(t, Options{})
	rec := &recorder{}
	b.RegisterLambda(fnARN, rec.handle)
	putRuleAndTarget(t, c, "xf", `{"source":["aws.ec2"]}`, types.Target{
		Id: aws.String("t1"), Arn: aws.String(fnARN + ":live"), // qualified ARN reaches the function
		InputTransformer: &types.InputTransformer{
			InputPathsMap: map[string]string{"instance": "$.detail.instance-id", "state": "$.detail.state",
				"count": "$.detail.count", "first": "$.resources[0]", "missing": "$.detail.nope"},
			InputTemplate: aws.String(`{"msg": "<instance> is \"<state>\" x<count>", "state": <state>, "count": <count>,` +
				` "first": "<first>", "none": <missing>, "empty": "<missing>", "rule": "<aws.events.rule-name>",` +
				` "arn": "<aws.events.rule-arn>", "at": "<aws.events.event.ingestion-time>", "event": <aws.events.event>,` +
				` "full": <aws.events.event.json>, "literal": "<notavar>"}`),
		},
	})
	ids, err := b.Put(context.Background(), Entry{Source: "aws.ec2", DetailType: "EC2 Instance State-change Notification",
		Resources: []string{"arn:aws:ec2:us-east-1:123456789012:instance/i-1"},
		Detail:    json.RawMessage(`{"instance-id":"i-1","state":"running","count":3}`)})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	drain(t, b)
	_, got := rec.snapshot()
	if len(got) != 1 {
		t.Fatalf("handler got %d events, want 1", len(got))
	}
	var out map[string]any
	if err := json.Unmarshal(got[0], &out); err != nil {
		t.Fatalf("transformed input is not JSON: %v\n%s", err, got[0])
	}
	checks := map[string]any{
		"msg": `i-1 is "running" x3`, "state": "running", "count": float64(3),
		"first": "arn:aws:ec2:us-east-1:123456789012:instance/i-1", "none": nil, "empty": "",
		"rule": "xf", "arn": "arn:aws:events:us-east-1:123456789012:rule/xf", "literal": "<notavar>",
	}
	for k, want := range checks {
		if out[k] != want {
			t.Errorf("%s = %#v, want %#v", k, out[k], want)
		}
	}
	if at, _ := out["at"].(string); !strings.HasPrefix(at, "2026-11-26T") {
		t.Errorf("ingestion time = %q", at)
	}
	event, _ := out["event"].(map[string]any)
	if event["id"] != ids[0] || event["detail"] != nil {
		t.Errorf("aws.events.event = %v, want the envelope without detail", event)
	}
	full, _ := out["full"].(map[string]any)
	if d, _ := full["detail"].(map[string]any); d["instance-id"] != "i-1" {
		t.Errorf("aws.events.event.json = %v, want the full envelope", full)
	}
}

func TestInputAndInputPath(t *testing.T) {
	b, c := newTestBus(t, Options{})
	constant, path := &recorder{}, &recorder{}
	b.RegisterLambda(fnARN, constant.handle)
	b.RegisterLambda(fnARN+"-2", path.handle)
	ctx := context.Background()
	if _, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":["s"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r"), Targets: []types.Target{
		{Id: aws.String("a"), Arn: aws.String(fnARN), Input: aws.String(`{"fixed":true}`)},
		{Id: aws.String("b"), Arn: aws.String(fnARN + "-2"), InputPath: aws.String("$.detail.inner")},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, Entry{Source: "s", DetailType: "d", Detail: json.RawMessage(`{"inner":{"z":1,"a":[2,3]}}`)}); err != nil {
		t.Fatal(err)
	}
	drain(t, b)
	if _, got := constant.snapshot(); len(got) != 1 || string(got[0]) != `{"fixed":true}` {
		t.Errorf("Input target got %q", got)
	}
	if _, got := path.snapshot(); len(got) != 1 || string(got[0]) != `{"z":1,"a":[2,3]}` {
		t.Errorf("InputPath target got %q", got)
	}
}

func TestFailingTargetRetriedThenFailed(t *testing.T) {
	b, c := newTestBus(t, Options{})
	always := &recorder{failures: 1 << 30}
	flaky := &recorder{failures: 2}
	b.RegisterLambda(fnARN, always.handle)
	b.RegisterLambda(fnARN+"-flaky", flaky.handle)
	ctx := context.Background()
	if _, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":["s"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r"), Targets: []types.Target{
		{Id: aws.String("always"), Arn: aws.String(fnARN), RetryPolicy: &types.RetryPolicy{MaximumRetryAttempts: aws.Int32(2)},
			DeadLetterConfig: &types.DeadLetterConfig{Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:dlq")}},
		{Id: aws.String("flaky"), Arn: aws.String(fnARN + "-flaky"), RetryPolicy: &types.RetryPolicy{MaximumRetryAttempts: aws.Int32(5)}},
	}}); err != nil {
		t.Fatal(err)
	}
	ids, err := b.Put(ctx, Entry{Source: "s", DetailType: "d", Detail: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, b)
	if calls, _ := always.snapshot(); calls != 3 {
		t.Errorf("failing target called %d times, want 3 (1 + 2 retries)", calls)
	}
	if calls, got := flaky.snapshot(); calls != 3 || len(got) != 1 {
		t.Errorf("flaky target called %d times with %d successes, want 3 and 1", calls, len(got))
	}
	want := Stats{Events: 1, Matched: 1, Deliveries: 2, Delivered: 1, Retries: 4, Failed: 1}
	if s := b.Stats(); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
	dead := b.DeadLetters()
	if len(dead) != 1 {
		t.Fatalf("DeadLetters = %+v, want 1", dead)
	}
	d := dead[0]
	if d.EventID != ids[0] || d.TargetID != "always" || d.Attempts != 3 || d.DLQArn != "arn:aws:sqs:us-east-1:123456789012:dlq" ||
		!strings.Contains(d.Err, "simulated failure 3") {
		t.Errorf("dead letter = %+v", d)
	}
}

func TestUnregisteredTargetAndMaxAge(t *testing.T) {
	manual := simclock.NewManual(testStart)
	b, _ := newTestBus(t, Options{Clock: manual, RetryAttempts: 3, RetryInterval: 40 * time.Second})
	if _, err := b.PutRule(Rule{Name: "r", EventPattern: `{"source":["s"]}`}); err != nil {
		t.Fatal(err)
	}
	// 40s, then 80s of back-off would pass the 60s maximum age.
	if _, err := b.PutTargets("r", "", []Target{{Id: "x", Arn: "arn:aws:lambda:us-east-1:123456789012:function:none",
		RetryPolicy: &RetryPolicy{MaximumEventAgeInSeconds: aws.Int32(60)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(context.Background(), Entry{Source: "s", DetailType: "d", Detail: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, manual, func() bool { return len(b.DeadLetters()) > 0 })
	drain(t, b)
	dead := b.DeadLetters()
	if len(dead) != 1 || dead[0].Attempts != 2 || !strings.Contains(dead[0].Err, "maximum event age") ||
		!strings.Contains(dead[0].Err, "no handler is registered") {
		t.Errorf("dead letters = %+v, want one after 2 attempts naming event age and the missing handler", dead)
	}
}

// advanceUntil moves a manual clock a second at a time, only while some
// timer (a retry back-off) is waiting, until cond holds.
func advanceUntil(t *testing.T, c *simclock.Manual, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached while advancing the manual clock")
		}
		if c.Pending() > 0 {
			c.Advance(time.Second)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// fakeStarter records StartExecution calls. With startThenFail it starts the
// execution but reports a failure the first time, and then answers
// ExecutionAlreadyExists for the same name, as Step Functions would.
type fakeStarter struct {
	mu            sync.Mutex
	calls         [][3]string
	started       map[string]bool
	startThenFail bool
}

func (f *fakeStarter) StartExecution(_ context.Context, arn, name, input string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, [3]string{arn, name, input})
	if f.started == nil {
		f.started = map[string]bool{}
	}
	if f.started[name] {
		return "", errors.New("ExecutionAlreadyExists: Execution Already Exists: '" + name + "'")
	}
	f.started[name] = true
	if f.startThenFail && len(f.calls) == 1 {
		return "", errors.New("connection reset after the execution started")
	}
	return strings.Replace(arn, ":stateMachine:", ":execution:", 1) + ":" + name, nil
}

var _ ExecutionStarter = (*fakeStarter)(nil)

func TestStateMachineTarget(t *testing.T) {
	starter := &fakeStarter{}
	b, c := newTestBus(t, Options{Starter: starter})
	smARN := "arn:aws:states:us-east-1:123456789012:stateMachine:pipeline"
	putRuleAndTarget(t, c, "ecr-push", `{"source":["aws.ecr"],"detail":{"action-type":["PUSH"],"result":["SUCCESS"]}}`, types.Target{
		Id: aws.String("sfn"), Arn: aws.String(smARN),
		InputTransformer: &types.InputTransformer{
			InputPathsMap: map[string]string{"repo": "$.detail.repository-name", "tag": "$.detail.image-tag"},
			InputTemplate: aws.String(`{"image": "<repo>:<tag>"}`),
		},
	})
	ids, err := b.Put(context.Background(), Entry{Source: "aws.ecr", DetailType: "ECR Image Action",
		Detail: json.RawMessage(`{"action-type":"PUSH","result":"SUCCESS","repository-name":"web","image-tag":"v2"}`)})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, b)
	starter.mu.Lock()
	defer starter.mu.Unlock()
	if len(starter.calls) != 1 {
		t.Fatalf("StartExecution calls = %v, want 1", starter.calls)
	}
	call := starter.calls[0]
	if call[0] != smARN || call[2] != `{"image": "web:v2"}` || !strings.HasPrefix(call[1], ids[0]+"_") || len(call[1]) > 80 {
		t.Errorf("StartExecution(%q, %q, %q)", call[0], call[1], call[2])
	}
}

func TestStateMachineRetryIsIdempotent(t *testing.T) {
	starter := &fakeStarter{startThenFail: true}
	b, _ := newTestBus(t, Options{})
	b.SetStarter(starter)
	smARN := "arn:aws:states:us-east-1:123456789012:stateMachine:rolling"
	if _, err := b.PutRule(Rule{Name: "r", EventPattern: `{"source":["s"]}`}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutTargets("r", "", []Target{{Id: "sfn", Arn: smARN}}); err != nil {
		t.Fatal(err)
	}
	raw := `{"version":"0","id":"odd id/with:chars","detail-type":"d","source":"s","account":"1","time":"2026-11-26T00:00:00Z",` +
		`"region":"us-east-1","resources":[],"detail":{}}`
	if _, err := b.PutEnvelope(context.Background(), []byte(raw)); err != nil {
		t.Fatal(err)
	}
	drain(t, b)
	starter.mu.Lock()
	calls := append([][3]string(nil), starter.calls...)
	starter.mu.Unlock()
	if len(calls) != 2 || calls[0][1] != calls[1][1] || !strings.HasPrefix(calls[0][1], "odd-id-with-chars_") {
		t.Errorf("StartExecution calls = %q, want two with the same sanitised name", calls)
	}
	if s := b.Stats(); s.Delivered != 1 || s.Failed != 0 || s.Retries != 1 {
		t.Errorf("Stats = %+v, want delivered after one retry answered ExecutionAlreadyExists", s)
	}
}

func TestTestEventPatternAPI(t *testing.T) {
	_, c := newTestBus(t, Options{})
	ctx := context.Background()
	event := `{"id":"1","account":"123456789012","source":"aws.ecs","time":"2026-11-26T01:00:00Z","region":"us-east-1",` +
		`"resources":[],"detail-type":"ECS Task State Change","detail":{"lastStatus":"STOPPED","stoppedReason":"Essential container exited"}}`
	cases := []struct {
		name, pattern string
		want          bool
	}{
		{"match", `{"detail":{"lastStatus":["STOPPED"],"stoppedReason":[{"prefix":"Essential"}]}}`, true},
		{"no match", `{"detail":{"lastStatus":["RUNNING"]}}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(tc.pattern), Event: aws.String(event)})
			if err != nil {
				t.Fatalf("TestEventPattern: %v", err)
			}
			if out.Result != tc.want {
				t.Errorf("Result = %v, want %v", out.Result, tc.want)
			}
		})
	}
	_, err := c.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(`{"source":"x"}`), Event: aws.String(event)})
	var iep *types.InvalidEventPatternException
	if !errors.As(err, &iep) || !strings.HasPrefix(iep.ErrorMessage(), `Event pattern is not valid. Reason: "source" must be an object or an array`) {
		t.Errorf("invalid pattern error = %v, want InvalidEventPatternException", err)
	}
	_, err = c.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(`{"source":["x"]}`), Event: aws.String(`{"source":"x"}`)})
	if code := errorCode(err); code != "ValidationException" {
		t.Errorf("event without required fields: error code %q (%v), want ValidationException", code, err)
	}
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestTypedErrors(t *testing.T) {
	_, c := newTestBus(t, Options{})
	ctx := context.Background()

	_, err := c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("nope")})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) || rnf.ErrorMessage() != "Rule nope does not exist on EventBus default." {
		t.Errorf("DescribeRule(missing) = %v, want ResourceNotFoundException", err)
	}
	_, err = c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("nope"),
		Targets: []types.Target{{Id: aws.String("a"), Arn: aws.String(fnARN)}}})
	if !errors.As(err, &rnf) {
		t.Errorf("PutTargets(missing rule) = %v, want ResourceNotFoundException", err)
	}
	_, err = c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bad"), EventPattern: aws.String(`{"source":[]}`)})
	var iep *types.InvalidEventPatternException
	if !errors.As(err, &iep) || !strings.Contains(iep.ErrorMessage(), "Empty arrays are not allowed") {
		t.Errorf("PutRule(bad pattern) = %v, want InvalidEventPatternException", err)
	}
	_, err = c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("has space"), EventPattern: aws.String(`{"source":["a"]}`)})
	if errorCode(err) != "ValidationException" {
		t.Errorf("PutRule(bad name) = %v, want ValidationException", err)
	}
	_, err = c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("nothing")})
	if errorCode(err) != "ValidationException" {
		t.Errorf("PutRule(no pattern) = %v, want ValidationException", err)
	}
	_, err = c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("sched"), ScheduleExpression: aws.String("every 5 minutes")})
	if errorCode(err) != "ValidationException" {
		t.Errorf("PutRule(bad schedule) = %v, want ValidationException", err)
	}
	if _, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("sched"), ScheduleExpression: aws.String("rate(5 minutes)")}); err != nil {
		t.Errorf("PutRule(rate schedule) = %v", err)
	}
	if _, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":["a"]}`)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r"), Targets: []types.Target{
		{Id: aws.String("a"), Arn: aws.String(fnARN), Input: aws.String("{}"), InputPath: aws.String("$.detail")}}})
	if errorCode(err) != "ValidationException" {
		t.Errorf("PutTargets(Input and InputPath) = %v, want ValidationException", err)
	}
	if _, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r"),
		Targets: []types.Target{{Id: aws.String("a"), Arn: aws.String(fnARN)}}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("r")})
	if errorCode(err) != "ValidationException" {
		t.Errorf("DeleteRule(with targets) = %v, want ValidationException", err)
	}
	rt, err := c.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String("r"), Ids: []string{"a", "ghost"}})
	if err != nil || rt.FailedEntryCount != 1 || aws.ToString(rt.FailedEntries[0].TargetId) != "ghost" {
		t.Errorf("RemoveTargets = %+v, %v; want one failed entry for ghost", rt, err)
	}
	if _, err := c.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("r")}); err != nil {
		t.Errorf("DeleteRule(no targets) = %v", err)
	}
	_, err = c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("r")})
	if !errors.As(err, &rnf) {
		t.Errorf("DescribeRule after delete = %v, want ResourceNotFoundException", err)
	}
}

func TestPutEventsEntryErrors(t *testing.T) {
	b, c := newTestBus(t, Options{})
	out, err := c.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
		{Source: aws.String("s"), DetailType: aws.String("d"), Detail: aws.String(`{"ok":1}`)},
		{Source: aws.String("s"), DetailType: aws.String("d"), Detail: aws.String(`{"broken":`)},
		{DetailType: aws.String("d"), Detail: aws.String(`{}`)},
	}})
	if err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	if out.FailedEntryCount != 2 || len(out.Entries) != 3 {
		t.Fatalf("PutEvents = %+v, want 2 failed of 3", out)
	}
	if aws.ToString(out.Entries[0].EventId) == "" {
		t.Errorf("entry 0 has no EventId")
	}
	if got := aws.ToString(out.Entries[1].ErrorCode); got != "MalformedDetail" {
		t.Errorf("entry 1 ErrorCode = %q, want MalformedDetail", got)
	}
	if got := aws.ToString(out.Entries[2].ErrorCode); got != "InvalidArgument" {
		t.Errorf("entry 2 ErrorCode = %q, want InvalidArgument", got)
	}
	if s := b.Stats(); s.Events != 1 || s.Unmatched != 1 {
		t.Errorf("Stats = %+v, want 1 event, unmatched", s)
	}
	_, err = c.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: make([]types.PutEventsRequestEntry, 11)})
	if errorCode(err) != "ValidationException" {
		t.Errorf("PutEvents(11 entries) = %v, want ValidationException", err)
	}
}

func TestListRulesAndTargets(t *testing.T) {
	_, c := newTestBus(t, Options{})
	ctx := context.Background()
	for i := range 5 {
		if _, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(fmt.Sprintf("ecsflow-%d", i)),
			EventPattern: aws.String(`{"source":["a"]}`), Description: aws.String("d")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("other"), EventPattern: aws.String(`{"source":["a"]}`),
		State: types.RuleStateDisabled}); err != nil {
		t.Fatal(err)
	}
	var names []string
	var token *string
	for pages := 0; ; pages++ {
		out, err := c.ListRules(ctx, &eventbridge.ListRulesInput{NamePrefix: aws.String("ecsflow-"), Limit: aws.Int32(2), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Rules {
			names = append(names, aws.ToString(r.Name))
		}
		token = out.NextToken
		if token == nil || pages > 5 {
			break
		}
	}
	if got := strings.Join(names, ","); got != "ecsflow-0,ecsflow-1,ecsflow-2,ecsflow-3,ecsflow-4" {
		t.Errorf("ListRules pages = %s", got)
	}
	d, err := c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("other")})
	if err != nil || d.State != types.RuleStateDisabled || aws.ToString(d.EventPattern) != `{"source":["a"]}` || aws.ToString(d.EventBusName) != "default" {
		t.Errorf("DescribeRule = %+v, %v", d, err)
	}
	if _, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("ecsflow-0"), Targets: []types.Target{
		{Id: aws.String("one"), Arn: aws.String(fnARN)},
		{Id: aws.String("two"), Arn: aws.String(fnARN), InputTransformer: &types.InputTransformer{
			InputPathsMap: map[string]string{"s": "$.source"}, InputTemplate: aws.String(`"<s>"`)}},
	}}); err != nil {
		t.Fatal(err)
	}
	lt, err := c.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("ecsflow-0")})
	if err != nil || len(lt.Targets) != 2 || aws.ToString(lt.Targets[1].InputTransformer.InputTemplate) != `"<s>"` {
		t.Errorf("ListTargetsByRule = %+v, %v", lt, err)
	}
}

func TestDisabledRuleAndOtherBus(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	rec := &recorder{}
	b.RegisterLambda(fnARN, rec.handle)
	for _, r := range []Rule{{Name: "off", EventPattern: `{"source":["s"]}`, State: "DISABLED"},
		{Name: "custom", EventPattern: `{"source":["s"]}`, EventBusName: "ecsflow"}} {
		if _, err := b.PutRule(r); err != nil {
			t.Fatal(err)
		}
		if _, err := b.PutTargets(r.Name, r.EventBusName, []Target{{Id: "t", Arn: fnARN}}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	if _, err := b.Put(ctx, Entry{Source: "s", DetailType: "d", Detail: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	drain(t, b)
	if calls, _ := rec.snapshot(); calls != 0 {
		t.Errorf("disabled rule / other bus delivered %d times, want 0", calls)
	}
	if _, err := b.Put(ctx, Entry{Source: "s", DetailType: "d", Detail: json.RawMessage(`{}`),
		EventBusName: "arn:aws:events:us-east-1:123456789012:event-bus/ecsflow"}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetRuleState("off", "", true); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, Entry{Source: "s", DetailType: "d", Detail: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	drain(t, b)
	if calls, _ := rec.snapshot(); calls != 2 {
		t.Errorf("after enabling and putting on the custom bus: %d deliveries, want 2", calls)
	}
}

func TestPutEnvelope(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	rec := &recorder{}
	b.RegisterLambda(fnARN, rec.handle)
	if _, err := b.PutRule(Rule{Name: "tasks", EventPattern: `{"detail-type":["ECS Task State Change"],"detail":{"lastStatus":["STOPPED"]}}`}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutTargets("tasks", "", []Target{{Id: "t", Arn: fnARN}}); err != nil {
		t.Fatal(err)
	}
	raw := `{"version":"0","id":"e-123","detail-type":"ECS Task State Change","source":"aws.ecs","account":"999999999999",` +
		`"time":"2026-11-26T00:59:00Z","region":"eu-west-1","resources":["arn:task"],"detail":{"lastStatus":"STOPPED"}}`
	id, err := b.PutEnvelope(context.Background(), []byte(raw))
	if err != nil || id != "e-123" {
		t.Fatalf("PutEnvelope = %q, %v", id, err)
	}
	drain(t, b)
	_, got := rec.snapshot()
	if len(got) != 1 || string(got[0]) != raw {
		t.Errorf("delivered\n%s\nwant the envelope unchanged\n%s", got, raw)
	}
	if _, err := b.PutEnvelope(context.Background(), []byte(`{"source":"x"`)); err == nil {
		t.Error("PutEnvelope(malformed) returned no error")
	}
	if _, err := b.Put(context.Background(), Entry{Source: "x", DetailType: "y", Detail: json.RawMessage(`[1]`)}); err == nil {
		t.Error("Put with a non-object detail returned no error")
	}
}

func TestDrainHonoursContext(t *testing.T) {
	manual := simclock.NewManual(testStart)
	b, _ := newTestBus(t, Options{Clock: manual, RetryAttempts: 1})
	b.RegisterLambda(fnARN, (&recorder{failures: 1}).handle)
	if _, err := b.PutRule(Rule{Name: "r", EventPattern: `{"source":["s"]}`}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutTargets("r", "", []Target{{Id: "t", Arn: fnARN}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(context.Background(), Entry{Source: "s", DetailType: "d", Detail: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	// The retry waits on the manual clock, so Drain must time out.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.Drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain = %v, want deadline exceeded while a retry is pending", err)
	}
	advanceUntil(t, manual, func() bool { return b.Stats().Delivered > 0 })
	drain(t, b)
	if s := b.Stats(); s.Delivered != 1 || s.Retries != 1 {
		t.Errorf("Stats = %+v, want delivered after one retry", s)
	}
}
