package trigger_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/memdynamo"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
	"github.com/ecsflow/ecsflow/internal/trigger"
)

// reportLatency reports the p50 and p99 of ds in milliseconds.
func reportLatency(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		return float64(ds[min(len(ds)-1, int(q*float64(len(ds))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// benchDBs are the embedded stores the benchmarks run on: memdynamo in
// process (the target of issue 7: "in process, with the embedded store")
// and memdynamo over loopback HTTP with the real SDK client (how `ecsflow
// local`'s Lambdas reach it).
func benchDBs(b *testing.B) []struct {
	name string
	open func(b *testing.B) (store.DynamoDB, string)
} {
	return []struct {
		name string
		open func(b *testing.B) (store.DynamoDB, string)
	}{
		{"InProcess", func(b *testing.B) (store.DynamoDB, string) {
			db := memdynamo.New()
			if err := store.CreateTable(context.Background(), db, "bench"); err != nil {
				b.Fatal(err)
			}
			return db, "bench"
		}},
		{"HTTP", func(b *testing.B) (store.DynamoDB, string) {
			m := dynamotest.MemHTTP()
			return m.Client, dynamotest.Table(b, m)
		}},
	}
}

// BenchmarkTriggerLatency is one ECR push event, matching one trigger,
// from HandleEvent's call to its return (which is after StartExecution
// returned), with a recording starter. Fresh: the first deliveries on a
// new table; After100: after 100 deliveries (100 deployments, claims and
// ledgers in the table).
func BenchmarkTriggerLatency(b *testing.B) {
	for _, be := range benchDBs(b) {
		for _, warm := range []int{0, 100} {
			name := be.name + "/Fresh"
			if warm > 0 {
				name = fmt.Sprintf("%s/After%d", be.name, warm)
			}
			b.Run(name, func(b *testing.B) {
				raw, table := be.open(b)
				db := store.NewCountingDB(raw)
				e := newEnvOn(b, db, table)
				g := e.seed(b)
				e.addTrigger(b, g, g.server, "release", releaseFilter, false)
				e.addTrigger(b, g, g.server, "other", `main`, false)
				ctx := context.Background()
				for i := range warm {
					raw := pushEvent(fmt.Sprintf("warm-%d", i), "web", "v1.0.0", digestOf(byte(i)))
					if out, err := e.h.HandleEvent(ctx, raw); err != nil || len(out.Deployments) != 1 {
						b.Fatalf("warm-up HandleEvent = %+v, %v", out, err)
					}
				}
				var ds []time.Duration
				db.Reset()
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					raw := pushEvent(fmt.Sprintf("bench-%d", i), "web", "v1.0.0", digestOf(byte(i)))
					start := time.Now()
					out, err := e.h.HandleEvent(ctx, raw)
					ds = append(ds, time.Since(start))
					if err != nil || len(out.Deployments) != 1 {
						b.Fatalf("HandleEvent = %+v, %v", out, err)
					}
				}
				reportLatency(b, ds)
				b.ReportMetric(float64(db.Total())/float64(len(ds)), "ddb-requests/op")
				if testing.Verbose() {
					b.Logf("requests per event: %v", perOp(db.Counts(), len(ds)))
				}
			})
		}
	}
}

func perOp(counts map[string]int, n int) map[string]float64 {
	out := map[string]float64{}
	for k, v := range counts {
		out[k] = float64(v) / float64(n)
	}
	return out
}

// BenchmarkFanOut50 is one push matching 50 triggers: 50 deployments
// created and started, each once.
func BenchmarkFanOut50(b *testing.B) {
	for _, be := range benchDBs(b) {
		b.Run(be.name, func(b *testing.B) {
			raw, table := be.open(b)
			e := newEnvOn(b, raw, table)
			g := e.seed(b)
			for i := range 50 {
				e.addTrigger(b, g, g.server, fmt.Sprintf("t%02d", i), "v.*", false)
			}
			ctx := context.Background()
			var ds []time.Duration
			for i := 0; b.Loop(); i++ {
				raw := pushEvent(fmt.Sprintf("fan-%d", i), "web", "v1", digestOf(byte(i)))
				start := time.Now()
				out, err := e.h.HandleEvent(ctx, raw)
				ds = append(ds, time.Since(start))
				if err != nil || len(out.Deployments) != 50 {
					b.Fatalf("HandleEvent = %d deployments, %v; want 50", len(out.Deployments), err)
				}
			}
			reportLatency(b, ds)
		})
	}
}

// BenchmarkDuplicateDelivery is a redelivered event: its claim is taken, so
// nothing is created or started.
func BenchmarkDuplicateDelivery(b *testing.B) {
	for _, be := range benchDBs(b) {
		b.Run(be.name, func(b *testing.B) {
			raw, table := be.open(b)
			db := store.NewCountingDB(raw)
			e := newEnvOn(b, db, table)
			g := e.seed(b)
			e.addTrigger(b, g, g.server, "release", releaseFilter, false)
			ctx := context.Background()
			ev := pushEvent("dup-1", "web", "v1.0.0", digestOf(1))
			if out, err := e.h.HandleEvent(ctx, ev); err != nil || len(out.Deployments) != 1 {
				b.Fatalf("first delivery = %+v, %v", out, err)
			}
			db.Reset()
			var ds []time.Duration
			for b.Loop() {
				start := time.Now()
				out, err := e.h.HandleEvent(ctx, ev)
				ds = append(ds, time.Since(start))
				if err != nil || out.Duplicates != 1 {
					b.Fatalf("redelivery = %+v, %v", out, err)
				}
			}
			reportLatency(b, ds)
			b.ReportMetric(float64(db.Total())/float64(len(ds)), "ddb-requests/op")
		})
	}
}

// BenchmarkBusToStart is issue 7's trigger latency: from an ECR
// push event entering the local bus (PutEnvelope) to the starter's
// StartExecution returning, through the bus's rule and Lambda target, the
// trigger handler and the API's creation path, on memdynamo (in process,
// and over loopback HTTP as `ecsflow local` runs it).
func BenchmarkBusToStart(b *testing.B) {
	for _, be := range benchDBs(b) {
		b.Run(be.name, func(b *testing.B) {
			raw, table := be.open(b)
			e := newEnvOn(b, raw, table)
			g := e.seed(b)
			e.addTrigger(b, g, g.server, "release", releaseFilter, false)
			st := &signallingStarter{started: make(chan struct{}, 1)}
			h := trigger.New(e.st, trigger.NewAPICreator(e.st, st, api.WithLogger(e.log), api.WithClock(e.clock.Now)), st,
				trigger.WithLogger(e.log), trigger.WithClock(e.clock.Now))
			bus := newBus(b, h)
			ctx := context.Background()
			var ds []time.Duration
			for i := 0; b.Loop(); i++ {
				ev := pushEvent(fmt.Sprintf("bus-%d", i), "web", "v1.0.0", digestOf(byte(i)))
				start := time.Now()
				if _, err := bus.PutEnvelope(ctx, ev); err != nil {
					b.Fatal(err)
				}
				select {
				case <-st.started:
				case <-time.After(10 * time.Second):
					b.Fatalf("event %d: no start within 10s", i)
				}
				ds = append(ds, time.Since(start))
			}
			reportLatency(b, ds)
		})
	}
}
