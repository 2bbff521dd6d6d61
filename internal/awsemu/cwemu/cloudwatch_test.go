package cwemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/fxamacker/cbor/v2"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type captured struct {
	path    string
	headers http.Header
	body    []byte
}

type recorder struct {
	mu   sync.Mutex
	last map[string]captured
	next http.Handler
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.last[req.URL.Path] = captured{path: req.URL.Path, headers: req.Header.Clone(), body: body}
	r.mu.Unlock()
	r.next.ServeHTTP(w, req)
}

type change struct{ name, arn, from, to, reason string }

type fixture struct {
	cw      *CloudWatch
	clock   *simclock.Manual
	client  *cloudwatch.Client
	rec     *recorder
	mu      sync.Mutex
	changes []change
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{clock: simclock.NewManual(epoch)}
	f.cw = New(Options{Clock: f.clock, OnAlarmChange: func(name, arn, from, to, reason string) {
		f.mu.Lock()
		f.changes = append(f.changes, change{name, arn, from, to, reason})
		f.mu.Unlock()
	}})
	f.rec = &recorder{last: map[string]captured{}, next: f.cw}
	srv := httptest.NewServer(f.rec)
	t.Cleanup(srv.Close)
	// The default retryer stays on: the SDK sometimes reports "use of closed
	// network connection" while reading a 200 response after a GC
	// (aws/aws-sdk-go-v2#1825, #2737), which it retries.
	f.client = cloudwatch.New(cloudwatch.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	})
	return f
}

func (f *fixture) put(t testing.TB, name string) {
	t.Helper()
	_, err := f.client.PutMetricAlarm(context.Background(), &cloudwatch.PutMetricAlarmInput{
		AlarmName:          aws.String(name),
		AlarmDescription:   aws.String("5xx on " + name),
		MetricName:         aws.String("HTTPCode_Target_5XX_Count"),
		Namespace:          aws.String("AWS/ApplicationELB"),
		Statistic:          cwtypes.StatisticSum,
		Dimensions:         []cwtypes.Dimension{{Name: aws.String("LoadBalancer"), Value: aws.String("app/web/123")}},
		Period:             aws.Int32(60),
		EvaluationPeriods:  aws.Int32(3),
		DatapointsToAlarm:  aws.Int32(2),
		Threshold:          aws.Float64(12.5),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold,
		TreatMissingData:   aws.String("notBreaching"),
		AlarmActions:       []string{"arn:aws:sns:us-east-1:123456789012:pager"},
	})
	if err != nil {
		t.Fatalf("PutMetricAlarm %s: %v", name, err)
	}
}

func TestSDKSendsRPCv2CBOR(t *testing.T) {
	f := newFixture(t)
	f.put(t, "web-5xx")
	c := f.rec.last[PathPrefix+"PutMetricAlarm"]
	if c.path == "" {
		t.Fatalf("no request at %sPutMetricAlarm; saw %v", PathPrefix, f.rec.last)
	}
	if got := c.headers.Get("Smithy-Protocol"); got != "rpc-v2-cbor" {
		t.Errorf("Smithy-Protocol = %q, want rpc-v2-cbor", got)
	}
	if got := c.headers.Get("Content-Type"); got != "application/cbor" {
		t.Errorf("Content-Type = %q, want application/cbor", got)
	}
	var body map[string]any
	if err := cbor.Unmarshal(c.body, &body); err != nil {
		t.Fatalf("request body is not CBOR: %v", err)
	}
	if body["AlarmName"] != "web-5xx" || body["Threshold"] != 12.5 || body["EvaluationPeriods"] != uint64(3) {
		t.Errorf("body = %v, want AlarmName web-5xx, Threshold 12.5, EvaluationPeriods 3", body)
	}
}

func TestAlarmRoundTrip(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, n := range []string{"web-5xx", "web-latency", "api-5xx"} {
		f.put(t, n)
	}
	out, err := f.client.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"web-5xx"}})
	if err != nil {
		t.Fatalf("DescribeAlarms: %v", err)
	}
	if len(out.MetricAlarms) != 1 {
		t.Fatalf("got %d alarms, want 1", len(out.MetricAlarms))
	}
	a := out.MetricAlarms[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"AlarmArn", aws.ToString(a.AlarmArn), "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-5xx"},
		{"StateValue", a.StateValue, cwtypes.StateValueInsufficientData},
		{"StateReason", aws.ToString(a.StateReason), "Unchecked: Initial alarm creation"},
		{"Threshold", aws.ToFloat64(a.Threshold), 12.5},
		{"EvaluationPeriods", aws.ToInt32(a.EvaluationPeriods), int32(3)},
		{"DatapointsToAlarm", aws.ToInt32(a.DatapointsToAlarm), int32(2)},
		{"Period", aws.ToInt32(a.Period), int32(60)},
		{"Statistic", a.Statistic, cwtypes.StatisticSum},
		{"ComparisonOperator", a.ComparisonOperator, cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold},
		{"ActionsEnabled", aws.ToBool(a.ActionsEnabled), true},
		{"AlarmActions", fmt.Sprint(a.AlarmActions), "[arn:aws:sns:us-east-1:123456789012:pager]"},
		{"Dimension", aws.ToString(a.Dimensions[0].Value), "app/web/123"},
		{"StateUpdatedTimestamp", a.StateUpdatedTimestamp.UTC(), epoch},
		{"TreatMissingData", aws.ToString(a.TreatMissingData), "notBreaching"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	f.clock.Advance(90 * time.Second)
	if _, err := f.client.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{
		AlarmName: aws.String("web-5xx"), StateValue: cwtypes.StateValueAlarm,
		StateReason: aws.String("Threshold Crossed"), StateReasonData: aws.String(`{"version":"1.0"}`),
	}); err != nil {
		t.Fatalf("SetAlarmState: %v", err)
	}
	if err := f.cw.SetAlarmState("web-latency", StateOK, "fault plan"); err != nil {
		t.Fatalf("SetAlarmState (Go): %v", err)
	}
	if s, ok := f.cw.AlarmState("web-5xx"); !ok || s != StateAlarm {
		t.Errorf("AlarmState = %q, %v; want ALARM", s, ok)
	}
	// Same state again: no new change event.
	if err := f.cw.SetAlarmState("web-latency", StateOK, "still fine"); err != nil {
		t.Fatalf("SetAlarmState (Go): %v", err)
	}
	want := []change{
		{"web-5xx", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-5xx", "INSUFFICIENT_DATA", "ALARM", "Threshold Crossed"},
		{"web-latency", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-latency", "INSUFFICIENT_DATA", "OK", "fault plan"},
	}
	if fmt.Sprint(f.changes) != fmt.Sprint(want) {
		t.Errorf("OnAlarmChange calls = %v, want %v", f.changes, want)
	}

	byState, err := f.client.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{StateValue: cwtypes.StateValueAlarm})
	if err != nil {
		t.Fatalf("DescribeAlarms by state: %v", err)
	}
	if len(byState.MetricAlarms) != 1 || aws.ToString(byState.MetricAlarms[0].AlarmName) != "web-5xx" {
		t.Errorf("ALARM alarms = %d, want only web-5xx", len(byState.MetricAlarms))
	}
	got := byState.MetricAlarms[0]
	if !got.StateUpdatedTimestamp.Equal(epoch.Add(90*time.Second)) || aws.ToString(got.StateReasonData) != `{"version":"1.0"}` {
		t.Errorf("state updated %v data %q, want %v and the reason data", got.StateUpdatedTimestamp, aws.ToString(got.StateReasonData), epoch.Add(90*time.Second))
	}

	byPrefix, err := f.client.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("web-")})
	if err != nil {
		t.Fatalf("DescribeAlarms by prefix: %v", err)
	}
	var names []string
	for _, a := range byPrefix.MetricAlarms {
		names = append(names, aws.ToString(a.AlarmName))
	}
	if fmt.Sprint(names) != "[web-5xx web-latency]" {
		t.Errorf("prefix web- = %v, want [web-5xx web-latency]", names)
	}

	// Paging with MaxRecords 1 visits all three in name order.
	p := cloudwatch.NewDescribeAlarmsPaginator(f.client, &cloudwatch.DescribeAlarmsInput{MaxRecords: aws.Int32(1)})
	names = nil
	for p.HasMorePages() {
		pg, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("DescribeAlarms page: %v", err)
		}
		for _, a := range pg.MetricAlarms {
			names = append(names, aws.ToString(a.AlarmName))
		}
	}
	if fmt.Sprint(names) != "[api-5xx web-5xx web-latency]" {
		t.Errorf("paged = %v, want [api-5xx web-5xx web-latency]", names)
	}

	// Updating an alarm keeps its state.
	f.put(t, "web-5xx")
	if s, _ := f.cw.AlarmState("web-5xx"); s != StateAlarm {
		t.Errorf("state after update = %s, want ALARM", s)
	}

	if _, err := f.client.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"api-5xx"}}); err != nil {
		t.Fatalf("DeleteAlarms: %v", err)
	}
	if _, ok := f.cw.AlarmState("api-5xx"); ok {
		t.Errorf("api-5xx still exists after DeleteAlarms")
	}
}

func TestTypedErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.put(t, "web-5xx")
	t.Run("SetAlarmState unknown alarm", func(t *testing.T) {
		_, err := f.client.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{
			AlarmName: aws.String("nope"), StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("x")})
		var e *cwtypes.ResourceNotFound
		if !errors.As(err, &e) {
			t.Fatalf("err = %T %v, want *types.ResourceNotFound", err, err)
		}
		if e.ErrorCode() != "ResourceNotFound" || e.ErrorMessage() != "Alarm nope not found" {
			t.Errorf("code/message = %q/%q", e.ErrorCode(), e.ErrorMessage())
		}
	})
	t.Run("DeleteAlarms unknown alarm deletes nothing", func(t *testing.T) {
		_, err := f.client.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"web-5xx", "nope"}})
		var e *cwtypes.ResourceNotFound
		if !errors.As(err, &e) {
			t.Fatalf("err = %T %v, want *types.ResourceNotFound", err, err)
		}
		if _, ok := f.cw.AlarmState("web-5xx"); !ok {
			t.Errorf("web-5xx was deleted by a failed DeleteAlarms")
		}
	})
	t.Run("invalid state", func(t *testing.T) {
		_, err := f.client.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{
			AlarmName: aws.String("web-5xx"), StateValue: "BROKEN", StateReason: aws.String("x")})
		var e *cwtypes.InvalidParameterValueException
		if !errors.As(err, &e) {
			t.Fatalf("err = %T %v, want InvalidParameterValueException", err, err)
		}
		if e.ErrorCode() != "InvalidParameterValue" {
			t.Errorf("ErrorCode = %q, want the query code InvalidParameterValue", e.ErrorCode())
		}
	})
	t.Run("invalid period", func(t *testing.T) {
		_, err := f.client.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
			AlarmName: aws.String("x"), MetricName: aws.String("m"), Namespace: aws.String("n"), Statistic: cwtypes.StatisticSum,
			Period: aws.Int32(45), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1),
			ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold})
		var e *cwtypes.InvalidParameterValueException
		if !errors.As(err, &e) {
			t.Fatalf("err = %T %v, want InvalidParameterValueException", err, err)
		}
	})
	t.Run("prefix with names", func(t *testing.T) {
		_, err := f.client.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"a"}, AlarmNamePrefix: aws.String("a")})
		var e *cwtypes.InvalidParameterCombinationException
		if !errors.As(err, &e) {
			t.Fatalf("err = %T %v, want InvalidParameterCombinationException", err, err)
		}
	})
	t.Run("throttling from WriteError", func(t *testing.T) {
		rr := httptest.NewRecorder()
		WriteError(rr, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
		var body map[string]string
		if err := cbor.Unmarshal(rr.Body.Bytes(), &body); err != nil {
			t.Fatalf("error body is not CBOR: %v", err)
		}
		if body["__type"] != "ThrottlingException" || body["message"] != "Rate exceeded" {
			t.Errorf("body = %v", body)
		}
	})
	if err := f.cw.SetAlarmState("nope", StateAlarm, "x"); !errors.Is(err, ErrAlarmNotFound) {
		t.Errorf("Go SetAlarmState on unknown alarm = %v, want ErrAlarmNotFound", err)
	}
}

func TestMalformedRequests(t *testing.T) {
	c := New(Options{Clock: simclock.NewManual(epoch)})
	bad := []struct {
		name, method, op string
		body             []byte
		wantStatus       int
		wantType         string
	}{
		{"not cbor", http.MethodPost, "DescribeAlarms", []byte{0xff, 0x00}, 400, "SerializationException"},
		{"wrong type", http.MethodPost, "SetAlarmState", mustCBOR(map[string]any{"AlarmName": 5}), 400, "SerializationException"},
		{"unknown op", http.MethodPost, "PutDashboard", nil, 404, "UnknownOperationException"},
		{"GET", http.MethodGet, "DescribeAlarms", nil, 405, "UnknownOperationException"},
		{"missing name", http.MethodPost, "PutMetricAlarm", mustCBOR(map[string]any{}), 400, "com.amazonaws.cloudwatch#MissingRequiredParameterException"},
		{"too large", http.MethodPost, "DescribeAlarms", bytes.Repeat([]byte{0x60}, maxBodyBytes+1), 413, "SerializationException"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			rr := httptest.NewRecorder()
			c.ServeHTTP(rr, httptest.NewRequest(tc.method, PathPrefix+tc.op, bytes.NewReader(tc.body)))
			if rr.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", rr.Code, tc.wantStatus)
			}
			var body map[string]string
			if err := cbor.Unmarshal(rr.Body.Bytes(), &body); err != nil {
				t.Fatalf("error body is not CBOR: %v", err)
			}
			if body["__type"] != tc.wantType {
				t.Errorf("__type = %q, want %q", body["__type"], tc.wantType)
			}
		})
	}
}

func mustCBOR(v any) []byte {
	b, err := cbor.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Every response carries its Content-Length, as AWS's do, so clients can
// reuse the connection without relying on chunked encoding.
func TestResponsesCarryContentLength(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 60; i++ {
		f.put(t, fmt.Sprintf("alarm-%03d", i))
	}
	for _, tc := range []struct {
		name, op string
		body     []byte
	}{
		{"result", "DescribeAlarms", mustCBOR(map[string]any{})},
		{"error", "SetAlarmState", mustCBOR(map[string]any{"AlarmName": "nope", "StateValue": "OK", "StateReason": "r"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr := httptest.NewRecorder()
			f.cw.ServeHTTP(rr, httptest.NewRequest(http.MethodPost, PathPrefix+tc.op, bytes.NewReader(tc.body)))
			if got, want := rr.Header().Get("Content-Length"), fmt.Sprint(rr.Body.Len()); got != want {
				t.Errorf("Content-Length = %q, want %q", got, want)
			}
		})
	}
}
