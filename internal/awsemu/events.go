package awsemu

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// Event is an EventBridge event as AWS delivers it: the envelope with the
// service's detail document.
type Event struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// Detail types and sources of the events the emulator emits.
const (
	DetailTypeTaskStateChange       = "ECS Task State Change"
	DetailTypeDeploymentStateChange = "ECS Deployment State Change"
	DetailTypeServiceAction         = "ECS Service Action"
	DetailTypeECRImageAction        = "ECR Image Action"
	DetailTypeAlarmStateChange      = "CloudWatch Alarm State Change"
	SourceECS                       = "aws.ecs"
	SourceECR                       = "aws.ecr"
	SourceCloudWatch                = "aws.cloudwatch"
)

// EventSink receives every event the emulator emits. Emit is called from
// one goroutine, in the order the world produced the events, never while
// the world is locked, so it may call the emulator's APIs; a slow Emit
// delays later events but not the simulation.
type EventSink interface {
	Emit(ctx context.Context, ev Event)
}

// SinkFunc adapts a function to EventSink.
type SinkFunc func(ctx context.Context, ev Event)

// Emit calls f.
func (f SinkFunc) Emit(ctx context.Context, ev Event) { f(ctx, ev) }

var _ EventSink = SinkFunc(nil)

// RecordingSink keeps every event it receives, for tests.
type RecordingSink struct {
	mu     sync.Mutex
	events []Event
	notify chan struct{}
}

var _ EventSink = (*RecordingSink)(nil)

// NewRecordingSink returns an empty recording sink.
func NewRecordingSink() *RecordingSink {
	return &RecordingSink{notify: make(chan struct{})}
}

// Emit records ev.
func (s *RecordingSink) Emit(_ context.Context, ev Event) {
	s.mu.Lock()
	s.events = append(s.events, ev)
	ch := s.notify
	s.notify = make(chan struct{})
	s.mu.Unlock()
	close(ch)
}

// Events returns a copy of everything recorded so far.
func (s *RecordingSink) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Wait blocks until an event satisfying match has been recorded, or ctx is
// done; it returns the first such event.
func (s *RecordingSink) Wait(ctx context.Context, match func(Event) bool) (Event, bool) {
	seen := 0
	for {
		s.mu.Lock()
		evs := s.events[seen:]
		ch := s.notify
		s.mu.Unlock()
		for _, ev := range evs {
			if match(ev) {
				return ev, true
			}
		}
		seen += len(evs)
		select {
		case <-ch:
		case <-ctx.Done():
			return Event{}, false
		}
	}
}

// eventTime formats a time the way EventBridge envelopes carry it.
func eventTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// detailTime formats a timestamp inside an ECS event detail (ISO 8601 with
// milliseconds, as ECS sends them).
func detailTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
