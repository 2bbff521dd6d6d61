package cwemu

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/fxamacker/cbor/v2"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// FuzzCBORRequests feeds arbitrary CBOR bodies to every operation. Errors
// must be CBOR maps with a __type; successes must be empty or CBOR; nothing
// may panic, and DescribeAlarms must keep working afterwards.
func FuzzCBORRequests(f *testing.F) {
	ops := []string{"PutMetricAlarm", "DescribeAlarms", "SetAlarmState", "DeleteAlarms"}
	f.Add(uint8(0), mustCBOR(map[string]any{"AlarmName": "a", "MetricName": "m", "Namespace": "n", "Statistic": "Sum", "Period": 60,
		"EvaluationPeriods": 1, "Threshold": 1.5, "ComparisonOperator": "GreaterThanThreshold"}))
	f.Add(uint8(0), mustCBOR(map[string]any{"AlarmName": "b", "EvaluationPeriods": 2, "ComparisonOperator": "LessThanThreshold", "ThresholdMetricId": "t",
		"Metrics": []any{map[string]any{"Id": "t", "Expression": "ANOMALY_DETECTION_BAND(m1)"}}}))
	f.Add(uint8(1), mustCBOR(map[string]any{"AlarmNamePrefix": "a", "StateValue": "ALARM", "MaxRecords": 1, "NextToken": "zz"}))
	f.Add(uint8(2), mustCBOR(map[string]any{"AlarmName": "seed", "StateValue": "ALARM", "StateReason": "r", "StateReasonData": "{"}))
	f.Add(uint8(3), mustCBOR(map[string]any{"AlarmNames": []string{"seed", "x"}}))
	f.Add(uint8(1), []byte{0xbf, 0x61, 0x41, 0xff})                   // indefinite map
	f.Add(uint8(1), []byte{0xc1, 0xfb, 0x41, 0xd0, 0, 0, 0, 0, 0, 0}) // a bare timestamp
	f.Add(uint8(0), []byte{0x9f, 0x9f, 0x9f, 0x9f})
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		c := New(Options{Clock: simclock.NewManual(epoch)})
		rr := httptest.NewRecorder()
		c.ServeHTTP(rr, httptest.NewRequest(http.MethodPost, PathPrefix+"PutMetricAlarm", bytes.NewReader(mustCBOR(map[string]any{
			"AlarmName": "seed", "MetricName": "m", "Namespace": "n", "Statistic": "Sum", "Period": 60,
			"EvaluationPeriods": 1, "Threshold": 1.0, "ComparisonOperator": "GreaterThanThreshold"}))))
		if rr.Code != http.StatusOK {
			t.Fatalf("seed alarm: %d", rr.Code)
		}
		rr = httptest.NewRecorder()
		c.ServeHTTP(rr, httptest.NewRequest(http.MethodPost, PathPrefix+ops[int(op)%len(ops)], bytes.NewReader(body)))
		if rr.Code != http.StatusOK {
			var e map[string]any
			if err := cbor.Unmarshal(rr.Body.Bytes(), &e); err != nil {
				t.Fatalf("error body is not CBOR: %v", err)
			}
			if _, ok := e["__type"].(string); !ok {
				t.Fatalf("error body lacks __type: %v", e)
			}
		} else if rr.Body.Len() > 0 && cbor.Wellformed(rr.Body.Bytes()) != nil {
			t.Fatalf("response body is not well-formed CBOR")
		}
		rr = httptest.NewRecorder()
		c.ServeHTTP(rr, httptest.NewRequest(http.MethodPost, PathPrefix+"DescribeAlarms", bytes.NewReader(mustCBOR(map[string]any{}))))
		if rr.Code != http.StatusOK {
			t.Fatalf("DescribeAlarms after fuzz input: %d", rr.Code)
		}
	})
}

// BenchmarkDescribeAlarmsCBOR is a DescribeAlarms round trip over HTTP with
// the real SDK client (CBOR encode, server decode/encode, SDK decode) for a
// page of 50 alarms.
func BenchmarkDescribeAlarmsCBOR(b *testing.B) {
	f := newFixture(b)
	for i := 0; i < 50; i++ {
		f.put(b, fmt.Sprintf("alarm-%03d", i))
	}
	ctx := context.Background()
	in := &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("alarm-")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := f.client.DescribeAlarms(ctx, in)
		if err != nil {
			b.Fatal(err)
		}
		if len(out.MetricAlarms) != 50 {
			b.Fatalf("got %d alarms", len(out.MetricAlarms))
		}
	}
}
