package trigger_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/sfnlocal"
	"github.com/ecsflow/ecsflow/internal/simclock"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
	"github.com/ecsflow/ecsflow/internal/trigger"
)

const (
	// parked waits an hour on a clock that never moves: its execution stays RUNNING.
	parkedDef = `{"StartAt":"Park","States":{"Park":{"Type":"Wait","Seconds":3600,"End":true}}}`
	doneDef   = `{"StartAt":"Done","States":{"Done":{"Type":"Succeed"}}}`
)

// sfnEnv is the trigger handler starting executions with the production
// api.SFNStarter, over the real SDK client, on sfnlocal's HTTP API.
type sfnEnv struct {
	*env
	g       graph
	svc     *sfnlocal.Service
	sm      string
	starter *api.SFNStarter
}

func newSFNEnv(t *testing.T, def string) *sfnEnv {
	t.Helper()
	b := dynamotest.MemHTTP()
	e := newEnv(t, b, dynamotest.Table(t, b))
	g := e.seed(t)
	svc := sfnlocal.New(sfnlocal.Options{Clock: simclock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))})
	t.Cleanup(svc.Close)
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	sm, err := svc.CreateStateMachine(context.Background(), "ecsflow-rolling", def)
	if err != nil {
		t.Fatal(err)
	}
	client := sfn.New(sfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("ecsflowlocal", "ecsflowlocal", "")})
	starter := api.NewSFNStarter(client, map[model.StrategyType]string{model.StrategyRolling: sm})
	e.h = trigger.New(e.st, trigger.NewAPICreator(e.st, starter, api.WithLogger(e.log), api.WithClock(e.clock.Now)), starter, trigger.WithLogger(e.log), trigger.WithClock(e.clock.Now))
	return &sfnEnv{env: e, g: g, svc: svc, sm: sm, starter: starter}
}

func (s *sfnEnv) executions(t *testing.T) []sfnlocal.Execution {
	t.Helper()
	xs, err := s.svc.ListExecutions(context.Background(), s.sm, "")
	if err != nil {
		t.Fatal(err)
	}
	return xs
}

func TestStepFunctionsRunsOneExecutionPerDeliveredEvent(t *testing.T) {
	s := newSFNEnv(t, parkedDef)
	s.addTrigger(t, s.g, s.g.server, "any", "", false)
	raw := pushEvent("evt-sfn-1", "web", "v1", digestOf(1))
	var ids []string
	for i := range 3 {
		out, err := s.h.HandleEvent(context.Background(), raw)
		if err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
		ids = append(ids, out.Deployments...)
	}
	xs := s.executions(t)
	if len(ids) != 1 || len(xs) != 1 || xs[0].Name != ids[0] {
		t.Fatalf("deployments %v, executions %+v; want one, named after the deployment", ids, xs)
	}
	if d := s.deployment(t, ids[0]); d.ExecutionARN != xs[0].ExecutionARN {
		t.Errorf("deployment records %q, want %q", d.ExecutionARN, xs[0].ExecutionARN)
	}
}

// crashAfterStart records what an attempt that died right after
// StartExecution returned leaves behind: a done-less claim, a QUEUED
// deployment without its execution ARN, and a started execution.
func (s *sfnEnv) crashAfterStart(t *testing.T, eventID, trg string) string {
	t.Helper()
	ctx := context.Background()
	depID := trigger.DeploymentID(eventID, trg, s.clock.Now())
	if ok, _, err := s.st.ClaimEventValue(ctx, trigger.ClaimKey(eventID, trg), depID, time.Hour); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	d := &model.Deployment{Meta: model.Meta{ID: depID}, ApplicationID: s.g.app, WorkflowID: s.g.workflow, ServiceID: s.g.svc,
		EnvironmentID: s.g.env, InfrastructureID: s.g.infra, Status: model.StatusQueued, Strategy: model.StrategyRolling,
		Artifact:    model.Artifact{ServerID: s.g.server, Repository: "web", Digest: digestOf(2)},
		TriggeredBy: model.TriggeredBy{Kind: model.TriggeredByTrigger, ID: trg}}
	mustCreate(t, s.st, d)
	stored := s.deployment(t, depID)
	if _, err := s.starter.Start(ctx, stored); err != nil {
		t.Fatalf("first start: %v", err)
	}
	return depID
}

func TestRedeliveryAfterACrashPastStartDoesNotRunTwice(t *testing.T) {
	for _, tc := range []struct {
		name, def string
		wantARN   bool // the running execution's ARN is learned and recorded
	}{
		{"execution still running", parkedDef, true},
		{"execution already closed", doneDef, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSFNEnv(t, tc.def)
			trg := s.addTrigger(t, s.g, s.g.server, "any", "", false)
			depID := s.crashAfterStart(t, "evt-sfn-crash", trg)
			if tc.def == doneDef {
				xs := s.executions(t)
				if len(xs) != 1 {
					t.Fatalf("executions = %d", len(xs))
				}
				if x, err := s.svc.WaitExecution(context.Background(), xs[0].ExecutionARN); err != nil || x.Status != "SUCCEEDED" {
					t.Fatalf("first execution = %+v, %v; want SUCCEEDED", x, err)
				}
			}
			s.clock.Advance(store.ClaimLease + time.Second)
			out, err := s.h.HandleEvent(context.Background(), pushEvent("evt-sfn-crash", "web", "", digestOf(2)))
			if err != nil || len(out.Deployments) != 1 || out.Deployments[0] != depID {
				t.Fatalf("redelivery = %+v, %v; want %s settled", out, err, depID)
			}
			xs := s.executions(t)
			if len(xs) != 1 || xs[0].Name != depID {
				t.Fatalf("executions = %+v, want exactly the first one", xs)
			}
			got := s.deployment(t, depID).ExecutionARN
			if tc.wantARN && got != xs[0].ExecutionARN {
				t.Errorf("executionArn = %q, want %q", got, xs[0].ExecutionARN)
			}
			c, _, err := s.st.GetClaim(context.Background(), trigger.ClaimKey("evt-sfn-crash", trg))
			if err != nil || !c.Done {
				t.Errorf("claim = %+v, %v; want done (no further retries)", c, err)
			}
		})
	}
}
