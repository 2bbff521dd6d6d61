package ecsops

import (
	"context"
	"maps"
	"strings"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

type middlewareStack = middleware.Stack

// Counter counts API calls by operation, e.g. "ecs:UpdateService". A call
// is counted once however many times the SDK retries it. Safe for
// concurrent use.
type Counter struct {
	mu sync.Mutex
	n  map[string]int64
}

// NewCounter returns an empty counter.
func NewCounter() *Counter { return &Counter{n: map[string]int64{}} }

// Add counts one call of op.
func (c *Counter) Add(op string) {
	c.mu.Lock()
	c.n[op]++
	c.mu.Unlock()
}

// Counts returns a copy of the counts.
func (c *Counter) Counts() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

// Total is the number of calls counted.
func (c *Counter) Total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var t int64
	for _, v := range c.n {
		t += v
	}
	return t
}

type counterKey struct{}

// WithCounter returns a context whose API calls are counted in c.
func WithCounter(ctx context.Context, c *Counter) context.Context {
	return context.WithValue(ctx, counterKey{}, c)
}

// CounterFrom returns the context's counter, or nil.
func CounterFrom(ctx context.Context) *Counter {
	c, _ := ctx.Value(counterKey{}).(*Counter)
	return c
}

// servicePrefix maps SDK service IDs to IAM-style prefixes.
var servicePrefix = map[string]string{
	"ECS":                       "ecs",
	"Elastic Load Balancing v2": "elasticloadbalancing",
	"Application Auto Scaling":  "application-autoscaling",
	"ServiceDiscovery":          "servicediscovery",
	"CloudWatch":                "cloudwatch",
	"Route 53":                  "route53",
	"STS":                       "sts",
	"SFN":                       "states",
}

// OperationName is "<service>:<Operation>" for a call's context.
func OperationName(ctx context.Context) string {
	sid := awsmiddleware.GetServiceID(ctx)
	p, ok := servicePrefix[sid]
	if !ok {
		p = strings.ToLower(strings.ReplaceAll(sid, " ", ""))
	}
	return p + ":" + awsmiddleware.GetOperationName(ctx)
}

func addCounter(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("ecsflowCountCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if c := CounterFrom(ctx); c != nil {
				c.Add(OperationName(ctx))
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}
