package steps_test

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ecsflow/ecsflow/internal/steps"
	"github.com/ecsflow/ecsflow/internal/store"
)

// waitLog is the store with a record of the waits put (the env's own
// ecs-events handler may delete a wait whose token sfnlocal does not know).
type waitLog struct {
	*store.Store
	mu  sync.Mutex
	put []store.Wait
}

func (l *waitLog) PutWait(ctx context.Context, w store.Wait) error {
	l.mu.Lock()
	l.put = append(l.put, w)
	l.mu.Unlock()
	return l.Store.PutWait(ctx, w)
}

func primaryDeployment(t *testing.T, e *env) string {
	t.Helper()
	s, ok, err := e.w.Clients.DescribeService(context.Background(), "prod", "web")
	if err != nil || !ok {
		t.Fatalf("describe web: ok=%v err=%v", ok, err)
	}
	for _, d := range s.Deployments {
		if aws.ToString(d.Status) == "PRIMARY" {
			return aws.ToString(d.Id)
		}
	}
	t.Fatal("web has no primary deployment")
	return ""
}

// The rollback's steady wait is for the ECS deployment the rollback's
// UpdateService started, not the one being rolled back (whose circuit
// breaker failure may be delivered after the rollback began), so
// internal/ecsevents lets only that deployment's outcome decide it.
func TestRollbackSteadyWaitIsForTheRollbacksOwnECSDeployment(t *testing.T) {
	e := newEnv(t, envOptions{})
	sm := e.machine(t, "rolling")
	e.expectSucceededWithin(t, sm, "v1")
	log := &waitLog{Store: e.st}
	eng, err := steps.New(steps.Config{Store: log, AWS: e.w.Factory, Tasks: newRecorder(), Now: e.w.Clock.Now, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d := e.deployment(t, "v2")
	ref := steps.Ref{DeploymentID: d.ID}
	if _, err := eng.Prepare(ctx, steps.PrepareInput{Ref: ref}); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.RegisterTaskDefinition(ctx, steps.RegisterInput{Ref: ref}); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.UpdateService(ctx, steps.UpdateInput{Ref: ref, Index: 1}); err != nil {
		t.Fatal(err)
	}
	rolledBack := primaryDeployment(t, e)
	out, err := eng.Rollback(ctx, steps.RollbackInput{Ref: ref, Error: &steps.TaskFailure{Error: steps.ErrNotStable, Cause: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != steps.ActionRestore || !out.Wait {
		t.Fatalf("rollback = %+v, want a RESTORE to wait for", out)
	}
	rollback := primaryDeployment(t, e)
	if rollback == rolledBack {
		t.Fatalf("the rollback started no ECS deployment (primary still %s)", rolledBack)
	}
	got := e.get(t, d.ID)
	if got.Runtime == nil || got.Runtime.RollbackECSDeployment != rollback {
		t.Fatalf("runtime rollback ECS deployment = %+v, want %s", got.Runtime, rollback)
	}
	if _, err := eng.WaitSteady(ctx, steps.WaitSteadyInput{Ref: ref, Token: "tok-rb", Rollback: true}); err != nil {
		t.Fatal(err)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	var steady []store.Wait
	for _, w := range log.put {
		if w.Kind == store.WaitSteady && w.Token == "tok-rb" {
			steady = append(steady, w)
		}
	}
	if len(steady) != 1 || steady[0].ECSDeployment != rollback {
		t.Fatalf("rollback steady waits put = %+v, want one for ECS deployment %s (not %s)", steady, rollback, rolledBack)
	}
}
