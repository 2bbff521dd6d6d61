package awsemu

import (
	"container/heap"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// world is the one simulated account: ECS, ECR, App Auto Scaling and Cloud
// Map state, guarded by one lock so that cross-service behaviour (tasks in
// target groups, auto scaling clamps, Cloud Map instances) stays coherent.
//
// API handlers run with mu held (read or write); clock callbacks take it
// through w.run. Events produced while locked are queued in out and emitted
// after the lock is released.
type world struct {
	mu     sync.RWMutex
	clock  simclock.Clock
	sink   EventSink
	region string
	acct   string
	faults *faultState
	lb     lbHooks
	log    *slog.Logger
	ctx    context.Context // lives until Close

	rng    *rand.Rand
	closed bool
	out    []Event
	disp   dispatcher
	gen    uint64 // bumped on every write, for read caches
	tq     timerQueue
	tseq   uint64
	at     time.Time // deadline of the timer being run, if any
	keep   int       // how many recent events to keep for /_emulator/events
	recent []seqEvent
	evSeq  int64

	clusters  map[string]*cluster
	families  map[string]*family
	tags      map[string][]ecstypes.Tag
	taskByArn map[string]*task
	ecr       ecrState
	aas       aasState
	sd        sdState
	timings   Timings
}

// Timings are the simulated durations of the ECS world. Zero fields take
// the defaults, which follow what AWS documents or typically shows.
type Timings struct {
	Provision     time.Duration // PROVISIONING -> PENDING (ENI attach), default 3s
	PullMin       time.Duration // image pull, drawn in [PullMin, PullMax], default 8s..20s
	PullMax       time.Duration
	Start         time.Duration // container start after the pull, default 2s
	Stop          time.Duration // STOPPING -> STOPPED, default 5s
	StoppedTTL    time.Duration // how long STOPPED tasks stay visible, default 1h
	LaunchBackoff time.Duration // delay before relaunching after a failed task, default 10s
}

func (t Timings) withDefaults() Timings {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Provision, 3*time.Second)
	def(&t.PullMin, 8*time.Second)
	def(&t.PullMax, 20*time.Second)
	if t.PullMax < t.PullMin {
		t.PullMax = t.PullMin
	}
	def(&t.Start, 2*time.Second)
	def(&t.Stop, 5*time.Second)
	def(&t.StoppedTTL, time.Hour)
	def(&t.LaunchBackoff, 10*time.Second)
	return t
}

// lbHooks is what the ECS world needs from ELBv2.
type lbHooks interface {
	targetGroup(arn string) (tgInfo, bool)
	registerTarget(tgARN, id string, port int32) error
	deregisterTarget(tgARN, id string, port int32, done func()) error
	setTargetHealth(tgARN, id string, port int32, state, reasonCode, description string)
}

type tgInfo struct {
	ARN, TargetType                      string
	HealthCheckInterval                  time.Duration
	HealthyThreshold, UnhealthyThreshold int32
	DeregistrationDelay                  time.Duration
	LoadBalancerARNs                     []string
}

// noLB is used when no ELB is attached: no target group exists.
type noLB struct{}

func (noLB) targetGroup(string) (tgInfo, bool)                             { return tgInfo{}, false }
func (noLB) registerTarget(string, string, int32) error                    { return nil }
func (noLB) deregisterTarget(_ string, _ string, _ int32, f func()) error  { f(); return nil }
func (noLB) setTargetHealth(string, string, int32, string, string, string) {}

func newWorld(ctx context.Context, clock simclock.Clock, sink EventSink, region, acct string, seed int64, faults *faultState, lb lbHooks, t Timings) *world {
	if lb == nil {
		lb = noLB{}
	}
	w := &world{
		clock:     clock,
		sink:      sink,
		region:    region,
		acct:      acct,
		faults:    faults,
		lb:        lb,
		log:       slog.Default().With("component", "awsemu"),
		ctx:       ctx,
		rng:       rand.New(rand.NewPCG(uint64(seed), 0x65637366)),
		clusters:  map[string]*cluster{},
		families:  map[string]*family{},
		tags:      map[string][]ecstypes.Tag{},
		taskByArn: map[string]*task{},
		ecr:       newECRState(),
		aas:       newAASState(),
		sd:        newSDState(),
		timings:   t.withDefaults(),
		disp:      dispatcher{wake: make(chan struct{}, 1)},
	}
	if sink != nil {
		go w.disp.run(ctx, sink)
	}
	return w
}

// unlock hands the queued events to the dispatcher, in the order the
// world produced them, and releases the write lock.
func (w *world) unlock() {
	w.gen++
	if len(w.out) > 0 {
		w.disp.push(w.out)
		w.out = nil
	}
	w.mu.Unlock()
}

// dispatcher delivers events to the sink on one goroutine, in order, so
// that a sink may call back into the emulator without deadlocking.
type dispatcher struct {
	mu      sync.Mutex
	q       []Event
	pending int           // queued or being emitted
	idle    chan struct{} // closed when pending drops to 0; nil while idle
	wake    chan struct{}
}

func (d *dispatcher) push(evs []Event) {
	d.mu.Lock()
	d.q = append(d.q, evs...)
	if d.pending == 0 {
		d.idle = make(chan struct{})
	}
	d.pending += len(evs)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// flush waits until every event pushed so far has been emitted.
func (d *dispatcher) flush(ctx context.Context) error {
	d.mu.Lock()
	idle := d.idle
	d.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *dispatcher) run(ctx context.Context, sink EventSink) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		}
		for {
			d.mu.Lock()
			batch := d.q
			d.q = nil
			d.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			for _, ev := range batch {
				if ctx.Err() != nil {
					return
				}
				sink.Emit(ctx, ev)
				d.mu.Lock()
				d.pending--
				if d.pending == 0 {
					close(d.idle)
					d.idle = nil
				}
				d.mu.Unlock()
			}
		}
	}
}

// run executes f with the write lock, unless the world is closed.
func (w *world) run(f func()) {
	w.mu.Lock()
	defer w.unlock()
	if w.closed {
		return
	}
	f()
}

// after schedules f (run under the lock) after d of simulated time. The
// world keeps its own deadline-ordered queue: a clock callback runs every
// entry that is due, in deadline order, each seeing now() at its own
// deadline. So the simulation's order never depends on how late goroutines
// get scheduled, even when a fast clock turns a millisecond of real delay
// into seconds of simulated time. Callers hold the lock.
func (w *world) after(d time.Duration, f func()) simclock.Timer {
	if d < 0 {
		d = 0
	}
	e := &wtimer{at: w.now().Add(d), f: f, w: w}
	w.tseq++
	e.seq = w.tseq
	heap.Push(&w.tq, e)
	w.clock.AfterFunc(d, w.fire)
	return e
}

// fire runs the due entries of the world's timer queue.
func (w *world) fire() {
	w.run(func() {
		now := w.clock.Now()
		for len(w.tq) > 0 && !w.tq[0].at.After(now) {
			e := heap.Pop(&w.tq).(*wtimer)
			w.at = e.at
			e.f()
		}
		w.at = time.Time{}
	})
}

// now is the simulated time; inside a timer callback it is the timer's
// deadline.
func (w *world) now() time.Time {
	if !w.at.IsZero() {
		return w.at
	}
	return w.clock.Now()
}

// wtimer is an entry of the world's timer queue.
type wtimer struct {
	at  time.Time
	seq uint64
	f   func()
	idx int
	w   *world
}

// Stop removes the entry; callers hold the world lock.
func (e *wtimer) Stop() bool {
	if e.idx < 0 {
		return false
	}
	heap.Remove(&e.w.tq, e.idx)
	return true
}

type timerQueue []*wtimer

func (q timerQueue) Len() int { return len(q) }
func (q timerQueue) Less(i, j int) bool {
	if q[i].at.Equal(q[j].at) {
		return q[i].seq < q[j].seq
	}
	return q[i].at.Before(q[j].at)
}
func (q timerQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].idx = i
	q[j].idx = j
}
func (q *timerQueue) Push(x any) {
	e := x.(*wtimer)
	e.idx = len(*q)
	*q = append(*q, e)
}
func (q *timerQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	e.idx = -1
	return e
}

func (w *world) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[w.rng.IntN(16)]
	}
	return string(b)
}

func (w *world) uuid() string {
	h := w.hex(32)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-" + "89ab"[w.rng.IntN(4):][:1] + h[17:20] + "-" + h[20:32]
}

func (w *world) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + w.rng.IntN(10))
	}
	if b[0] == '0' {
		b[0] = '1'
	}
	return string(b)
}

func (w *world) jitter(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(w.rng.Int64N(int64(hi-lo)))
}

func (w *world) arn(svc, resource string) string {
	return "arn:aws:" + svc + ":" + w.region + ":" + w.acct + ":" + resource
}

// iamARN is a global (region-less) IAM ARN.
func (w *world) iamARN(resource string) string {
	return "arn:aws:iam::" + w.acct + ":" + resource
}

// event queues an EventBridge event for emission after unlock.
func (w *world) event(source, detailType string, resources []string, detail any) {
	if w.sink == nil && w.keep == 0 {
		return
	}
	b, err := json.Marshal(detail)
	if err != nil {
		w.log.Error("marshal event detail", "detailType", detailType, "err", err)
		return
	}
	if resources == nil {
		resources = []string{}
	}
	ev := Event{
		Version:    "0",
		ID:         w.uuid(),
		DetailType: detailType,
		Source:     source,
		Account:    w.acct,
		Time:       eventTime(w.now()),
		Region:     w.region,
		Resources:  resources,
		Detail:     b,
	}
	if w.keep > 0 {
		w.evSeq++
		w.recent = append(w.recent, seqEvent{Seq: w.evSeq, Event: ev})
		if len(w.recent) > w.keep {
			w.recent = append(w.recent[:0], w.recent[len(w.recent)-w.keep:]...)
		}
	}
	if w.sink != nil {
		w.out = append(w.out, ev)
	}
}

// seqEvent is an event with its position in the emulator's event log.
type seqEvent struct {
	Seq int64 `json:"seq"`
	Event
}

// lastSegment returns the name part of an ARN or a bare name.
func lastSegment(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// page applies nextToken/maxResults to n items.
func page(n int, token *string, max *int32, def, limit int32) (start, end int, next *string, err error) {
	size := def
	if max != nil {
		if *max < 1 || *max > limit {
			return 0, 0, nil, errf(codeInvalidParameter, "maxResults must be between 1 and %d", limit)
		}
		size = *max
	}
	if token != nil && *token != "" {
		raw, derr := base64.RawURLEncoding.DecodeString(*token)
		if derr != nil {
			return 0, 0, nil, errf(codeInvalidParameter, "invalid nextToken")
		}
		v, perr := strconv.Atoi(string(raw))
		if perr != nil || v < 0 || v > n {
			return 0, 0, nil, errf(codeInvalidParameter, "invalid nextToken")
		}
		start = v
	}
	end = start + int(size)
	if end < n {
		next = aws.String(base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end))))
	} else {
		end = n
	}
	return start, end, next, nil
}

func clampInt(v, lo, hi int) int {
	return max(lo, min(v, hi))
}

func ptrTime(t time.Time) *time.Time { return &t }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func fmtTasks(ts []*task) string {
	var b strings.Builder
	for i, t := range ts {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "(task %s)", t.id)
	}
	return b.String()
}
