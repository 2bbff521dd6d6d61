package localstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// ttlAttribute is the attribute that holds an item's expiry (epoch
// seconds) in the store's table: claims, leases and waits carry it, and the
// CDK table sets it as its TimeToLiveAttribute (infra/ecsflow).
const ttlAttribute = "ttl"

// ExpiryInterval is how often, in simulated time, local mode removes the
// embedded table's expired items (DynamoDB's TTL removes them within days;
// nothing relies on the delay, only on their going away).
const ExpiryInterval = time.Minute

// ttlTable is the embedded table as the expiry needs it (*memdynamo.DB).
type ttlTable interface {
	DescribeTimeToLive(ctx context.Context, in *dynamodb.DescribeTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
	ExpireItems(now time.Time) int
}

// enableTTL turns TTL on for table's ttl attribute, unless it already is
// (a table restored from a data directory keeps its setting).
func enableTTL(ctx context.Context, db ttlTable, table string) error {
	out, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		return fmt.Errorf("describe time to live of %s: %w", table, err)
	}
	if d := out.TimeToLiveDescription; d != nil && d.TimeToLiveStatus == types.TimeToLiveStatusEnabled {
		if got := aws.ToString(d.AttributeName); got != ttlAttribute {
			return fmt.Errorf("table %s expires items on %q, not %q", table, got, ttlAttribute)
		}
		return nil
	}
	_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(ttlAttribute), Enabled: aws.Bool(true)}})
	if err != nil {
		return fmt.Errorf("enable time to live on %s: %w", table, err)
	}
	return nil
}

// runExpiry removes db's expired items every interval of the clock's time
// until stop is called; stop waits for a removal in progress.
func runExpiry(clock simclock.Clock, db ttlTable, interval time.Duration, log *slog.Logger) (stop func()) {
	if interval <= 0 {
		panic(errors.New("runExpiry: interval must be positive")) // a programming error
	}
	var mu sync.Mutex
	stopped := false
	var timer simclock.Timer
	var arm func()
	arm = func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		timer = clock.AfterFunc(interval, func() {
			mu.Lock()
			if stopped {
				mu.Unlock()
				return
			}
			now := clock.Now()
			if n := db.ExpireItems(now); n > 0 {
				log.Debug("expired items removed", "count", n, "now", now)
			}
			mu.Unlock()
			arm()
		})
	}
	arm()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		if timer != nil {
			timer.Stop()
		}
	}
}
