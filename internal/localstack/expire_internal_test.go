package localstack

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsflow/ecsflow/internal/memdynamo"
	"github.com/ecsflow/ecsflow/internal/simclock"
	"github.com/ecsflow/ecsflow/internal/store"
)

// countingTable records when ExpireItems is called.
type countingTable struct {
	*memdynamo.DB
	calls []time.Time
}

func (c *countingTable) ExpireItems(now time.Time) int {
	c.calls = append(c.calls, now)
	return c.DB.ExpireItems(now)
}

var _ ttlTable = (*countingTable)(nil)

// TestRunExpiryTicksUntilStopped: one removal per interval of simulated
// time, at the clock's time, and none after stop.
func TestRunExpiryTicksUntilStopped(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := simclock.NewManual(start)
	db := &countingTable{DB: memdynamo.New()}
	stop := runExpiry(clock, db, time.Minute, quietLogger())
	clock.Advance(59 * time.Second)
	if len(db.calls) != 0 {
		t.Fatalf("expired at %v, before the first minute", db.calls)
	}
	clock.Advance(3*time.Minute + time.Second)
	want := []time.Time{start.Add(time.Minute), start.Add(2 * time.Minute), start.Add(3 * time.Minute), start.Add(4 * time.Minute)}
	if len(db.calls) != len(want) {
		t.Fatalf("expiry ran at %v, want %v", db.calls, want)
	}
	for i := range want {
		if !db.calls[i].Equal(want[i]) {
			t.Errorf("expiry #%d at %v, want %v", i+1, db.calls[i], want[i])
		}
	}
	stop()
	stop() // twice is harmless
	clock.Advance(time.Hour)
	if len(db.calls) != len(want) {
		t.Errorf("expiry ran %d more times after stop", len(db.calls)-len(want))
	}
	if n := clock.Pending(); n != 0 {
		t.Errorf("%d timers pending after stop, want 0", n)
	}
}

// TestEnableTTL: TTL is turned on once; a table already expiring on ttl is
// left alone, one expiring on another attribute is refused.
func TestEnableTTL(t *testing.T) {
	ctx := context.Background()
	db := memdynamo.New()
	if _, err := db.CreateTable(ctx, tableInputForTest("t")); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := enableTTL(ctx, db, "t"); err != nil {
			t.Fatalf("enableTTL #%d: %v", i+1, err)
		}
	}
	other := memdynamo.New()
	if _, err := other.CreateTable(ctx, tableInputForTest("t")); err != nil {
		t.Fatal(err)
	}
	if _, err := other.UpdateTimeToLive(ctx, ttlSpec("t", "expiresAt")); err != nil {
		t.Fatal(err)
	}
	if err := enableTTL(ctx, other, "t"); err == nil {
		t.Error("enableTTL on a table expiring on expiresAt: no error")
	}
	if err := enableTTL(ctx, db, "missing"); err == nil {
		t.Error("enableTTL on a missing table: no error")
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

func tableInputForTest(name string) *dynamodb.CreateTableInput { return store.CreateTableInput(name) }

func ttlSpec(table, attr string) *dynamodb.UpdateTimeToLiveInput {
	return &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(attr), Enabled: aws.Bool(true)}}
}
