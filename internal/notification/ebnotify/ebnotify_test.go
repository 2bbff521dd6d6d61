package ebnotify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/ecsflow/ecsflow/internal/eventbus"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/notification"
	"github.com/ecsflow/ecsflow/internal/notification/ebnotify"
	"github.com/ecsflow/ecsflow/internal/steps"
)

// busWithLog is the local bus served over HTTP, with the notification rule
// on busName delivering to a NotificationLog (as `ecsflow local` has it),
// and a real EventBridge client on it.
func busWithLog(t *testing.T, busName string) (*eventbus.Bus, *steps.NotificationLog, *eventbridge.Client) {
	t.Helper()
	bus := eventbus.New(eventbus.Options{Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(bus.Close)
	log := steps.NewNotificationLog(0)
	const fn = "arn:aws:lambda:us-east-1:123456789012:function:notification-log"
	bus.RegisterLambda(fn, log.Deliver)
	if _, err := bus.PutRule(eventbus.Rule{Name: "ecsflow-notifications", EventBusName: busName, EventPattern: steps.NotificationPattern}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.PutTargets("ecsflow-notifications", busName, []eventbus.Target{{Id: "log", Arn: fn}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(bus)
	t.Cleanup(srv.Close)
	c := eventbridge.New(eventbridge.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")})
	return bus, log, c
}

func TestNotifierPutsTheDeploymentDetailOnTheBus(t *testing.T) {
	bus, log, c := busWithLog(t, "")
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	n := ebnotify.New(c, "", func() time.Time { return at })
	d := &model.Deployment{Meta: model.Meta{ID: "dep-1"}, ApplicationID: "app-1", WorkflowID: "wf-1", ServiceID: "svc-1",
		EnvironmentID: "env-1", Strategy: model.StrategyRolling, PipelineExecutionID: "plx-1", Reason: "alarm",
		Artifact: model.Artifact{Image: "web", Tag: "v1"}}
	ctx := context.Background()
	for _, st := range []string{notification.Started, notification.RolledBack} {
		if err := n.NotifyDeployment(ctx, d, st); err != nil {
			t.Fatalf("notify %s: %v", st, err)
		}
		if err := bus.Drain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	page := log.Since(0)
	if len(page.Events) != 2 || page.Next != 2 {
		t.Fatalf("logged %d events (next %d), want 2", len(page.Events), page.Next)
	}
	for i, want := range []string{notification.Started, notification.RolledBack} {
		ev := page.Events[i]
		var got notification.DeploymentDetail
		if err := json.Unmarshal(ev.Detail, &got); err != nil {
			t.Fatal(err)
		}
		wantDetail := notification.DeploymentDetailOf(d, want)
		if ev.Seq != int64(i+1) || ev.Source != notification.Source || ev.DetailType != notification.DetailTypeDeployment ||
			len(ev.Resources) != 1 || ev.Resources[0] != "dep-1" || !ev.Time.Equal(at) {
			t.Errorf("event %d: %+v", i, ev)
		}
		if fmt.Sprint(got) != fmt.Sprint(wantDetail) {
			t.Errorf("detail %d = %+v, want %+v", i, got, wantDetail)
		}
	}
	var nilNotifier *ebnotify.Notifier
	if err := nilNotifier.NotifyDeployment(ctx, d, notification.Started); err != nil {
		t.Fatalf("a nil notifier: %v", err)
	}
}

// The events go to the named bus: its rule sees them, the default bus's
// does not.
func TestNotifierPutsOnTheNamedBus(t *testing.T) {
	bus, log, c := busWithLog(t, "ecsflow-bus")
	ctx := context.Background()
	d := &model.Deployment{Meta: model.Meta{ID: "dep-2"}}
	if err := ebnotify.New(c, "", nil).NotifyDeployment(ctx, d, notification.Started); err != nil {
		t.Fatal(err)
	}
	if err := ebnotify.New(c, "ecsflow-bus", nil).NotifyDeployment(ctx, d, notification.Succeeded); err != nil {
		t.Fatal(err)
	}
	if err := bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	page := log.Since(0)
	if len(page.Events) != 1 {
		t.Fatalf("the named bus's rule saw %d events, want 1 (the default bus's event must not reach it)", len(page.Events))
	}
	var got notification.DeploymentDetail
	if err := json.Unmarshal(page.Events[0].Detail, &got); err != nil || got.Status != notification.Succeeded {
		t.Fatalf("detail %+v, %v; want status SUCCEEDED", got, err)
	}
}

// failingPutter refuses every entry, or the whole call.
type failingPutter struct{ err error }

func (p failingPutter) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	if p.err != nil {
		return nil, p.err
	}
	return &eventbridge.PutEventsOutput{FailedEntryCount: int32(len(in.Entries)), Entries: []ebtypes.PutEventsResultEntry{
		{ErrorCode: aws.String("InternalFailure"), ErrorMessage: aws.String("try again")}}}, nil
}

var _ ebnotify.EventPutter = failingPutter{}

func TestNotifierReportsFailures(t *testing.T) {
	ctx := context.Background()
	d := &model.Deployment{Meta: model.Meta{ID: "dep-3"}}
	err := ebnotify.New(failingPutter{}, "", nil).NotifyDeployment(ctx, d, notification.Failed)
	if err == nil || !strings.Contains(err.Error(), "InternalFailure: try again") || !strings.Contains(err.Error(), notification.DetailTypeDeployment) {
		t.Errorf("a failed entry: err = %v, want one naming the detail type and the entry's error", err)
	}
	down := errors.New("connection refused")
	if err := ebnotify.New(failingPutter{err: down}, "", nil).NotifyDeployment(ctx, d, notification.Failed); !errors.Is(err, down) {
		t.Errorf("a failed call: err = %v, want it wrapped", err)
	}
	if err := ebnotify.New(failingPutter{}, "", nil).Put(ctx, "x", "r", func() {}); err == nil || !strings.Contains(err.Error(), "encode x") {
		t.Errorf("an unencodable detail: err = %v, want an encode error", err)
	}
}
