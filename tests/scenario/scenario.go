// Package scenario holds what the end-to-end scenario packages (tests/e2e,
// tests/part2) share: the stack's log buffer and the checks every scenario
// on the local stack ends with. Only test packages import it.
package scenario

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// LogBuffer keeps the stack's warnings and errors (the first MiB), shown
// when a test fails. It is safe for concurrent use.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write keeps p while the buffer holds less than 1 MiB; it never fails.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() < 1<<20 {
		l.buf.Write(p)
	}
	return len(p), nil
}

// String answers what the buffer holds.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// AwaitFinal polls get (real time, bounded by timeout) until the deployment
// has a final status; a final status other than want, or none by the
// deadline, fails after dump.
func AwaitFinal(tb testing.TB, id string, want model.Status, timeout time.Duration,
	get func(id string) *model.Deployment, dump func(*model.Deployment)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d := get(id)
		if d.Status.Final() {
			if d.Status != want {
				dump(d)
				tb.Fatalf("deployment %s ended %s (%s), want %s", id, d.Status, d.Reason, want)
			}
			return
		}
		if time.Now().After(deadline) {
			dump(d)
			tb.Fatalf("deployment %s still %s after %s", id, d.Status, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Running lists the RUNNING executions of every state machine.
func Running(ctx context.Context, tb testing.TB, c *sfn.Client) []string {
	tb.Helper()
	sms, err := c.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if err != nil {
		tb.Fatalf("ListStateMachines: %v", err)
	}
	var out []string
	for _, sm := range sms.StateMachines {
		xs, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: sm.StateMachineArn, StatusFilter: sfntypes.ExecutionStatusRunning})
		if err != nil {
			tb.Fatalf("ListExecutions: %v", err)
		}
		for _, x := range xs.Executions {
			out = append(out, aws.ToString(x.Name))
		}
	}
	return out
}

// WaitExecutionsEnded waits (real time, bounded by timeout) until no
// execution is RUNNING.
func WaitExecutionsEnded(tb testing.TB, c *sfn.Client, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		r := Running(ctx, tb, c)
		cancel()
		if len(r) == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("executions still RUNNING: %v", r)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// CheckEnded asserts what every ended deployment shows: a final status
// with an end time, no execution RUNNING, its lease (when it had a target)
// released, no wait left but ledger watches, a status entry in the ledger,
// every step record complete (start, end, result) and, when it ran, in the
// ledger. Callers add what their scenarios also require (the last step).
func CheckEnded(ctx context.Context, tb testing.TB, st *store.Store, c *sfn.Client, d *model.Deployment, ledger []model.LedgerEntry) {
	tb.Helper()
	if !d.Status.Final() || d.EndedAt == nil {
		tb.Fatalf("deployment %s is %s (ended %v), want a final status with an end time", d.ID, d.Status, d.EndedAt)
	}
	if r := Running(ctx, tb, c); len(r) > 0 {
		tb.Fatalf("executions left RUNNING: %v", r)
	}
	if d.Runtime != nil {
		if l, held, err := st.GetLease(ctx, d.Runtime.Target.LeaseKey); err != nil || (held && l.Holder == d.ID) {
			tb.Fatalf("lease %s: %+v held=%v err=%v after deployment %s ended", d.Runtime.Target.LeaseKey, l, held, err, d.ID)
		}
	}
	ws, err := st.WaitsForDeployment(ctx, d.ID)
	if err != nil {
		tb.Fatalf("waits of %s: %v", d.ID, err)
	}
	for _, w := range ws {
		if w.Kind != store.WaitWatch {
			tb.Fatalf("a %s wait is left after deployment %s ended: %+v", w.Kind, d.ID, w)
		}
	}
	kinds := LedgerKinds(ledger)
	if kinds[model.LedgerStatus] == 0 {
		tb.Fatalf("ledger of %s has no status entry: %v", d.ID, kinds)
	}
	for _, s := range d.Steps {
		if s.StartedAt.IsZero() || s.EndedAt.IsZero() || s.Result == "" {
			tb.Fatalf("step record %+v of %s is incomplete (start, end and result wanted)", s, d.ID)
		}
	}
	if d.Runtime != nil && kinds[model.LedgerStep] < len(d.Steps) { // it ran: steps are in the ledger too
		tb.Fatalf("ledger of %s has %d step entries for %d step records", d.ID, kinds[model.LedgerStep], len(d.Steps))
	}
}

// LedgerKinds counts the ledger's entries by kind.
func LedgerKinds(ledger []model.LedgerEntry) map[string]int {
	kinds := map[string]int{}
	for _, l := range ledger {
		kinds[l.Kind]++
	}
	return kinds
}
