package ecsevents_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// faultyStore is the real store with AppendLedger and DeleteWait failing
// (or held) on demand.
type faultyStore struct {
	*store.Store
	mu        sync.Mutex
	ledgerErr error
	deleteErr error
	// hold, when set, blocks AppendLedger until it is closed; holdWatch
	// blocks PutWait of a WATCH.
	hold, holdWatch chan struct{}
}

func (s *faultyStore) PutWait(ctx context.Context, w store.Wait) error {
	if w.Kind == store.WaitWatch && s.holdWatch != nil {
		select {
		case <-s.holdWatch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.Store.PutWait(ctx, w)
}

var _ ecsevents.Store = (*faultyStore)(nil)

func (s *faultyStore) AppendLedger(ctx context.Context, id string, es ...model.LedgerEntry) error {
	s.mu.Lock()
	err, hold := s.ledgerErr, s.hold
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err != nil {
		return err
	}
	return s.Store.AppendLedger(ctx, id, es...)
}

func (s *faultyStore) DeleteWait(ctx context.Context, w store.Wait) error {
	s.mu.Lock()
	err := s.deleteErr
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.Store.DeleteWait(ctx, w)
}

func (s *faultyStore) set(ledgerErr, deleteErr error) {
	s.mu.Lock()
	s.ledgerErr, s.deleteErr = ledgerErr, deleteErr
	s.mu.Unlock()
}

// signalling is a TaskCompleter that records calls and closes answered
// when the first success or failure is sent.
type signalling struct {
	recorder
	once     sync.Once
	answered chan struct{}
}

func (s *signalling) SendTaskSuccess(ctx context.Context, token, output string) error {
	s.once.Do(func() { close(s.answered) })
	return s.recorder.SendTaskSuccess(ctx, token, output)
}

func (s *signalling) SendTaskFailure(ctx context.Context, token, errName, cause string) error {
	s.once.Do(func() { close(s.answered) })
	return s.recorder.SendTaskFailure(ctx, token, errName, cause)
}

type answerFixture struct {
	st   *faultyStore
	tc   *signalling
	h    *ecsevents.Handler
	logs *strings.Builder
	mu   *sync.Mutex
	dep  string
}

func newAnswerFixture(t *testing.T) *answerFixture {
	t.Helper()
	base := newStore(t, func() time.Time { return sampleNow })
	f := &answerFixture{st: &faultyStore{Store: base}, tc: &signalling{recorder: recorder{fail: map[string]error{}}, answered: make(chan struct{})},
		logs: &strings.Builder{}, mu: &sync.Mutex{}}
	f.dep = seedDeployment(t, base, 1)[0]
	f.h = ecsevents.New(f.st, f.tc, ecsevents.WithLogger(newLogger(f.logs, f.mu)), ecsevents.WithClock(func() time.Time { return sampleNow }))
	if err := base.PutWait(context.Background(), store.Wait{Token: "tok", DeploymentID: f.dep, Kind: store.WaitSteady,
		Cluster: "prod", Service: "web", Expires: sampleNow.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *answerFixture) log() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logs.String()
}

// steadyWaits are the deployment's STEADY waits left in the store.
func (f *answerFixture) steadyWaits(t *testing.T) int {
	t.Helper()
	ws, err := f.st.WaitsForDeployment(context.Background(), f.dep)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, w := range ws {
		if w.Kind == store.WaitSteady {
			n++
		}
	}
	return n
}

// TestAnswerDoesNotWaitForTheLedger: the token is completed while the
// ledger write is still in flight (the workflow's next step does not wait
// for the record), and the entry is written all the same.
func TestAnswerDoesNotWaitForTheLedger(t *testing.T) {
	f := newAnswerFixture(t)
	f.st.hold = make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- f.h.Handle(context.Background(), sample(t, "ecs-service-action.json")) }()
	select {
	case <-f.tc.answered:
	case <-time.After(10 * time.Second):
		t.Fatal("the token was not completed while the ledger write was held: the answer waits for the ledger")
	}
	close(f.st.hold)
	if err := <-done; err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if l := ledger(t, f.st.Store, f.dep); len(l) != 1 || !strings.HasPrefix(l[0].Message, "SERVICE_STEADY_STATE prod/web") {
		t.Fatalf("ledger %+v, want the steady state entry", l)
	}
	if n := f.steadyWaits(t); n != 0 {
		t.Fatalf("%d STEADY waits left, want the answered one deleted", n)
	}
}

// TestAnsweredWaitStaysUntilTheWatchIsIn: another event of the service
// (ECS sends SERVICE_STEADY_STATE and SERVICE_DEPLOYMENT_COMPLETED
// together) must find the answered wait or the watch that replaces it, so
// the wait is deleted only once the watch is in.
func TestAnsweredWaitStaysUntilTheWatchIsIn(t *testing.T) {
	f := newAnswerFixture(t)
	f.st.holdWatch = make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- f.h.Handle(context.Background(), sample(t, "ecs-service-action.json")) }()
	select {
	case <-f.tc.answered:
	case <-time.After(10 * time.Second):
		t.Fatal("the token was not completed while the watch was held")
	}
	// Time enough for the handler to delete the wait if it did not wait
	// for the watch.
	time.Sleep(100 * time.Millisecond)
	if n := f.steadyWaits(t); n != 1 {
		t.Fatalf("%d STEADY waits while the watch is not in yet, want the answered one kept", n)
	}
	close(f.st.holdWatch)
	if err := <-done; err != nil {
		t.Fatalf("Handle: %v", err)
	}
	ws, err := f.st.WaitsForDeployment(context.Background(), f.dep)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].Kind != store.WaitWatch {
		t.Fatalf("waits after the answer %+v, want only the watch", ws)
	}
}

func TestFailuresAfterTheAnswer(t *testing.T) {
	errStore := errors.New("ProvisionedThroughputExceededException: slow down")
	cases := []struct {
		name                 string
		event                string
		ledgerErr, deleteErr error
		wantErr              bool
		wantOps              []string // completer calls of the first delivery
		wantLog              string
		wantSteady           int      // STEADY waits left after the first delivery
		wantRetryOps         []string // completer calls of the second delivery
		wantSteadyAfter      int
		// wantLedger: the event's entries after both deliveries (a
		// repeated event may be recorded twice).
		wantLedger int
	}{
		// The answered wait is gone; the watch it left records the retried
		// event, and nothing is answered again.
		{name: "ledger fails after the success", event: "ecs-service-action.json", ledgerErr: errStore,
			wantOps: []string{"success"}, wantLog: "ledger entry lost after the wait was answered", wantSteady: 0,
			wantRetryOps: nil, wantSteadyAfter: 0, wantLedger: 1},
		// The wait is left with a spent token: the retry's answer is
		// refused as spent and the wait removed.
		{name: "delete fails after the success", event: "ecs-service-action.json", deleteErr: errStore,
			wantOps: []string{"success"}, wantLog: "could not delete an answered wait", wantSteady: 1,
			wantRetryOps: []string{"success"}, wantSteadyAfter: 0, wantLedger: 2},
		// Nothing was answered: the error goes back for a retry.
		{name: "ledger fails on a progress event", event: "ecs-task-state-change.json", ledgerErr: errStore,
			wantErr: true, wantOps: []string{"heartbeat"}, wantSteady: 1,
			wantRetryOps: []string{"heartbeat"}, wantSteadyAfter: 1, wantLedger: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newAnswerFixture(t)
			f.st.set(tc.ledgerErr, tc.deleteErr)
			raw := sample(t, tc.event)
			err := f.h.Handle(context.Background(), raw)
			if gotErr := err != nil; gotErr != tc.wantErr || (err != nil && !errors.Is(err, errStore)) {
				t.Fatalf("Handle = %v, want error %v (the store's)", err, tc.wantErr)
			}
			if got := ops(f.tc.Calls()); got != strings.Join(tc.wantOps, ",") {
				t.Fatalf("completer calls %v, want %v", got, tc.wantOps)
			}
			if tc.wantLog != "" && (!strings.Contains(f.log(), tc.wantLog) || !strings.Contains(f.log(), "slow down")) {
				t.Fatalf("log %q, want %q with the store's error", f.log(), tc.wantLog)
			}
			if tc.ledgerErr != nil && tc.wantLog != "" && !strings.Contains(f.log(), "SERVICE_STEADY_STATE prod/web") {
				t.Fatalf("log %q, want the lost entry's message", f.log())
			}
			if n := f.steadyWaits(t); n != tc.wantSteady {
				t.Fatalf("%d STEADY waits left, want %d", n, tc.wantSteady)
			}

			// The same event again (an EventBridge retry, or a repeat). A
			// token once completed is spent: Step Functions refuses it.
			f.st.set(nil, nil)
			f.tc.fail["success"] = errSpent
			first := len(f.tc.Calls())
			if err := f.h.Handle(context.Background(), raw); err != nil {
				t.Fatalf("second delivery: %v", err)
			}
			if got := ops(f.tc.Calls()[first:]); got != strings.Join(tc.wantRetryOps, ",") {
				t.Fatalf("second delivery's completer calls %v, want %v", got, tc.wantRetryOps)
			}
			if n := f.steadyWaits(t); n != tc.wantSteadyAfter {
				t.Fatalf("%d STEADY waits left after the second delivery, want %d", n, tc.wantSteadyAfter)
			}
			if l := ledger(t, f.st.Store, f.dep); len(l) != tc.wantLedger {
				t.Fatalf("%d ledger entries after the second delivery, want %d", len(l), tc.wantLedger)
			}
		})
	}
}

func ops(calls []call) string {
	var out []string
	for _, c := range calls {
		out = append(out, c.op)
	}
	return strings.Join(out, ",")
}

// lockedWriter serializes writes of the handler's goroutines.
type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func newLogger(b *strings.Builder, mu *sync.Mutex) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{mu: mu, b: b}, nil))
}
