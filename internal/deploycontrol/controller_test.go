package deploycontrol_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/deploycontrol"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/sfnlocal"
	"github.com/ecsflow/ecsflow/internal/simclock"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

var discard = slog.New(slog.DiscardHandler)

// parkMachine is one .waitForTaskToken Task whose Lambda records a wait of
// the kind given in the input, as the engine's steps do.
const parkMachine = `{"StartAt":"Park","States":{"Park":{"Type":"Task",
 "Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
 "Parameters":{"FunctionName":"park","Payload":{"token.$":"$$.Task.Token","deploymentId.$":"$.deploymentId","kind.$":"$.kind","approvers.$":"$.approvers"}},
 "TimeoutSecondsPath":"$.timeout","End":true}}}`

type env struct {
	clock  *simclock.Scaled
	st     *store.Store
	sfn    *sfnlocal.Service
	ctrl   *deploycontrol.Controller
	smARN  string
	graph  struct{ app, wf, svc, envID, infra string }
	parked chan struct{}
}

func newEnv(t *testing.T, tc deploycontrol.TaskCompleter) *env {
	t.Helper()
	e := &env{clock: simclock.NewScaled(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), 100), parked: make(chan struct{}, 4)}
	b := dynamotest.MemHTTP()
	e.st = store.New(b.Client, dynamotest.Table(t, b), store.WithClock(e.clock.Now))
	e.sfn = sfnlocal.New(sfnlocal.Options{Clock: e.clock})
	e.sfn.RegisterLambda("park", func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
		var in struct {
			Token, DeploymentID, Kind string
			Approvers                 []string
		}
		if err := json.Unmarshal(payload, &in); err != nil {
			return nil, err
		}
		w := store.Wait{Token: in.Token, DeploymentID: in.DeploymentID, Kind: in.Kind, Approvers: in.Approvers,
			Expires: e.clock.Now().Add(time.Hour)}
		if in.Kind != store.WaitApproval {
			w.Cluster, w.Service = "prod", "web"
		}
		if err := e.st.PutWait(ctx, w); err != nil {
			return nil, err
		}
		e.parked <- struct{}{}
		return json.RawMessage(`{}`), nil
	})
	arn, err := e.sfn.CreateStateMachine(context.Background(), "park", parkMachine)
	if err != nil {
		t.Fatal(err)
	}
	e.smARN = arn
	if tc == nil {
		tc = e.sfn
	}
	e.ctrl = deploycontrol.New(e.st, tc, deploycontrol.WithClock(e.clock.Now), deploycontrol.WithLogger(discard))
	t.Cleanup(func() { e.sfn.Close(); e.clock.Close() })
	e.seedGraph(t)
	return e
}

func (e *env) seedGraph(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	mk := func(x model.Entity) string {
		if err := e.st.Create(ctx, x); err != nil {
			t.Fatalf("create %s: %v", x.Kind(), err)
		}
		return x.GetMeta().ID
	}
	cp := modeltest.CloudProvider()
	mk(cp)
	as := modeltest.ArtifactServer(cp.ID)
	mk(as)
	e.graph.app = mk(modeltest.Application())
	e.graph.svc = mk(modeltest.Service(e.graph.app, as.ID))
	e.graph.envID = mk(modeltest.Environment(e.graph.app))
	e.graph.infra = mk(modeltest.Infrastructure(e.graph.app, e.graph.envID, cp.ID))
	e.graph.wf = mk(modeltest.RollingWorkflow(e.graph.app, e.graph.envID, e.graph.infra))
}

func (e *env) deployment(t *testing.T, status model.Status, executionARN string) string {
	t.Helper()
	d := &model.Deployment{ApplicationID: e.graph.app, WorkflowID: e.graph.wf, ServiceID: e.graph.svc,
		EnvironmentID: e.graph.envID, InfrastructureID: e.graph.infra, Status: status, Strategy: model.StrategyRolling,
		Artifact: model.Artifact{Image: "web", Tag: "v2"}, ExecutionARN: executionARN,
		TriggeredBy: model.TriggeredBy{Kind: model.TriggeredByAPI, Principal: "alice"}}
	if err := e.st.Create(context.Background(), d); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	return d.ID
}

// park creates a deployment in status whose execution waits with a wait of
// kind, and returns the deployment and execution.
func (e *env) park(t *testing.T, status model.Status, kind string, timeout int, approvers ...string) (string, string) {
	t.Helper()
	id := e.deployment(t, status, "")
	if approvers == nil {
		approvers = []string{}
	}
	in, _ := json.Marshal(map[string]any{"deploymentId": id, "kind": kind, "timeout": timeout, "approvers": approvers})
	ex, err := e.sfn.StartExecution(context.Background(), e.smARN, id, string(in))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.parked:
	case <-time.After(10 * time.Second):
		t.Fatal("the execution never parked")
	}
	return id, ex
}

func (e *env) result(t *testing.T, ex string) sfnlocal.Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	x, err := e.sfn.WaitExecution(ctx, ex)
	if err != nil {
		t.Fatalf("execution never ended: %v", err)
	}
	return x
}

func (e *env) get(t *testing.T, id string) *model.Deployment {
	t.Helper()
	d, err := store.Get[*model.Deployment](context.Background(), e.st, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *env) waits(t *testing.T, id string) []store.Wait {
	t.Helper()
	ws, err := e.st.WaitsForDeployment(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func (e *env) lastLedger(t *testing.T, id string) model.LedgerEntry {
	t.Helper()
	l, _, err := e.st.Ledger(context.Background(), id, store.Page{Limit: 100})
	if err != nil || len(l) == 0 {
		t.Fatalf("ledger = %v, %v; want entries", l, err)
	}
	return l[len(l)-1]
}

func TestControlResumesWaitingExecutions(t *testing.T) {
	type action func(c *deploycontrol.Controller, ctx context.Context, id, who, comment string) error
	cases := []struct {
		name       string
		status     model.Status
		kind       string
		do         action
		wantStatus string
		wantError  string
		wantText   string // in the output (success) or the cause (failure)
		wantLedger string
		wantKind   string
		wantDep    model.Status
	}{
		{"approve", model.StatusWaitingApproval, store.WaitApproval, (*deploycontrol.Controller).Approve,
			"SUCCEEDED", "", `{"approved":true,"by":"alice","comment":"ship it"}`, "approve requested by alice (ship it): done", model.LedgerApproval, model.StatusRunning},
		{"reject", model.StatusWaitingApproval, store.WaitApproval, (*deploycontrol.Controller).Reject,
			"FAILED", "ApprovalRejected", "approval rejected by alice: ship it", "reject requested by alice (ship it): done", model.LedgerApproval, model.StatusWaitingApproval},
		{"rollback during steady wait", model.StatusRunning, store.WaitSteady, (*deploycontrol.Controller).Rollback,
			"FAILED", "RollbackRequired", "rollback requested by alice: ship it", "rollback requested by alice (ship it): done", model.LedgerRollback, model.StatusRunning},
		{"rollback during approval", model.StatusWaitingApproval, store.WaitApproval, (*deploycontrol.Controller).Rollback,
			"FAILED", "RollbackRequired", "rollback requested by alice", "rollback requested by alice (ship it): done", model.LedgerRollback, model.StatusWaitingApproval},
		{"abort during verify", model.StatusRunning, store.WaitVerify, (*deploycontrol.Controller).Abort,
			"FAILED", "Aborted", "abort requested by alice: ship it", "abort requested by alice (ship it): done", model.LedgerStatus, model.StatusRunning},
		{"abort during rollback", model.StatusRollingBack, store.WaitSteady, (*deploycontrol.Controller).Abort,
			"FAILED", "Aborted", "abort requested by alice", "abort requested by alice (ship it): done", model.LedgerStatus, model.StatusRollingBack},
		{"rollback while queued for the lease aborts", model.StatusQueued, store.WaitLease, (*deploycontrol.Controller).Rollback,
			"FAILED", "Aborted", "rollback requested by alice", "rollback requested by alice (ship it): done", model.LedgerRollback, model.StatusQueued},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			id, ex := e.park(t, tc.status, tc.kind, 100000)
			if err := tc.do(e.ctrl, context.Background(), id, "alice", "ship it"); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			x := e.result(t, ex)
			if x.Status != tc.wantStatus || x.Error != tc.wantError {
				t.Fatalf("execution %s %q, want %s %q", x.Status, x.Error, tc.wantStatus, tc.wantError)
			}
			text := x.Output
			if x.Status == "FAILED" {
				text = x.Cause
			}
			if !strings.Contains(text, tc.wantText) {
				t.Errorf("execution output/cause %q, want it to contain %q", text, tc.wantText)
			}
			if ws := e.waits(t, id); len(ws) != 0 {
				t.Errorf("waits left: %+v", ws)
			}
			l := e.lastLedger(t, id)
			if l.Kind != tc.wantKind || l.Message != tc.wantLedger || !strings.Contains(string(l.Data), `"by":"alice"`) {
				t.Errorf("ledger entry %s %q %s, want %s %q naming who", l.Kind, l.Message, l.Data, tc.wantKind, tc.wantLedger)
			}
			if got := e.get(t, id).Status; got != tc.wantDep {
				t.Errorf("deployment status %s, want %s", got, tc.wantDep)
			}
		})
	}
}

func TestControlRefusals(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()

	// Nothing waits for approval: approve and reject are refused, the
	// execution keeps waiting.
	steadyID, steadyEx := e.park(t, model.StatusRunning, store.WaitSteady, 100000)
	for _, do := range []func(context.Context, string, string, string) error{e.ctrl.Approve, e.ctrl.Reject} {
		if err := do(ctx, steadyID, "bob", ""); !errors.Is(err, api.ErrWrongState) || !strings.Contains(err.Error(), "not waiting for approval") {
			t.Errorf("approve/reject without an approval wait = %v, want ErrWrongState", err)
		}
	}
	if x, _ := e.sfn.DescribeExecution(ctx, steadyEx); x.Status != "RUNNING" || len(e.waits(t, steadyID)) != 1 {
		t.Errorf("a refused request disturbed the execution: %s", x.Status)
	}
	if l := e.lastLedger(t, steadyID); l.Kind != model.LedgerApproval || !strings.Contains(l.Message, "reject requested by bob: refused") {
		t.Errorf("refusal not recorded: %+v", l)
	}

	// Ended deployments refuse everything.
	done := e.deployment(t, model.StatusSucceeded, "arn:x")
	for name, do := range map[string]func(context.Context, string, string, string) error{
		"approve": e.ctrl.Approve, "reject": e.ctrl.Reject, "rollback": e.ctrl.Rollback, "abort": e.ctrl.Abort} {
		if err := do(ctx, done, "bob", ""); !errors.Is(err, api.ErrWrongState) || !strings.Contains(err.Error(), "already ended SUCCEEDED") {
			t.Errorf("%s on a SUCCEEDED deployment = %v, want ErrWrongState", name, err)
		}
	}

	// A running deployment between steps has nothing to interrupt.
	busy := e.deployment(t, model.StatusRunning, "arn:x")
	if err := e.ctrl.Rollback(ctx, busy, "bob", ""); !errors.Is(err, api.ErrWrongState) || !strings.Contains(err.Error(), "retry") {
		t.Errorf("rollback with no wait = %v, want ErrWrongState asking to retry", err)
	}
	// A watch (events routed to the ledger after a wait) is not a wait.
	if err := e.st.PutWait(ctx, store.Wait{Token: store.WatchToken(busy), DeploymentID: busy, Kind: store.WaitWatch,
		Cluster: "prod", Service: "web", Expires: e.clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := e.ctrl.Abort(ctx, busy, "bob", ""); !errors.Is(err, api.ErrWrongState) || !strings.Contains(err.Error(), "retry") {
		t.Errorf("abort with only a watch = %v, want ErrWrongState asking to retry", err)
	}
	// Rolling back already.
	rb := e.deployment(t, model.StatusRollingBack, "arn:x")
	if err := e.ctrl.Rollback(ctx, rb, "bob", ""); !errors.Is(err, api.ErrWrongState) || !strings.Contains(err.Error(), "already rolling back") {
		t.Errorf("rollback while rolling back = %v, want ErrWrongState", err)
	}
	// Unknown deployment.
	if err := e.ctrl.Abort(ctx, model.NewID(model.KindDeployment), "bob", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("abort of an unknown deployment = %v, want ErrNotFound", err)
	}
	// Clean up the parked execution.
	if err := e.ctrl.Abort(ctx, steadyID, "bob", ""); err != nil {
		t.Fatal(err)
	}
	if x := e.result(t, steadyEx); x.Error != "Aborted" {
		t.Errorf("cleanup abort: %s %s", x.Status, x.Error)
	}
}

func TestAbortQueuedWithoutExecution(t *testing.T) {
	e := newEnv(t, nil)
	for _, do := range []func(context.Context, string, string, string) error{e.ctrl.Abort, e.ctrl.Rollback} {
		id := e.deployment(t, model.StatusQueued, "")
		if err := do(context.Background(), id, "carol", "wrong tag"); err != nil {
			t.Fatalf("abort/rollback of a queued deployment: %v", err)
		}
		d := e.get(t, id)
		if d.Status != model.StatusAborted || d.EndedAt == nil || !strings.Contains(d.Reason, "by carol before it started: wrong tag") {
			t.Errorf("deployment = %s ended %v reason %q, want ABORTED with the reason", d.Status, d.EndedAt, d.Reason)
		}
	}
}

func TestApprovalThatTimedOutIsRefusedAndCleanedUp(t *testing.T) {
	e := newEnv(t, nil)
	id, ex := e.park(t, model.StatusWaitingApproval, store.WaitApproval, 1)
	if x := e.result(t, ex); x.Error != "States.Timeout" {
		t.Fatalf("execution %s %s, want States.Timeout", x.Status, x.Error)
	}
	err := e.ctrl.Approve(context.Background(), id, "dave", "late")
	if !errors.Is(err, api.ErrWrongState) || !strings.Contains(err.Error(), "already ended") {
		t.Fatalf("late approve = %v, want ErrWrongState", err)
	}
	if ws := e.waits(t, id); len(ws) != 0 {
		t.Errorf("spent approval wait not cleaned up: %+v", ws)
	}
}

// flaky fails every completion with a transient error.
type flaky struct{}

func (flaky) SendTaskSuccess(context.Context, string, string) error {
	return errors.New("ThrottlingException")
}
func (flaky) SendTaskFailure(context.Context, string, string, string) error {
	return errors.New("ThrottlingException")
}

func TestCompleterErrorsKeepTheWait(t *testing.T) {
	e := newEnv(t, flaky{})
	id, ex := e.park(t, model.StatusWaitingApproval, store.WaitApproval, 100000)
	err := e.ctrl.Approve(context.Background(), id, "erin", "")
	if err == nil || errors.Is(err, api.ErrWrongState) || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Fatalf("approve through a failing completer = %v, want the transient error", err)
	}
	if len(e.waits(t, id)) != 1 {
		t.Error("wait deleted although the token was not answered")
	}
	if got := e.get(t, id).Status; got != model.StatusWaitingApproval {
		t.Errorf("status %s, want WAITING_APPROVAL", got)
	}
	_ = e.sfn.SendTaskFailure(context.Background(), e.waits(t, id)[0].Token, "Aborted", "cleanup")
	e.result(t, ex)
}

func TestThroughTheAPI(t *testing.T) {
	e := newEnv(t, nil)
	h := api.New(e.st, api.UnavailableStarter{Reason: "test"}, api.WithController(e.ctrl), api.WithLogger(discard))
	srv := httptest.NewServer(h)
	defer srv.Close()
	id, ex := e.park(t, model.StatusWaitingApproval, store.WaitApproval, 100000)
	post := func(action string) int {
		res, err := http.Post(srv.URL+"/v1/deployments/"+id+"/"+action, "application/json", strings.NewReader(`{"comment":"lgtm"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := post("approve"); got != http.StatusOK {
		t.Fatalf("approve = %d, want 200", got)
	}
	if x := e.result(t, ex); x.Status != "SUCCEEDED" {
		t.Errorf("execution %s, want SUCCEEDED", x.Status)
	}
	if got := post("approve"); got != http.StatusConflict {
		t.Errorf("second approve = %d, want 409", got)
	}
}

func TestOnlyNamedApproversMayAnswer(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	id, ex := e.park(t, model.StatusWaitingApproval, store.WaitApproval, 100000, "alice", "arn:aws:iam::123456789012:user/bob")
	for _, who := range []string{"mallory", "arn:aws:iam::123456789012:user/mallory", api.Anonymous, "bob"} {
		for name, do := range map[string]func(context.Context, string, string, string) error{"approve": e.ctrl.Approve, "reject": e.ctrl.Reject} {
			err := do(ctx, id, who, "")
			if !errors.Is(err, deploycontrol.ErrNotApprover) || !errors.Is(err, api.ErrWrongState) {
				t.Errorf("%s by %s = %v, want ErrNotApprover", name, who, err)
			}
		}
	}
	if x, _ := e.sfn.DescribeExecution(ctx, ex); x.Status != "RUNNING" || len(e.waits(t, id)) != 1 {
		t.Fatalf("a refused approver disturbed the execution: %s", x.Status)
	}
	if l := e.lastLedger(t, id); !strings.Contains(l.Message, "is not an approver") {
		t.Errorf("refusal not recorded: %q", l.Message)
	}
	// alice matches her IAM ARN's last element; bob's full ARN matches.
	if err := e.ctrl.Approve(ctx, id, "arn:aws:sts::123456789012:assumed-role/Deployers/alice", "ok"); err != nil {
		t.Fatalf("approve by alice's role session: %v", err)
	}
	if x := e.result(t, ex); x.Status != "SUCCEEDED" {
		t.Errorf("execution %s, want SUCCEEDED", x.Status)
	}
	id2, ex2 := e.park(t, model.StatusWaitingApproval, store.WaitApproval, 100000, "alice", "arn:aws:iam::123456789012:user/bob")
	if err := e.ctrl.Reject(ctx, id2, "arn:aws:iam::123456789012:user/bob", "no"); err != nil {
		t.Fatalf("reject by bob: %v", err)
	}
	if x := e.result(t, ex2); x.Error != "ApprovalRejected" {
		t.Errorf("execution %s %s, want ApprovalRejected", x.Status, x.Error)
	}
	// Rollback and abort are not limited to approvers.
	id3, ex3 := e.park(t, model.StatusWaitingApproval, store.WaitApproval, 100000, "alice")
	if err := e.ctrl.Abort(ctx, id3, "mallory", ""); err != nil {
		t.Fatalf("abort by a non-approver: %v", err)
	}
	if x := e.result(t, ex3); x.Error != "Aborted" {
		t.Errorf("execution %s %s, want Aborted", x.Status, x.Error)
	}
}
