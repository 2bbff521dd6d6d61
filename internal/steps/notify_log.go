package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// NotificationLogPath is where `ecsflow local` serves its NotificationLog,
// on the API's listener (local mode only; on AWS, subscribe to the bus).
const NotificationLogPath = "/_local/events"

// NotificationPattern is the EventBridge pattern of ecsflow's own
// notifications (deployment and pipeline status).
const NotificationPattern = `{"source":["` + NotifySource + `"]}`

// LoggedEvent is a notification as the bus delivered it, numbered in
// arrival order from 1.
type LoggedEvent struct {
	Seq        int64           `json:"seq"`
	ID         string          `json:"id"`
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Time       time.Time       `json:"time"`
	Resources  []string        `json:"resources,omitempty"`
	Detail     json.RawMessage `json:"detail"`
}

// EventsPage is the answer of GET NotificationLogPath: the events after the
// cursor, and the cursor to ask from next.
type EventsPage struct {
	Events []LoggedEvent `json:"events"`
	Next   int64         `json:"next"`
}

// NotificationLog keeps the last notifications a local bus rule delivered
// to it (Deliver is the rule's Lambda target), for `ecsflow events`. It is
// safe for concurrent use.
type NotificationLog struct {
	mu     sync.Mutex
	events []LoggedEvent
	seq    int64
	max    int
	// changed is closed and replaced on every arrival.
	changed chan struct{}
}

// DefaultNotificationLogSize is how many notifications a log keeps.
const DefaultNotificationLogSize = 10000

// NewNotificationLog returns a log keeping the last max notifications
// (DefaultNotificationLogSize when max <= 0).
func NewNotificationLog(max int) *NotificationLog {
	if max <= 0 {
		max = DefaultNotificationLogSize
	}
	return &NotificationLog{max: max, changed: make(chan struct{})}
}

// Deliver records one EventBridge event (the envelope a rule target gets).
// An event that is not a JSON envelope is refused with an error.
func (l *NotificationLog) Deliver(_ context.Context, event json.RawMessage) error {
	var ev LoggedEvent
	if err := json.Unmarshal(event, &ev); err != nil {
		return fmt.Errorf("notification log: decode event: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	ev.Seq = l.seq
	l.events = append(l.events, ev)
	if over := len(l.events) - l.max; over > 0 {
		l.events = append(l.events[:0:0], l.events[over:]...)
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return nil
}

// Since returns the events after seq (all kept ones for 0), oldest first,
// and the cursor to ask from next.
func (l *NotificationLog) Since(after int64) EventsPage {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.since(after)
}

func (l *NotificationLog) since(after int64) EventsPage {
	page := EventsPage{Events: []LoggedEvent{}, Next: max(after, 0)}
	for _, ev := range l.events {
		if ev.Seq > after {
			page.Events = append(page.Events, ev)
			page.Next = ev.Seq
		}
	}
	return page
}

// Wait returns the events after seq, waiting for one to arrive if there is
// none yet, until ctx ends (then the empty page and no error).
func (l *NotificationLog) Wait(ctx context.Context, after int64) EventsPage {
	for {
		l.mu.Lock()
		page, ch := l.since(after), l.changed
		l.mu.Unlock()
		if len(page.Events) > 0 {
			return page
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return page
		}
	}
}

// maxLongPoll bounds a request's wait.
const maxLongPoll = 60 * time.Second

// ServeHTTP answers GET ?after=<seq>[&waitSeconds=<n>] with an EventsPage;
// with waitSeconds it holds the request until an event arrives or the wait
// (at most 60 s) ends.
func (l *NotificationLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeLogError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" is not allowed; use GET")
		return
	}
	q := r.URL.Query()
	var after int64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeLogError(w, http.StatusBadRequest, "ValidationError", fmt.Sprintf("after=%q: want a sequence number >= 0", v))
			return
		}
		after = n
	}
	var wait time.Duration
	if v := q.Get("waitSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeLogError(w, http.StatusBadRequest, "ValidationError", fmt.Sprintf("waitSeconds=%q: want seconds >= 0", v))
			return
		}
		wait = min(time.Duration(n)*time.Second, maxLongPoll)
	}
	page := l.Since(after)
	if len(page.Events) == 0 && wait > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		page = l.Wait(ctx, after)
		cancel()
	}
	_ = json.NewEncoder(w).Encode(page) // a client gone away is not ours to report
}

func writeLogError(w http.ResponseWriter, status int, code, msg string) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
