package ecsops_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/ecsops/ecsopstest"
)

func TestRevisionNumber(t *testing.T) {
	for _, tc := range []struct {
		name string
		want int
		ok   bool
	}{
		{"web", 0, true}, {"web__1", 1, true}, {"web__12", 12, true},
		{"web__", 0, false}, {"web__0", 0, false}, {"web__01", 0, false}, {"web__x", 0, false},
		{"webapp__1", 0, false}, {"web-api", 0, false}, {"api__1", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ecsops.RevisionNumber("web", tc.name)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("RevisionNumber(web, %s) = %d, %v; want %d, %v", tc.name, got, ok, tc.want, tc.ok)
			}
		})
	}
	if got := ecsops.RevisionName("web", 3); got != "web__3" {
		t.Fatalf("RevisionName = %s, want web__3", got)
	}
}

func revisionService(t *testing.T, w *ecsopstest.World, td, name, token string, n int32) {
	t.Helper()
	in := createInput(td, token)
	in.ServiceName, in.DesiredCount = aws.String(name), aws.Int32(n)
	if _, err := w.Clients.CreateService(context.Background(), in); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
}

func TestRevisionsAndAutoScalingCopy(t *testing.T) {
	w := ecsopstest.New(t, ecsopstest.Options{})
	ctx := context.Background()
	w.Cluster(t, "prod")
	td, _, err := w.Clients.RegisterTaskDefinition(ctx, "", taskDef("web-prod", "web:1"))
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(td.TaskDefinitionArn)
	revisionService(t, w, arn, "web__1", "dep-1", 2)
	revisionService(t, w, arn, "web__2", "dep-2", 0)
	revisionService(t, w, arn, "webapp__7", "dep-x", 1)
	svcs, err := w.Clients.RevisionServices(ctx, "prod", "web")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range svcs {
		names = append(names, aws.ToString(s.ServiceName))
	}
	if !reflect.DeepEqual(names, []string{"web__1", "web__2"}) {
		t.Fatalf("revisions %v, want [web__1 web__2]", names)
	}
	if live := ecsops.LiveRevision(svcs); live == nil || aws.ToString(live.ServiceName) != "web__1" {
		t.Fatalf("live revision %v, want web__1 (web__2 is at 0)", live)
	}
	if n := ecsops.NextRevision("web", svcs); n != 3 {
		t.Fatalf("next revision %d, want 3", n)
	}
	if s := ecsops.RevisionOf(svcs, "dep-2"); s == nil || aws.ToString(s.ServiceName) != "web__2" {
		t.Fatalf("revision of dep-2: %v, want web__2", s)
	}
	if s := ecsops.RevisionOf(svcs, "dep-9"); s != nil {
		t.Fatalf("revision of dep-9: %s, want none", aws.ToString(s.ServiceName))
	}

	res := ecsops.ScalingResource("prod", "web__1")
	if _, err := w.Clients.AutoScale.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceEcs,
		ResourceId: aws.String(res), ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(6)}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Clients.AutoScale.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{ServiceNamespace: aastypes.ServiceNamespaceEcs,
		ResourceId: aws.String(res), ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, PolicyName: aws.String("cpu60"),
		PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
		TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(60),
			PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeECSServiceAverageCPUUtilization}}}); err != nil {
		t.Fatal(err)
	}
	old, err := w.Clients.ScalingOf(ctx, "prod", "web__1")
	if err != nil || old == nil {
		t.Fatalf("scaling of web__1: %+v, %v", old, err)
	}
	if old.Min != 1 || old.Max != 6 || len(old.Policies) != 1 || old.Policies[0].Name != "cpu60" || old.Policies[0].TargetTracking == nil ||
		aws.ToFloat64(old.Policies[0].TargetTracking.TargetValue) != 60 {
		t.Fatalf("scaling of web__1 = %+v, want 1..6 with the cpu60 target tracking policy", old)
	}
	// Through the deployment record and back.
	copied, err := ecsops.DecodeScaling(old.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Clients.SetDesiredCount(ctx, "prod", "web__2", 2); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // applying twice is harmless
		if err := w.Clients.ApplyScaling(ctx, "prod", "web__2", copied); err != nil {
			t.Fatalf("apply scaling (%d): %v", i, err)
		}
	}
	got, err := w.Clients.ScalingOf(ctx, "prod", "web__2")
	if err != nil || got == nil || got.Min != 1 || got.Max != 6 || len(got.Policies) != 1 || got.Policies[0].Name != "cpu60" ||
		got.Policies[0].TargetTracking == nil || got.Policies[0].TargetTracking.PredefinedMetricSpecification == nil {
		t.Fatalf("scaling of web__2 after the copy = %+v, %v; want web__1's", got, err)
	}
	for i := 0; i < 2; i++ {
		if err := w.Clients.RemoveScaling(ctx, "prod", "web__1"); err != nil {
			t.Fatalf("remove scaling (%d): %v", i, err)
		}
	}
	if s, err := w.Clients.ScalingOf(ctx, "prod", "web__1"); err != nil || s != nil {
		t.Fatalf("scaling of web__1 after removal = %+v, %v; want none", s, err)
	}
	if s, err := ecsops.DecodeScaling(nil); err != nil || s != nil {
		t.Fatalf("DecodeScaling(nil) = %+v, %v", s, err)
	}
	if _, err := ecsops.DecodeScaling([]byte("{")); err == nil {
		t.Fatal("DecodeScaling of bad JSON: no error")
	}
	// The copy keeps the revision's load balancer untouched.
	s, ok, err := w.Clients.DescribeService(ctx, "prod", "web__2")
	if err != nil || !ok || s.DesiredCount != 2 {
		t.Fatalf("web__2: %v %v desired %d", ok, err, s.DesiredCount)
	}
	if tg := ecsops.TargetGroupOf(&ecstypes.Service{}); tg != "" {
		t.Fatalf("TargetGroupOf(no lb) = %q", tg)
	}
}

func TestForwardWeightsOnListener(t *testing.T) {
	w := ecsopstest.New(t, ecsopstest.Options{})
	ctx := context.Background()
	tgs := w.TargetGroups(t, 2)
	lbs, err := w.Clients.ELB.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := w.Clients.ELB.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: lbs.LoadBalancers[0].LoadBalancerArn})
	if err != nil {
		t.Fatal(err)
	}
	listener := aws.ToString(ls.Listeners[0].ListenerArn)
	got, err := w.Clients.ForwardWeights(ctx, listener, "")
	if err != nil || !reflect.DeepEqual(got, map[string]int32{tgs[0]: 1}) {
		t.Fatalf("initial weights %v, %v; want all on the first target group", got, err)
	}
	want := map[string]int32{tgs[0]: 75, tgs[1]: 25}
	if err := w.Clients.SetForwardWeights(ctx, listener, "", want); err != nil {
		t.Fatal(err)
	}
	if got, err := w.Clients.ForwardWeights(ctx, listener, ""); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("weights %v, %v; want %v", got, err, want)
	}
	if emu, ok := w.Emu.ELB().ListenerForwardWeights(listener); !ok || emu[tgs[1]] != 25 || emu[tgs[0]] != 75 {
		t.Fatalf("emulator's listener weights %v, want 75/25", emu)
	}
	want = map[string]int32{tgs[0]: 0, tgs[1]: 100}
	if err := w.Clients.SetForwardWeights(ctx, listener, "", want); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.Clients.ForwardWeights(ctx, listener, ""); !reflect.DeepEqual(got, want) {
		t.Fatalf("weights after the swap %v, want %v", got, want)
	}
	if err := w.Clients.SetForwardWeights(ctx, listener, "", nil); err == nil {
		t.Fatal("no target groups: no error")
	}
	if err := w.Clients.SetForwardWeights(ctx, listener+"x", "", want); err == nil {
		t.Fatal("unknown listener: no error")
	}
}

func TestWeightedRecords(t *testing.T) {
	w := ecsopstest.New(t, ecsopstest.Options{})
	ctx := context.Background()
	hz, err := w.Clients.Route53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("example.com"), CallerReference: aws.String("t1")})
	if err != nil {
		t.Fatal(err)
	}
	zone := aws.ToString(hz.HostedZone.Id)
	name := "web.example.com"
	if err := w.Clients.UpsertWeightedRecords(ctx, zone, name, 30, []ecsops.WeightedRecord{
		{SetIdentifier: "web__1", Value: "web--1.example.com", Weight: 100}, {SetIdentifier: "web__2", Value: "web--2.example.com", Weight: 0}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Clients.UpsertWeightedRecords(ctx, zone, name, 30, []ecsops.WeightedRecord{
		{SetIdentifier: "web__1", Value: "web--1.example.com", Weight: 50}, {SetIdentifier: "web__2", Value: "web--2.example.com", Weight: 50}}); err != nil {
		t.Fatal(err)
	}
	got, err := w.Clients.RecordWeights(ctx, zone, name)
	if err != nil || !reflect.DeepEqual(got, map[string]int64{"web__1": 50, "web__2": 50}) {
		t.Fatalf("weights %v, %v; want 50/50", got, err)
	}
	if err := w.Clients.DeleteWeightedRecord(ctx, zone, name, "web__1"); err != nil {
		t.Fatal(err)
	}
	if err := w.Clients.DeleteWeightedRecord(ctx, zone, name, "web__1"); err != nil {
		t.Fatalf("deleting a missing record: %v", err)
	}
	got, err = w.Clients.RecordWeights(ctx, zone, name)
	if err != nil || !reflect.DeepEqual(got, map[string]int64{"web__2": 50}) {
		t.Fatalf("weights after delete %v, %v; want only web__2", got, err)
	}
}

func TestForwardWeightsOnRule(t *testing.T) {
	w := ecsopstest.New(t, ecsopstest.Options{})
	ctx := context.Background()
	tgs := w.TargetGroups(t, 2)
	lbs, err := w.Clients.ELB.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := w.Clients.ELB.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: lbs.LoadBalancers[0].LoadBalancerArn})
	if err != nil {
		t.Fatal(err)
	}
	listener := aws.ToString(ls.Listeners[0].ListenerArn)
	rule, err := w.Clients.ELB.CreateRule(ctx, &elb.CreateRuleInput{ListenerArn: aws.String(listener), Priority: aws.Int32(10),
		Conditions: []elbtypes.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/api/*"}}},
		Actions:    []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(tgs[0])}}})
	if err != nil {
		t.Fatal(err)
	}
	ruleARN := aws.ToString(rule.Rules[0].RuleArn)
	want := map[string]int32{tgs[0]: 40, tgs[1]: 60}
	if err := w.Clients.SetForwardWeights(ctx, listener, ruleARN, want); err != nil {
		t.Fatal(err)
	}
	if got, err := w.Clients.ForwardWeights(ctx, listener, ruleARN); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("rule weights %v, %v; want %v", got, err, want)
	}
	// The listener's default action is untouched.
	if got, err := w.Clients.ForwardWeights(ctx, listener, ""); err != nil || !reflect.DeepEqual(got, map[string]int32{tgs[0]: 1}) {
		t.Fatalf("default action %v, %v; want unchanged", got, err)
	}
}
