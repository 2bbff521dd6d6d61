package steps_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/deploycontrol"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/sfnlocal"
)

// expect runs a deployment of tag to its end and checks the execution's
// status and error and the deployment's status.
func (e *env) expect(t *testing.T, sm string, d *model.Deployment, execStatus, execErr string, status model.Status) *model.Deployment {
	t.Helper()
	x := e.wait(t, e.start(t, sm, d))
	got := e.get(t, d.ID)
	if x.Status != execStatus || x.Error != execErr || got.Status != status {
		dumpHistory(t, e, x.ExecutionARN)
		for _, s := range got.Steps {
			t.Logf("step %+v", s)
		}
		t.Fatalf("execution %s %s (%s), deployment %s (%s); want execution %s %s, deployment %s",
			x.Status, x.Error, x.Cause, got.Status, got.Reason, execStatus, execErr, status)
	}
	if got.Runtime != nil {
		checkReleased(t, e, got)
	}
	return got
}

func TestRollingAlarmDuringBakeRollsBack(t *testing.T) {
	e := newEnv(t, envOptions{workflow: func(w *model.Workflow) { w.Verification.BakeSeconds = 120 }})
	sm := e.machine(t, "rolling")
	d1 := e.expectSucceededWithin(t, sm, "v1")
	td1, _, _ := describe(t, e)
	_ = d1
	// The alarm fires 40 simulated seconds into the next deployment,
	// which is during its 120-second bake.
	if err := e.w.Emu.SetFaultPlan(awsemu.FaultPlan{Rules: []awsemu.FaultRule{{Alarm: "web-5xx", State: "ALARM", AtSeconds: 40, Reason: "5xx spike"}}}); err != nil {
		t.Fatal(err)
	}
	d2 := e.deployment(t, "v2")
	got := e.expect(t, sm, d2, "FAILED", "DeploymentRolledBack", model.StatusRolledBack)
	if !strings.Contains(got.Reason, "VerificationFailed") {
		t.Fatalf("reason %q, want VerificationFailed", got.Reason)
	}
	if td, desired, _ := describe(t, e); td != td1 || desired != 4 {
		t.Fatalf("service on %s x%d after the rollback, want %s x4", td, desired, td1)
	}
	// An alarm already in ALARM fails verification at its start.
	d3 := e.deployment(t, "v3")
	got = e.expect(t, sm, d3, "FAILED", "DeploymentRolledBack", model.StatusRolledBack)
	if !strings.Contains(got.Reason, "at the start of verification") {
		t.Fatalf("reason %q, want the alarm found at the start", got.Reason)
	}
	e.w.SetAlarm(t, "web-5xx", cwtypes.StateValueOk)
}

func (e *env) expectSucceededWithin(t *testing.T, sm, tag string) *model.Deployment {
	t.Helper()
	return e.expect(t, sm, e.deployment(t, tag), "SUCCEEDED", "", model.StatusSucceeded)
}

func TestRollingApprovalRejectedRollsBackAndTimeoutTakesTheDefault(t *testing.T) {
	e := newEnv(t, envOptions{workflow: func(w *model.Workflow) {
		w.Verification = model.Verification{Approval: &model.Approval{TimeoutSeconds: 300, OnTimeout: model.ApprovalDefaultApprove, Approvers: []string{"alice"}}}
	}})
	sm := e.machine(t, "rolling")
	// Nobody answers: after 300 simulated seconds the APPROVE default applies.
	d1 := e.expectSucceededWithin(t, sm, "v1")
	checkSteps(t, d1, "PREPARE", "REGISTER_TASK_DEFINITION", "UPDATE_SERVICE", "WAIT_STEADY", "APPROVAL", "FINISH")
	td1, _, _ := describe(t, e)

	ctl := deploycontrol.New(e.st, e.sfn, deploycontrol.WithClock(e.w.Clock.Now))
	d2 := e.deployment(t, "v2")
	exec := e.start(t, sm, d2)
	waitStatus(t, e, d2.ID, model.StatusWaitingApproval)
	if err := ctl.Reject(context.Background(), d2.ID, "arn:aws:iam::123456789012:user/alice", "not today"); err != nil {
		t.Fatalf("reject: %v", err)
	}
	x := e.wait(t, exec)
	got := e.get(t, d2.ID)
	if x.Error != "DeploymentRolledBack" || got.Status != model.StatusRolledBack || !strings.Contains(got.Reason, "ApprovalRejected") {
		dumpHistory(t, e, exec)
		t.Fatalf("rejected: execution %s %s, deployment %s (%s)", x.Status, x.Error, got.Status, got.Reason)
	}
	checkReleased(t, e, got)
	if td, _, _ := describe(t, e); td != td1 {
		t.Fatalf("service on %s after the rejected deployment, want %s", td, td1)
	}

	// Someone who is not an approver is refused; alice approves.
	d3 := e.deployment(t, "v3")
	exec = e.start(t, sm, d3)
	waitStatus(t, e, d3.ID, model.StatusWaitingApproval)
	if err := ctl.Approve(context.Background(), d3.ID, "arn:aws:iam::123456789012:user/mallory", ""); err == nil {
		t.Fatal("a non-approver approved")
	}
	if err := ctl.Approve(context.Background(), d3.ID, "arn:aws:iam::123456789012:user/alice", "ship it"); err != nil {
		t.Fatalf("approve: %v", err)
	}
	if x := e.wait(t, exec); x.Status != "SUCCEEDED" {
		t.Fatalf("approved deployment: %s %s", x.Status, x.Error)
	}
	got3 := e.get(t, d3.ID)
	if got3.Status != model.StatusSucceeded {
		t.Fatalf("approved deployment is %s", got3.Status)
	}
	checkReleased(t, e, got3)
	if td, _, _ := describe(t, e); td != got3.NewRevision.TaskDefinitionARN {
		t.Fatalf("service on %s after the approval, want %s", td, got3.NewRevision.TaskDefinitionARN)
	}
}

func TestRollingVerifyWithoutBakeChecksAlarmsOnce(t *testing.T) {
	e := newEnv(t, envOptions{workflow: func(w *model.Workflow) { w.Verification = model.Verification{Alarms: []string{"web-5xx"}} }})
	sm := e.machine(t, "rolling")
	got := e.expectSucceededWithin(t, sm, "v1")
	checkSteps(t, got, "PREPARE", "REGISTER_TASK_DEFINITION", "UPDATE_SERVICE", "WAIT_STEADY", "VERIFY", "FINISH")
	if got.Usage.APICalls["cloudwatch:DescribeAlarms"] != 1 {
		t.Fatalf("DescribeAlarms calls %d, want 1", got.Usage.APICalls["cloudwatch:DescribeAlarms"])
	}
}

// waitStatus polls the store (real time, bounded) until the deployment has status.
func waitStatus(t *testing.T, e *env, id string, status model.Status) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		d := e.get(t, id)
		if d.Status == status {
			return
		}
		if d.Status.Final() || time.Now().After(deadline) {
			t.Fatalf("deployment %s is %s (%s), want %s", id, d.Status, d.Reason, status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRollingFirstDeploymentThatCrashesIsScaledToZero(t *testing.T) {
	e := newEnv(t, envOptions{})
	sm := e.machine(t, "rolling")
	if err := e.w.Emu.SetFaultPlan(awsemu.FaultPlan{Rules: []awsemu.FaultRule{{Image: "*:v1", Behavior: awsemu.BehaviorCrash, AfterSeconds: 1}}}); err != nil {
		t.Fatal(err)
	}
	got := e.expect(t, sm, e.deployment(t, "v1"), "FAILED", "DeploymentRolledBack", model.StatusRolledBack)
	if !strings.Contains(got.Reason, "scaled to 0") {
		t.Fatalf("reason %q, want the scale to zero recorded", got.Reason)
	}
	if _, desired, running := describe(t, e); desired != 0 || running != 0 {
		t.Fatalf("service at %d desired (%d running), want 0", desired, running)
	}
}

func TestRollingConcurrentDeploymentsQueueOrReject(t *testing.T) {
	t.Run("QUEUE", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		sm := e.machine(t, "rolling")
		d1, d2 := e.deployment(t, "v1"), e.deployment(t, "v2")
		x1 := e.start(t, sm, d1)
		waitStatus(t, e, d1.ID, model.StatusRunning)
		x2 := e.start(t, sm, d2)
		r1, r2 := e.wait(t, x1), e.wait(t, x2)
		if r1.Status != "SUCCEEDED" || r2.Status != "SUCCEEDED" {
			t.Fatalf("executions %s / %s (%s %s), want both SUCCEEDED", r1.Status, r2.Status, r2.Error, r2.Cause)
		}
		g1, g2 := e.get(t, d1.ID), e.get(t, d2.ID)
		if g2.StartedAt == nil || g1.EndedAt == nil || g2.StartedAt.Before(*g1.EndedAt) {
			t.Fatalf("second started %v, first ended %v: want one after the other", g2.StartedAt, g1.EndedAt)
		}
		if td, _, _ := describe(t, e); td != g2.NewRevision.TaskDefinitionARN {
			t.Fatalf("service on %s, want the second deployment's %s", td, g2.NewRevision.TaskDefinitionARN)
		}
		checkReleased(t, e, g1)
		checkReleased(t, e, g2)
		var queued bool
		for _, l := range e.ledger(t, d2.ID) {
			queued = queued || strings.Contains(l.Message, "QUEUED behind deployment "+d1.ID)
		}
		if !queued {
			t.Fatal("the second deployment's ledger does not say it queued behind the first")
		}
	})
	t.Run("REJECT", func(t *testing.T) {
		e := newEnv(t, envOptions{workflow: func(w *model.Workflow) { w.ConcurrencyPolicy = model.ConcurrencyReject }})
		sm := e.machine(t, "rolling")
		d1, d2 := e.deployment(t, "v1"), e.deployment(t, "v2")
		x1 := e.start(t, sm, d1)
		waitStatus(t, e, d1.ID, model.StatusRunning)
		r2 := e.wait(t, e.start(t, sm, d2))
		if r2.Status != "FAILED" || r2.Error != "LockHeld" {
			t.Fatalf("second execution %s %s, want FAILED LockHeld", r2.Status, r2.Error)
		}
		g2 := e.get(t, d2.ID)
		if g2.Status != model.StatusFailed || !strings.Contains(g2.Reason, d1.ID) {
			t.Fatalf("second deployment %s (%s), want FAILED naming the holder", g2.Status, g2.Reason)
		}
		if r1 := e.wait(t, x1); r1.Status != "SUCCEEDED" {
			t.Fatalf("first execution %s", r1.Status)
		}
		checkReleased(t, e, e.get(t, d1.ID))
	})
}

func TestRollingSucceedsWithThirtyPercentOfECSCallsThrottled(t *testing.T) {
	e := newEnv(t, envOptions{})
	sm := e.machine(t, "rolling")
	if err := e.w.Emu.SetFaultPlan(awsemu.FaultPlan{Seed: 5, Rules: []awsemu.FaultRule{{API: "ecs:*", ThrottleRate: 0.3}}}); err != nil {
		t.Fatal(err)
	}
	e.expectSucceededWithin(t, sm, "v1")
	e.expectSucceededWithin(t, sm, "v2")
}

func TestRollingStepThatPanicsOnceIsRetried(t *testing.T) {
	e := newEnv(t, envOptions{})
	sm := e.machine(t, "rolling")
	h, err := e.engine.Handler("step-update-service")
	if err != nil {
		t.Fatal(err)
	}
	panicked := 0
	e.sfn.RegisterLambda(localARN("step-update-service"), func(ctx context.Context, p json.RawMessage) (json.RawMessage, error) {
		if panicked == 0 {
			panicked++
			panic("injected panic")
		}
		return h(ctx, p)
	})
	e.expectSucceededWithin(t, sm, "v1")
	if panicked != 1 {
		t.Fatalf("the handler panicked %d times, want 1", panicked)
	}
}

// TestRollingWithoutECSEventsFallsBackToTheHeartbeatCheck removes the
// ecs-events intake: the waits are then ended by the heartbeat safety net
// (one DescribeServices per heartbeat).
func TestRollingWithoutECSEventsFallsBackToTheHeartbeatCheck(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.bus.RegisterLambda(localARN("ecs-events"), func(context.Context, json.RawMessage) error { return nil })
	sm := e.machine(t, "rolling")
	got := e.expectSucceededWithin(t, sm, "v1")
	checks := 0
	for _, s := range got.Steps {
		if s.Name == "CHECK_STEADY" {
			checks++
		}
	}
	if checks == 0 {
		t.Fatalf("no CHECK_STEADY step: %+v", got.Steps)
	}
}

func TestDaemonDeploysOneTaskPerInstanceAndRollsBack(t *testing.T) {
	e := newEnv(t, envOptions{daemon: true})
	sm := e.machine(t, "daemon")
	d1 := e.deployment(t, "v1")
	d1.Strategy = model.StrategyDaemon
	got := e.expect(t, sm, d1, "SUCCEEDED", "", model.StatusSucceeded)
	td1, desired, running := describe(t, e)
	if td1 != got.NewRevision.TaskDefinitionARN || desired != 3 || running != 3 {
		t.Fatalf("daemon service %s x%d (%d running), want %s on 3 instances", td1, desired, running, got.NewRevision.TaskDefinitionARN)
	}
	if err := e.w.Emu.SetFaultPlan(awsemu.FaultPlan{Rules: []awsemu.FaultRule{{Image: "*:v2", Behavior: awsemu.BehaviorCrash, AfterSeconds: 1}}}); err != nil {
		t.Fatal(err)
	}
	e.expect(t, sm, e.deployment(t, "v2"), "FAILED", "DeploymentRolledBack", model.StatusRolledBack)
	if td, _, _ := describe(t, e); td != td1 {
		t.Fatalf("daemon service on %s after the rollback, want %s", td, td1)
	}
}

var (
	_ = modeltest.Int32
	_ sfnlocal.LambdaHandler
)

// TestRollingThatNeverSettlesTimesOutAndRollsBack: without ECS events the
// heartbeat check runs every minute; once the workflow's steady-state
// timeout has passed it fails NotStable and the deployment rolls back.
func TestRollingThatNeverSettlesTimesOutAndRollsBack(t *testing.T) {
	e := newEnv(t, envOptions{workflow: func(w *model.Workflow) { w.SteadyStateTimeoutSeconds = 200 }})
	sm := e.machine(t, "rolling")
	e.expectSucceededWithin(t, sm, "v1")
	td1, _, _ := describe(t, e)
	e.bus.RegisterLambda(localARN("ecs-events"), func(context.Context, json.RawMessage) error { return nil })
	if err := e.w.Emu.SetFaultPlan(awsemu.FaultPlan{Rules: []awsemu.FaultRule{{Image: "*:v2", Behavior: awsemu.BehaviorSlowStart, AfterSeconds: 100000}}}); err != nil {
		t.Fatal(err)
	}
	got := e.expect(t, sm, e.deployment(t, "v2"), "FAILED", "DeploymentRolledBack", model.StatusRolledBack)
	if !strings.Contains(got.Reason, "did not reach a steady state") || !strings.Contains(got.Reason, "within 200s") {
		t.Fatalf("reason %q, want the steady-state timeout", got.Reason)
	}
	checks := 0
	for _, s := range got.Steps {
		if s.Name == "CHECK_STEADY" {
			checks++
		}
	}
	if checks < 3 || checks > 5 {
		t.Fatalf("%d heartbeat checks in 200 s with a 60 s heartbeat, want 3 or 4", checks)
	}
	if td, _, _ := describe(t, e); td != td1 {
		t.Fatalf("service on %s after the timeout, want %s", td, td1)
	}
}
