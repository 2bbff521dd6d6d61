package store

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
)

// normalize drops what the store does not keep apart: null, empty lists
// and empty objects (absent, nil and empty read back the same).
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			e = normalize(e)
			if e == nil {
				delete(x, k)
				continue
			}
			x[k] = e
		}
		if len(x) == 0 {
			return nil
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		if len(x) == 0 {
			return nil
		}
	}
	return v
}

func jsonView(t *testing.T, e model.Entity) any {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatalf("marshal %T: %v", e, err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return normalize(v)
}

// FuzzDocRoundTrip: any entity the API could decode survives the store's
// item encoding (attributevalue with json names, pruned) unchanged.
func FuzzDocRoundTrip(f *testing.F) {
	g := modeltest.Graph()
	seeds := []model.Entity{modeltest.Application(), g.CloudProvider, modeltest.ArtifactServer("cp-1"), g.Service,
		g.Environment, g.Infrastructure, g.Workflow, modeltest.CanaryWorkflow("app-1", "env-1", "infra-1"),
		modeltest.BlueGreenWorkflow("app-1", "env-1", "infra-1"), modeltest.Pipeline("app-1", "wf-1", "wf-2"),
		modeltest.Trigger("app-1", "as-1", "wf-1", "svc-1"),
		&model.Deployment{ApplicationID: "app-1", WorkflowID: "wf-1", Status: model.StatusRunning,
			Usage: model.Usage{LambdaGBSeconds: 0.125, EstimatedCostUSD: 1e-7, APICalls: map[string]int64{"ecs:X": 3}},
			Steps: []model.StepRecord{{Name: "register"}}}}
	for _, e := range seeds {
		b, err := json.Marshal(e)
		if err != nil {
			f.Fatal(err)
		}
		for i, k := range model.Kinds {
			if k == e.Kind() {
				f.Add(uint8(i), b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		e, _ := model.New(model.Kinds[int(kind)%len(model.Kinds)])
		if err := json.Unmarshal(data, e); err != nil {
			return
		}
		item, err := entityItem(e)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		got, err := decodeEntity(item)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if reflect.TypeOf(got) != reflect.TypeOf(e) {
			t.Fatalf("decoded a %T from a %T", got, e)
		}
		if g, w := jsonView(t, got), jsonView(t, e); !reflect.DeepEqual(g, w) {
			gb, _ := json.Marshal(g)
			wb, _ := json.Marshal(w)
			t.Fatalf("round trip changed the entity:\n got %s\nwant %s", gb, wb)
		}
	})
}
