package elbv2emu

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

func TestSDKWaitersSeeHealthAndDeregistration(t *testing.T) {
	f := newFixture(t)
	w := f.setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = f.elb.RegisterTarget(w.blueARN, "10.0.0.7", 8080)
	f.elb.SetTargetHealth(w.blueARN, "10.0.0.7", 8080, "healthy", "", "")
	targets := []elbv2types.TargetDescription{{Id: aws.String("10.0.0.7"), Port: aws.Int32(8080)}}
	// The waiters' first attempt is immediate, so a correct answer ends them at once.
	if err := elbv2.NewTargetInServiceWaiter(f.client).Wait(ctx, &elbv2.DescribeTargetHealthInput{
		TargetGroupArn: aws.String(w.blueARN), Targets: targets}, time.Minute); err != nil {
		t.Fatalf("TargetInServiceWaiter: %v", err)
	}
	_ = f.elb.DeregisterTarget(w.blueARN, "10.0.0.7", 8080, nil)
	f.clock.Advance(300 * time.Second)
	if err := elbv2.NewTargetDeregisteredWaiter(f.client).Wait(ctx, &elbv2.DescribeTargetHealthInput{
		TargetGroupArn: aws.String(w.blueARN), Targets: targets}, time.Minute); err != nil {
		t.Fatalf("TargetDeregisteredWaiter after the default 300s delay: %v", err)
	}
	if err := elbv2.NewLoadBalancerAvailableWaiter(f.client).Wait(ctx, &elbv2.DescribeLoadBalancersInput{
		LoadBalancerArns: []string{w.lbARN}}, time.Minute); err != nil {
		t.Fatalf("LoadBalancerAvailableWaiter: %v", err)
	}
}

func TestTagsPrioritiesAndHealthCheckSettings(t *testing.T) {
	f := newFixture(t)
	w := f.setup(t)
	ctx := context.Background()

	if _, err := f.client.AddTags(ctx, &elbv2.AddTagsInput{
		ResourceArns: []string{w.lbARN, w.blueARN},
		Tags:         []elbv2types.Tag{{Key: aws.String("app"), Value: aws.String("web")}, {Key: aws.String("env"), Value: aws.String("prod")}},
	}); err != nil {
		t.Fatalf("AddTags: %v", err)
	}
	if _, err := f.client.RemoveTags(ctx, &elbv2.RemoveTagsInput{ResourceArns: []string{w.blueARN}, TagKeys: []string{"env"}}); err != nil {
		t.Fatalf("RemoveTags: %v", err)
	}
	tags, err := f.client.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: []string{w.lbARN, w.blueARN}})
	if err != nil {
		t.Fatalf("DescribeTags: %v", err)
	}
	got := map[string]string{}
	for _, d := range tags.TagDescriptions {
		var kv []string
		for _, tg := range d.Tags {
			kv = append(kv, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
		}
		got[aws.ToString(d.ResourceArn)] = fmt.Sprint(kv)
	}
	if got[w.lbARN] != "[app=web env=prod]" || got[w.blueARN] != "[app=web]" {
		t.Errorf("tags = %v, want lb [app=web env=prod] and blue [app=web]", got)
	}
	_, err = f.client.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: []string{w.blueARN + "x"}})
	var tgnf *elbv2types.TargetGroupNotFoundException
	if !errors.As(err, &tgnf) {
		t.Errorf("DescribeTags on a missing group: err = %T %v, want TargetGroupNotFoundException", err, err)
	}

	mk := func(prio int32, host string) string {
		out, err := f.client.CreateRule(ctx, &elbv2.CreateRuleInput{
			ListenerArn: aws.String(w.listenerARN), Priority: aws.Int32(prio),
			Conditions: []elbv2types.RuleCondition{{Field: aws.String("host-header"), HostHeaderConfig: &elbv2types.HostHeaderConditionConfig{Values: []string{host}}}},
			Actions:    []elbv2types.Action{{Type: elbv2types.ActionTypeEnumFixedResponse, FixedResponseConfig: &elbv2types.FixedResponseActionConfig{StatusCode: aws.String("503")}}},
			Tags:       []elbv2types.Tag{{Key: aws.String("host"), Value: aws.String(host)}},
		})
		if err != nil {
			t.Fatalf("CreateRule: %v", err)
		}
		return aws.ToString(out.Rules[0].RuleArn)
	}
	a, b := mk(1, "a.example.com"), mk(2, "b.example.com")
	// Swapping two priorities in one call is allowed.
	if _, err := f.client.SetRulePriorities(ctx, &elbv2.SetRulePrioritiesInput{RulePriorities: []elbv2types.RulePriorityPair{
		{RuleArn: aws.String(a), Priority: aws.Int32(2)}, {RuleArn: aws.String(b), Priority: aws.Int32(1)}}}); err != nil {
		t.Fatalf("SetRulePriorities swap: %v", err)
	}
	rules, err := f.client.DescribeRules(ctx, &elbv2.DescribeRulesInput{ListenerArn: aws.String(w.listenerARN)})
	if err != nil {
		t.Fatalf("DescribeRules: %v", err)
	}
	if aws.ToString(rules.Rules[0].RuleArn) != b || aws.ToString(rules.Rules[1].RuleArn) != a {
		t.Errorf("rule order after swap = %s, %s; want b then a", aws.ToString(rules.Rules[0].RuleArn), aws.ToString(rules.Rules[1].RuleArn))
	}
	if fr := rules.Rules[0].Actions[0].FixedResponseConfig; fr == nil || aws.ToString(fr.StatusCode) != "503" {
		t.Errorf("fixed response = %+v, want 503", fr)
	}
	_, err = f.client.SetRulePriorities(ctx, &elbv2.SetRulePrioritiesInput{RulePriorities: []elbv2types.RulePriorityPair{
		{RuleArn: aws.String(a), Priority: aws.Int32(1)}}})
	var piu *elbv2types.PriorityInUseException
	if !errors.As(err, &piu) {
		t.Errorf("SetRulePriorities clash: err = %T %v, want PriorityInUseException", err, err)
	}

	mod, err := f.client.ModifyTargetGroup(ctx, &elbv2.ModifyTargetGroupInput{
		TargetGroupArn: aws.String(w.blueARN), HealthCheckIntervalSeconds: aws.Int32(15), HealthyThresholdCount: aws.Int32(3),
		HealthCheckPath: aws.String("/healthz"),
	})
	if err != nil {
		t.Fatalf("ModifyTargetGroup: %v", err)
	}
	if g := mod.TargetGroups[0]; aws.ToInt32(g.HealthCheckIntervalSeconds) != 15 || aws.ToString(g.HealthCheckPath) != "/healthz" {
		t.Errorf("modified group = %+v", g)
	}
	info, _ := f.elb.TargetGroup(w.blueARN)
	if info.HealthCheckInterval != 15*time.Second || info.HealthyThreshold != 3 {
		t.Errorf("TargetGroup info = %+v, want 15s interval and threshold 3", info)
	}
}

func TestTargetGroupAssociationLimit(t *testing.T) {
	f := newFixture(t)
	w := f.setup(t)
	ctx := context.Background()
	lb2, err := f.client.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("other")})
	if err != nil {
		t.Fatalf("CreateLoadBalancer: %v", err)
	}
	_, err = f.client.CreateListener(ctx, &elbv2.CreateListenerInput{
		LoadBalancerArn: lb2.LoadBalancers[0].LoadBalancerArn, Protocol: elbv2types.ProtocolEnumHttp, Port: aws.Int32(80),
		DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(w.blueARN)}},
	})
	var lim *elbv2types.TargetGroupAssociationLimitException
	if !errors.As(err, &lim) {
		t.Fatalf("err = %T %v, want TargetGroupAssociationLimitException", err, err)
	}
	_, err = f.client.CreateListener(ctx, &elbv2.CreateListenerInput{
		LoadBalancerArn: aws.String(w.lbARN), Protocol: elbv2types.ProtocolEnumHttp, Port: aws.Int32(80),
		DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(w.blueARN)}},
	})
	var dup *elbv2types.DuplicateListenerException
	if !errors.As(err, &dup) {
		t.Fatalf("err = %T %v, want DuplicateListenerException", err, err)
	}
	_, err = f.client.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: aws.String(w.blueARN)})
	var inUse *elbv2types.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Fatalf("err = %T %v, want ResourceInUseException", err, err)
	}
}

// TestConcurrentDrainsOnScaledClock exercises the hooks from many goroutines
// while drains fire on a fast real clock (run it with -race).
func TestConcurrentDrainsOnScaledClock(t *testing.T) {
	clock := simclock.NewScaled(epoch, 10000) // 1 simulated second = 0.1 ms
	defer clock.Close()
	e := New(Options{Clock: clock})
	form := func(s string) {
		t.Helper()
		rr := serve(e, s)
		if rr.Code != 200 {
			t.Fatalf("%s: %s", s, rr.Body.String())
		}
	}
	form("Action=CreateTargetGroup&Name=tg&Protocol=HTTP&Port=80&VpcId=vpc-1&TargetType=ip")
	tg := e.tgs[0].TargetGroupArn
	form("Action=ModifyTargetGroupAttributes&TargetGroupArn=" + tg + "&Attributes.member.1.Key=deregistration_delay.timeout_seconds&Attributes.member.1.Value=5")
	const n = 40
	var done atomic.Int32
	var wg sync.WaitGroup
	all := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := fmt.Sprintf("10.1.0.%d", i+1)
			if err := e.RegisterTarget(tg, id, 80); err != nil {
				t.Errorf("RegisterTarget: %v", err)
				return
			}
			e.SetTargetHealth(tg, id, 80, "healthy", "", "")
			_ = e.Snapshot()
			if err := e.DeregisterTarget(tg, id, 80, func() { done.Add(1); all <- struct{}{} }); err != nil {
				t.Errorf("DeregisterTarget: %v", err)
			}
			_ = serve(e, "Action=DescribeTargetHealth&TargetGroupArn="+tg)
		}(i)
	}
	wg.Wait()
	timeout := time.After(10 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-all:
		case <-timeout:
			t.Fatalf("only %d of %d drains finished", done.Load(), n)
		}
	}
	if got := len(e.Snapshot().(Snapshot).TargetGroups[0].Targets); got != 0 {
		t.Errorf("%d targets left after every drain, want 0", got)
	}
}

func serve(e *ELB, body string) *httptest.ResponseRecorder {
	rr := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	e.ServeHTTP(rr, req)
	return rr
}

func TestDetachedGroupReportsNotInUse(t *testing.T) {
	f := newFixture(t)
	w := f.setup(t)
	ctx := context.Background()
	_ = f.elb.RegisterTarget(w.blueARN, "10.0.0.8", 8080)
	f.elb.SetTargetHealth(w.blueARN, "10.0.0.8", 8080, "healthy", "", "")
	state := func() elbv2types.TargetHealth {
		t.Helper()
		out, err := f.client.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(w.blueARN)})
		if err != nil || len(out.TargetHealthDescriptions) != 1 {
			t.Fatalf("DescribeTargetHealth: %v %+v", err, out)
		}
		return *out.TargetHealthDescriptions[0].TargetHealth
	}
	forward := func(arns ...string) {
		t.Helper()
		var tgs []elbv2types.TargetGroupTuple
		for _, a := range arns {
			tgs = append(tgs, elbv2types.TargetGroupTuple{TargetGroupArn: aws.String(a), Weight: aws.Int32(1)})
		}
		if _, err := f.client.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: aws.String(w.listenerARN),
			DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, ForwardConfig: &elbv2types.ForwardActionConfig{TargetGroups: tgs}}}}); err != nil {
			t.Fatalf("ModifyListener: %v", err)
		}
	}
	forward(w.greenARN)
	if th := state(); th.State != elbv2types.TargetHealthStateEnumUnused || th.Reason != elbv2types.TargetHealthReasonEnumNotInUse {
		t.Errorf("detached blue target = %s/%s, want unused/Target.NotInUse", th.State, th.Reason)
	}
	forward(w.blueARN, w.greenARN)
	if th := state(); th.State != elbv2types.TargetHealthStateEnumHealthy {
		t.Errorf("re-attached blue target = %s, want healthy", th.State)
	}
}

func TestDeletingAGroupEndsItsDrains(t *testing.T) {
	f := newFixture(t)
	rr := serve(f.elb, "Action=CreateTargetGroup&Name=tmp&Protocol=HTTP&Port=80&VpcId=vpc-1&TargetType=ip")
	if rr.Code != 200 {
		t.Fatalf("CreateTargetGroup: %s", rr.Body.String())
	}
	tg := f.elb.tgs[0].TargetGroupArn
	_ = f.elb.RegisterTarget(tg, "10.0.0.9", 80)
	released := make(chan struct{})
	_ = f.elb.DeregisterTarget(tg, "10.0.0.9", 80, func() { close(released) })
	if _, err := f.client.DeleteTargetGroup(context.Background(), &elbv2.DeleteTargetGroupInput{TargetGroupArn: aws.String(tg)}); err != nil {
		t.Fatalf("DeleteTargetGroup: %v", err)
	}
	select {
	case <-released:
	case <-time.After(5 * time.Second):
		t.Fatal("drain waiter not released when its group was deleted")
	}
	if _, ok := f.elb.TargetGroup(tg); ok {
		t.Errorf("target group still exists after DeleteTargetGroup")
	}
}
