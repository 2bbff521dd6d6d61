package trigger_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
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

// BenchmarkTriggerLatency is one ECR push event, matching one trigger,
// from HandleEvent's call to its return (which is after StartExecution
// returned), on the embedded store (minidyn over loopback, as `ecsflow
// local` runs it) with a recording starter.
func BenchmarkTriggerLatency(b *testing.B) {
	m := dynamotest.Mini()
	db := store.NewCountingDB(m.Client)
	e := newEnvOn(b, db, dynamotest.Table(b, m))
	g := e.seed(b)
	e.addTrigger(b, g, g.server, "release", releaseFilter, false)
	e.addTrigger(b, g, g.server, "other", `main`, false)
	ctx := context.Background()
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
	m := dynamotest.Mini()
	e := newEnv(b, m, dynamotest.Table(b, m))
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
}

// BenchmarkDuplicateDelivery is a redelivered event: its claim is taken, so
// nothing is created or started.
func BenchmarkDuplicateDelivery(b *testing.B) {
	m := dynamotest.Mini()
	db := store.NewCountingDB(m.Client)
	e := newEnvOn(b, db, dynamotest.Table(b, m))
	g := e.seed(b)
	e.addTrigger(b, g, g.server, "release", releaseFilter, false)
	ctx := context.Background()
	raw := pushEvent("dup-1", "web", "v1.0.0", digestOf(1))
	if out, err := e.h.HandleEvent(ctx, raw); err != nil || len(out.Deployments) != 1 {
		b.Fatalf("first delivery = %+v, %v", out, err)
	}
	db.Reset()
	var ds []time.Duration
	for b.Loop() {
		start := time.Now()
		out, err := e.h.HandleEvent(ctx, raw)
		ds = append(ds, time.Since(start))
		if err != nil || out.Duplicates != 1 {
			b.Fatalf("redelivery = %+v, %v", out, err)
		}
	}
	reportLatency(b, ds)
	b.ReportMetric(float64(db.Total())/float64(len(ds)), "ddb-requests/op")
}
