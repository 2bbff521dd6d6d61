package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// memStore is a hand-written in-memory Store with optimistic versions.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) Get(_ context.Context, kind model.Kind, id string) (model.Entity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	e, _ := model.New(kind)
	if err := json.Unmarshal(b, e); err != nil {
		return nil, err
	}
	return e, nil
}

func (s *memStore) Update(_ context.Context, e model.Entity) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := e.Validate(); err != nil {
		return err
	}
	var cur model.Meta
	if b, ok := s.m[e.GetMeta().ID]; ok {
		_ = json.Unmarshal(b, &cur)
	}
	if cur.Version != e.GetMeta().Version {
		return store.ErrConflict
	}
	e.GetMeta().Version++
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	s.m[e.GetMeta().ID] = b
	return nil
}

// FuzzHandlers feeds arbitrary payloads to every step handler over a stored
// execution: no panic, every error typed (Invalid or Transient), and the
// stored execution stays valid.
func FuzzHandlers(f *testing.F) {
	seeds := []string{
		`{"pipelineExecutionId":"plx-1","index":0}`,
		`{"pipelineExecutionId":"plx-1","index":1,"token":"tok"}`,
		`{"pipelineExecutionId":"plx-1","index":1,"outcome":"TIMED_OUT"}`,
		`{"pipelineExecutionId":"plx-1","index":0,"outcome":"FAILED","error":{"Error":"States.TaskFailed","Cause":"x"}}`,
		`{"pipelineExecutionId":"plx-1","index":-3,"outcome":"FAILED"}`,
		`{"pipelineExecutionId":"plx-1","index":99,"outcome":"SUCCEEDED"}`,
		`{"pipelineExecutionId":"plx-1"}`,
		`[1,2]`, `null`, `{"index":"zero"}`,
	}
	for i, s := range seeds {
		for fn := range 4 {
			f.Add(uint8(fn+i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, fn uint8, payload []byte) {
		st := &memStore{m: map[string][]byte{}}
		x := &model.PipelineExecution{Meta: model.Meta{ID: "plx-1"}, ApplicationID: "app-1", PipelineID: "pl-1",
			Artifact: model.Artifact{Tag: "v1"}, Status: model.PipelinePending,
			Definition: []model.Stage{{Name: "wait", Type: model.StageWait, WaitSeconds: 5},
				{Name: "gate", Type: model.StageApproval, Approval: &model.Approval{OnTimeout: model.ApprovalDefaultApprove}}},
			Stages: []model.StageRecord{{Name: "wait", Type: model.StageWait, Status: model.PipelinePending},
				{Name: "gate", Type: model.StageApproval, Status: model.PipelinePending}}}
		if err := st.Update(context.Background(), x); err != nil {
			t.Fatal(err)
		}
		e, err := New(Config{Store: st, Creator: nilCreator{}})
		if err != nil {
			t.Fatal(err)
		}
		h := e.Handlers()[Functions[int(fn)%len(Functions)]]
		_, err = h(context.Background(), payload)
		var inv *Invalid
		var tr *Transient
		if err != nil && !errors.As(err, &inv) && !errors.As(err, &tr) {
			t.Fatalf("untyped error %T: %v", err, err)
		}
		got, gerr := st.Get(context.Background(), model.KindPipelineExecution, "plx-1")
		if gerr != nil {
			t.Fatal(gerr)
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("stored execution invalid: %v", err)
		}
	})
}
