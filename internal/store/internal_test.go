package store

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsflow/ecsflow/internal/model"
)

func TestLedgerSKOrdersByTimeThenSeq(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	want := []string{
		ledgerSK(t0.Add(-time.Nanosecond), 9),
		ledgerSK(t0, 2),
		ledgerSK(t0, 10),
		ledgerSK(t0.Add(time.Millisecond), 1),
		ledgerSK(t0.Add(time.Second), 1),
		ledgerSK(t0.Add(time.Hour), 1),
	}
	got := append([]string(nil), want...)
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lexical order %v, want %v", got, want)
	}
	local := t0.In(time.FixedZone("X", 3600))
	if ledgerSK(local, 1) != ledgerSK(t0, 1) {
		t.Errorf("the zone changes the key: %s vs %s", ledgerSK(local, 1), ledgerSK(t0, 1))
	}
}

func TestPruneDropsEmptyContainers(t *testing.T) {
	doc, err := marshalDoc(&model.Workflow{Name: "w", Verification: model.Verification{},
		Strategy: model.Strategy{Type: model.StrategyCanary, Canary: &model.CanaryStrategy{
			Phases: []model.CanaryPhase{{}}}}})
	if err != nil {
		t.Fatal(err)
	}
	m := doc.(*types.AttributeValueMemberM).Value
	if _, ok := m["verification"]; ok {
		t.Error("empty verification kept")
	}
	phases := m["strategy"].(*types.AttributeValueMemberM).Value["canary"].(*types.AttributeValueMemberM).Value["phases"].(*types.AttributeValueMemberL).Value
	if _, ok := phases[0].(*types.AttributeValueMemberNULL); !ok || len(phases) != 1 {
		t.Errorf("an empty list element became %#v, want NULL in place", phases)
	}
}

func TestGroupRefsMergesTargets(t *testing.T) {
	got := groupRefs([]model.Ref{
		{Kind: model.KindApplication, ID: "app-1", Field: "appId"},
		{Kind: model.KindWorkflow, ID: "wf-1", Field: "stages[0].workflowId"},
		{Kind: model.KindWorkflow, ID: "wf-2", Field: "stages[1].workflowId"},
		{Kind: model.KindWorkflow, ID: "wf-1", Field: "stages[2].workflowId"},
	})
	want := []target{
		{Kind: model.KindApplication, ID: "app-1", Fields: []string{"appId"}},
		{Kind: model.KindWorkflow, ID: "wf-1", Fields: []string{"stages[0].workflowId", "stages[2].workflowId"}},
		{Kind: model.KindWorkflow, ID: "wf-2", Fields: []string{"stages[1].workflowId"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("groupRefs = %+v, want %+v", got, want)
	}
}

func TestPageLimit(t *testing.T) {
	for _, c := range []struct{ in, want int32 }{{0, 50}, {-3, 50}, {1, 1}, {100, 100}, {101, 100}} {
		if got := (Page{Limit: c.in}).limit(); got != c.want {
			t.Errorf("Page{Limit: %d}.limit() = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestCheckEntityRefusesWithoutPanic(t *testing.T) {
	var nilSvc *model.Service
	cases := map[string]model.Entity{
		"nil interface":  nil,
		"typed nil":      nilSvc,
		"id of a kind":   &model.Application{Meta: model.Meta{ID: "svc-1"}, Name: "a"},
		"invalid":        &model.Application{},
		"self reference": &model.Environment{Meta: model.Meta{ID: "env-1"}, ApplicationID: "app-1", Name: "e", Type: model.EnvProd, ServiceOverrides: map[string]model.Overrides{"env-1": {}}},
		"wrong-kind ref": &model.Environment{ApplicationID: "svc-1", Name: "e", Type: model.EnvProd},
	}
	for name, e := range cases {
		if err := checkEntity(e); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestTooManyReferencesIsAValidationError(t *testing.T) {
	p := &model.Pipeline{ApplicationID: "app-1", Name: "big"}
	for i := range MaxReferences + 1 {
		p.Stages = append(p.Stages, model.Stage{Name: fmt.Sprintf("s%d", i), Type: model.StageWorkflow,
			WorkflowID: fmt.Sprintf("wf-%d", i)})
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("the pipeline itself must be valid for this test: %v", err)
	}
	err := checkEntity(p)
	var ve *model.ValidationError
	if !errors.As(err, &ve) || !ve.Has("references") {
		t.Errorf("err = %v, want a ValidationError on references", err)
	}
	p.Stages = p.Stages[:MaxReferences-1] // plus the application: exactly the maximum
	if err := checkEntity(p); err != nil {
		t.Errorf("at the maximum: %v", err)
	}
}
