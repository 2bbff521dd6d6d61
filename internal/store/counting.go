package store

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// CountingDB wraps a DynamoDB and counts the requests per operation, for
// tests and benchmarks of the store's round trips.
type CountingDB struct {
	db DynamoDB
	mu sync.Mutex
	n  map[string]int
}

var _ DynamoDB = (*CountingDB)(nil)

// NewCountingDB wraps db.
func NewCountingDB(db DynamoDB) *CountingDB { return &CountingDB{db: db, n: map[string]int{}} }

func (c *CountingDB) inc(op string) {
	c.mu.Lock()
	c.n[op]++
	c.mu.Unlock()
}

// Counts returns a copy of the requests counted per operation name
// ("GetItem", "TransactWriteItems", ...).
func (c *CountingDB) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// Total is the number of requests counted.
func (c *CountingDB) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := 0
	for _, v := range c.n {
		t += v
	}
	return t
}

// Reset zeroes the counts.
func (c *CountingDB) Reset() {
	c.mu.Lock()
	c.n = map[string]int{}
	c.mu.Unlock()
}

// GetItem counts and forwards.
func (c *CountingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.inc("GetItem")
	return c.db.GetItem(ctx, in, o...)
}

// PutItem counts and forwards.
func (c *CountingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.inc("PutItem")
	return c.db.PutItem(ctx, in, o...)
}

// UpdateItem counts and forwards.
func (c *CountingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.inc("UpdateItem")
	return c.db.UpdateItem(ctx, in, o...)
}

// DeleteItem counts and forwards.
func (c *CountingDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.inc("DeleteItem")
	return c.db.DeleteItem(ctx, in, o...)
}

// Query counts and forwards.
func (c *CountingDB) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.inc("Query")
	return c.db.Query(ctx, in, o...)
}

// TransactWriteItems counts and forwards.
func (c *CountingDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.inc("TransactWriteItems")
	return c.db.TransactWriteItems(ctx, in, o...)
}

// TransactGetItems counts and forwards.
func (c *CountingDB) TransactGetItems(ctx context.Context, in *dynamodb.TransactGetItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactGetItemsOutput, error) {
	c.inc("TransactGetItems")
	return c.db.TransactGetItems(ctx, in, o...)
}

// BatchGetItem counts and forwards.
func (c *CountingDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.inc("BatchGetItem")
	return c.db.BatchGetItem(ctx, in, o...)
}
