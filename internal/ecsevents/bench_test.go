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
// heartbeat) against the real store on minidyn over HTTP, and reports the
// DynamoDB calls per event.
func BenchmarkHandleOnDynamoDB(b *testing.B) {
	be := dynamotest.Mini()
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
