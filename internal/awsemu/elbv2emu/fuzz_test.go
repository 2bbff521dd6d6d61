package elbv2emu

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// FuzzServeForm feeds arbitrary form bodies to the awsQuery decoder and the
// operations behind it. Every answer must be well-formed XML: a result for
// 200, an ErrorResponse otherwise; nothing may panic.
func FuzzServeForm(f *testing.F) {
	seeds := []string{
		"Action=DescribeLoadBalancers&Version=2015-12-01",
		"Action=CreateLoadBalancer&Version=2015-12-01&Name=web&Subnets.member.1=s1",
		"Action=CreateTargetGroup&Name=tg&Protocol=HTTP&Port=80&VpcId=vpc-1&TargetType=ip",
		"Action=CreateListener&LoadBalancerArn=x&Port=80&DefaultActions.member.1.Type=forward&DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.Weight=5",
		"Action=CreateRule&ListenerArn=x&Priority=1&Conditions.member.1.Field=path-pattern&Conditions.member.1.Values.member.1=/a",
		"Action=RegisterTargets&TargetGroupArn=x&Targets.member.1.Id=10.0.0.1&Targets.member.1.Port=80",
		"Action=DescribeTargetHealth&TargetGroupArn=x&Targets.member.1000.Id=a",
		"Action=ModifyTargetGroupAttributes&TargetGroupArn=x&Attributes.member.1.Key=k",
		"Action=%zz", "Names.member.0=x", "a..b=1", "Action=DescribeRules&RuleArns.member.1=&Marker=-1",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		e := New(Options{Clock: simclock.NewManual(epoch)})
		// Give the fuzzer real objects to hit.
		for _, s := range []string{
			"Action=CreateLoadBalancer&Name=web",
			"Action=CreateTargetGroup&Name=tg&Protocol=HTTP&Port=80&VpcId=vpc-1&TargetType=ip",
		} {
			rr := httptest.NewRecorder()
			e.ServeHTTP(rr, httptest.NewRequest(http.MethodPost, "/", bytes.NewBufferString(s)))
		}
		rr := httptest.NewRecorder()
		e.ServeHTTP(rr, httptest.NewRequest(http.MethodPost, "/", bytes.NewBufferString(body)))
		dec := xml.NewDecoder(bytes.NewReader(rr.Body.Bytes()))
		var root struct{ XMLName xml.Name }
		if err := dec.Decode(&root); err != nil {
			t.Fatalf("response is not XML (%v): %s", err, rr.Body.String())
		}
		if rr.Code == http.StatusOK && root.XMLName.Local == "ErrorResponse" {
			t.Fatalf("200 with an error body: %s", rr.Body.String())
		}
		if rr.Code != http.StatusOK && root.XMLName.Local != "ErrorResponse" {
			t.Fatalf("status %d without an ErrorResponse: %s", rr.Code, rr.Body.String())
		}
	})
}

// BenchmarkDescribeTargetHealth100 measures DescribeTargetHealth over HTTP
// with the real SDK client for a group of 100 targets.
func BenchmarkDescribeTargetHealth100(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	e := f.elb
	rr := httptest.NewRecorder()
	e.ServeHTTP(rr, httptest.NewRequest(http.MethodPost, "/", bytes.NewBufferString(
		"Action=CreateTargetGroup&Name=tg&Protocol=HTTP&Port=80&VpcId=vpc-1&TargetType=ip")))
	if rr.Code != http.StatusOK {
		b.Fatalf("CreateTargetGroup: %s", rr.Body.String())
	}
	tgARN := e.tgs[0].TargetGroupArn
	for i := 0; i < 100; i++ {
		id := fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)
		if err := e.RegisterTarget(tgARN, id, 80); err != nil {
			b.Fatal(err)
		}
		if i%3 != 0 {
			e.SetTargetHealth(tgARN, id, 80, "healthy", "", "")
		}
	}
	in := &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(tgARN)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := f.client.DescribeTargetHealth(ctx, in)
		if err != nil {
			b.Fatal(err)
		}
		if len(out.TargetHealthDescriptions) != 100 {
			b.Fatalf("got %d targets", len(out.TargetHealthDescriptions))
		}
	}
}

// BenchmarkDescribeTargetHealth100Server measures the emulator's own share
// of that call: form decoding, lookup and XML encoding, without HTTP or SDK.
func BenchmarkDescribeTargetHealth100Server(b *testing.B) {
	e := New(Options{Clock: simclock.NewManual(epoch)})
	if rr := serve(e, "Action=CreateTargetGroup&Name=tg&Protocol=HTTP&Port=80&VpcId=vpc-1&TargetType=ip"); rr.Code != http.StatusOK {
		b.Fatalf("CreateTargetGroup: %s", rr.Body.String())
	}
	tgARN := e.tgs[0].TargetGroupArn
	for i := 0; i < 100; i++ {
		id := fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)
		_ = e.RegisterTarget(tgARN, id, 80)
		e.SetTargetHealth(tgARN, id, 80, "healthy", "", "")
	}
	body := "Action=DescribeTargetHealth&Version=2015-12-01&TargetGroupArn=" + tgARN
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rr := serve(e, body); rr.Code != http.StatusOK {
			b.Fatal(rr.Body.String())
		}
	}
}
