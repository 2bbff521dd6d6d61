package cwalarms_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/ecsops/cwalarms"
	"github.com/ecsflow/ecsflow/internal/ecsops/ecsopstest"
)

// The reader asks CloudWatch (the emulator, over the wire) for at most 100
// names a call: 120 alarms, two of them firing, one in each batch.
func TestReaderAsksInBatchesAndNamesTheFiringOnes(t *testing.T) {
	w := ecsopstest.New(t, ecsopstest.Options{})
	var names []string
	for i := range 120 {
		n := fmt.Sprintf("alarm-%03d", i)
		names = append(names, n)
		w.Alarm(t, n)
	}
	w.SetAlarm(t, "alarm-007", cwtypes.StateValueAlarm)
	w.SetAlarm(t, "alarm-110", cwtypes.StateValueAlarm)
	ctx := context.Background()
	got, err := w.Clients.AlarmsFiring(ctx, names)
	if err != nil || !slices.Equal(got, []string{"alarm-007", "alarm-110"}) {
		t.Fatalf("AlarmsFiring = %v, %v; want [alarm-007 alarm-110]", got, err)
	}
	got, err = w.Clients.AlarmsFiring(ctx, append(names, "nope-1", "nope-2"))
	if !errors.Is(err, ecsops.ErrUnknownAlarms) || !strings.Contains(err.Error(), "nope-1, nope-2") {
		t.Fatalf("unknown alarms: err = %v, want ErrUnknownAlarms naming both", err)
	}
	if len(got) != 2 {
		t.Errorf("with unknown names, firing = %v, want the two known firing alarms", got)
	}
}

// Service fills only Clients.Alarms, and Client finds its CloudWatch client.
func TestServiceFillsTheAlarmReader(t *testing.T) {
	w := ecsopstest.New(t, ecsopstest.Options{})
	if cwalarms.Client(w.Clients) == nil {
		t.Fatal("cwalarms.NewFactory's clients have no CloudWatch client")
	}
	if got := cwalarms.Client(&ecsops.Clients{}); got != nil {
		t.Errorf("Client of clients without a reader = %v, want nil", got)
	}
	if got := cwalarms.Service().Field(); got != cwalarms.Field {
		t.Errorf("Service().Field() = %q, want %q", got, cwalarms.Field)
	}
}
