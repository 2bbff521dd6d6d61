package localstack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsflow/ecsflow/internal/localstack"
	"github.com/ecsflow/ecsflow/internal/simclock"
)

// TestExpiredItemsDisappear: on the embedded table, TTL is on, and a claim
// and a lease whose ttl has passed are removed within a simulated minute
// or two, while a lease still valid stays.
func TestExpiredItemsDisappear(t *testing.T) {
	clock := simclock.NewScaled(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 1200) // a simulated minute is 50 ms
	t.Cleanup(clock.Close)
	ctx := context.Background()
	s, err := localstack.Start(ctx, localstack.Config{Clock: clock, Logger: quiet()})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ddb := localstack.NewDynamoDBClient(s.DynamoDBURL())

	ttl, err := ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(s.Table())})
	if err != nil {
		t.Fatalf("DescribeTimeToLive: %v", err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != "ttl" {
		t.Fatalf("time to live %+v, want ENABLED on ttl", d)
	}

	st := s.Store()
	const claimKey, shortLease, longLease = "expiry-test-claim", "expiry-test-short", "expiry-test-long"
	if ok, err := st.ClaimEvent(ctx, claimKey, time.Minute); err != nil || !ok {
		t.Fatalf("ClaimEvent = %v, %v; want claimed", ok, err)
	}
	if _, err := st.AcquireLease(ctx, shortLease, "h9", 30*time.Second); err != nil {
		t.Fatalf("AcquireLease short: %v", err)
	}
	if _, err := st.AcquireLease(ctx, longLease, "h9", 24*time.Hour); err != nil {
		t.Fatalf("AcquireLease long: %v", err)
	}
	// items answers which of the test's keys still have an item.
	items := func() map[string]bool {
		t.Helper()
		out, err := ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(s.Table())})
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		got := map[string]bool{}
		for _, it := range out.Items {
			pk, _ := it["PK"].(*types.AttributeValueMemberS)
			if pk == nil {
				continue
			}
			for _, k := range []string{claimKey, shortLease, longLease} {
				if strings.HasSuffix(pk.Value, k) {
					got[k] = true
				}
			}
		}
		return got
	}
	if got := items(); !got[claimKey] || !got[shortLease] || !got[longLease] {
		t.Fatalf("items right after writing: %v, want all three", got)
	}
	start := clock.Now()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := items()
		if !got[claimKey] && !got[shortLease] {
			if !got[longLease] {
				t.Fatal("the lease valid for 24 hours was removed too")
			}
			if el := clock.Now().Sub(start); el < time.Minute {
				t.Errorf("expired items gone after %v of simulated time, before the claim's minute", el)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v of simulated time the items are %v, want the claim and the short lease removed", clock.Now().Sub(start), got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, found, err := st.GetClaim(ctx, claimKey); err != nil || found {
		t.Errorf("GetClaim after expiry = found %v, %v; want not found", found, err)
	}
	if l, held, err := st.GetLease(ctx, longLease); err != nil || !held || l.Holder != "h9" {
		t.Errorf("GetLease of the long lease = %+v held %v, %v; want held by h9", l, held, err)
	}
}
