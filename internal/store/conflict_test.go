package store_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ecsflow/ecsflow/internal/memdynamo"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
)

// conflicting serves memdynamo, but answers the first `left`
// TransactWriteItems with DynamoDB's wire-format TransactionCanceledException
// carrying a TransactionConflict reason, as DynamoDB does when another
// transaction holds an item.
type conflicting struct {
	next  http.Handler
	left  atomic.Int32
	calls atomic.Int32
}

func (c *conflicting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".TransactWriteItems") {
		c.calls.Add(1)
		if c.left.Add(-1) >= 0 {
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",` +
				`"Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]",` +
				`"CancellationReasons":[{"Code":"None"},{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]}`))
			return
		}
	}
	c.next.ServeHTTP(w, r)
}

func TestTransactionConflictIsRetried(t *testing.T) {
	ctx := context.Background()
	h := &conflicting{next: memdynamo.New().Handler()}
	srv := httptest.NewServer(h)
	defer srv.Close()
	b := dynamotest.Backend{Name: "conflicting", Endpoint: srv.URL, Client: dynamotest.NewClient(srv.URL)}
	st := store.New(b.Client, dynamotest.Table(t, b))

	h.left.Store(3)
	app := modeltest.Application()
	if err := st.Create(ctx, app); err != nil {
		t.Fatalf("create after 3 conflicts: %v", err)
	}
	if got := h.calls.Load(); got != 4 {
		t.Errorf("TransactWriteItems calls = %d, want 4 (3 conflicts, then success)", got)
	}

	h.calls.Store(0)
	h.left.Store(1000)
	other := modeltest.Application()
	other.Name = "other"
	err := st.Create(ctx, other)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("create under endless conflicts: err = %v, want ErrConflict", err)
	}
	if other.ID != "" {
		t.Errorf("a failed create left id %q", other.ID)
	}
	if n := h.calls.Load(); n < 2 || n > 20 {
		t.Errorf("%d attempts, want a bounded number of retries", n)
	}
	h.left.Store(0)
	items, _, err := st.List(ctx, model.KindApplication, "", store.Page{})
	if err != nil || len(items) != 1 {
		t.Errorf("applications = %d, %v; want only the first", len(items), err)
	}
}
