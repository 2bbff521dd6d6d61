package trigger_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
	"github.com/ecsflow/ecsflow/internal/trigger"
)

func TestDue(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name, schedule, at string
		want               bool
	}{
		{"daily at 03:00", "0 3 * * *", "2026-11-26T03:00:00Z", true},
		{"seconds into the minute", "0 3 * * *", "2026-11-26T03:00:42Z", true},
		{"a minute later", "0 3 * * *", "2026-11-26T03:01:00Z", false},
		{"every quarter", "*/15 * * * *", "2026-11-26T10:45:00Z", true},
		{"weekdays on a Saturday", "0 9 * * 1-5", "2026-11-28T09:00:00Z", false},
		{"weekdays on a Friday", "0 9 * * 1-5", "2026-11-27T09:00:00Z", true},
		{"UTC, whatever the zone given", "0 3 * * *", "2026-11-26T04:00:00+01:00", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := trigger.Due(tc.schedule, at(tc.at))
			if err != nil || got != tc.want {
				t.Fatalf("Due(%q, %s) = %v, %v; want %v", tc.schedule, tc.at, got, err, tc.want)
			}
		})
	}
	if _, err := trigger.Due("61 * * * *", time.Now()); err == nil {
		t.Fatal("an invalid schedule was accepted")
	}
}

func TestDecodeScheduleTick(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		ok      bool
		wantErr bool
	}{
		{"tick", strings.Replace(trigger.ScheduleTickInput, "<aws.scheduler.scheduled-time>", "2026-11-26T01:30:00Z", 1), true, false},
		{"bad time", `{"ecsflowScheduleTick":"soon"}`, true, true},
		{"not a string", `{"ecsflowScheduleTick":5}`, true, true},
		{"an ECR event", string(pushEvent("e1", "web", "v1.0.0", digestOf(1))), false, false},
		{"not JSON", `{"ecsflowScheduleTick"`, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at, ok, err := trigger.DecodeScheduleTick([]byte(tc.raw))
			if ok != tc.ok || (err != nil) != tc.wantErr {
				t.Fatalf("got %v, %v, %v; want ok %v, error %v", at, ok, err, tc.ok, tc.wantErr)
			}
			if tc.ok && !tc.wantErr && !at.Equal(time.Date(2026, 11, 26, 1, 30, 0, 0, time.UTC)) {
				t.Fatalf("at = %s", at)
			}
		})
	}
}

// TestScheduledTriggerFiresOnItsMinuteOnce: a scheduled trigger deploys its
// artifact tag at the minutes its cron names, once per minute however often
// the tick is delivered, never on a push; a push trigger on the same
// repository is not fired by ticks; a malformed tick is acknowledged.
func TestScheduledTriggerFiresOnItsMinuteOnce(t *testing.T) {
	b := dynamotest.MemHTTP()
	e := newEnv(t, b, dynamotest.Table(t, b))
	g := e.seed(t)
	ctx := context.Background()
	push := e.addTrigger(t, g, g.server, "release", "stable|v.*", false)
	tr := modeltest.Trigger(g.app, g.server, g.workflow, g.svc)
	tr.Name, tr.TagFilter, tr.Schedule, tr.ArtifactTag = "nightly", "", "30 1 * * *", "stable"
	nightly := mustCreate(t, e.st, tr)
	off := modeltest.Trigger(g.app, g.server, g.workflow, g.svc)
	off.Name, off.TagFilter, off.Schedule, off.ArtifactTag, off.Disabled = "off", "", "* * * * *", "stable", true
	mustCreate(t, e.st, off)

	tick := func(at string) []byte {
		return []byte(strings.Replace(trigger.ScheduleTickInput, "<aws.scheduler.scheduled-time>", at, 1))
	}
	if err := e.h.Lambda(ctx, tick("2026-11-26T01:29:00Z")); err != nil {
		t.Fatal(err)
	}
	if n := len(e.starter.starts()); n != 0 {
		t.Fatalf("a tick at 01:29 started %d deployments", n)
	}
	// 01:30, delivered twice (the second within the same minute).
	for _, at := range []string{"2026-11-26T01:30:00Z", "2026-11-26T01:30:20Z"} {
		if err := e.h.Lambda(ctx, tick(at)); err != nil {
			t.Fatal(err)
		}
	}
	starts := e.starter.starts()
	if len(starts) != 1 {
		t.Fatalf("the 01:30 tick delivered twice started %d deployments, want 1", len(starts))
	}
	d := e.deployment(t, starts[0].ID)
	if d.Artifact.Tag != "stable" || d.TriggeredBy.Kind != model.TriggeredByTrigger || d.TriggeredBy.ID != nightly ||
		!strings.Contains(d.TriggeredBy.Principal, trigger.ScheduleEventID(time.Date(2026, 11, 26, 1, 30, 0, 0, time.UTC))) {
		t.Fatalf("scheduled deployment: artifact %+v, triggered by %+v", d.Artifact, d.TriggeredBy)
	}
	if st := e.h.Stats(); st.Duplicates != 1 || st.Started != 1 {
		t.Fatalf("stats %+v, want 1 started and 1 duplicate", st)
	}
	// A push of the tag fires the push trigger only.
	out, err := e.h.HandleEvent(ctx, pushEvent("push-1", "web", "stable", digestOf(7)))
	if err != nil || out.Matched != 1 || len(out.Deployments) != 1 {
		t.Fatalf("push of stable: %+v, %v; want only the push trigger", out, err)
	}
	if got := e.deployment(t, out.Deployments[0]); got.TriggeredBy.ID != push {
		t.Fatalf("the push fired trigger %s, want %s", got.TriggeredBy.ID, push)
	}
	// A malformed tick is dropped, counted, not retried.
	before := e.h.Stats().Malformed
	if err := e.h.Lambda(ctx, json.RawMessage(`{"ecsflowScheduleTick":"later"}`)); err != nil {
		t.Fatalf("malformed tick: %v", err)
	}
	if e.h.Stats().Malformed != before+1 {
		t.Fatal("the malformed tick was not counted")
	}
}

// TestRunScheduleTicksOnTheClock: the local stand-in for the Scheduler ticks
// at each minute of the simulated clock, and stops when told.
func TestRunScheduleTicksOnTheClock(t *testing.T) {
	b := dynamotest.MemHTTP()
	e := newEnv(t, b, dynamotest.Table(t, b))
	g := e.seed(t)
	tr := modeltest.Trigger(g.app, g.server, g.workflow, g.svc)
	tr.Name, tr.TagFilter, tr.Schedule, tr.ArtifactTag = "every-ten", "", "*/10 * * * *", "stable"
	mustCreate(t, e.st, tr)
	stop := trigger.RunSchedule(e.clock, e.h) // the clock is at 01:00:00
	e.clock.Advance(5 * time.Minute)
	if n := len(e.starter.starts()); n != 0 {
		t.Fatalf("%d starts by 01:05", n)
	}
	e.clock.Advance(5 * time.Minute) // 01:10
	if n := len(e.starter.starts()); n != 1 {
		t.Fatalf("%d starts by 01:10, want 1", n)
	}
	stop()
	e.clock.Advance(30 * time.Minute)
	if n := len(e.starter.starts()); n != 1 {
		t.Fatalf("%d starts after stop, want still 1", n)
	}
}

func TestScheduledTriggerValidation(t *testing.T) {
	tests := []struct {
		name        string
		schedule    string
		tag         string
		wantField   string
		wantInvalid bool
	}{
		{"valid", "0 3 * * 1-5", "stable", "", false},
		{"a descriptor", "@daily", "stable", "", false},
		{"six fields", "0 0 3 * * *", "stable", "schedule", true},
		{"an interval", "@every 5m", "stable", "schedule", true},
		{"a zone", "CRON_TZ=Europe/Paris 0 3 * * *", "stable", "schedule", true},
		{"no tag", "0 3 * * *", "", "artifactTag", true},
		{"a bad tag", "0 3 * * *", "-bad", "artifactTag", true},
		{"a tag without a schedule", "", "stable", "artifactTag", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := modeltest.Trigger("app-1", "as-1", "wf-1", "svc-1")
			tr.Schedule, tr.ArtifactTag = tc.schedule, tc.tag
			err := tr.Validate()
			if !tc.wantInvalid {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantField) {
				t.Fatalf("Validate = %v, want a problem with %s", err, tc.wantField)
			}
		})
	}
}

func FuzzDecodeScheduleTick(f *testing.F) {
	f.Add([]byte(`{"ecsflowScheduleTick":"2026-11-26T01:30:00Z"}`))
	f.Add([]byte(`{"ecsflowScheduleTick":null}`))
	f.Add([]byte(`{"ecsflowScheduleTick":"2026-11-26T01:30:00+14:00","x":1}`))
	f.Add(pushEvent("e1", "web", "v1.0.0", digestOf(1)))
	f.Add([]byte(`"ecsflowScheduleTick"`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		at, ok, err := trigger.DecodeScheduleTick(raw)
		if !ok && (err != nil || !at.IsZero()) {
			t.Fatalf("not a tick, yet %v, %v", at, err)
		}
		if ok && err == nil {
			if due, derr := trigger.Due("* * * * *", at); derr != nil || !due {
				t.Fatalf("every minute is not due at %s: %v", at, derr)
			}
		}
	})
}
