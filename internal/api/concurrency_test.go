package api_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentPuts: 20 PUTs with the same If-Match race; exactly one wins,
// the rest get 412, and a reader polling meanwhile only ever sees whole
// entities (the description and the tag written together always agree).
func TestConcurrentPuts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		app := e.must(http.StatusCreated, http.MethodPost, "/v1/applications",
			map[string]any{"name": "shop", "description": "writer-none", "tags": map[string]string{"writer": "none"}})
		path := "/v1/applications/" + app.str("id")
		const writers = 20
		var ok, stale, other atomic.Int32
		var torn atomic.Value
		stop := make(chan struct{})
		var readers sync.WaitGroup
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := e.do(http.MethodGet, path, nil)
				tags, _ := r.Body["tags"].(map[string]any)
				if r.Status != http.StatusOK || r.str("description") != "writer-"+fmt.Sprint(tags["writer"]) {
					torn.Store(string(r.Raw))
				}
			}
		}()
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				w := fmt.Sprint(i)
				r := e.do(http.MethodPut, path, map[string]any{"name": "shop", "description": "writer-" + w,
					"tags": map[string]string{"writer": w}}, "If-Match", `"1"`)
				switch r.Status {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusPreconditionFailed:
					stale.Add(1)
				default:
					other.Add(1)
					t.Errorf("writer %d: got %d: %s", i, r.Status, r.Raw)
				}
			}()
		}
		close(start)
		wg.Wait()
		close(stop)
		readers.Wait()
		if ok.Load() != 1 || stale.Load() != writers-1 || other.Load() != 0 {
			t.Errorf("got %d 200s, %d 412s, %d others; want 1, %d, 0", ok.Load(), stale.Load(), other.Load(), writers-1)
		}
		if v := torn.Load(); v != nil {
			t.Errorf("a reader saw a torn or failed read: %s", v)
		}
		final := e.must(http.StatusOK, http.MethodGet, path, nil)
		if final.Header.Get("ETag") != `"2"` {
			t.Errorf("final ETag %q, want \"2\" (one write)", final.Header.Get("ETag"))
		}
	})
}
