package elbv2emu

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// recorder keeps the last request body seen per Action, so tests can check
// the real SDK's wire format.
type recorder struct {
	mu    sync.Mutex
	forms map[string]url.Values
	next  http.Handler
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	if v, err := url.ParseQuery(string(body)); err == nil {
		r.mu.Lock()
		r.forms[v.Get("Action")] = v
		r.mu.Unlock()
	}
	r.next.ServeHTTP(w, req)
}

func (r *recorder) form(action string) url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.forms[action]
}

type fixture struct {
	elb    *ELB
	clock  *simclock.Manual
	client *elbv2.Client
	rec    *recorder
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	clock := simclock.NewManual(epoch)
	e := New(Options{Clock: clock})
	rec := &recorder{forms: map[string]url.Values{}, next: e}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	// The default retryer stays on: the SDK sometimes reports "use of closed
	// network connection" while reading a 200 response after a GC
	// (aws/aws-sdk-go-v2#1825, #2737), which it retries.
	client := elbv2.New(elbv2.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	})
	return &fixture{elb: e, clock: clock, client: client, rec: rec}
}

type world struct {
	lbARN, blueARN, greenARN, listenerARN string
}

// setup creates a load balancer, two target groups and a listener that
// forwards 80/20 to blue/green.
func (f *fixture) setup(t *testing.T) world {
	t.Helper()
	ctx := context.Background()
	lb, err := f.client.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{
		Name:           aws.String("web"),
		Subnets:        []string{"subnet-a", "subnet-b"},
		SecurityGroups: []string{"sg-1"},
	})
	if err != nil {
		t.Fatalf("CreateLoadBalancer: %v", err)
	}
	var w world
	w.lbARN = aws.ToString(lb.LoadBalancers[0].LoadBalancerArn)
	for i, name := range []string{"web-blue", "web-green"} {
		tg, err := f.client.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{
			Name:                       aws.String(name),
			Protocol:                   elbv2types.ProtocolEnumHttp,
			Port:                       aws.Int32(8080),
			VpcId:                      aws.String("vpc-1"),
			TargetType:                 elbv2types.TargetTypeEnumIp,
			HealthCheckIntervalSeconds: aws.Int32(10),
		})
		if err != nil {
			t.Fatalf("CreateTargetGroup %s: %v", name, err)
		}
		arn := aws.ToString(tg.TargetGroups[0].TargetGroupArn)
		if i == 0 {
			w.blueARN = arn
		} else {
			w.greenARN = arn
		}
	}
	ls, err := f.client.CreateListener(ctx, &elbv2.CreateListenerInput{
		LoadBalancerArn: aws.String(w.lbARN),
		Protocol:        elbv2types.ProtocolEnumHttp,
		Port:            aws.Int32(80),
		DefaultActions: []elbv2types.Action{{
			Type: elbv2types.ActionTypeEnumForward,
			ForwardConfig: &elbv2types.ForwardActionConfig{TargetGroups: []elbv2types.TargetGroupTuple{
				{TargetGroupArn: aws.String(w.blueARN), Weight: aws.Int32(80)},
				{TargetGroupArn: aws.String(w.greenARN), Weight: aws.Int32(20)},
			}},
		}},
	})
	if err != nil {
		t.Fatalf("CreateListener: %v", err)
	}
	w.listenerARN = aws.ToString(ls.Listeners[0].ListenerArn)
	return w
}

func TestSDKWireFormatOfWeightedForward(t *testing.T) {
	f := newFixture(t)
	w := f.setup(t)
	form := f.rec.form("CreateListener")
	want := map[string]string{
		"Action":                       "CreateListener",
		"Version":                      APIVersion,
		"DefaultActions.member.1.Type": "forward",
		"DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn": w.blueARN,
		"DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.Weight":         "80",
		"DefaultActions.member.1.ForwardConfig.TargetGroups.member.2.TargetGroupArn": w.greenARN,
		"DefaultActions.member.1.ForwardConfig.TargetGroups.member.2.Weight":         "20",
	}
	for k, v := range want {
		if got := form.Get(k); got != v {
			t.Errorf("form[%q] = %q, want %q (form %v)", k, got, v, form)
		}
	}
}

func TestFullSetupRoundTrip(t *testing.T) {
	f := newFixture(t)
	w := f.setup(t)
	ctx := context.Background()

	lbs, err := f.client.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{"web"}})
	if err != nil {
		t.Fatalf("DescribeLoadBalancers: %v", err)
	}
	if got := len(lbs.LoadBalancers); got != 1 {
		t.Fatalf("got %d load balancers, want 1", got)
	}
	lb := lbs.LoadBalancers[0]
	if got := aws.ToString(lb.LoadBalancerArn); got != w.lbARN {
		t.Errorf("LoadBalancerArn = %q, want %q", got, w.lbARN)
	}
	if lb.State == nil || lb.State.Code != elbv2types.LoadBalancerStateEnumActive {
		t.Errorf("State = %+v, want active", lb.State)
	}
	if lb.Type != elbv2types.LoadBalancerTypeEnumApplication || lb.Scheme != elbv2types.LoadBalancerSchemeEnumInternetFacing {
		t.Errorf("Type/Scheme = %q/%q, want application/internet-facing", lb.Type, lb.Scheme)
	}
	if got := len(lb.AvailabilityZones); got != 2 {
		t.Errorf("got %d availability zones, want 2", got)
	}
	if lb.CreatedTime == nil || !lb.CreatedTime.Equal(epoch) {
		t.Errorf("CreatedTime = %v, want %v", lb.CreatedTime, epoch)
	}
	if aws.ToString(lb.DNSName) == "" {
		t.Errorf("DNSName is empty")
	}

	tgs, err := f.client.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(w.lbARN)})
	if err != nil {
		t.Fatalf("DescribeTargetGroups: %v", err)
	}
	if got := len(tgs.TargetGroups); got != 2 {
		t.Fatalf("got %d target groups behind the load balancer, want 2", got)
	}
	for _, tg := range tgs.TargetGroups {
		if len(tg.LoadBalancerArns) != 1 || tg.LoadBalancerArns[0] != w.lbARN {
			t.Errorf("%s LoadBalancerArns = %v, want [%s]", aws.ToString(tg.TargetGroupName), tg.LoadBalancerArns, w.lbARN)
		}
		if got := aws.ToInt32(tg.HealthCheckIntervalSeconds); got != 10 {
			t.Errorf("HealthCheckIntervalSeconds = %d, want 10", got)
		}
		if got := aws.ToInt32(tg.HealthyThresholdCount); got != 5 {
			t.Errorf("HealthyThresholdCount = %d, want 5", got)
		}
		if tg.TargetType != elbv2types.TargetTypeEnumIp {
			t.Errorf("TargetType = %q, want ip", tg.TargetType)
		}
	}

	ls, err := f.client.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: aws.String(w.lbARN)})
	if err != nil {
		t.Fatalf("DescribeListeners: %v", err)
	}
	if len(ls.Listeners) != 1 {
		t.Fatalf("got %d listeners, want 1", len(ls.Listeners))
	}
	act := ls.Listeners[0].DefaultActions[0]
	if act.Type != elbv2types.ActionTypeEnumForward || act.ForwardConfig == nil || len(act.ForwardConfig.TargetGroups) != 2 {
		t.Fatalf("default action = %+v, want forward to two groups", act)
	}
	if act.TargetGroupArn != nil {
		t.Errorf("TargetGroupArn = %q, want unset for a two-group forward", aws.ToString(act.TargetGroupArn))
	}
	gotW := map[string]int32{}
	for _, tg := range act.ForwardConfig.TargetGroups {
		gotW[aws.ToString(tg.TargetGroupArn)] = aws.ToInt32(tg.Weight)
	}
	if gotW[w.blueARN] != 80 || gotW[w.greenARN] != 20 {
		t.Errorf("weights = %v, want blue 80 green 20", gotW)
	}

	// A rule with a path condition and a single-group forward.
	rule, err := f.client.CreateRule(ctx, &elbv2.CreateRuleInput{
		ListenerArn: aws.String(w.listenerARN),
		Priority:    aws.Int32(10),
		Conditions:  []elbv2types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/api/*"}}},
		Actions:     []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(w.greenARN)}},
	})
	if err != nil {
		t.Fatalf("CreateRule: %v", err)
	}
	ruleARN := aws.ToString(rule.Rules[0].RuleArn)
	rules, err := f.client.DescribeRules(ctx, &elbv2.DescribeRulesInput{ListenerArn: aws.String(w.listenerARN)})
	if err != nil {
		t.Fatalf("DescribeRules: %v", err)
	}
	if len(rules.Rules) != 2 {
		t.Fatalf("got %d rules, want 2 (rule + default)", len(rules.Rules))
	}
	if got := aws.ToString(rules.Rules[0].Priority); got != "10" {
		t.Errorf("first rule priority = %q, want 10", got)
	}
	if !aws.ToBool(rules.Rules[1].IsDefault) || aws.ToString(rules.Rules[1].Priority) != "default" {
		t.Errorf("last rule = %+v, want the default rule", rules.Rules[1])
	}
	r0 := rules.Rules[0]
	if len(r0.Conditions) != 1 || r0.Conditions[0].PathPatternConfig == nil || r0.Conditions[0].PathPatternConfig.Values[0] != "/api/*" {
		t.Errorf("rule conditions = %+v, want path-pattern /api/*", r0.Conditions)
	}
	fc := r0.Actions[0].ForwardConfig
	if aws.ToString(r0.Actions[0].TargetGroupArn) != w.greenARN || fc == nil || len(fc.TargetGroups) != 1 || aws.ToInt32(fc.TargetGroups[0].Weight) != 1 {
		t.Errorf("rule action = %+v, want forward to green with weight 1", r0.Actions[0])
	}

	// ModifyRule shifts the rule to a weighted forward.
	mod, err := f.client.ModifyRule(ctx, &elbv2.ModifyRuleInput{
		RuleArn: aws.String(ruleARN),
		Actions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, ForwardConfig: &elbv2types.ForwardActionConfig{
			TargetGroups: []elbv2types.TargetGroupTuple{
				{TargetGroupArn: aws.String(w.blueARN), Weight: aws.Int32(1)},
				{TargetGroupArn: aws.String(w.greenARN), Weight: aws.Int32(3)},
			}}}},
	})
	if err != nil {
		t.Fatalf("ModifyRule: %v", err)
	}
	if got := len(mod.Rules[0].Actions[0].ForwardConfig.TargetGroups); got != 2 {
		t.Errorf("modified rule forwards to %d groups, want 2", got)
	}
	if got := len(mod.Rules[0].Conditions); got != 1 {
		t.Errorf("modified rule has %d conditions, want the original 1", got)
	}

	// Paginator over target groups, one per page.
	p := elbv2.NewDescribeTargetGroupsPaginator(f.client, &elbv2.DescribeTargetGroupsInput{PageSize: aws.Int32(1)})
	var names []string
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("DescribeTargetGroups page: %v", err)
		}
		for _, tg := range out.TargetGroups {
			names = append(names, aws.ToString(tg.TargetGroupName))
		}
	}
	if len(names) != 2 || names[0] != "web-blue" || names[1] != "web-green" {
		t.Errorf("paged names = %v, want [web-blue web-green]", names)
	}
}

func TestModifyListenerWeightsMovesTraffic(t *testing.T) {
	f := newFixture(t)
	w := f.setup(t)
	ctx := context.Background()
	for _, tg := range []string{w.blueARN, w.greenARN} {
		if err := f.elb.RegisterTarget(tg, "10.0.0.1", 8080); err != nil {
			t.Fatalf("RegisterTarget: %v", err)
		}
		f.elb.SetTargetHealth(tg, "10.0.0.1", 8080, "healthy", "", "")
	}
	share := f.elb.TrafficShare(w.listenerARN)
	if share[w.blueARN] != 0.8 || share[w.greenARN] != 0.2 {
		t.Errorf("share = %v, want blue 0.8 green 0.2", share)
	}
	tests := []struct {
		name        string
		blue, green int32
		wantBlue    float64
	}{
		{"half", 50, 50, 0.5},
		{"all green", 0, 100, 0},
		{"all blue", 100, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.client.ModifyListener(ctx, &elbv2.ModifyListenerInput{
				ListenerArn: aws.String(w.listenerARN),
				DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, ForwardConfig: &elbv2types.ForwardActionConfig{
					TargetGroups: []elbv2types.TargetGroupTuple{
						{TargetGroupArn: aws.String(w.blueARN), Weight: aws.Int32(tc.blue)},
						{TargetGroupArn: aws.String(w.greenARN), Weight: aws.Int32(tc.green)},
					}}}},
			})
			if err != nil {
				t.Fatalf("ModifyListener: %v", err)
			}
			weights, ok := f.elb.ListenerForwardWeights(w.listenerARN)
			if !ok || weights[w.blueARN] != tc.blue || weights[w.greenARN] != tc.green {
				t.Errorf("ListenerForwardWeights = %v, %v; want blue %d green %d", weights, ok, tc.blue, tc.green)
			}
			share := f.elb.TrafficShare(w.listenerARN)
			if got := share[w.blueARN]; got != tc.wantBlue {
				t.Errorf("blue share = %v, want %v", got, tc.wantBlue)
			}
			if got := share[w.greenARN]; got != 1-tc.wantBlue {
				t.Errorf("green share = %v, want %v", got, 1-tc.wantBlue)
			}
		})
	}

	// Back to 50/50, then green loses its only healthy target: all traffic to blue.
	if _, err := f.client.ModifyListener(ctx, &elbv2.ModifyListenerInput{
		ListenerArn: aws.String(w.listenerARN),
		DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, ForwardConfig: &elbv2types.ForwardActionConfig{
			TargetGroups: []elbv2types.TargetGroupTuple{
				{TargetGroupArn: aws.String(w.blueARN), Weight: aws.Int32(50)},
				{TargetGroupArn: aws.String(w.greenARN), Weight: aws.Int32(50)},
			}}}},
	}); err != nil {
		t.Fatalf("ModifyListener: %v", err)
	}
	f.elb.SetTargetHealth(w.greenARN, "10.0.0.1", 8080, "unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [502]")
	share = f.elb.TrafficShare(w.listenerARN)
	if share[w.blueARN] != 1 || share[w.greenARN] != 0 {
		t.Errorf("share with sick green = %v, want blue 1 green 0", share)
	}

	// A single TargetGroupArn counts as weight 1 of 1.
	if _, err := f.client.ModifyListener(ctx, &elbv2.ModifyListenerInput{
		ListenerArn:    aws.String(w.listenerARN),
		DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(w.greenARN)}},
	}); err != nil {
		t.Fatalf("ModifyListener: %v", err)
	}
	weights, _ := f.elb.ListenerForwardWeights(w.listenerARN)
	if len(weights) != 1 || weights[w.greenARN] != 1 {
		t.Errorf("weights = %v, want only green with 1", weights)
	}
	// Blue no longer receives traffic from any listener, so it is detached.
	info, ok := f.elb.TargetGroup(w.blueARN)
	if !ok || len(info.LoadBalancerARNs) != 0 {
		t.Errorf("blue LoadBalancerARNs = %v, want none after it left the listener", info.LoadBalancerARNs)
	}
}

func TestTargetHealthAndDraining(t *testing.T) {
	f := newFixture(t)
	w := f.setup(t)
	ctx := context.Background()

	if _, err := f.client.ModifyTargetGroupAttributes(ctx, &elbv2.ModifyTargetGroupAttributesInput{
		TargetGroupArn: aws.String(w.blueARN),
		Attributes:     []elbv2types.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("30")}},
	}); err != nil {
		t.Fatalf("ModifyTargetGroupAttributes: %v", err)
	}
	attrs, err := f.client.DescribeTargetGroupAttributes(ctx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(w.blueARN)})
	if err != nil {
		t.Fatalf("DescribeTargetGroupAttributes: %v", err)
	}
	found := false
	for _, a := range attrs.Attributes {
		if aws.ToString(a.Key) == "deregistration_delay.timeout_seconds" {
			found = true
			if got := aws.ToString(a.Value); got != "30" {
				t.Errorf("deregistration delay = %q, want 30", got)
			}
		}
	}
	if !found {
		t.Errorf("attributes %v lack deregistration_delay.timeout_seconds", attrs.Attributes)
	}
	info, _ := f.elb.TargetGroup(w.blueARN)
	if info.DeregistrationDelay != 30*time.Second || info.HealthCheckInterval != 10*time.Second {
		t.Errorf("TargetGroup info = %+v, want delay 30s and interval 10s", info)
	}

	// One target through the API, one through the world hook.
	if _, err := f.client.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{
		TargetGroupArn: aws.String(w.blueARN),
		Targets:        []elbv2types.TargetDescription{{Id: aws.String("10.0.0.1")}},
	}); err != nil {
		t.Fatalf("RegisterTargets: %v", err)
	}
	if err := f.elb.RegisterTarget(w.blueARN, "10.0.0.2", 8080); err != nil {
		t.Fatalf("RegisterTarget: %v", err)
	}
	health := func() map[string]elbv2types.TargetHealth {
		t.Helper()
		out, err := f.client.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(w.blueARN)})
		if err != nil {
			t.Fatalf("DescribeTargetHealth: %v", err)
		}
		m := map[string]elbv2types.TargetHealth{}
		for _, d := range out.TargetHealthDescriptions {
			if got := aws.ToInt32(d.Target.Port); got != 8080 {
				t.Errorf("target %s port = %d, want 8080", aws.ToString(d.Target.Id), got)
			}
			m[aws.ToString(d.Target.Id)] = *d.TargetHealth
		}
		return m
	}
	h := health()
	if len(h) != 2 {
		t.Fatalf("got %d targets, want 2", len(h))
	}
	for id, th := range h {
		if th.State != elbv2types.TargetHealthStateEnumInitial || th.Reason != elbv2types.TargetHealthReasonEnumRegistrationInProgress {
			t.Errorf("%s = %s/%s, want initial/Elb.RegistrationInProgress", id, th.State, th.Reason)
		}
	}

	f.elb.SetTargetHealth(w.blueARN, "10.0.0.1", 8080, "healthy", "", "")
	f.elb.SetTargetHealth(w.blueARN, "10.0.0.2", 8080, "unhealthy", "Target.Timeout", "Request timed out")
	h = health()
	if th := h["10.0.0.1"]; th.State != elbv2types.TargetHealthStateEnumHealthy || th.Reason != "" {
		t.Errorf("10.0.0.1 = %s/%s, want healthy with no reason", th.State, th.Reason)
	}
	if th := h["10.0.0.2"]; th.State != elbv2types.TargetHealthStateEnumUnhealthy || th.Reason != elbv2types.TargetHealthReasonEnumTimeout || aws.ToString(th.Description) != "Request timed out" {
		t.Errorf("10.0.0.2 = %+v, want unhealthy/Target.Timeout", th)
	}

	// Drain: API deregistration of .1, hook deregistration of .2 with done.
	var doneAt time.Time
	if _, err := f.client.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{
		TargetGroupArn: aws.String(w.blueARN),
		Targets:        []elbv2types.TargetDescription{{Id: aws.String("10.0.0.1"), Port: aws.Int32(8080)}},
	}); err != nil {
		t.Fatalf("DeregisterTargets: %v", err)
	}
	if err := f.elb.DeregisterTarget(w.blueARN, "10.0.0.2", 8080, func() { doneAt = f.clock.Now() }); err != nil {
		t.Fatalf("DeregisterTarget: %v", err)
	}
	h = health()
	for id, th := range h {
		if th.State != elbv2types.TargetHealthStateEnumDraining || th.Reason != elbv2types.TargetHealthReasonEnumDeregistrationInProgress {
			t.Errorf("%s = %s/%s, want draining/Target.DeregistrationInProgress", id, th.State, th.Reason)
		}
	}
	// Health reports from the world do not end a drain.
	f.elb.SetTargetHealth(w.blueARN, "10.0.0.1", 8080, "healthy", "", "")
	f.clock.Advance(29 * time.Second)
	if got := len(health()); got != 2 {
		t.Fatalf("after 29s got %d targets, want 2 still draining", got)
	}
	if !doneAt.IsZero() {
		t.Errorf("done ran at %v, before the delay ended", doneAt)
	}
	f.clock.Advance(time.Second)
	if got := len(health()); got != 0 {
		t.Errorf("after 30s got %d targets, want 0", got)
	}
	if want := epoch.Add(30 * time.Second); !doneAt.Equal(want) {
		t.Errorf("done ran at %v, want %v", doneAt, want)
	}

	// Asking for an unregistered target answers unused/Target.NotRegistered.
	out, err := f.client.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{
		TargetGroupArn: aws.String(w.blueARN),
		Targets:        []elbv2types.TargetDescription{{Id: aws.String("10.9.9.9")}},
	})
	if err != nil {
		t.Fatalf("DescribeTargetHealth: %v", err)
	}
	if th := out.TargetHealthDescriptions[0].TargetHealth; th.State != elbv2types.TargetHealthStateEnumUnused || th.Reason != elbv2types.TargetHealthReasonEnumNotRegistered {
		t.Errorf("unregistered target = %s/%s, want unused/Target.NotRegistered", th.State, th.Reason)
	}
}

func TestReRegisterCancelsDrain(t *testing.T) {
	f := newFixture(t)
	w := f.setup(t)
	done := 0
	_ = f.elb.RegisterTarget(w.greenARN, "10.0.0.5", 0)
	_ = f.elb.DeregisterTarget(w.greenARN, "10.0.0.5", 0, func() { done++ })
	_ = f.elb.RegisterTarget(w.greenARN, "10.0.0.5", 0)
	if done != 1 {
		t.Errorf("done ran %d times on re-registration, want 1", done)
	}
	f.clock.Advance(time.Hour)
	snap := f.elb.Snapshot().(Snapshot)
	var targets []SnapshotTarget
	for _, tg := range snap.TargetGroups {
		if tg.ARN == w.greenARN {
			targets = tg.Targets
		}
	}
	if len(targets) != 1 || targets[0].State != "initial" {
		t.Errorf("green targets = %+v, want one initial target", targets)
	}
	if done != 1 {
		t.Errorf("done ran %d times, want 1", done)
	}
	if err := f.elb.RegisterTarget("arn:nope", "x", 1); !errors.Is(err, ErrTargetGroupNotFound) {
		t.Errorf("RegisterTarget on unknown group = %v, want ErrTargetGroupNotFound", err)
	}
}

func TestTypedErrors(t *testing.T) {
	f := newFixture(t)
	w := f.setup(t)
	ctx := context.Background()
	missingTG := "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/nope/0000000000000000"

	t.Run("TargetGroupNotFound", func(t *testing.T) {
		_, err := f.client.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(missingTG)})
		var e *elbv2types.TargetGroupNotFoundException
		if !errors.As(err, &e) {
			t.Fatalf("err = %T %v, want TargetGroupNotFoundException", err, err)
		}
		if e.ErrorCode() != "TargetGroupNotFound" {
			t.Errorf("ErrorCode = %q, want TargetGroupNotFound", e.ErrorCode())
		}
	})
	t.Run("TargetGroupNotFound in forward", func(t *testing.T) {
		_, err := f.client.ModifyListener(ctx, &elbv2.ModifyListenerInput{
			ListenerArn:    aws.String(w.listenerARN),
			DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(missingTG)}},
		})
		var e *elbv2types.TargetGroupNotFoundException
		if !errors.As(err, &e) {
			t.Fatalf("err = %T %v, want TargetGroupNotFoundException", err, err)
		}
	})
	t.Run("LoadBalancerNotFound", func(t *testing.T) {
		_, err := f.client.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{"nope"}})
		var e *elbv2types.LoadBalancerNotFoundException
		if !errors.As(err, &e) {
			t.Fatalf("err = %T %v, want LoadBalancerNotFoundException", err, err)
		}
	})
	t.Run("ListenerNotFound", func(t *testing.T) {
		_, err := f.client.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{w.listenerARN + "x"}})
		var e *elbv2types.ListenerNotFoundException
		if !errors.As(err, &e) {
			t.Fatalf("err = %T %v, want ListenerNotFoundException", err, err)
		}
	})
	t.Run("DuplicateTargetGroupName", func(t *testing.T) {
		_, err := f.client.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{
			Name: aws.String("web-blue"), Protocol: elbv2types.ProtocolEnumHttp, Port: aws.Int32(9090), VpcId: aws.String("vpc-1"),
		})
		var e *elbv2types.DuplicateTargetGroupNameException
		if !errors.As(err, &e) {
			t.Fatalf("err = %T %v, want DuplicateTargetGroupNameException", err, err)
		}
	})
	t.Run("PriorityInUse", func(t *testing.T) {
		in := &elbv2.CreateRuleInput{
			ListenerArn: aws.String(w.listenerARN),
			Priority:    aws.Int32(5),
			Conditions:  []elbv2types.RuleCondition{{Field: aws.String("host-header"), Values: []string{"a.example.com"}}},
			Actions:     []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(w.blueARN)}},
		}
		if _, err := f.client.CreateRule(ctx, in); err != nil {
			t.Fatalf("CreateRule: %v", err)
		}
		_, err := f.client.CreateRule(ctx, in)
		var e *elbv2types.PriorityInUseException
		if !errors.As(err, &e) {
			t.Fatalf("err = %T %v, want PriorityInUseException", err, err)
		}
	})
	t.Run("ValidationError", func(t *testing.T) {
		_, err := f.client.ModifyTargetGroupAttributes(ctx, &elbv2.ModifyTargetGroupAttributesInput{
			TargetGroupArn: aws.String(w.blueARN),
			Attributes:     []elbv2types.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("-1")}},
		})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationError" {
			t.Fatalf("err = %T %v, want ValidationError", err, err)
		}
		if !strings.Contains(ae.ErrorMessage(), "between 0 and 3600") {
			t.Errorf("message = %q, want the allowed range", ae.ErrorMessage())
		}
	})
	t.Run("InvalidTarget", func(t *testing.T) {
		_, err := f.client.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{
			TargetGroupArn: aws.String(w.blueARN),
			Targets:        []elbv2types.TargetDescription{{Id: aws.String("not-an-ip")}},
		})
		var e *elbv2types.InvalidTargetException
		if !errors.As(err, &e) {
			t.Fatalf("err = %T %v, want InvalidTargetException", err, err)
		}
	})
}

func TestBadRequestsAnswerWithQueryErrors(t *testing.T) {
	e := New(Options{Clock: simclock.NewManual(epoch)})
	tests := []struct {
		name       string
		method     string
		body       string
		wantStatus int
		wantCode   string
	}{
		{"no action", http.MethodPost, "Version=2015-12-01", 400, "<Code>MissingAction</Code>"},
		{"unknown action", http.MethodPost, "Action=Nope&Version=2015-12-01", 400, "<Code>InvalidAction</Code>"},
		{"bad escape", http.MethodPost, "Action=%zz", 400, "<Code>MalformedQueryString</Code>"},
		{"bad list index", http.MethodPost, "Action=DescribeLoadBalancers&Names.member.0=x", 400, "<Code>ValidationError</Code>"},
		{"huge index", http.MethodPost, "Action=DescribeLoadBalancers&Names.member.99999999999=x", 400, "<Code>ValidationError</Code>"},
		{"too deep", http.MethodPost, "Action=DescribeLoadBalancers&a.b.c.d.e.f.g.h.i.j.k.l.m.n=1", 400, "<Code>ValidationError</Code>"},
		{"bad marker", http.MethodPost, "Action=DescribeLoadBalancers&Marker=zz", 400, "<Code>ValidationError</Code>"},
		{"wrong method", http.MethodPut, "Action=DescribeLoadBalancers", 405, "<Code>InvalidHttpRequest</Code>"},
		{"too large", http.MethodPost, "Action=DescribeLoadBalancers&x=" + string(bytes.Repeat([]byte("a"), maxBodyBytes+1)), 400, "<Code>ValidationError</Code>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rr := httptest.NewRecorder()
			req := httptest.NewRequest(tc.method, "/", bytes.NewBufferString(tc.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			e.ServeHTTP(rr, req)
			if rr.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", rr.Code, tc.wantStatus)
			}
			if !bytes.Contains(rr.Body.Bytes(), []byte(tc.wantCode)) {
				t.Errorf("body = %s, want it to contain %s", rr.Body.String(), tc.wantCode)
			}
		})
	}
}
