// Package ecsopstest starts the AWS emulator behind a loopback HTTP server
// for tests, with the fixtures deployments need: a cluster, a load balancer
// with target groups, CloudWatch alarms. Everything is created over the wire
// with the real SDK clients.
package ecsopstest

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/ecsops/cwalarms"
	"github.com/ecsflow/ecsflow/internal/simclock"
)

// Start is the simulated time every world starts at.
var Start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Region is the emulator's region.
const Region = "us-east-1"

// FastTimings make a task start in about 3 simulated seconds.
var FastTimings = awsemu.Timings{Provision: time.Second, PullMin: time.Second, PullMax: time.Second,
	Start: time.Second, Stop: time.Second, LaunchBackoff: 2 * time.Second}

// World is a running emulator and clients for it.
type World struct {
	Emu     *awsemu.Emulator
	URL     string
	Clock   *simclock.Scaled
	Factory *ecsops.Factory
	Clients *ecsops.Clients
}

// Options for New.
type Options struct {
	Scale float64 // simulated seconds per real second; default 200
	Sink  awsemu.EventSink
	// Timings default to FastTimings.
	Timings *awsemu.Timings
}

// New starts an emulator on an httptest server; everything stops at the
// end of the test.
func New(tb testing.TB, o Options) *World {
	tb.Helper()
	if o.Scale == 0 {
		o.Scale = 200
	}
	clock := simclock.NewScaled(Start, o.Scale)
	timings := FastTimings
	if o.Timings != nil {
		timings = *o.Timings
	}
	emu := awsemu.New(awsemu.Options{Clock: clock, Sink: o.Sink, Seed: 11, Timings: timings, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(emu)
	// The simulated world is scaled; the SDK's back-off is real time, so
	// keep it short (and without the client-side retry quota).
	retryer := func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 6
			o.Backoff = retry.NewExponentialJitterBackoff(20 * time.Millisecond)
			o.RateLimiter = ratelimit.None
		})
	}
	f := cwalarms.NewFactory(aws.Config{Region: Region, Retryer: retryer}, ecsops.WithLocalEndpoint(srv.URL))
	c, err := f.Clients(context.Background(), ecsops.Target{Region: Region})
	if err != nil {
		tb.Fatalf("clients: %v", err)
	}
	tb.Cleanup(func() {
		srv.Close()
		emu.Close()
		clock.Close()
	})
	return &World{Emu: emu, URL: srv.URL, Clock: clock, Factory: f, Clients: c}
}

// Cluster creates a cluster.
func (w *World) Cluster(tb testing.TB, name string) {
	tb.Helper()
	if _, err := w.Clients.ECS.CreateCluster(context.Background(), &ecs.CreateClusterInput{ClusterName: aws.String(name)}); err != nil {
		tb.Fatalf("CreateCluster: %v", err)
	}
}

// ContainerInstances registers n EC2 container instances in cluster (for
// DAEMON services).
func (w *World) ContainerInstances(tb testing.TB, cluster string, n int) {
	tb.Helper()
	for i := 0; i < n; i++ {
		if _, err := w.Clients.ECS.RegisterContainerInstance(context.Background(), &ecs.RegisterContainerInstanceInput{Cluster: aws.String(cluster)}); err != nil {
			tb.Fatalf("RegisterContainerInstance: %v", err)
		}
	}
}

// TargetGroups creates a load balancer, n ip target groups on port 8080
// with fast health checks and short drains, and a listener forwarding to the
// first; it returns the target group ARNs.
func (w *World) TargetGroups(tb testing.TB, n int) []string {
	tb.Helper()
	ctx := context.Background()
	c := w.Clients.ELB
	lb, err := c.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("web"), Subnets: []string{"subnet-1", "subnet-2"}})
	if err != nil {
		tb.Fatalf("CreateLoadBalancer: %v", err)
	}
	var arns []string
	for i := 0; i < n; i++ {
		out, err := c.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
			Name: aws.String("tg" + string(rune('a'+i))), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(8080), VpcId: aws.String("vpc-1"),
			TargetType: elbtypes.TargetTypeEnumIp, HealthCheckIntervalSeconds: aws.Int32(6), HealthCheckTimeoutSeconds: aws.Int32(5), HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2),
		})
		if err != nil {
			tb.Fatalf("CreateTargetGroup: %v", err)
		}
		arn := aws.ToString(out.TargetGroups[0].TargetGroupArn)
		if _, err := c.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{
			TargetGroupArn: aws.String(arn), Attributes: []elbtypes.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("5")}},
		}); err != nil {
			tb.Fatalf("ModifyTargetGroupAttributes: %v", err)
		}
		arns = append(arns, arn)
	}
	if _, err := c.CreateListener(ctx, &elb.CreateListenerInput{
		LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(arns[0])}},
	}); err != nil {
		tb.Fatalf("CreateListener: %v", err)
	}
	return arns
}

// Alarm creates a metric alarm (state INSUFFICIENT_DATA until set).
func (w *World) Alarm(tb testing.TB, name string) {
	tb.Helper()
	_, err := cwalarms.Client(w.Clients).PutMetricAlarm(context.Background(), &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String(name), Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("HTTPCode_Target_5XX_Count"),
		Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(5),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
	})
	if err != nil {
		tb.Fatalf("PutMetricAlarm: %v", err)
	}
}

// SetAlarm sets an alarm's state over the wire.
func (w *World) SetAlarm(tb testing.TB, name string, state cwtypes.StateValue) {
	tb.Helper()
	if _, err := cwalarms.Client(w.Clients).SetAlarmState(context.Background(), &cloudwatch.SetAlarmStateInput{
		AlarmName: aws.String(name), StateValue: state, StateReason: aws.String("test"),
	}); err != nil {
		tb.Fatalf("SetAlarmState: %v", err)
	}
}
