package trigger_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/eventbus"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
	"github.com/ecsflow/ecsflow/internal/trigger"
)

const triggerFunctionARN = "arn:aws:lambda:us-east-1:123456789012:function:ecsflow-trigger"

// newBus is the local event bus with the trigger rule: ECR pushes go to
// the trigger function, here h.Lambda in process.
func newBus(t testing.TB, h *trigger.Handler) *eventbus.Bus {
	t.Helper()
	bus := eventbus.New(eventbus.Options{AccountID: modeltest.Account, Region: modeltest.Region,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RetryAttempts: 2, RetryInterval: time.Millisecond})
	t.Cleanup(bus.Close)
	if _, err := bus.PutRule(eventbus.Rule{Name: "ecsflow-ecr-push", EventPattern: trigger.ECRPushPattern}); err != nil {
		t.Fatal(err)
	}
	if failed, err := bus.PutTargets("ecsflow-ecr-push", "", []eventbus.Target{{Id: "trigger", Arn: triggerFunctionARN}}); err != nil || len(failed) > 0 {
		t.Fatalf("put targets: %v %v", failed, err)
	}
	bus.RegisterLambda(triggerFunctionARN, h.Lambda)
	return bus
}

func TestEmulatorPushThroughTheLocalBusStartsOnce(t *testing.T) {
	b := dynamotest.MemHTTP()
	e := newEnv(t, b, dynamotest.Table(t, b))
	g := e.seed(t)
	e.addTrigger(t, g, g.server, "release", releaseFilter, false)
	bus := newBus(t, e.h)
	ctx := context.Background()

	// The emulator publishes its events on the bus, as `ecsflow local` wires it.
	emu := awsemu.New(awsemu.Options{Seed: 11, AccountID: modeltest.Account, Region: modeltest.Region,
		Sink: awsemu.SinkFunc(func(ctx context.Context, ev awsemu.Event) {
			raw, err := json.Marshal(ev)
			if err == nil {
				_, err = bus.PutEnvelope(ctx, raw)
			}
			if err != nil {
				t.Errorf("publish %s: %v", ev.ID, err)
			}
		})})
	t.Cleanup(emu.Close)
	digest, err := emu.PushImage(ctx, "web", "v2.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := emu.PushImage(ctx, "web", "nightly"); err != nil { // outside the filter
		t.Fatal(err)
	}
	if err := emu.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := bus.Drain(dctx); err != nil {
		t.Fatal(err)
	}
	starts := e.starter.starts()
	if len(starts) != 1 || starts[0].Artifact.Digest != digest || starts[0].Status != model.StatusQueued {
		t.Fatalf("starts = %+v, want one QUEUED deployment pinned to %s", starts, digest)
	}
	if st := bus.Stats(); st.Failed != 0 || st.Retries != 0 {
		t.Errorf("bus stats = %+v, want no failed delivery and no retry", st)
	}

	// A malformed event matching the rule is acknowledged: delivered once,
	// neither retried nor dead-lettered.
	if _, err := bus.PutEnvelope(ctx, pushEvent("evt-malformed-on-bus", "web", "v1", "sha256:xyz")); err != nil {
		t.Fatal(err)
	}
	if err := bus.Drain(dctx); err != nil {
		t.Fatal(err)
	}
	if st := bus.Stats(); st.Failed != 0 || st.Retries != 0 || len(bus.DeadLetters()) != 0 {
		t.Errorf("after a malformed event: bus stats = %+v, dead letters %d; want no retry storm", st, len(bus.DeadLetters()))
	}
	if s := e.h.Stats(); s.Malformed != 1 {
		t.Errorf("handler stats = %+v, want one malformed event counted", s)
	}
}

// signallingStarter is recordingStarter that also signals each start.
type signallingStarter struct {
	recordingStarter
	started chan struct{}
}

func (s *signallingStarter) Start(ctx context.Context, d *model.Deployment) (string, error) {
	arn, err := s.recordingStarter.Start(ctx, d)
	s.started <- struct{}{}
	return arn, err
}
