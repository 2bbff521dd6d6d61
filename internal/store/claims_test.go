package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
)

func TestClaims(t *testing.T) {
	dynamotest.ForEach(t, func(t *testing.T, b dynamotest.Backend, table string) {
		e := newEnv(b, table)
		ctx := context.Background()

		ok, v, err := e.st.ClaimEventValue(ctx, "evt-1#trg-1", "dep-first", time.Hour)
		if err != nil || !ok || v != "dep-first" {
			t.Fatalf("first claim = %v %q %v, want claimed with dep-first", ok, v, err)
		}
		// A duplicate while in flight fails, whatever value it brings.
		if ok, v, err := e.st.ClaimEventValue(ctx, "evt-1#trg-1", "dep-second", time.Hour); err != nil || ok || v != "" {
			t.Fatalf("duplicate claim = %v %q %v, want not claimed", ok, v, err)
		}
		// After the in-flight lease (min(ttl, ClaimLease)), an unfinished
		// claim is taken over and keeps the first value.
		e.clock.Advance(store.ClaimLease + time.Second)
		if ok, v, err := e.st.ClaimEventValue(ctx, "evt-1#trg-1", "dep-third", time.Hour); err != nil || !ok || v != "dep-first" {
			t.Fatalf("takeover = %v %q %v, want claimed with dep-first", ok, v, err)
		}
		if err := e.st.CompleteClaim(ctx, "evt-1#trg-1"); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(2 * store.ClaimLease)
		if ok, _, err := e.st.ClaimEventValue(ctx, "evt-1#trg-1", "dep-fourth", time.Hour); err != nil || ok {
			t.Fatalf("claim of a done key = %v %v, want a duplicate", ok, err)
		}
		c, found, err := e.st.GetClaim(ctx, "evt-1#trg-1")
		if err != nil || !found || !c.Done || c.Value != "dep-first" {
			t.Fatalf("GetClaim = %+v %v %v, want done with dep-first", c, found, err)
		}

		// Release lets the next delivery in at once, with the same value.
		if ok, err := e.st.ClaimEvent(ctx, "evt-2", time.Hour); err != nil || !ok {
			t.Fatalf("ClaimEvent = %v %v", ok, err)
		}
		if ok, err := e.st.ClaimEvent(ctx, "evt-2", time.Hour); err != nil || ok {
			t.Fatalf("duplicate ClaimEvent = %v %v, want not claimed", ok, err)
		}
		if err := e.st.ReleaseClaim(ctx, "evt-2"); err != nil {
			t.Fatal(err)
		}
		if ok, err := e.st.ClaimEvent(ctx, "evt-2", time.Hour); err != nil || !ok {
			t.Fatalf("claim after release = %v %v, want claimed", ok, err)
		}
		// A short ttl bounds the lease too.
		if ok, _ := e.st.ClaimEvent(ctx, "evt-3", time.Minute); !ok {
			t.Fatal("claim evt-3")
		}
		e.clock.Advance(time.Minute)
		if ok, _ := e.st.ClaimEvent(ctx, "evt-3", time.Minute); !ok {
			t.Error("a claim whose ttl (1m) passed unfinished was not taken over")
		}

		// Releasing a done or missing claim is a no-op; completing a missing one is not found.
		if err := e.st.ReleaseClaim(ctx, "evt-1#trg-1"); err != nil {
			t.Errorf("release of a done claim: %v", err)
		}
		if c, _, _ := e.st.GetClaim(ctx, "evt-1#trg-1"); !c.Done {
			t.Error("release undid a done claim")
		}
		if err := e.st.ReleaseClaim(ctx, "nobody"); err != nil {
			t.Errorf("release of a missing claim: %v", err)
		}
		if err := e.st.CompleteClaim(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("complete of a missing claim = %v, want ErrNotFound", err)
		}
		if _, found, err := e.st.GetClaim(ctx, "nobody"); err != nil || found {
			t.Errorf("GetClaim(nobody) = %v %v, want not found", found, err)
		}
	})
}

func TestClaimRefusesBadInput(t *testing.T) {
	e := newEnv(dynamotest.Mini(), dynamotest.Table(t, dynamotest.Mini()))
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		key  string
		ttl  time.Duration
	}{
		{"empty key", "", time.Hour},
		{"oversized key", strings.Repeat("k", store.MaxClaimKey+1), time.Hour},
		{"zero ttl", "k", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if ok, err := e.st.ClaimEvent(ctx, tc.key, tc.ttl); ok || !errors.Is(err, store.ErrInvalidClaim) {
				t.Errorf("ClaimEvent = %v %v, want ErrInvalidClaim", ok, err)
			}
		})
	}
}

func TestConcurrentClaimsHaveOneWinner(t *testing.T) {
	e := newEnv(dynamotest.Mini(), dynamotest.Table(t, dynamotest.Mini()))
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := e.st.ClaimEvent(context.Background(), "evt-race", time.Hour)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("winners = %d, want 1", n)
	}
}

func TestSeenTagsAndCollectStatus(t *testing.T) {
	dynamotest.ForEach(t, func(t *testing.T, b dynamotest.Backend, table string) {
		e := newEnv(b, table)
		ctx := context.Background()
		tags, polled, err := e.st.SeenTags(ctx, "as-1", "team/web")
		if err != nil || !polled.IsZero() || len(tags) != 0 {
			t.Fatalf("SeenTags before any poll = %v %v %v, want nothing", tags, polled, err)
		}
		d1, d2 := "sha256:"+strings.Repeat("1", 64), "sha256:"+strings.Repeat("2", 64)
		for _, tg := range [][2]string{{"v1", d1}, {"latest", d1}, {"v2", d2}} {
			if err := e.st.RecordTag(ctx, "as-1", "team/web", tg[0], tg[1]); err != nil {
				t.Fatal(err)
			}
		}
		// Another repository and another server are other partitions.
		if err := e.st.RecordTag(ctx, "as-1", "team/api", "v9", d2); err != nil {
			t.Fatal(err)
		}
		if err := e.st.RecordTag(ctx, "as-2", "team/web", "v9", d2); err != nil {
			t.Fatal(err)
		}
		if err := e.st.MarkPolled(ctx, "as-1", "team/web"); err != nil {
			t.Fatal(err)
		}
		tags, polled, err = e.st.SeenTags(ctx, "as-1", "team/web")
		if err != nil || !polled.Equal(e.clock.Now()) || len(tags) != 3 || tags["v1"].Digest != d1 || tags["v2"].Digest != d2 || tags["latest"].SeenAt.IsZero() {
			t.Fatalf("SeenTags = %v %v %v, want v1, latest, v2 with digests, polled", tags, polled, err)
		}
		if err := e.st.RecordTag(ctx, "as#1", "team/web", "v1", d1); err == nil {
			t.Error("RecordTag accepted a server id with #")
		}

		if _, ok, err := e.st.CollectStatus(ctx, "as-1"); err != nil || ok {
			t.Fatalf("CollectStatus before = %v %v, want none", ok, err)
		}
		at := e.clock.Now()
		want := store.CollectStatus{ServerID: "as-1", LastPolledAt: at, LastError: "registry credentials: refused (401)", NewTags: 2}
		if err := e.st.PutCollectStatus(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, ok, err := e.st.CollectStatus(ctx, "as-1")
		if err != nil || !ok || got.LastError != want.LastError || !got.LastPolledAt.Equal(at) || got.NewTags != 2 || got.LastSuccessAt != nil {
			t.Fatalf("CollectStatus = %+v %v %v, want %+v", got, ok, err, want)
		}
	})
}
