package steps_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/sfnlocal"
	"github.com/ecsflow/ecsflow/internal/steps"
	"github.com/ecsflow/ecsflow/statemachines"
)

// revisionDefinition substitutes every function placeholder of the named
// state machine with its local ARN.
func revisionDefinition(t testing.TB, name string) string {
	t.Helper()
	d, ok := statemachines.Get(name)
	if !ok {
		t.Fatalf("no state machine %s", name)
	}
	vals := map[string]string{}
	for fn := range (&steps.Engine{}).Handlers() {
		vals[pascal(fn)+"Arn"] = localARN(fn)
	}
	body, err := statemachines.Substitute(d.Body, vals)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return body
}

func TestRevisionStateMachinesValidate(t *testing.T) {
	for _, name := range []string{"canary", "bluegreen"} {
		t.Run(name, func(t *testing.T) {
			if err := sfnlocal.Validate(revisionDefinition(t, name)); err != nil {
				t.Fatalf("%s.asl.json: %v", name, err)
			}
		})
	}
}

func canaryWorkflow(w *model.Workflow) {
	one, fifty := int32(1), int32(50)
	w.Name = "canary"
	w.Strategy = model.Strategy{Type: model.StrategyCanary, Canary: &model.CanaryStrategy{Phases: []model.CanaryPhase{
		{Count: &one, BakeSeconds: 20}, {Percent: &fifty, BakeSeconds: 20}, {Percent: ptr32(100)}}}}
	w.Verification = model.Verification{Alarms: []string{"web-5xx"}, BakeSeconds: 10}
}

func ptr32(v int32) *int32 { return &v }

func revisionCounts(t *testing.T, e *env) map[string]int32 {
	t.Helper()
	svcs, err := e.w.Clients.RevisionServices(context.Background(), "prod", "web")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int32{}
	for _, s := range svcs {
		got[aws.ToString(s.ServiceName)] = s.DesiredCount
	}
	return got
}

func TestCanaryWithoutWeightsSucceedsThenRevisionsAlternate(t *testing.T) {
	e := newEnv(t, envOptions{workflow: canaryWorkflow})
	sm := e.sfnMachine(t, "canary")
	d1 := e.expectSucceededWithin(t, sm, "v1")
	checkSteps(t, d1, "PREPARE", "REGISTER_TASK_DEFINITION", "SETUP_SERVICE",
		"SCALE", "WAIT_STEADY", "VERIFY", "SCALE", "WAIT_STEADY", "VERIFY", "SCALE", "WAIT_STEADY", "VERIFY", "VERIFY", "CLEANUP", "FINISH")
	if got := revisionCounts(t, e); len(got) != 1 || got["web__1"] != 4 {
		t.Fatalf("revisions after the first canary %v, want web__1 x4", got)
	}
	if d1.NewRevision.ServiceName != "web__1" || d1.NewRevision.DesiredCount != 4 {
		t.Fatalf("new revision %+v, want web__1 x4", d1.NewRevision)
	}
	d2 := e.expectSucceededWithin(t, sm, "v2")
	if got := revisionCounts(t, e); len(got) != 2 || got["web__1"] != 0 || got["web__2"] != 4 {
		t.Fatalf("revisions after the second canary %v, want web__1 x0, web__2 x4", got)
	}
	if d2.PreviousRevision == nil || d2.PreviousRevision.ServiceName != "web__1" {
		t.Fatalf("previous revision %+v, want web__1", d2.PreviousRevision)
	}
	// The third deployment removes web__1 (history at zero).
	e.expectSucceededWithin(t, sm, "v3")
	if got := revisionCounts(t, e); len(got) != 2 || got["web__2"] != 0 || got["web__3"] != 4 {
		t.Fatalf("revisions after the third canary %v, want web__2 x0, web__3 x4", got)
	}
}

func TestSetupServiceTwiceMakesOneRevision(t *testing.T) {
	e := newEnv(t, envOptions{workflow: canaryWorkflow})
	eng, _ := direct(t, e)
	ctx := context.Background()
	d := e.deployment(t, "v1")
	ref := steps.Ref{DeploymentID: d.ID}
	if _, err := eng.Prepare(ctx, steps.PrepareInput{Ref: ref}); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.RegisterTaskDefinition(ctx, steps.RegisterInput{Ref: ref}); err != nil {
		t.Fatal(err)
	}
	first, err := eng.SetupService(ctx, steps.StepInput{Ref: ref, Index: 1})
	if err != nil || !first.Created || first.Service != ecsops.RevisionName("web", 1) {
		t.Fatalf("first setup %+v, %v; want web__1 created", first, err)
	}
	// A retry (the step's record or its answer lost) finds web__1 by its tag.
	again, err := eng.SetupService(ctx, steps.StepInput{Ref: ref, Index: 1})
	if err != nil || again.Created || again.Service != first.Service {
		t.Fatalf("second setup %+v, %v; want web__1 found, not created", again, err)
	}
	if got := revisionCounts(t, e); len(got) != 1 {
		t.Fatalf("revisions %v after two setups, want one", got)
	}
	got := e.get(t, d.ID)
	if rv := got.Runtime.Revisions; rv == nil || rv.New != "web__1" || got.NewRevision.ServiceName != "web__1" {
		t.Fatalf("revision state %+v, new revision %+v; want web__1", got.Runtime.Revisions, got.NewRevision)
	}
	// SCALE on a step that is not SCALE is refused, typed.
	if _, err := eng.Scale(ctx, steps.StepInput{Ref: ref, Index: 1}); steps.ErrorName(err) != steps.ErrInvalid {
		t.Fatalf("scale on the SETUP_SERVICE step: %v, want Invalid", err)
	}
	if _, err := eng.Cleanup(ctx, steps.StepInput{Ref: ref, Index: 0}); steps.ErrorName(err) != steps.ErrInvalid {
		t.Fatalf("cleanup on the REGISTER step: %v, want Invalid", err)
	}
}

// sfnMachine creates the named revision state machine.
func (e *env) sfnMachine(t testing.TB, name string) string {
	t.Helper()
	arn, err := e.sfn.CreateStateMachine(context.Background(), "ecsflow-"+name, revisionDefinition(t, name))
	if err != nil {
		t.Fatalf("create state machine %s: %v", name, err)
	}
	return arn
}
