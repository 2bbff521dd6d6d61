package sfnlocal

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// loopDef is a Pass/Choice loop: Inc (Pass with an intrinsic) and Check
// (Choice) alternate n times, then Done.
const loopDef = `{
  "StartAt": "Check",
  "States": {
    "Check": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericGreaterThanEquals": 100, "Next": "Done"}], "Default": "Inc"},
    "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)", "service.$": "$.service"}, "Next": "Check"},
    "Done": {"Type": "Succeed"}
  }
}`

// BenchmarkStateTransition measures interpreter overhead per state
// transition (history events included) on a Pass/Choice loop.
func BenchmarkStateTransition(b *testing.B) {
	ctx := context.Background()
	clock := simclock.NewScaled(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 1)
	defer clock.Close()
	var svc *Service
	var arn string
	fresh := func() {
		if svc != nil {
			svc.Close()
		}
		svc = New(Options{Clock: clock})
		var err error
		if arn, err = svc.CreateStateMachine(ctx, "loop", loopDef); err != nil {
			b.Fatal(err)
		}
	}
	fresh()
	defer func() { svc.Close() }()
	transitions := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%200 == 199 { // keep retained history bounded
			b.StopTimer()
			fresh()
			b.StartTimer()
		}
		exec, err := svc.StartExecution(ctx, arn, fmt.Sprintf("run-%d", i), `{"i":0,"service":"web"}`)
		if err != nil {
			b.Fatal(err)
		}
		x, err := svc.WaitExecution(ctx, exec)
		if err != nil || x.Status != "SUCCEEDED" {
			b.Fatalf("execution: %v %+v", err, x)
		}
		transitions += x.StateTransitions
	}
	b.StopTimer()
	if transitions > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(transitions), "ns/transition")
		b.ReportMetric(float64(transitions)/float64(b.N), "transitions/op")
	}
}
