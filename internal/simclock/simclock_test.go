package simclock

import (
	"context"
	"sync"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestManualFiresInDeadlineOrder(t *testing.T) {
	m := NewManual(epoch)
	var got []int
	var seen []time.Time
	for _, d := range []int{30, 10, 20, 10} {
		d := d
		m.AfterFunc(time.Duration(d)*time.Second, func() {
			got = append(got, d)
			seen = append(seen, m.Now())
		})
	}
	m.Advance(25 * time.Second)
	want := []int{10, 10, 20}
	if len(got) != len(want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("fired %v, want %v", got, want)
		}
	}
	if !seen[2].Equal(epoch.Add(20 * time.Second)) {
		t.Errorf("timer saw Now()=%v, want its own deadline", seen[2])
	}
	if !m.Now().Equal(epoch.Add(25 * time.Second)) {
		t.Errorf("Now()=%v after Advance(25s)", m.Now())
	}
	if m.Pending() != 1 {
		t.Errorf("Pending()=%d, want 1", m.Pending())
	}
}

func TestManualTimerScheduledByTimerFiresInSameAdvance(t *testing.T) {
	m := NewManual(epoch)
	fired := false
	m.AfterFunc(time.Second, func() {
		m.AfterFunc(time.Second, func() { fired = true })
	})
	m.Advance(3 * time.Second)
	if !fired {
		t.Fatal("a timer scheduled within the advanced window did not fire")
	}
}

func TestStopPreventsFiring(t *testing.T) {
	m := NewManual(epoch)
	fired := false
	tm := m.AfterFunc(time.Second, func() { fired = true })
	if !tm.Stop() {
		t.Fatal("Stop() = false on a pending timer")
	}
	if tm.Stop() {
		t.Fatal("second Stop() = true")
	}
	m.Advance(time.Minute)
	if fired {
		t.Fatal("stopped timer fired")
	}
}

func TestScaledRunsFaster(t *testing.T) {
	c := NewScaled(epoch, 1000)
	defer c.Close()
	start := time.Now()
	if err := c.Sleep(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if real := time.Since(start); real > 2*time.Second {
		t.Fatalf("10 simulated seconds at scale 1000 took %v real", real)
	}
	if sim := c.Now().Sub(epoch); sim < 10*time.Second {
		t.Fatalf("simulated elapsed %v, want >= 10s", sim)
	}
}

func TestScaledSetScaleKeepsDeadlines(t *testing.T) {
	c := NewScaled(epoch, 1)
	defer c.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	var firedAt time.Time
	c.AfterFunc(60*time.Second, func() { firedAt = c.Now(); wg.Done() })
	c.SetScale(6000) // 60 simulated seconds now take 10ms
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("timer did not fire after the scale went up")
	}
	if firedAt.Before(epoch.Add(60 * time.Second)) {
		t.Fatalf("fired at %v, before its deadline", firedAt)
	}
}

func TestSleepHonoursContext(t *testing.T) {
	m := NewManual(epoch)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Sleep(ctx, time.Hour); err == nil {
		t.Fatal("Sleep on a cancelled context returned nil")
	}
	if m.Pending() != 0 {
		t.Fatalf("cancelled Sleep left %d timers", m.Pending())
	}
}
