package e2e

import (
	"context"

	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/model"
)

const image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web"

func TestRollingSucceeds(t *testing.T) {
	h := newHarness(t, options{})
	id1 := h.start("v1")
	d1, ledger := h.finish(id1, model.StatusSucceeded)
	if x := h.execution(d1); x.Status != "SUCCEEDED" {
		t.Fatalf("execution %s (%s), want SUCCEEDED", x.Status, aws.ToString(x.Error))
	}
	if got, want := stepNames(d1), "PREPARE,REGISTER_TASK_DEFINITION,UPDATE_SERVICE,WAIT_STEADY,VERIFY,FINISH"; got != want {
		t.Fatalf("steps %s, want %s", got, want)
	}
	td1 := d1.NewRevision.TaskDefinitionARN
	if !strings.HasSuffix(td1, ":task-definition/"+h.family+":1") {
		t.Fatalf("task definition %s, want %s:1", td1, h.family)
	}
	h.expectService(td1, 4)

	ctx, cancel := h.ctx()
	defer cancel()
	out, err := h.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(td1),
		Include: []ecstypes.TaskDefinitionField{ecstypes.TaskDefinitionFieldTags}})
	if err != nil {
		t.Fatal(err)
	}
	c := out.TaskDefinition.ContainerDefinitions[0]
	if got := aws.ToString(c.Image); got != image+":v1" {
		t.Fatalf("image %s, want %s:v1", got, image)
	}
	env := map[string]string{}
	for _, kv := range c.Environment {
		env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
	}
	if env["ENV"] != "prod" || env["LOG_LEVEL"] != "warn" {
		t.Fatalf("container environment %v, want ENV=prod and the environment's LOG_LEVEL=warn", env)
	}
	var tagged bool
	for _, tag := range out.Tags {
		tagged = tagged || (aws.ToString(tag.Key) == "ecsflow:deployment-id" && aws.ToString(tag.Value) == id1)
	}
	if !tagged {
		t.Fatalf("task definition tags %+v lack the deployment id %s", out.Tags, id1)
	}
	// The ledger carries ECS's own account of the rollout.
	if n := count(ledger, model.LedgerECSEvent, ""); n == 0 {
		t.Fatalf("no ECS events in the ledger")
	}
	u := d1.Usage
	if u.APICalls["ecs:CreateService"] != 1 || u.APICalls["ecs:RegisterTaskDefinition"] != 1 || u.StateTransitions == 0 || u.EstimatedCostUSD <= 0 {
		t.Fatalf("usage %+v: want one CreateService, one RegisterTaskDefinition, transitions and a cost", u)
	}

	// A second deployment updates the service in place.
	d2, _ := h.finish(h.start("v2"), model.StatusSucceeded)
	td2 := d2.NewRevision.TaskDefinitionARN
	if !strings.HasSuffix(td2, h.family+":2") {
		t.Fatalf("second task definition %s, want revision 2", td2)
	}
	if d2.Usage.APICalls["ecs:UpdateService"] != 1 || d2.Usage.APICalls["ecs:CreateService"] != 0 {
		t.Fatalf("second deployment API calls %v, want one UpdateService and no CreateService", d2.Usage.APICalls)
	}
	if d2.LastKnownGood == nil || d2.LastKnownGood.TaskDefinitionARN != td1 {
		t.Fatalf("last known good before the second deployment %+v, want %s", d2.LastKnownGood, td1)
	}
	h.expectService(td2, 4)
}

// deployGood deploys v1 successfully and returns its task definition.
func deployGood(h *harness, count int32) string {
	h.tb.Helper()
	d, _ := h.finish(h.start("v1"), model.StatusSucceeded)
	td := d.NewRevision.TaskDefinitionARN
	h.expectService(td, count)
	return td
}

func TestRollingCrashLoopRollsBack(t *testing.T) {
	h := newHarness(t, options{})
	td1 := deployGood(h, 4)
	h.faults(awsemu.FaultRule{Image: "*:v2", Behavior: awsemu.BehaviorCrash, AfterSeconds: 1})
	d2, ledger := h.finish(h.start("v2"), model.StatusRolledBack)
	if x := h.execution(d2); x.Status != "FAILED" || aws.ToString(x.Error) != "DeploymentRolledBack" {
		t.Fatalf("execution %s %s, want FAILED DeploymentRolledBack", x.Status, aws.ToString(x.Error))
	}
	if !strings.Contains(d2.Reason, "NotStable") {
		t.Fatalf("reason %q, want NotStable", d2.Reason)
	}
	if d2.LastKnownGood == nil || d2.LastKnownGood.TaskDefinitionARN != td1 {
		t.Fatalf("last known good %+v, want %s", d2.LastKnownGood, td1)
	}
	if count(ledger, model.LedgerTaskStopped, "") == 0 || count(ledger, model.LedgerRollback, "") == 0 {
		t.Fatalf("ledger lacks stopped-task reasons or the rollback")
	}
	if !strings.Contains(stepNames(d2), "ROLLBACK") {
		t.Fatalf("steps %s, want a ROLLBACK step", stepNames(d2))
	}
	h.expectService(td1, 4)
}

func TestRollingAlarmDuringBakeRollsBack(t *testing.T) {
	h := newHarness(t, options{workflow: func(w *model.Workflow) { w.Verification.BakeSeconds = 120 }})
	td1 := deployGood(h, 4)
	// 40 simulated seconds into the next deployment: during its 120 s bake.
	h.faults(awsemu.FaultRule{Alarm: alarm, State: "ALARM", AtSeconds: 40, Reason: "5xx spike"})
	d2, ledger := h.finish(h.start("v2"), model.StatusRolledBack)
	if !strings.Contains(d2.Reason, "VerificationFailed") {
		t.Fatalf("reason %q, want VerificationFailed", d2.Reason)
	}
	if !strings.Contains(stepNames(d2), "VERIFY") {
		t.Fatalf("steps %s: the alarm should fail the VERIFY step", stepNames(d2))
	}
	if count(ledger, model.LedgerRollback, "") == 0 {
		t.Fatal("no rollback in the ledger")
	}
	h.expectService(td1, 4)
}

func TestRollingSucceedsUnderThrottling(t *testing.T) {
	h := newHarness(t, options{})
	h.faults(awsemu.FaultRule{API: "ecs:*", ThrottleRate: 0.3})
	td1 := deployGood(h, 4)
	d2, _ := h.finish(h.start("v2"), model.StatusSucceeded)
	if d2.NewRevision.TaskDefinitionARN == td1 {
		t.Fatal("the second deployment did not register a new revision")
	}
	h.expectService(d2.NewRevision.TaskDefinitionARN, 4)
	// The throttling is real: a direct call sees ThrottlingException some of the time.
	throttled := 0
	for i := 0; i < 40; i++ {
		_, err := h.ecs.DescribeServices(context.Background(), &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{service}},
			func(o *ecs.Options) { o.RetryMaxAttempts = 1 })
		if err != nil && strings.Contains(err.Error(), "Throttling") {
			throttled++
		}
	}
	if throttled == 0 || throttled == 40 {
		t.Fatalf("%d of 40 unretried calls throttled, want about 30%%", throttled)
	}
}

// Tasks that pass the steady state and then crash during the bake fail the
// verification and roll back, even with no alarm in ALARM.
func TestRollingCrashDuringBakeRollsBack(t *testing.T) {
	h := newHarness(t, options{workflow: func(w *model.Workflow) { w.Verification.BakeSeconds = 600 }})
	td1 := deployGood(h, 4)
	h.faults(awsemu.FaultRule{Image: "*:v2", Behavior: awsemu.BehaviorCrash, AfterSeconds: 90})
	d2, ledger := h.finish(h.start("v2"), model.StatusRolledBack)
	if !strings.Contains(d2.Reason, "VerificationFailed") || !strings.Contains(d2.Reason, "stopped during verification") {
		t.Fatalf("reason %q, want VerificationFailed for a task stopped during verification", d2.Reason)
	}
	if count(ledger, model.LedgerTaskStopped, "") == 0 {
		t.Fatal("ledger lacks the stopped task's reason")
	}
	h.expectService(td1, 4)
}
