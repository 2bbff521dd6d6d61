package ecsevents_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/internal/ecsevents/localrules"
	"github.com/ecsflow/ecsflow/internal/eventbus"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/sfnlocal"
	"github.com/ecsflow/ecsflow/internal/simclock"
	"github.com/ecsflow/ecsflow/internal/store"
)

// steadyMachine waits for the service to be steady the way the rolling
// workflow does: a .waitForTaskToken Task whose Lambda records the wait.
const steadyMachine = `{"StartAt":"WaitSteady","States":{"WaitSteady":{"Type":"Task",
 "Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
 "Parameters":{"FunctionName":"step-wait-steady","Payload":{"token.$":"$$.Task.Token","deploymentId.$":"$.deploymentId"}},
 "HeartbeatSeconds":600,"TimeoutSeconds":3600,"End":true}}}`

// world is the real emulator, local bus, embedded Step Functions and store
// on one fast simulated clock, with the ecs-events handler on the bus.
type world struct {
	clock *simclock.Scaled
	emu   *awsemu.Emulator
	bus   *eventbus.Bus
	sfn   *sfnlocal.Service
	st    *store.Store
	ecs   *ecs.Client
	smARN string
	waits chan store.Wait

	verifyARN string
	cw        *cloudwatch.Client
}

func newWorld(t *testing.T) *world {
	t.Helper()
	clock := simclock.NewScaled(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), 500)
	w := &world{clock: clock, waits: make(chan store.Wait, 4)}
	w.st = newStore(t, clock.Now)
	w.sfn = sfnlocal.New(sfnlocal.Options{Clock: clock})
	w.bus = eventbus.New(eventbus.Options{Clock: clock, Logger: discard})
	const fn = "arn:aws:lambda:us-east-1:123456789012:function:ecsflow-ecs-events"
	w.bus.RegisterLambda(fn, ecsevents.New(w.st, w.sfn, ecsevents.WithLogger(discard), ecsevents.WithClock(clock.Now)).Handle)
	if err := localrules.Install(w.bus, func(f string) string {
		if f == ecsevents.FunctionECSEvents {
			return fn
		}
		return ""
	}); err != nil {
		t.Fatal(err)
	}
	sink := awsemu.SinkFunc(func(ctx context.Context, ev awsemu.Event) {
		raw, err := json.Marshal(ev)
		if err == nil {
			_, err = w.bus.PutEnvelope(ctx, raw)
		}
		if err != nil {
			t.Errorf("put emulator event on the bus: %v", err)
		}
	})
	w.emu = awsemu.New(awsemu.Options{Clock: clock, Sink: sink, Seed: 3, Logger: discard,
		Timings: awsemu.Timings{Provision: time.Second, PullMin: 2 * time.Second, PullMax: 4 * time.Second,
			Start: time.Second, Stop: 2 * time.Second, LaunchBackoff: 2 * time.Second}})
	srv := httptest.NewServer(w.emu)
	w.ecs = ecs.New(ecs.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	// The step Lambda: record the wait, keyed by the service, and return.
	w.sfn.RegisterLambda("step-wait-steady", func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
		var in struct{ Token, DeploymentID string }
		if err := json.Unmarshal(payload, &in); err != nil {
			return nil, err
		}
		wt := store.Wait{Token: in.Token, DeploymentID: in.DeploymentID, Kind: store.WaitSteady,
			Cluster: "prod", Service: "web", Expires: clock.Now().Add(time.Hour)}
		if err := w.st.PutWait(ctx, wt); err != nil {
			return nil, err
		}
		w.waits <- wt
		return json.RawMessage(`{}`), nil
	})
	// The verify step: record a VERIFY wait on the alarm "web-5xx".
	w.sfn.RegisterLambda("step-verify", func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
		var in struct{ Token, DeploymentID string }
		if err := json.Unmarshal(payload, &in); err != nil {
			return nil, err
		}
		wt := store.Wait{Token: in.Token, DeploymentID: in.DeploymentID, Kind: store.WaitVerify,
			Cluster: "prod", Service: "web", Alarms: []string{"web-5xx"}, Expires: clock.Now().Add(time.Hour)}
		if err := w.st.PutWait(ctx, wt); err != nil {
			return nil, err
		}
		w.waits <- wt
		return json.RawMessage(`{}`), nil
	})
	arn, err := w.sfn.CreateStateMachine(context.Background(), "wait-steady", steadyMachine)
	if err != nil {
		t.Fatal(err)
	}
	w.smARN = arn
	w.verifyARN, err = w.sfn.CreateStateMachine(context.Background(), "verify",
		strings.ReplaceAll(steadyMachine, "step-wait-steady", "step-verify"))
	if err != nil {
		t.Fatal(err)
	}
	w.cw = cloudwatch.New(cloudwatch.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	t.Cleanup(func() {
		srv.Close()
		w.emu.Close()
		w.bus.Close()
		w.sfn.Close()
		clock.Close()
	})
	return w
}

func (w *world) taskDef(t *testing.T, ctx context.Context, image string) string {
	t.Helper()
	out, err := w.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("web"), NetworkMode: ecstypes.NetworkModeAwsvpc,
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		Cpu:                     aws.String("256"), Memory: aws.String("512"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("web"), Image: aws.String(image), Essential: aws.Bool(true)}},
	})
	if err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

// service creates prod/web on v1 and waits until it is stable.
func (w *world) service(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := w.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	_, err := w.ecs.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String("prod"), ServiceName: aws.String("web"), TaskDefinition: aws.String(w.taskDef(t, ctx, "repo/web:v1")),
		DesiredCount: aws.Int32(3), LaunchType: ecstypes.LaunchTypeFargate,
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}},
		DeploymentConfiguration: &ecstypes.DeploymentConfiguration{
			DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{Enable: true, Rollback: true}},
	})
	if err != nil {
		t.Fatalf("CreateService: %v", err)
	}
	wt := ecs.NewServicesStableWaiter(w.ecs, func(o *ecs.ServicesStableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
	})
	if err := wt.Wait(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("prod"), Services: []string{"web"}}, 20*time.Second); err != nil {
		t.Fatalf("service never stable: %v", err)
	}
}

// deploy starts the waiting execution, and once its wait is recorded,
// updates the service to image.
func (w *world) deploy(t *testing.T, ctx context.Context, dep, image string) sfnlocal.Execution {
	t.Helper()
	td := w.taskDef(t, ctx, image)
	ex, err := w.sfn.StartExecution(ctx, w.smARN, dep, `{"deploymentId":"`+dep+`"}`)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.waits:
	case <-ctx.Done():
		t.Fatal("the wait was never recorded")
	}
	if _, err := w.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("web"),
		TaskDefinition: aws.String(td)}); err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	x, err := w.sfn.WaitExecution(ctx, ex)
	if err != nil {
		t.Fatalf("execution never ended: %v", err)
	}
	// The handler deletes the wait after completing the token.
	if err := w.bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	return x
}

func TestRollingUpdateCompletesTheWaitThroughTheBus(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.service(t, ctx)
	dep := seedDeployment(t, w.st, 1)[0]

	x := w.deploy(t, ctx, dep, "repo/web:v2")
	if x.Status != "SUCCEEDED" || !strings.Contains(x.Output, `"steady":true`) {
		t.Fatalf("execution %s %s %s %s, want SUCCEEDED with steady output", x.Status, x.Output, x.Error, x.Cause)
	}
	if ws, _ := w.st.WaitsForDeployment(ctx, dep); len(ws) != 1 || ws[0].Kind != store.WaitWatch {
		t.Errorf("waits after completion: %+v, want only the WATCH", ws)
	}
	l := ledger(t, w.st, dep)
	var msgs []string
	running := 0
	for _, e := range l {
		msgs = append(msgs, e.Message)
		if e.Kind == model.LedgerECSEvent && strings.Contains(e.Message, "web:2) RUNNING") {
			running++
		}
	}
	joined := strings.Join(msgs, "\n")
	if !strings.Contains(joined, "SERVICE_DEPLOYMENT_IN_PROGRESS prod/web") ||
		!(strings.Contains(joined, "SERVICE_DEPLOYMENT_COMPLETED prod/web") || strings.Contains(joined, "SERVICE_STEADY_STATE prod/web")) {
		t.Errorf("ledger lacks the deployment's ECS events:\n%s", joined)
	}
	if running < 1 {
		t.Errorf("ledger has no RUNNING task of the new revision:\n%s", joined)
	}
	if s := w.bus.Stats(); s.Failed != 0 || len(w.bus.DeadLetters()) != 0 {
		t.Errorf("bus stats %+v: deliveries failed", s)
	}
}

// TestCrashingImageFailsTheWaitWithNotStable: the failure of a crashing
// revision reaches the wait and the ledger, with the stopped tasks behind
// it.
func TestCrashingImageFailsTheWaitWithNotStable(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.service(t, ctx)
	dep := seedDeployment(t, w.st, 1)[0]
	if err := w.emu.SetFaultPlan(awsemu.FaultPlan{Seed: 1, Rules: []awsemu.FaultRule{
		{Image: "repo/web:crash*", Behavior: awsemu.BehaviorCrash, AfterSeconds: 2}}}); err != nil {
		t.Fatal(err)
	}
	x := w.deploy(t, ctx, dep, "repo/web:crash-1")
	// ECS's circuit breaker fails the deployment and rolls back to v1,
	// whose tasks never stopped: the rollback's SERVICE_DEPLOYMENT_COMPLETED
	// and SERVICE_STEADY_STATE follow the failure within simulated seconds,
	// and EventBridge keeps no order between events. Whichever answers the
	// token first wins: the failure (NotStable), or the rollback's
	// completion, which the engine's next step turns into NotStable by
	// confirming that the service runs the new revision (steps' Next;
	// tests/e2e's crash scenarios). The failure must be in the ledger either
	// way.
	switch {
	case x.Status == "FAILED" && x.Error == ecsevents.ErrNotStable:
		if !strings.Contains(x.Cause, "prod/web") {
			t.Errorf("cause %q does not name the service", x.Cause)
		}
	case x.Status == "SUCCEEDED" && strings.Contains(x.Output, `"steady":true`):
		t.Logf("the rollback's completion answered first: %s", x.Output)
	default:
		t.Fatalf("execution %s error %q cause %q output %s, want FAILED NotStable (or the rollback's steady output)", x.Status, x.Error, x.Cause, x.Output)
	}
	if ws, _ := w.st.WaitsForDeployment(ctx, dep); len(ws) != 1 || ws[0].Kind != store.WaitWatch {
		t.Errorf("waits after failure: %+v, want only the WATCH", ws)
	}
	// The tasks behind the failure stop after it (the WATCH keeps their
	// events coming); wait a little simulated time for them.
	var entries []model.LedgerEntry
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		entries = ledger(t, w.st, dep)
		n := 0
		for _, e := range entries {
			if e.Kind == model.LedgerTaskStopped && strings.Contains(e.Message, "(web:2)") && strings.Contains(e.Message, "exit code 1") {
				n++
			}
		}
		if n >= 3 {
			break
		}
	}
	failed := false
	for _, e := range entries {
		failed = failed || (e.Kind == model.LedgerECSEvent && (strings.HasPrefix(e.Message, "SERVICE_DEPLOYMENT_FAILED prod/web") ||
			strings.HasPrefix(e.Message, "SERVICE_TASK_START_IMPAIRED prod/web")))
	}
	if !failed {
		t.Error("the ledger has neither SERVICE_DEPLOYMENT_FAILED nor SERVICE_TASK_START_IMPAIRED")
	}
	stopped := 0
	defer func() {
		if t.Failed() {
			for _, e := range entries {
				t.Logf("ledger: %s %s %s", e.At.Format(time.RFC3339Nano), e.Kind, e.Message)
			}
		}
	}()
	for _, e := range entries {
		// Crashed tasks of the new revision (others were stopped by the
		// scheduler during ECS's own rollback).
		if e.Kind != model.LedgerTaskStopped || !strings.Contains(e.Message, "(web:2)") || !strings.Contains(e.Message, "[EssentialContainerExited]") {
			continue
		}
		stopped++
		if !strings.Contains(e.Message, "Essential container in task exited") || !strings.Contains(e.Message, "exit code 1") {
			t.Errorf("stopped-task entry %q lacks the reason or exit code", e.Message)
		}
	}
	if stopped < 3 {
		t.Errorf("%d stopped-task entries of the crashing revision, want at least the circuit breaker threshold 3", stopped)
	}
}

func TestAlarmDuringTheBakeFailsTheVerifyWait(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range []string{"web-5xx", "web-p99"} {
		if _, err := w.cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String(name),
			MetricName: aws.String("HTTPCode_Target_5XX_Count"), Namespace: aws.String("AWS/ApplicationELB"),
			Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1),
			Threshold: aws.Float64(5), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold}); err != nil {
			t.Fatalf("PutMetricAlarm: %v", err)
		}
	}
	dep := seedDeployment(t, w.st, 1)[0]
	ex, err := w.sfn.StartExecution(ctx, w.verifyARN, dep, `{"deploymentId":"`+dep+`"}`)
	if err != nil {
		t.Fatal(err)
	}
	<-w.waits
	// An alarm the wait does not watch fires first, then the watched one.
	if err := w.emu.SetFaultPlan(awsemu.FaultPlan{Rules: []awsemu.FaultRule{
		{Alarm: "web-p99", State: "ALARM", AtSeconds: 5},
		{Alarm: "web-5xx", State: "ALARM", AtSeconds: 30, Reason: "Threshold Crossed: 9 > 5"}}}); err != nil {
		t.Fatal(err)
	}
	x, err := w.sfn.WaitExecution(ctx, ex)
	if err != nil {
		t.Fatal(err)
	}
	if x.Status != "FAILED" || x.Error != ecsevents.ErrVerificationFailed || !strings.Contains(x.Cause, "alarm web-5xx entered ALARM") ||
		!strings.Contains(x.Cause, "Threshold Crossed: 9 > 5") {
		t.Fatalf("execution %s %q %q, want FAILED VerificationFailed naming web-5xx and the reason", x.Status, x.Error, x.Cause)
	}
	if err := w.bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	l := ledger(t, w.st, dep)
	if len(l) != 1 || !strings.Contains(l[0].Message, "web-5xx") {
		t.Errorf("ledger = %+v, want the one alarm entry", l)
	}
	if ws, _ := w.st.WaitsForDeployment(ctx, dep); len(ws) != 0 {
		t.Errorf("verify wait left: %+v", ws)
	}
}
