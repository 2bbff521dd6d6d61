package steps_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/sfnlocal"
	"github.com/ecsflow/ecsflow/internal/store"
)

func TestStateMachinesValidateAfterSubstitution(t *testing.T) {
	for _, name := range []string{"rolling", "daemon"} {
		t.Run(name, func(t *testing.T) {
			if err := sfnlocal.Validate(definition(t, name)); err != nil {
				t.Fatalf("%s.asl.json: %v", name, err)
			}
		})
	}
}

func describe(t *testing.T, e *env) (taskDef string, desired, running int32) {
	t.Helper()
	s, ok, err := e.w.Clients.DescribeService(context.Background(), "prod", "web")
	if err != nil || !ok {
		t.Fatalf("describe web: ok=%v err=%v", ok, err)
	}
	return aws.ToString(s.TaskDefinition), s.DesiredCount, s.RunningCount
}

func TestRollingFirstDeploymentSucceedsThenACrashLoopRollsBack(t *testing.T) {
	e := newEnv(t, envOptions{})
	sm := e.machine(t, "rolling")

	// 1. First deployment: the service is created and settles.
	d1 := e.deployment(t, "v1")
	x := e.wait(t, e.start(t, sm, d1))
	if x.Status != "SUCCEEDED" {
		dumpHistory(t, e, x.ExecutionARN)
		t.Fatalf("first deployment execution %s (%s: %s), want SUCCEEDED", x.Status, x.Error, x.Cause)
	}
	got := e.get(t, d1.ID)
	if got.Status != model.StatusSucceeded || got.NewRevision == nil || got.EndedAt == nil {
		t.Fatalf("first deployment: status %s, new revision %+v", got.Status, got.NewRevision)
	}
	td1, desired, running := describe(t, e)
	if td1 != got.NewRevision.TaskDefinitionARN || desired != 4 || running != 4 {
		t.Fatalf("service after the first deployment: %s x%d (%d running), want %s x4", td1, desired, running, got.NewRevision.TaskDefinitionARN)
	}
	if !strings.HasSuffix(td1, "task-definition/shop-web-prod:1") {
		t.Fatalf("task definition %s, want family shop-web-prod revision 1", td1)
	}
	tdOut, err := e.w.Clients.ECS.DescribeTaskDefinition(context.Background(), &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(td1), Include: []ecstypesField{"TAGS"}})
	if err != nil {
		t.Fatal(err)
	}
	c := tdOut.TaskDefinition.ContainerDefinitions[0]
	if img := aws.ToString(c.Image); img != account+".dkr.ecr."+region+".amazonaws.com/web:v1" {
		t.Fatalf("image %s, want the v1 tag", img)
	}
	envs := map[string]string{}
	for _, kv := range c.Environment {
		envs[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
	}
	if envs["ENV"] != "prod" || envs["LOG_LEVEL"] != "warn" || envs["REGION"] != region {
		t.Fatalf("container environment %v, want ENV=prod, LOG_LEVEL=warn (environment override), REGION (env var override)", envs)
	}
	if len(c.Secrets) != 1 || !strings.HasPrefix(aws.ToString(c.Secrets[0].ValueFrom), "arn:aws:secretsmanager:") {
		t.Fatalf("secrets %+v, want the DB_PASSWORD ARN", c.Secrets)
	}
	if !hasTag(tdOut.Tags, "ecsflow:deployment-id", d1.ID) {
		t.Fatalf("task definition tags %+v lack the deployment id", tdOut.Tags)
	}
	if got.Usage.APICalls["ecs:CreateService"] != 1 || got.Usage.APICalls["ecs:RegisterTaskDefinition"] != 1 || got.Usage.StateTransitions == 0 || got.Usage.EstimatedCostUSD <= 0 {
		t.Fatalf("usage %+v: want one CreateService, one RegisterTaskDefinition, transitions and a cost", got.Usage)
	}
	checkReleased(t, e, got)
	checkSteps(t, got, "PREPARE", "REGISTER_TASK_DEFINITION", "UPDATE_SERVICE", "WAIT_STEADY", "VERIFY", "FINISH")

	// 2. A crash-looping image: the circuit breaker fails the rollout, the
	// workflow rolls back to the last known good revision.
	if err := e.w.Emu.SetFaultPlan(awsemu.FaultPlan{Rules: []awsemu.FaultRule{{Image: "*:v2-crash", Behavior: awsemu.BehaviorCrash, AfterSeconds: 1}}}); err != nil {
		t.Fatal(err)
	}
	d2 := e.deployment(t, "v2-crash")
	x = e.wait(t, e.start(t, sm, d2))
	if x.Status != "FAILED" || x.Error != "DeploymentRolledBack" {
		dumpHistory(t, e, x.ExecutionARN)
		t.Fatalf("crash-loop execution %s (%s: %s), want FAILED DeploymentRolledBack", x.Status, x.Error, x.Cause)
	}
	got2 := e.get(t, d2.ID)
	if got2.Status != model.StatusRolledBack {
		t.Fatalf("crash-loop deployment status %s (%s), want ROLLED_BACK", got2.Status, got2.Reason)
	}
	if got2.LastKnownGood == nil || got2.LastKnownGood.TaskDefinitionARN != td1 {
		t.Fatalf("last known good %+v, want %s", got2.LastKnownGood, td1)
	}
	td, desired, running := describe(t, e)
	if td != td1 || desired != 4 || running != 4 {
		t.Fatalf("service after the rollback: %s x%d (%d running), want %s x4", td, desired, running, td1)
	}
	if !strings.Contains(got2.Reason, "NotStable") || !strings.Contains(got2.Reason, "restored last known good") {
		t.Fatalf("reason %q, want NotStable and the restore", got2.Reason)
	}
	checkReleased(t, e, got2)
	// Events reach the ledger asynchronously (some after the execution
	// ended): poll, bounded.
	var stopped, rollback bool
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !(stopped && rollback); time.Sleep(10 * time.Millisecond) {
		for _, l := range e.ledger(t, d2.ID) {
			stopped = stopped || l.Kind == model.LedgerTaskStopped
			rollback = rollback || l.Kind == model.LedgerRollback
		}
	}
	if !stopped || !rollback {
		t.Fatalf("ledger: stopped-task entries %v, rollback entry %v; want both", stopped, rollback)
	}

	// 3. The last known good pointer did not move: the next deployment
	// still rolls back to v1 if it fails, and a good one succeeds.
	d3 := e.deployment(t, "v3")
	x = e.wait(t, e.start(t, sm, d3))
	if x.Status != "SUCCEEDED" {
		dumpHistory(t, e, x.ExecutionARN)
		t.Fatalf("third deployment %s (%s: %s)", x.Status, x.Error, x.Cause)
	}
	got3 := e.get(t, d3.ID)
	if got3.LastKnownGood == nil || got3.LastKnownGood.TaskDefinitionARN != td1 {
		t.Fatalf("third deployment's last known good %+v, want v1's %s (the rolled back v2 never becomes it)", got3.LastKnownGood, td1)
	}
	if got3.Usage.APICalls["ecs:UpdateService"] != 1 || got3.Usage.APICalls["ecs:CreateService"] != 0 {
		t.Fatalf("third deployment API calls %v, want one UpdateService and no CreateService", got3.Usage.APICalls)
	}
}

func hasTag(tags []ecsTag, k, v string) bool {
	for _, t := range tags {
		if aws.ToString(t.Key) == k && aws.ToString(t.Value) == v {
			return true
		}
	}
	return false
}

// checkReleased asserts the ending invariants: a final status, the lease
// free, no wait left, no open step record.
func checkReleased(t *testing.T, e *env, d *model.Deployment) {
	t.Helper()
	if !d.Status.Final() {
		t.Fatalf("deployment %s is %s, want a final status", d.ID, d.Status)
	}
	l, held, err := e.st.GetLease(context.Background(), d.Runtime.Target.LeaseKey)
	if err != nil || held {
		t.Fatalf("lease %+v held=%v err=%v after the deployment ended", l, held, err)
	}
	ws, err := e.st.WaitsForDeployment(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if w.Kind != store.WaitWatch {
			t.Fatalf("a %s wait is left after the deployment ended: %+v", w.Kind, w)
		}
	}
	for _, s := range d.Steps {
		if s.EndedAt.IsZero() {
			t.Fatalf("step %s left open: %+v", s.Name, s)
		}
	}
}

func checkSteps(t *testing.T, d *model.Deployment, want ...string) {
	t.Helper()
	var got []string
	for _, s := range d.Steps {
		got = append(got, s.Name)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("steps %v, want %v", got, want)
	}
}

type (
	ecsTag        = ecstypes.Tag
	ecstypesField = ecstypes.TaskDefinitionField
)
