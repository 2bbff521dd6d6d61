package store_test

import (
	"context"
	"testing"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
)

func TestListPipelineExecutionsNewestFirstPerPipeline(t *testing.T) {
	dynamotest.ForEach(t, func(t *testing.T, b dynamotest.Backend, table string) {
		ctx := context.Background()
		st := store.New(b.DB, table)
		plA, plB := model.NewID(model.KindPipeline), model.NewID(model.KindPipeline)
		var wantA []string
		for i := range 7 {
			pl := plA
			if i%3 == 2 {
				pl = plB
			}
			x := &model.PipelineExecution{ApplicationID: "app-1", PipelineID: pl, Status: model.PipelinePending,
				Artifact: model.Artifact{Tag: "v1"}, Stages: []model.StageRecord{{Name: "dev", Type: model.StageWorkflow, Status: model.PipelinePending}}}
			if err := st.Create(ctx, x); err != nil {
				t.Fatalf("create: %v", err)
			}
			if pl == plA {
				wantA = append([]string{x.ID}, wantA...)
			}
		}
		var got []string
		page := store.Page{Limit: 2}
		for {
			items, next, err := st.ListPipelineExecutions(ctx, "app-1", plA, page)
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			for _, x := range items {
				if x.PipelineID != plA {
					t.Fatalf("listed %s of pipeline %s", x.ID, x.PipelineID)
				}
				got = append(got, x.ID)
			}
			if next == "" {
				break
			}
			page.Cursor = next
		}
		if len(got) != len(wantA) {
			t.Fatalf("got %d executions %v, want %d %v", len(got), got, len(wantA), wantA)
		}
		for i := range got {
			if got[i] != wantA[i] {
				t.Fatalf("order: got %v, want newest first %v", got, wantA)
			}
		}
		if _, _, err := st.ListPipelineExecutions(ctx, "", plA, store.Page{}); err == nil {
			t.Fatal("a listing without an application was accepted")
		}
	})
}
