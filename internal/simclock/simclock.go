// Package simclock is the one clock that the AWS emulator, the embedded Step
// Functions interpreter and local mode share. Simulated time runs at a scale
// factor relative to real time (scale 200 means one real second is 200
// simulated seconds), and the factor can change while timers are pending.
//
// Two implementations exist: Scaled, driven by the real clock, and Manual,
// which only moves when a test calls Advance. Both satisfy Clock.
package simclock

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Clock is simulated time.
type Clock interface {
	// Now is the current simulated time.
	Now() time.Time
	// AfterFunc runs f in its own goroutine once d of simulated time has passed.
	AfterFunc(d time.Duration, f func()) Timer
	// Sleep blocks for d of simulated time, or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop prevents the function from running; it reports whether it did.
	Stop() bool
}

// sleep implements Sleep on top of AfterFunc for any Clock.
func sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	done := make(chan struct{})
	t := c.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}

// timerQueue is a min-heap of timers ordered by simulated deadline, then by
// creation order so that timers due at the same instant fire in FIFO order.
type timerQueue []*entry

type entry struct {
	at    time.Time
	seq   uint64
	f     func()
	index int // -1 once fired or stopped
	owner *queueOwner
}

type queueOwner struct {
	mu sync.Mutex
	q  timerQueue
	n  uint64
}

func (q timerQueue) Len() int { return len(q) }
func (q timerQueue) Less(i, j int) bool {
	if q[i].at.Equal(q[j].at) {
		return q[i].seq < q[j].seq
	}
	return q[i].at.Before(q[j].at)
}
func (q timerQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}
func (q *timerQueue) Push(x any) {
	e := x.(*entry)
	e.index = len(*q)
	*q = append(*q, e)
}
func (q *timerQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	e.index = -1
	return e
}

func (o *queueOwner) add(at time.Time, f func()) *entry {
	o.n++
	e := &entry{at: at, seq: o.n, f: f, owner: o}
	heap.Push(&o.q, e)
	return e
}

// popDue removes and returns every entry due at or before now, in order.
func (o *queueOwner) popDue(now time.Time) []*entry {
	var due []*entry
	for len(o.q) > 0 && !o.q[0].at.After(now) {
		due = append(due, heap.Pop(&o.q).(*entry))
	}
	return due
}

func (e *entry) Stop() bool {
	o := e.owner
	o.mu.Lock()
	defer o.mu.Unlock()
	if e.index < 0 {
		return false
	}
	heap.Remove(&o.q, e.index)
	e.index = -1
	return true
}

// Scaled is simulated time that advances scale times faster than real time.
type Scaled struct {
	queueOwner
	// anchorReal and anchorSim tie real time to simulated time; they move
	// whenever the scale changes so that simulated time never jumps.
	anchorReal time.Time
	anchorSim  time.Time
	scale      float64
	wake       chan struct{}
	stop       chan struct{}
	closeOnce  sync.Once
}

var _ Clock = (*Scaled)(nil)

// NewScaled starts a clock at simulated time start running at scale (values
// <= 0 mean 1). Close stops its timer goroutine.
func NewScaled(start time.Time, scale float64) *Scaled {
	if scale <= 0 {
		scale = 1
	}
	c := &Scaled{
		anchorReal: time.Now(),
		anchorSim:  start,
		scale:      scale,
		wake:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	go c.run()
	return c
}

// Real is a clock that runs at real speed from the current wall time.
func Real() *Scaled { return NewScaled(time.Now().UTC(), 1) }

func (c *Scaled) nowLocked() time.Time {
	elapsed := time.Since(c.anchorReal)
	return c.anchorSim.Add(time.Duration(float64(elapsed) * c.scale))
}

// Now is the current simulated time.
func (c *Scaled) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

// Scale is the current factor.
func (c *Scaled) Scale() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.scale
}

// SetScale changes the factor from now on; pending timers keep their
// simulated deadlines.
func (c *Scaled) SetScale(scale float64) {
	if scale <= 0 {
		scale = 1
	}
	c.mu.Lock()
	c.anchorSim = c.nowLocked()
	c.anchorReal = time.Now()
	c.scale = scale
	c.mu.Unlock()
	c.poke()
}

// RealDuration converts a simulated duration to the real time it takes now.
func (c *Scaled) RealDuration(d time.Duration) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Duration(float64(d) / c.scale)
}

// AfterFunc runs f after d of simulated time.
func (c *Scaled) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	e := c.add(c.nowLocked().Add(d), f)
	c.mu.Unlock()
	c.poke()
	return e
}

// Sleep blocks for d of simulated time.
func (c *Scaled) Sleep(ctx context.Context, d time.Duration) error { return sleep(ctx, c, d) }

// Close stops the timer goroutine; pending timers never fire.
func (c *Scaled) Close() { c.closeOnce.Do(func() { close(c.stop) }) }

func (c *Scaled) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Scaled) run() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		c.mu.Lock()
		now := c.nowLocked()
		due := c.popDue(now)
		wait := time.Hour
		if len(c.q) > 0 {
			wait = time.Duration(float64(c.q[0].at.Sub(now)) / c.scale)
			if wait < 0 {
				wait = 0
			}
		}
		c.mu.Unlock()
		for _, e := range due {
			go e.f()
		}
		if len(due) > 0 {
			continue
		}
		t.Reset(wait)
		select {
		case <-c.stop:
			return
		case <-c.wake:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		case <-t.C:
		}
	}
}

// Manual is a clock that moves only when Advance is called. Timers due
// within an Advance fire in deadline order, each seeing Now() at its own
// deadline, and Advance waits for them to return.
type Manual struct {
	queueOwner
	now time.Time
}

var _ Clock = (*Manual)(nil)

// NewManual starts a manual clock at start.
func NewManual(start time.Time) *Manual { return &Manual{now: start} }

// Now is the current simulated time.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// AfterFunc schedules f at Now()+d; d <= 0 fires on the next Advance.
func (m *Manual) AfterFunc(d time.Duration, f func()) Timer {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.add(m.now.Add(d), f)
}

// Sleep blocks until another goroutine advances the clock by d.
func (m *Manual) Sleep(ctx context.Context, d time.Duration) error { return sleep(ctx, m, d) }

// Advance moves time forward by d, running every timer that falls due, in
// order, including timers those timers schedule within the window.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	target := m.now.Add(d)
	m.mu.Unlock()
	for {
		m.mu.Lock()
		if len(m.q) == 0 || m.q[0].at.After(target) {
			m.now = target
			m.mu.Unlock()
			return
		}
		e := heap.Pop(&m.q).(*entry)
		if e.at.After(m.now) {
			m.now = e.at
		}
		m.mu.Unlock()
		e.f()
	}
}

// Pending is the number of timers waiting to fire.
func (m *Manual) Pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.q)
}
