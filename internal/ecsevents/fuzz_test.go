package ecsevents_test

import (
	"context"
	"sync"
	"testing"

	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// memStore is a hand-written in-memory Store for the fuzz target: every
// service and alarm has one wait.
type memStore struct {
	mu      sync.Mutex
	entries int
	deleted int
}

func (m *memStore) WaitsForService(_ context.Context, cluster, service string) ([]store.Wait, error) {
	return []store.Wait{{Token: "t", DeploymentID: "dep-x", Kind: store.WaitSteady, Cluster: cluster, Service: service}}, nil
}

func (m *memStore) WaitsForAlarm(_ context.Context, name string) ([]store.Wait, error) {
	return []store.Wait{{Token: "t", DeploymentID: "dep-x", Kind: store.WaitVerify, Alarms: []string{name}}}, nil
}

func (m *memStore) PutWait(context.Context, store.Wait) error { return nil }

func (m *memStore) DeleteWait(context.Context, store.Wait) error {
	m.mu.Lock()
	m.deleted++
	m.mu.Unlock()
	return nil
}

func (m *memStore) AppendLedger(_ context.Context, _ string, es ...model.LedgerEntry) error {
	m.mu.Lock()
	m.entries += len(es)
	m.mu.Unlock()
	return nil
}

// FuzzHandle: no input panics, and every input is acknowledged (the fake
// store and completer never fail).
func FuzzHandle(f *testing.F) {
	for _, n := range []string{"ecs-deployment-state-change.json", "ecs-service-action.json", "ecs-task-state-change.json", "ecr-image-action.json"} {
		f.Add([]byte(sample(f, n)))
	}
	f.Add([]byte(alarmEvent))
	f.Add([]byte(`{"source":"aws.ecs","detail-type":"ECS Task State Change","detail":{"group":"service:","clusterArn":"","lastStatus":"STOPPED","taskDefinitionArn":"","taskArn":""}}`))
	f.Add([]byte(`{"source":"aws.ecs","detail-type":"ECS Deployment State Change","resources":["arn:aws:ecs:r:a:service//"],"detail":{"eventName":"X"}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		h := ecsevents.New(&memStore{}, &recorder{fail: map[string]error{}}, ecsevents.WithLogger(discard))
		if err := h.Handle(context.Background(), raw); err != nil {
			t.Fatalf("Handle(%q) = %v, want every event acknowledged", raw, err)
		}
	})
}
