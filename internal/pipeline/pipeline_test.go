package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/awsenv"
	"github.com/ecsflow/ecsflow/internal/eventbus"
	"github.com/ecsflow/ecsflow/internal/model"
)

func TestMayApprove(t *testing.T) {
	tests := []struct {
		name      string
		principal string
		approvers []string
		want      bool
	}{
		{"anyone when none named", "anonymous", nil, true},
		{"whole ARN", "arn:aws:iam::1:user/alice", []string{"arn:aws:iam::1:user/alice"}, true},
		{"last path element", "arn:aws:sts::1:assumed-role/deployer/alice", []string{"alice"}, true},
		{"someone else", "arn:aws:iam::1:user/mallory", []string{"alice"}, false},
		{"empty approver matches nobody", "", []string{""}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := mayApprove(tc.principal, tc.approvers); got != tc.want {
				t.Fatalf("mayApprove(%q, %v) = %v, want %v", tc.principal, tc.approvers, got, tc.want)
			}
		})
	}
}

func TestNestedStarterAnswersTheNestedExecutionARN(t *testing.T) {
	n := NewNestedStarter(map[model.StrategyType]string{model.StrategyRolling: "arn:aws:states:us-east-1:1:stateMachine:ecsflow-rolling"})
	got, err := n.Start(context.Background(), &model.Deployment{Meta: model.Meta{ID: "dep-1"}, Strategy: model.StrategyRolling})
	if want := "arn:aws:states:us-east-1:1:execution:ecsflow-rolling:dep-1"; err != nil || got != want {
		t.Fatalf("Start = %q, %v; want %q", got, err, want)
	}
	if _, err := n.Start(context.Background(), &model.Deployment{Strategy: model.StrategyCanary}); err == nil {
		t.Fatal("a strategy without a state machine was accepted")
	}
}

func TestFromEnvNamesWhatIsMissing(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no table", map[string]string{"STATE_MACHINE_ARN_ROLLING": "a"}, "TABLE_NAME"},
		{"no machines", map[string]string{"TABLE_NAME": "t"}, "STATE_MACHINE_ARNS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromEnv(context.Background(), func(k string) string { return tc.env[k] }, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
	// The AWS configuration is the process environment's (awsenv): without
	// credentials, FromEnv fails at once, naming them.
	full := func(k string) string {
		return map[string]string{"TABLE_NAME": "t", "STATE_MACHINE_ARN_ROLLING": "arn:aws:states:us-east-1:1:stateMachine:r"}[k]
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
	}
	if _, err := FromEnv(context.Background(), full, nil); !errors.Is(err, awsenv.ErrNoCredentials) {
		t.Fatalf("FromEnv without credentials: err = %v, want awsenv.ErrNoCredentials", err)
	}
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "a")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "b")
	e, err := FromEnv(context.Background(), full, nil)
	if err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	for _, fn := range Functions {
		if _, err := e.Handler(fn); err != nil {
			t.Errorf("Handler(%s): %v", fn, err)
		}
	}
	if _, err := e.Handler("step-nope"); err == nil {
		t.Error("Handler(step-nope) found a handler")
	}
	// The CDK app gives the pipeline steps only the ARN prefix.
	e, err = FromEnv(context.Background(), func(k string) string {
		return map[string]string{"TABLE_NAME": "t", "ECSFLOW_STATE_MACHINE_ARN_PREFIX": "arn:aws:states:us-east-1:1:stateMachine:ecsflow-"}[k]
	}, nil)
	if err != nil {
		t.Fatalf("FromEnv with the prefix: %v", err)
	}
	if got, want := e.machines[model.StrategyBlueGreen], "arn:aws:states:us-east-1:1:stateMachine:ecsflow-bluegreen"; got != want {
		t.Errorf("blue/green machine %q, want %q", got, want)
	}
	if got, want := e.machines[model.StrategyRolling], "arn:aws:states:us-east-1:1:stateMachine:ecsflow-rolling"; got != want {
		t.Errorf("rolling machine %q, want %q", got, want)
	}
}

func TestHandlersRefuseBadInputWithInvalid(t *testing.T) {
	e, err := New(Config{Store: nilStore{}, Creator: nilCreator{}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ fn, payload string }{
		{FnNext, `[`},
		{FnNext, `{"pipelineExecutionId":"dep-1","index":0}`},
		{FnApproval, `{"pipelineExecutionId":"plx-1","index":0}`},
		{FnFinish, `{"pipelineExecutionId":""}`},
	}
	for _, tc := range tests {
		_, err := e.Handlers()[tc.fn](context.Background(), json.RawMessage(tc.payload))
		var inv *Invalid
		if !errors.As(err, &inv) {
			t.Errorf("%s(%s) = %v, want *Invalid", tc.fn, tc.payload, err)
		}
	}
}

type nilStore struct{}

func (nilStore) Get(context.Context, model.Kind, string) (model.Entity, error) {
	return nil, errors.New("unexpected Get")
}
func (nilStore) Update(context.Context, model.Entity) error { return errors.New("unexpected Update") }

type nilCreator struct{}

func (nilCreator) CreateDeployment(context.Context, api.DeploymentRequest, string, model.TriggeredBy) (*model.Deployment, error) {
	return nil, errors.New("unexpected CreateDeployment")
}

// TestNotifierPutsEventsOverTheWire sends notifications with the real
// EventBridge client to the local bus served over HTTP, and checks what a
// rule on the ecsflow source delivers.
func TestNotifierPutsEventsOverTheWire(t *testing.T) {
	bus := eventbus.New(eventbus.Options{})
	t.Cleanup(bus.Close)
	var mu sync.Mutex
	var got []map[string]any
	const fn = "arn:aws:lambda:us-east-1:123456789012:function:recorder"
	bus.RegisterLambda(fn, func(_ context.Context, ev json.RawMessage) error {
		var m map[string]any
		if err := json.Unmarshal(ev, &m); err != nil {
			return err
		}
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
		return nil
	})
	if _, err := bus.PutRule(eventbus.Rule{Name: "status", EventPattern: `{"source":["ecsflow"],"detail":{"status":["FAILED","ROLLED_BACK"]}}`}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.PutTargets("status", "", []eventbus.Target{{Id: "r", Arn: fn}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(bus)
	t.Cleanup(srv.Close)
	client := eventbridge.New(eventbridge.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	n := NewNotifier(client, "", nil, nil)
	ctx := context.Background()
	d := &model.Deployment{Meta: model.Meta{ID: "dep-1"}, ApplicationID: "app-1", Status: model.StatusRolledBack, Reason: "alarm"}
	if err := n.Deployment(ctx, d, DeploymentStatusOf(d.Status)); err != nil {
		t.Fatalf("deployment notification: %v", err)
	}
	if err := n.Pipeline(ctx, PipelineDetail{Status: NotifySucceeded, PipelineExecutionID: "plx-1"}); err != nil {
		t.Fatalf("pipeline notification: %v", err)
	}
	if err := n.Pipeline(ctx, PipelineDetail{Status: NotifyFailed, PipelineExecutionID: "plx-2", FailedStage: "prod"}); err != nil {
		t.Fatalf("pipeline notification: %v", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := bus.Drain(dctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("delivered %d events, want the 2 failures: %v", len(got), got)
	}
	byType := map[string]map[string]any{}
	for _, ev := range got {
		dt, _ := ev["detail-type"].(string)
		detail, _ := ev["detail"].(map[string]any)
		byType[dt] = detail
	}
	if d := byType[DetailTypeDeployment]; d == nil || d["deploymentId"] != "dep-1" || d["status"] != NotifyRolledBack {
		t.Errorf("deployment event %v", d)
	}
	if d := byType[DetailTypePipeline]; d == nil || d["failedStage"] != "prod" || d["pipelineExecutionId"] != "plx-2" {
		t.Errorf("pipeline event %v", d)
	}
	// A nil notifier sends nothing and does not fail.
	var none *Notifier
	if err := none.Pipeline(ctx, PipelineDetail{}); err != nil {
		t.Errorf("nil notifier: %v", err)
	}
}
