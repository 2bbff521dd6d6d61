package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
)

// benchBackend makes a store with a fresh table on one backend, with a
// counter of requests.
type benchBackend struct {
	name string
	open func(b *testing.B) (*store.Store, *store.CountingDB)
}

// benchBackends: every dynamotest backend (DynamoDB Local and minidyn's
// server over HTTP with the real SDK client, memdynamo in process and over
// HTTP).
func benchBackends(b *testing.B) []benchBackend {
	b.Helper()
	var out []benchBackend
	for _, be := range dynamotest.Backends(b) {
		out = append(out, benchBackend{name: be.Name, open: func(b *testing.B) (*store.Store, *store.CountingDB) {
			cnt := store.NewCountingDB(be.DB)
			return store.New(cnt, dynamotest.Table(b, be)), cnt
		}})
	}
	return out
}

// benchGraph creates what a service needs: app, cloud provider, artifact server.
func benchGraph(b *testing.B, st *store.Store) (appID, serverID string) {
	b.Helper()
	ctx := context.Background()
	cp := modeltest.CloudProvider()
	as := modeltest.ArtifactServer("")
	app := modeltest.Application()
	for _, e := range []model.Entity{cp, app} {
		if err := st.Create(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	as.CloudProviderID = cp.ID
	if err := st.Create(ctx, as); err != nil {
		b.Fatal(err)
	}
	return app.ID, as.ID
}

func reportRequests(b *testing.B, c *store.CountingDB, op string) {
	b.ReportMetric(float64(c.Total())/float64(b.N), "requests/op")
	b.ReportMetric(float64(c.Counts()[op])/float64(b.N), op+"/op")
}

// tableCap bounds the table size in BenchmarkStoreCreate.
const tableCap = 100

func BenchmarkStoreCreate(b *testing.B) {
	for _, be := range benchBackends(b) {
		b.Run(be.name, func(b *testing.B) {
			ctx := context.Background()
			st, count := be.open(b)
			appID, serverID := benchGraph(b, st)
			b.ReportAllocs()
			count.Reset()
			b.ResetTimer()
			requests, txs := 0, 0
			for i := range b.N {
				// minidyn snapshots the whole table per transaction, so a
				// create costs O(table size) there: start a fresh table every
				// tableCap creates to measure a steady, bounded cost.
				if i > 0 && i%tableCap == 0 {
					b.StopTimer()
					requests += count.Total()
					txs += count.Counts()["TransactWriteItems"]
					st, count = be.open(b)
					appID, serverID = benchGraph(b, st)
					count.Reset()
					b.StartTimer()
				}
				svc := modeltest.Service(appID, serverID)
				svc.Name = fmt.Sprintf("web-%d", i)
				if err := st.Create(ctx, svc); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(requests+count.Total())/float64(b.N), "requests/op")
			b.ReportMetric(float64(txs+count.Counts()["TransactWriteItems"])/float64(b.N), "TransactWriteItems/op")
		})
	}
}

func BenchmarkStoreGet(b *testing.B) {
	for _, be := range benchBackends(b) {
		b.Run(be.name, func(b *testing.B) {
			ctx := context.Background()
			st, count := be.open(b)
			appID, serverID := benchGraph(b, st)
			svc := modeltest.Service(appID, serverID)
			if err := st.Create(ctx, svc); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			count.Reset()
			b.ResetTimer()
			for range b.N {
				got, err := store.Get[*model.Service](ctx, st, svc.ID)
				if err != nil || got.Name != svc.Name {
					b.Fatalf("get = %v, %v", got, err)
				}
			}
			b.StopTimer()
			reportRequests(b, count, "GetItem")
		})
	}
}

func BenchmarkStoreList(b *testing.B) {
	const services = 20
	for _, be := range benchBackends(b) {
		b.Run(be.name, func(b *testing.B) {
			ctx := context.Background()
			st, count := be.open(b)
			appID, serverID := benchGraph(b, st)
			for i := range services {
				svc := modeltest.Service(appID, serverID)
				svc.Name = fmt.Sprintf("web-%d", i)
				if err := st.Create(ctx, svc); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			count.Reset()
			b.ResetTimer()
			for range b.N {
				items, next, err := st.List(ctx, model.KindService, appID, store.Page{})
				if err != nil || len(items) != services || next != "" {
					b.Fatalf("list = %d items, next %q, %v", len(items), next, err)
				}
			}
			b.StopTimer()
			reportRequests(b, count, "Query")
		})
	}
}
