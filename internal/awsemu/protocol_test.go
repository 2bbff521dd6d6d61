package awsemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	smithy "github.com/aws/smithy-go"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

func rawCall(t *testing.T, h http.Handler, method, path string, headers map[string]string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Header(), rec.Body.Bytes()
}

func jsonTarget(op string) map[string]string {
	return map[string]string{"X-Amz-Target": "AmazonEC2ContainerServiceV20141113." + op, "Content-Type": "application/x-amz-json-1.1"}
}

func TestAWSJSONErrorsOnBadInput(t *testing.T) {
	emu := New(Options{Clock: simclock.NewManual(testStart)})
	defer emu.Close()
	big := bytes.Repeat([]byte("a"), maxBody+10)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		body    []byte
		status  int
		code    string
	}{
		{"malformed JSON", jsonTarget("CreateCluster"), []byte(`{"clusterName":`), 400, "SerializationException"},
		{"wrong member type", jsonTarget("CreateService"), []byte(`{"desiredCount":"three"}`), 400, "SerializationException"},
		{"not an object", jsonTarget("ListClusters"), []byte(`[1,2]`), 400, "SerializationException"},
		{"unknown operation", jsonTarget("LaunchRockets"), []byte(`{}`), 400, "UnknownOperationException"},
		{"unknown service", map[string]string{"X-Amz-Target": "Nope_2020.Do"}, []byte(`{}`), 400, "UnknownOperationException"},
		{"target without operation", map[string]string{"X-Amz-Target": "AmazonEC2ContainerServiceV20141113"}, []byte(`{}`), 400, "UnknownOperationException"},
		{"no target at all", map[string]string{"Content-Type": "application/x-amz-json-1.1"}, []byte(`{}`), 400, "UnknownOperationException"},
		{"body over 10 MiB", jsonTarget("CreateCluster"), big, 413, "SerializationException"},
		{"empty body is an empty input", jsonTarget("ListClusters"), nil, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := rawCall(t, emu, http.MethodPost, "/", tc.headers, tc.body)
			if status != tc.status {
				t.Fatalf("status = %d, want %d (body %s)", status, tc.status, body)
			}
			if tc.code == "" {
				return
			}
			var e struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("error body %q is not JSON: %v", body, err)
			}
			if e.Type != tc.code || e.Message == "" {
				t.Fatalf("error = %+v, want __type %s with a message", e, tc.code)
			}
			if hdr.Get("X-Amzn-Errortype") != tc.code {
				t.Fatalf("x-amzn-ErrorType = %q", hdr.Get("X-Amzn-Errortype"))
			}
		})
	}
}

func TestFormRequestsGoToELB(t *testing.T) {
	emu := New(Options{Clock: simclock.NewManual(testStart)})
	defer emu.Close()
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	status, _, body := rawCall(t, emu, http.MethodPost, "/", form, []byte("Version=2015-12-01"))
	if status != 400 || !bytes.Contains(body, []byte("<Code>InvalidAction</Code>")) {
		t.Fatalf("form without Action: %d %s", status, body)
	}
	status, _, body = rawCall(t, emu, http.MethodPost, "/", form, []byte("Action=DescribeLoadBalancers&Version=2015-12-01"))
	if status != 200 || !bytes.Contains(body, []byte("DescribeLoadBalancersResponse")) {
		t.Fatalf("DescribeLoadBalancers: %d %s", status, body)
	}
}

func TestThrottlingOnEveryProtocol(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	if err := h.emu.SetFaultPlan(FaultPlan{Seed: 9, Rules: []FaultRule{
		{API: "elbv2:DescribeLoadBalancers", ThrottleRate: 1},
		{API: "route53:ListHostedZones", ThrottleRate: 1},
		{API: "cloudwatch:DescribeAlarms", ThrottleRate: 1},
		{API: "ecr:DescribeRepositories", ThrottleRate: 1},
	}}); err != nil {
		t.Fatal(err)
	}
	nop := func(o *elb.Options) { o.Retryer = aws.NopRetryer{} }
	_, err := elb.NewFromConfig(h.cfg, nop).DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{})
	wantCode(t, "ELBv2", err, "Throttling")
	_, err = route53.NewFromConfig(h.cfg, func(o *route53.Options) { o.Retryer = aws.NopRetryer{} }).ListHostedZones(ctx, &route53.ListHostedZonesInput{})
	wantCode(t, "Route 53", err, "Throttling")
	status, _, body := rawCall(t, h.emu, http.MethodPost, "/service/GraniteServiceVersion20100801/operation/DescribeAlarms",
		map[string]string{"Smithy-Protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}, []byte{0xa0})
	if status != 400 || !bytes.Contains(body, []byte("ThrottlingException")) {
		t.Fatalf("CloudWatch throttle: %d %x", status, body)
	}
	status, _, body = rawCall(t, h.emu, http.MethodPost, "/", map[string]string{"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"}, []byte(`{}`))
	if status != 400 || !bytes.Contains(body, []byte(`"__type":"ThrottlingException"`)) {
		t.Fatalf("ECR throttle: %d %s", status, body)
	}
	// Unthrottled operations of the same services still work.
	if _, err := elb.NewFromConfig(h.cfg, nop).DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{}); err != nil {
		t.Fatalf("DescribeTargetGroups: %v", err)
	}
}

func wantCode(t *testing.T, svc string, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("%s: error %v, want code %s", svc, err, code)
	}
}

func TestFaultLatencyUsesTheClock(t *testing.T) {
	clock := simclock.NewScaled(testStart, 1)
	defer clock.Close()
	emu := New(Options{Clock: clock})
	defer emu.Close()
	srv := httptest.NewServer(emu)
	defer srv.Close()
	if err := emu.SetFaultPlan(FaultPlan{Rules: []FaultRule{{API: "ecs:ListClusters", LatencyMs: 150}}}); err != nil {
		t.Fatal(err)
	}
	client := ecs.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: staticCreds()})
	start := time.Now()
	if _, err := client.ListClusters(t.Context(), &ecs.ListClustersInput{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("ListClusters took %v with 150ms of injected latency at scale 1", d)
	}
	if _, err := client.ListServices(t.Context(), &ecs.ListServicesInput{}); err == nil {
		t.Fatal("ListServices on a missing default cluster succeeded")
	}
}

func TestPanicsBecomeInternalFailure(t *testing.T) {
	emu := New(Options{Clock: simclock.NewManual(testStart), Mount: map[string]http.Handler{
		"Boom": http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }),
	}})
	defer emu.Close()
	status, _, body := rawCall(t, emu, http.MethodPost, "/", map[string]string{"X-Amz-Target": "Boom.Go"}, []byte(`{}`))
	if status != 500 || !strings.Contains(string(body), "InternalFailure") {
		t.Fatalf("panicking handler: %d %s", status, body)
	}
}

func TestMountedHandlersGetTheirTargets(t *testing.T) {
	var got string
	var gotBody []byte
	emu := New(Options{Clock: simclock.NewManual(testStart), Mount: map[string]http.Handler{
		"AWSStepFunctions": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = r.Header.Get("X-Amz-Target")
			gotBody, _ = io.ReadAll(r.Body)
			_, _ = w.Write([]byte(`{}`))
		}),
	}})
	defer emu.Close()
	if err := emu.SetFaultPlan(FaultPlan{Seed: 1, Rules: []FaultRule{{API: "states:StopExecution", ThrottleRate: 1}}}); err != nil {
		t.Fatal(err)
	}
	status, _, _ := rawCall(t, emu, http.MethodPost, "/", map[string]string{"X-Amz-Target": "AWSStepFunctions.StartExecution"}, []byte(`{"name":"x"}`))
	if status != 200 || got != "AWSStepFunctions.StartExecution" || string(gotBody) != `{"name":"x"}` {
		t.Fatalf("mounted handler: status %d target %q body %q", status, got, gotBody)
	}
	status, _, body := rawCall(t, emu, http.MethodPost, "/", map[string]string{"X-Amz-Target": "AWSStepFunctions.StopExecution"}, []byte(`{}`))
	if status != 400 || !strings.Contains(string(body), "ThrottlingException") {
		t.Fatalf("throttled mounted op: %d %s", status, body)
	}
}
