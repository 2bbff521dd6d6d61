package trigger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/simclock"
	"github.com/ecsflow/ecsflow/internal/store"
)

// Scheduled triggers (model.Trigger.Schedule) fire on a clock, not on
// pushes. On AWS one EventBridge Scheduler schedule, rate(1 minute), invokes
// the trigger function with ScheduleTickInput; locally RunSchedule ticks on
// the simulated clock. Each tick fires every enabled scheduled trigger whose
// cron expression (UTC) names that minute, deploying its ArtifactTag of its
// repository, through the same claim as a push: the event id is the minute
// (ScheduleEventID), so a tick delivered twice starts each run once.

// ScheduleTickField names the tick's time in the trigger function's input.
const ScheduleTickField = "ecsflowScheduleTick"

// ScheduleTickInput is the input the Scheduler schedule gives the trigger
// function (Scheduler fills in the scheduled time).
const ScheduleTickInput = `{"` + ScheduleTickField + `":"<aws.scheduler.scheduled-time>"}`

// DecodeScheduleTick reads a schedule tick: ok is false when raw is not one
// (then it is an EventBridge event); err when it is one with a bad time.
func DecodeScheduleTick(raw []byte) (at time.Time, ok bool, err error) {
	if !bytes.Contains(raw, []byte(`"`+ScheduleTickField+`"`)) {
		return time.Time{}, false, nil
	}
	var in map[string]json.RawMessage
	if err := json.Unmarshal(raw, &in); err != nil {
		return time.Time{}, false, nil
	}
	v, ok := in[ScheduleTickField]
	if !ok {
		return time.Time{}, false, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return time.Time{}, true, fmt.Errorf("schedule tick: %s is not a string", ScheduleTickField)
	}
	at, err = time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, true, fmt.Errorf("schedule tick: %q is not an RFC 3339 time", s)
	}
	return at, true, nil
}

// ScheduleEventID is the event id of the scheduled runs of one minute.
func ScheduleEventID(minute time.Time) string {
	return "schedule-" + minute.UTC().Truncate(time.Minute).Format("20060102T1504Z")
}

// Due reports whether a 5-field cron expression (UTC) names the minute of at.
func Due(schedule string, at time.Time) (bool, error) {
	sched, err := cron.ParseStandard(schedule)
	if err != nil {
		return false, fmt.Errorf("schedule %q: %w", schedule, err)
	}
	minute := at.UTC().Truncate(time.Minute)
	return sched.Next(minute.Add(-time.Second)).Equal(minute), nil
}

// Tick fires the scheduled triggers due in the minute of at. Like
// HandleEvent it returns an error only when a retry may help.
func (h *Handler) Tick(ctx context.Context, at time.Time) (Outcome, error) {
	h.stats.events.Add(1)
	minute := at.UTC().Truncate(time.Minute)
	eventID := ScheduleEventID(minute)
	triggers, err := h.scheduledTriggers(ctx)
	if err != nil {
		return Outcome{EventID: eventID}, fmt.Errorf("schedule tick %s: %w", eventID, err)
	}
	var jobs []job
	for _, t := range triggers {
		due, err := Due(t.Schedule, minute)
		if err != nil {
			h.log.ErrorContext(ctx, "scheduled trigger skipped", "event_id", eventID, "trigger_id", t.ID, "error", err)
			continue
		}
		if !due {
			continue
		}
		if t.WorkflowID == "" && h.pipelines == nil {
			h.log.WarnContext(ctx, "pipeline trigger not started: pipelines are not implemented", "event_id", eventID, "trigger_id", t.ID)
			continue
		}
		srv, err := getAs[*model.ArtifactServer](ctx, h.store, model.KindArtifactServer, t.ArtifactServerID)
		if errors.Is(err, store.ErrNotFound) {
			h.log.ErrorContext(ctx, "scheduled trigger skipped: no artifact server", "event_id", eventID, "trigger_id", t.ID)
			continue
		}
		if err != nil {
			return Outcome{EventID: eventID}, fmt.Errorf("schedule tick %s: %w", eventID, err)
		}
		jobs = append(jobs, job{p: Push{EventID: eventID, Time: minute, Repository: t.Repository, Tag: t.ArtifactTag}, srv: srv, t: t})
	}
	if len(jobs) == 0 {
		h.stats.ignored.Add(1)
	}
	h.stats.matched.Add(int64(len(jobs)))
	return h.run(ctx, eventID, jobs)
}

// scheduledTriggers lists every application's enabled scheduled triggers.
func (h *Handler) scheduledTriggers(ctx context.Context) ([]*model.Trigger, error) {
	apps, err := listAll(ctx, h.store, model.KindApplication, "")
	if err != nil {
		return nil, err
	}
	var out []*model.Trigger
	for _, a := range apps {
		ts, err := listAll(ctx, h.store, model.KindTrigger, a.GetMeta().ID)
		if err != nil {
			return nil, err
		}
		for _, e := range ts {
			if t, ok := e.(*model.Trigger); ok && t.Schedule != "" && !t.Disabled {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

func getAs[T model.Entity](ctx context.Context, st Store, kind model.Kind, id string) (T, error) {
	var zero T
	e, err := st.Get(ctx, kind, id)
	if err != nil {
		return zero, fmt.Errorf("get %s %s: %w", kind, id, err)
	}
	t, ok := e.(T)
	if !ok {
		return zero, fmt.Errorf("get %s %s: store returned %T", kind, id, e)
	}
	return t, nil
}

// RunSchedule ticks h at the start of every minute of clock (the local
// stand-in for the Scheduler schedule) until the returned stop is called.
// A failed tick is logged; the next minute's tick runs regardless.
func RunSchedule(clock simclock.Clock, h *Handler) (stop func()) {
	var mu sync.Mutex
	stopped := false
	var timer simclock.Timer
	var arm func()
	arm = func() {
		now := clock.Now()
		next := now.UTC().Truncate(time.Minute).Add(time.Minute)
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		timer = clock.AfterFunc(next.Sub(now), func() {
			if _, err := h.Tick(context.Background(), next); err != nil {
				h.log.Error("schedule tick", "error", err)
			}
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
