package ecsevents_test

import (
	"context"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
)

// nop is a TaskCompleter that accepts everything.
type nop struct{}

func (nop) SendTaskSuccess(context.Context, string, string) error         { return nil }
func (nop) SendTaskFailure(context.Context, string, string, string) error { return nil }
func (nop) SendTaskHeartbeat(context.Context, string) error               { return nil }

// BenchmarkHandle is the handler's own cost per event (decode, match,
// ledger entry, completion) with an in-memory store.
func BenchmarkHandle(b *testing.B) {
	for _, n := range []string{"ecs-task-state-change.json", "ecs-service-action.json", "ecs-deployment-state-change.json"} {
		raw := sample(b, n)
		b.Run(n, func(b *testing.B) {
			h := ecsevents.New(&memStore{}, nop{}, ecsevents.WithLogger(discard))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := h.Handle(ctx, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHandleOnDynamoDB is a progress event (stopped task → ledger +
// heartbeat) against the real store on memdynamo over HTTP, and reports the
// DynamoDB calls per event.
func BenchmarkHandleOnDynamoDB(b *testing.B) {
	be := dynamotest.MemHTTP()
	table := dynamotest.Table(b, be)
	cnt := store.NewCountingDB(be.Client)
	now := func() time.Time { return sampleNow }
	st := store.New(cnt, table, store.WithClock(now))
	deps := seedDeploymentTB(b, st, 1)
	if err := st.PutWait(context.Background(), store.Wait{Token: "tok", DeploymentID: deps[0], Kind: store.WaitSteady,
		Cluster: "prod", Service: "web", Expires: sampleNow.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	h := ecsevents.New(st, nop{}, ecsevents.WithLogger(discard))
	raw := sample(b, "ecs-task-state-change.json")
	ctx := context.Background()
	cnt.Reset()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := h.Handle(ctx, raw); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(cnt.Total())/float64(n), "ddb-calls/event")
}

// stamp is a TaskCompleter that notes when the first answer of an event
// was sent.
type stamp struct{ at time.Time }

func (s *stamp) SendTaskSuccess(context.Context, string, string) error {
	if s.at.IsZero() {
		s.at = time.Now()
	}
	return nil
}
func (s *stamp) SendTaskFailure(context.Context, string, string, string) error { return nil }
func (s *stamp) SendTaskHeartbeat(context.Context, string) error               { return nil }

// BenchmarkCompletionOnDynamoDB is a completing event (SERVICE_STEADY_STATE
// for a STEADY wait) against the real store on memdynamo over HTTP: the real
// time from the event to SendTaskSuccess (the workflow's next step waits for
// it) and the whole handling, and the DynamoDB calls per event.
func BenchmarkCompletionOnDynamoDB(b *testing.B) {
	be := dynamotest.MemHTTP()
	table := dynamotest.Table(b, be)
	cnt := store.NewCountingDB(be.Client)
	now := func() time.Time { return sampleNow }
	st := store.New(cnt, table, store.WithClock(now))
	deps := seedDeploymentTB(b, st, 1)
	tc := &stamp{}
	h := ecsevents.New(st, tc, ecsevents.WithLogger(discard), ecsevents.WithClock(now))
	raw := sample(b, "ecs-service-action.json")
	ctx := context.Background()
	var toAnswer, total time.Duration
	calls := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		if err := st.PutWait(ctx, store.Wait{Token: "tok", DeploymentID: deps[0], Kind: store.WaitSteady,
			Cluster: "prod", Service: "web", Expires: sampleNow.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
		tc.at = time.Time{}
		before := cnt.Total()
		b.StartTimer()
		start := time.Now()
		if err := h.Handle(ctx, raw); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		if tc.at.IsZero() {
			b.Fatal("the wait was not completed")
		}
		toAnswer += tc.at.Sub(start)
		calls += cnt.Total() - before
	}
	n := float64(b.N)
	b.ReportMetric(float64(toAnswer.Microseconds())/n, "µs-to-answer")
	b.ReportMetric(float64(total.Microseconds())/n, "µs-handled")
	b.ReportMetric(float64(calls)/n, "ddb-calls/event")
}
