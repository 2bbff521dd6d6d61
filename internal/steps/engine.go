// Package steps is the deployment engine's step Lambdas: one file per step
// (prepare, next, register, update, wait-steady, check-steady, verify,
// approval, rollback, finish), each with typed input and output, plus the
// stable error types the state machines match (errors.go) and the cost
// model (cost.go).
//
// Every strategy runs through the same loop (statemachines/rolling.asl.json,
// daemon.asl.json): prepare resolves the target and freezes the plan on the
// deployment (model.Runtime), next returns the step at the state's index, a
// Task per step kind carries it out, and finish records the result,
// releases the lease and resumes the next queued deployment. The deployment
// item in DynamoDB is the source of truth; the state object only carries
// the deployment ID, the index and the wait settings.
//
// Steps are idempotent: a retried step finds its own work (task definitions
// tagged with the deployment ID, services created with the deployment ID as
// client token, waits overwritten by token) instead of doing it again.
package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// Store is what the steps need from internal/store.
type Store interface {
	Get(ctx context.Context, kind model.Kind, id string) (model.Entity, error)
	Update(ctx context.Context, e model.Entity) error
	AppendLedger(ctx context.Context, deploymentID string, entries ...model.LedgerEntry) error
	ListDeployments(ctx context.Context, f store.DeploymentFilter, p store.Page) ([]*model.Deployment, string, error)
	AcquireLease(ctx context.Context, key, holder string, ttl time.Duration) (store.Lease, error)
	ReleaseLease(ctx context.Context, key, holder string) error
	GetLease(ctx context.Context, key string) (store.Lease, bool, error)
	PutWait(ctx context.Context, w store.Wait) error
	WaitsForService(ctx context.Context, cluster, service string) ([]store.Wait, error)
	WaitsForDeployment(ctx context.Context, deploymentID string) ([]store.Wait, error)
	DeleteWait(ctx context.Context, w store.Wait) error
}

var _ Store = (*store.Store)(nil)

// ClientFactory builds the AWS clients of a target.
type ClientFactory interface {
	Clients(ctx context.Context, t ecsops.Target) (*ecsops.Clients, error)
}

var _ ClientFactory = (*ecsops.Factory)(nil)

// TaskCompleter completes Step Functions task tokens: *sfnlocal.Service in
// local mode, an sfn client adapter on AWS.
type TaskCompleter interface {
	SendTaskSuccess(ctx context.Context, token, output string) error
	SendTaskFailure(ctx context.Context, token, errName, cause string) error
	SendTaskHeartbeat(ctx context.Context, token string) error
}

// Executions reports how many state transitions an execution has made so
// far (the Step Functions billing unit). Optional.
type Executions interface {
	StateTransitions(ctx context.Context, executionARN string) (int64, error)
}

// Config wires an Engine.
type Config struct {
	Store Store
	AWS   ClientFactory
	Tasks TaskCompleter
	// Executions, when set, lets finish record the state transition count.
	Executions Executions
	// Now is the clock (the shared simulated clock in local mode); default time.Now.
	Now func() time.Time
	// LambdaMemoryMB is the step functions' memory, for GB-seconds; default 256.
	LambdaMemoryMB int
	// HeartbeatSeconds is the steady-state wait's safety net; default 60.
	HeartbeatSeconds int
	Logger           *slog.Logger
	// Notifier, when set, publishes deployment status notifications (notify.go).
	Notifier Notifier
}

// Engine carries out the steps. It is safe for concurrent use.
type Engine struct {
	store     Store
	aws       ClientFactory
	tasks     TaskCompleter
	execs     Executions
	now       func() time.Time
	memoryMB  int
	heartbeat int
	log       *slog.Logger
	notifier  Notifier
}

// New returns an engine. Store, AWS and Tasks are required.
func New(c Config) (*Engine, error) {
	if c.Store == nil || c.AWS == nil || c.Tasks == nil {
		return nil, errors.New("steps: store, AWS client factory and task completer are required")
	}
	e := &Engine{store: c.Store, aws: c.AWS, tasks: c.Tasks, execs: c.Executions, now: c.Now,
		memoryMB: c.LambdaMemoryMB, heartbeat: c.HeartbeatSeconds, log: c.Logger, notifier: c.Notifier}
	if e.now == nil {
		e.now = time.Now
	}
	if e.memoryMB <= 0 {
		e.memoryMB = 256
	}
	if e.heartbeat <= 0 {
		e.heartbeat = 60
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	return e, nil
}

// Ref names the deployment a step works on; every step input has it.
type Ref struct {
	DeploymentID string `json:"deploymentId"`
}

func (r Ref) check() error {
	if k, ok := model.KindOfID(r.DeploymentID); !ok || k != model.KindDeployment {
		return invalidf("deploymentId %q is not a deployment id", r.DeploymentID)
	}
	return nil
}

// TaskFailure is an error caught by a Catch (ResultPath "$.error").
type TaskFailure struct {
	Error string `json:"Error"`
	Cause string `json:"Cause,omitempty"`
}

// clock returns now in UTC without a monotonic reading.
func (e *Engine) clock() time.Time { return e.now().UTC().Round(0) }

func (e *Engine) load(ctx context.Context, id string) (*model.Deployment, error) {
	ent, err := e.store.Get(ctx, model.KindDeployment, id)
	if err != nil {
		return nil, fmt.Errorf("load deployment: %w", err)
	}
	d, ok := ent.(*model.Deployment)
	if !ok {
		return nil, invalidf("load deployment %s: got a %T", id, ent)
	}
	return d, nil
}

// mutate applies f to the stored deployment and writes it, re-reading and
// re-applying on a version conflict.
func (e *Engine) mutate(ctx context.Context, id string, f func(d *model.Deployment) error) (*model.Deployment, error) {
	return e.mutateLoaded(ctx, id, nil, f)
}

// mutateLoaded is mutate starting from d, a copy the caller has just read
// (one read fewer when nothing wrote in between); nil reads it first.
func (e *Engine) mutateLoaded(ctx context.Context, id string, d *model.Deployment, f func(d *model.Deployment) error) (*model.Deployment, error) {
	for attempt := 0; ; attempt++ {
		if d == nil || attempt > 0 {
			var err error
			if d, err = e.load(ctx, id); err != nil {
				return nil, err
			}
		}
		if err := f(d); err != nil {
			return nil, err
		}
		err := e.store.Update(ctx, d)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt >= 8 {
			return nil, fmt.Errorf("update deployment %s: %w", id, err)
		}
	}
}

// run is one step invocation's bookkeeping: a counter for AWS calls, the
// step record, the usage, and one deployment write at the end that applies
// the step's changes.
type run struct {
	e       *Engine
	name    string
	started time.Time
	// wall is the real start time: Lambda bills real time, whatever the
	// (possibly simulated) clock says.
	wall    time.Time
	calls   *ecsops.Counter
	writes  int64
	changes []func(d *model.Deployment) error
	// open leaves the step record open (a wait that someone else ends).
	open   bool
	result string
	notes  []model.LedgerEntry
	// skipRecord writes no step record (a wait entered again).
	skipRecord bool
	// afters run once the step is recorded (completing a task token must
	// come after the record, or the next step could run first).
	afters []func(ctx context.Context) error
}

// after queues f to run once the step is recorded.
func (r *run) after(f func(ctx context.Context) error) { r.afters = append(r.afters, f) }

func (e *Engine) begin(ctx context.Context, name string) (context.Context, *run) {
	r := &run{e: e, name: name, started: e.clock(), wall: time.Now(), calls: ecsops.NewCounter()}
	return ecsops.WithCounter(ctx, r.calls), r
}

// change queues a change to the deployment, applied by finish.
func (r *run) change(f func(d *model.Deployment) error) { r.changes = append(r.changes, f) }

func (r *run) note(kind, format string, a ...any) {
	r.notes = append(r.notes, model.LedgerEntry{At: r.e.clock(), Kind: kind, Message: fmt.Sprintf(format, a...)})
}

// end writes the step's outcome: the queued changes, the step record and
// the usage in one update, then the ledger entries. stepErr is the step's
// own error (returned, classified); a bookkeeping failure is returned when
// the step itself succeeded.
func (r *run) end(ctx context.Context, id string, stepErr error) error {
	e := r.e
	ended := e.clock()
	rec := model.StepRecord{Name: r.name, StartedAt: r.started, Result: r.result}
	if stepErr != nil {
		rec.Error, rec.Cause = ErrorName(stepErr), stepErr.Error()
		rec.Result = "FAILED"
	}
	if !r.open || stepErr != nil {
		rec.EndedAt = ended
	}
	if rec.Result == "" {
		rec.Result = "OK"
	}
	gbs := time.Since(r.wall).Seconds() * float64(e.memoryMB) / 1024
	calls := r.calls.Counts()
	// AppendLedger is one UpdateItem (the sequence) and one transaction.
	const ledgerWrites = 2
	_, err := e.mutate(ctx, id, func(d *model.Deployment) error {
		for _, c := range r.changes {
			if err := c(d); err != nil {
				return err
			}
		}
		if !r.skipRecord {
			d.Steps = append(d.Steps, rec)
		}
		addUsage(&d.Usage, calls, gbs, r.writes+1+ledgerWrites, len(d.Steps))
		return nil
	})
	if err != nil {
		if stepErr != nil {
			e.log.ErrorContext(ctx, "record failed step", "deployment_id", id, "step", r.name, "error", err)
			return Classify(stepErr)
		}
		return Classify(err)
	}
	data, _ := json.Marshal(rec)
	entries := r.notes
	if !r.skipRecord {
		entries = append([]model.LedgerEntry{{At: ended, Kind: model.LedgerStep, Message: stepMessage(rec), Data: data}}, r.notes...)
	}
	if len(entries) > 0 {
		if lerr := e.store.AppendLedger(ctx, id, entries...); lerr != nil {
			e.log.ErrorContext(ctx, "append ledger", "deployment_id", id, "step", r.name, "error", lerr)
		}
	}
	if stepErr == nil {
		for _, f := range r.afters {
			if err := f(ctx); err != nil {
				return Classify(err)
			}
		}
	}
	return Classify(stepErr)
}

func stepMessage(r model.StepRecord) string {
	switch {
	case r.Error != "":
		return fmt.Sprintf("%s failed: %s: %s", r.Name, r.Error, r.Cause)
	case r.EndedAt.IsZero():
		return fmt.Sprintf("%s started (%s)", r.Name, r.Result)
	}
	return fmt.Sprintf("%s %s", r.Name, r.Result)
}

// closeOpen ends the step records left open by waits.
func closeOpen(d *model.Deployment, at time.Time, result, errName, cause string) {
	for i := range d.Steps {
		if d.Steps[i].EndedAt.IsZero() {
			d.Steps[i].EndedAt = at
			d.Steps[i].Result = result
			if errName != "" {
				d.Steps[i].Error, d.Steps[i].Cause = errName, cause
			}
		}
	}
}

func targetOf(d *model.Deployment) (model.Target, error) {
	if d.Runtime == nil || d.Runtime.Target.Cluster == "" {
		return model.Target{}, invalidf("deployment %s has no target: prepare has not run", d.ID)
	}
	return d.Runtime.Target, nil
}

func (e *Engine) clients(ctx context.Context, t model.Target) (*ecsops.Clients, error) {
	c, err := e.aws.Clients(ctx, ecsops.Target{Region: t.Region, RoleARN: t.RoleARN, ExternalID: t.ExternalID})
	if err != nil {
		return nil, &Invalid{fmt.Errorf("aws clients: %w", err)}
	}
	return c, nil
}

// clearWaits deletes the deployment's waits of the given kinds (all when
// none are given).
func (e *Engine) clearWaits(ctx context.Context, r *run, id string, kinds ...string) error {
	ws, err := e.store.WaitsForDeployment(ctx, id)
	if err != nil {
		return err
	}
	for _, w := range ws {
		if len(kinds) > 0 && !contains(kinds, w.Kind) {
			continue
		}
		if err := e.store.DeleteWait(ctx, w); err != nil {
			return err
		}
		if r != nil {
			r.writes++
		}
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
