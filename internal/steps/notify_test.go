package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/model"
)

func TestNotifyStatusOf(t *testing.T) {
	tests := []struct {
		status model.Status
		want   string
	}{
		{model.StatusSucceeded, NotifySucceeded},
		{model.StatusFailed, NotifyFailed},
		{model.StatusRolledBack, NotifyRolledBack},
		{model.StatusAborted, NotifyAborted},
		{model.StatusRunning, ""},
		{model.StatusQueued, ""},
	}
	for _, tc := range tests {
		t.Run(string(tc.status), func(t *testing.T) {
			if got := NotifyStatusOf(tc.status); got != tc.want {
				t.Errorf("NotifyStatusOf(%s) = %q, want %q", tc.status, got, tc.want)
			}
		})
	}
}

func deliver(t *testing.T, l *NotificationLog, id string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"id": id, "source": NotifySource, "detail-type": DetailTypeDeployment, "detail": map[string]string{"status": "STARTED"}})
	if err := l.Deliver(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

func TestNotificationLogKeepsTheLastEventsInOrder(t *testing.T) {
	l := NewNotificationLog(3)
	for i := 1; i <= 5; i++ {
		deliver(t, l, fmt.Sprintf("e%d", i))
	}
	page := l.Since(0)
	var ids []string
	for _, ev := range page.Events {
		ids = append(ids, fmt.Sprintf("%s#%d", ev.ID, ev.Seq))
	}
	if got := strings.Join(ids, ","); got != "e3#3,e4#4,e5#5" || page.Next != 5 {
		t.Fatalf("kept %s (next %d), want e3#3,e4#4,e5#5 (next 5)", got, page.Next)
	}
	if page := l.Since(4); len(page.Events) != 1 || page.Events[0].ID != "e5" {
		t.Fatalf("since 4: %+v", page)
	}
	if page := l.Since(5); len(page.Events) != 0 || page.Next != 5 {
		t.Fatalf("since 5: %+v, want nothing, next 5", page)
	}
	if err := l.Deliver(context.Background(), json.RawMessage(`not json`)); err == nil {
		t.Fatal("a malformed event was accepted")
	}
	if page := l.Since(0); page.Next != 5 {
		t.Fatalf("a malformed event moved the cursor to %d", page.Next)
	}
}

func TestNotificationLogServesLongPolls(t *testing.T) {
	l := NewNotificationLog(0)
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	get := func(query string) (int, EventsPage) {
		t.Helper()
		resp, err := http.Get(srv.URL + NotificationLogPath + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var page EventsPage
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(raw, &page); err != nil {
				t.Fatalf("decode %s: %v", raw, err)
			}
		}
		return resp.StatusCode, page
	}
	if code, page := get(""); code != http.StatusOK || len(page.Events) != 0 || page.Events == nil {
		t.Fatalf("empty log: %d %+v, want 200 with an empty list", code, page)
	}
	// A long poll returns as soon as an event arrives.
	done := make(chan EventsPage, 1)
	go func() {
		_, page := get("?after=0&waitSeconds=30")
		done <- page
	}()
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	deliver(t, l, "e1")
	select {
	case page := <-done:
		if len(page.Events) != 1 || page.Events[0].ID != "e1" || page.Next != 1 {
			t.Fatalf("long poll answered %+v", page)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("the long poll did not wake on the arrival")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll did not return")
	}
	for _, q := range []string{"?after=x", "?after=-1", "?waitSeconds=soon"} {
		if code, _ := get(q); code != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 400", q, code)
		}
	}
	resp, err := http.Post(srv.URL+NotificationLogPath, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
}

func FuzzNotificationLogDeliver(f *testing.F) {
	f.Add([]byte(`{"id":"e1","source":"ecsflow","detail-type":"ecsflow Deployment Status","detail":{"status":"STARTED"}}`))
	f.Add([]byte(`{"time":"not a time"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		l := NewNotificationLog(2)
		deliver := l.Deliver(context.Background(), raw)
		page := l.Since(0)
		switch {
		case deliver != nil && len(page.Events) != 0:
			t.Fatalf("a refused event was kept: %+v", page)
		case deliver == nil && (len(page.Events) != 1 || page.Events[0].Seq != 1 || page.Next != 1):
			t.Fatalf("an accepted event is not event 1: %+v", page)
		}
	})
}
