// Package ecsevents is ecsflow's event intake: the EventBridge rule patterns
// (patterns.go, shared by local mode and the CDK app) and the handler of
// functions/ecs-events.
//
// The handler takes ECS and CloudWatch events, finds the deployments that
// wait on them through the waits in the store, appends every event to
// those deployments' ledgers, and completes the waiting Step Functions
// tasks (WATCH waits only route events to the ledger):
//
//	event                                   STEADY wait                       VERIFY wait
//	SERVICE_DEPLOYMENT_COMPLETED,           SendTaskSuccess                   ledger only
//	SERVICE_STEADY_STATE (1)
//	SERVICE_DEPLOYMENT_FAILED,              SendTaskFailure NotStable         ledger only
//	SERVICE_TASK_START_IMPAIRED
//	any other ECS event for the service     SendTaskHeartbeat (progress)      ledger only
//	CloudWatch alarm entering ALARM         -                                 SendTaskFailure VerificationFailed
//
// (1) ECS repeats SERVICE_STEADY_STATE periodically; one older than the
// wait is progress, not completion.
//
// A STEADY wait for one ECS deployment (Wait.ECSDeployment: a rollback's
// own UpdateService deployment) is completed or failed only by deployment
// state changes of that deployment: those of the service's other ECS
// deployments are progress. The circuit breaker failing the deployment
// being rolled back can be delivered after the rollback started; it says
// nothing about the rollback. Real failures of the rest of the service
// still surface through SERVICE_TASK_START_IMPAIRED and the engine's
// DescribeServices checks (check-steady).
//
// A completed STEADY wait is replaced by a WATCH wait for WithWatch's
// duration (or until the workflow's finish step clears the deployment's
// waits), so that what follows (the stopped tasks behind a failure, ECS's
// own rollback) still reaches the deployment's ledger; a watch ends early
// when another deployment waits on the service. A token Step Functions no
// longer knows (TaskTimedOut, TaskDoesNotExist, InvalidToken) is cleaned
// up, not an error. Malformed and unknown events are logged with their id and
// acknowledged, so EventBridge does not retry them.
//
// A completion is on the workflow's critical path: after finding the waits
// (one query), the handler answers the tokens first and writes the ledger
// entry and the WATCH alongside (see Handler.answer). Failures of the store
// or of Step Functions before any wait was answered are returned, so
// EventBridge retries the event (a retried event may add its ledger entry
// twice); once a wait is answered, a later failure is logged with the entry
// instead, so that no retry can answer a later wait with an old event.
package ecsevents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// Error names the handler fails tasks with (the ASL catches them).
const (
	ErrNotStable          = "NotStable"
	ErrVerificationFailed = "VerificationFailed"
)

// maxCause is Step Functions' limit on a failure cause.
const maxCause = 32768

// Store is what the handler needs of the store (*store.Store).
type Store interface {
	PutWait(ctx context.Context, w store.Wait) error
	WaitsForService(ctx context.Context, cluster, service string) ([]store.Wait, error)
	WaitsForAlarm(ctx context.Context, alarmName string) ([]store.Wait, error)
	DeleteWait(ctx context.Context, w store.Wait) error
	AppendLedger(ctx context.Context, deploymentID string, entries ...model.LedgerEntry) error
}

var _ Store = (*store.Store)(nil)

// TaskCompleter completes Step Functions task tokens (*sfnlocal.Service, or
// SFNCompleter over the SDK client).
type TaskCompleter interface {
	SendTaskSuccess(ctx context.Context, token, output string) error
	SendTaskFailure(ctx context.Context, token, errName, cause string) error
	SendTaskHeartbeat(ctx context.Context, token string) error
}

// TokenSpent reports whether err says the token no longer waits: the task
// timed out or ended, or the token is not one Step Functions knows.
func TokenSpent(err error) bool {
	// Both the SDK's typed errors and sfnlocal's in-process errors carry
	// the error code.
	var ae interface{ ErrorCode() string }
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "TaskTimedOut", "TaskDoesNotExist", "InvalidToken":
		return true
	}
	return false
}

// Handler handles EventBridge events. Handle is the Lambda handler (and an
// eventbus.LambdaHandler).
type Handler struct {
	st    Store
	tc    TaskCompleter
	log   *slog.Logger
	now   func() time.Time
	watch time.Duration
}

// DefaultWatch is how long a deployment keeps receiving its service's ECS
// events in its ledger after its steady-state wait ended.
const DefaultWatch = 5 * time.Minute

// Option configures a Handler.
type Option func(*Handler)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithClock sets the clock of WATCH expiries for events without a time
// (default time.Now; use the store's clock). A watch runs from its event's
// time otherwise.
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// WithWatch sets how long events keep reaching a deployment's ledger after
// its steady-state wait ended (default DefaultWatch; 0 turns it off).
func WithWatch(d time.Duration) Option { return func(h *Handler) { h.watch = d } }

// New returns a handler on st that completes tokens through tc.
func New(st Store, tc TaskCompleter, opts ...Option) *Handler {
	h := &Handler{st: st, tc: tc, log: slog.Default(), now: time.Now, watch: DefaultWatch}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Envelope is an EventBridge event.
type Envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// Detail types and sources the handler knows.
const (
	DetailDeploymentStateChange = "ECS Deployment State Change"
	DetailServiceAction         = "ECS Service Action"
	DetailTaskStateChange       = "ECS Task State Change"
	DetailAlarmStateChange      = "CloudWatch Alarm State Change"
	SourceECS                   = "aws.ecs"
	SourceCloudWatch            = "aws.cloudwatch"
)

// badEvent is an event the handler cannot use; it is acknowledged.
type badEvent struct{ msg string }

func (e *badEvent) Error() string { return e.msg }

func bad(format string, a ...any) error { return &badEvent{msg: fmt.Sprintf(format, a...)} }

// outcome is what an ECS event does to a STEADY wait.
type outcome int

const (
	progress outcome = iota
	succeed
	fail
)

// ecsEvent is an ECS event reduced to what the handler acts on.
type ecsEvent struct {
	cluster, service string
	name             string // eventName, or "TASK_<lastStatus>"
	// ecsDeployment is the ECS deployment a deployment state change is
	// about ("" for other events).
	ecsDeployment string
	outcome       outcome
	cause         string // for fail
	output        any    // for succeed
	// crash is set for a task whose essential container exited or that
	// failed to start: during verification that fails the deployment.
	crash string
	entry model.LedgerEntry
}

// Handle processes one EventBridge event.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) error {
	var env Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		h.log.WarnContext(ctx, "ecs-events: malformed event acknowledged", "error", err, "bytes", len(raw))
		return nil
	}
	err := h.handle(ctx, env)
	var be *badEvent
	if errors.As(err, &be) {
		h.log.WarnContext(ctx, "ecs-events: event acknowledged without action", "event_id", env.ID,
			"source", env.Source, "detail_type", env.DetailType, "reason", be.msg)
		return nil
	}
	if err != nil {
		h.log.ErrorContext(ctx, "ecs-events: event failed, EventBridge will retry", "event_id", env.ID,
			"detail_type", env.DetailType, "error", err)
		return fmt.Errorf("event %s: %w", env.ID, err)
	}
	return nil
}

func (h *Handler) handle(ctx context.Context, env Envelope) error {
	if len(env.Detail) == 0 || env.Detail[0] != '{' {
		return bad("detail is not an object")
	}
	switch {
	case env.Source == SourceECS && env.DetailType == DetailDeploymentStateChange:
		ev, err := deploymentEvent(env)
		if err != nil {
			return err
		}
		return h.onECS(ctx, env, ev)
	case env.Source == SourceECS && env.DetailType == DetailServiceAction:
		ev, err := serviceActionEvent(env)
		if err != nil {
			return err
		}
		return h.onECS(ctx, env, ev)
	case env.Source == SourceECS && env.DetailType == DetailTaskStateChange:
		ev, err := taskEvent(env)
		if err != nil {
			return err
		}
		if ev == nil {
			return nil // not a service's task
		}
		return h.onECS(ctx, env, ev)
	case env.Source == SourceCloudWatch && env.DetailType == DetailAlarmStateChange:
		return h.onAlarm(ctx, env)
	}
	return bad("unknown event %s/%s", env.Source, env.DetailType)
}

// serviceFromARN splits arn:aws:ecs:R:A:service/CLUSTER/NAME.
func serviceFromARN(arn string) (cluster, service string, ok bool) {
	i := strings.Index(arn, ":service/")
	if !strings.HasPrefix(arn, "arn:") || i < 0 {
		return "", "", false
	}
	cluster, service, ok = strings.Cut(arn[i+len(":service/"):], "/")
	if !ok || cluster == "" || service == "" || strings.Contains(service, "/") {
		return "", "", false
	}
	return cluster, service, true
}

func firstServiceARN(env Envelope) (cluster, service string, err error) {
	for _, r := range env.Resources {
		if c, s, ok := serviceFromARN(r); ok {
			return c, s, nil
		}
	}
	return "", "", bad("no service ARN in resources %q", env.Resources)
}

// eventTime is the first parseable of the given timestamps (zero if none:
// the store then uses its clock).
func eventTime(ts ...string) time.Time {
	for _, s := range ts {
		if s == "" {
			continue
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05.000-0700"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UTC()
			}
		}
	}
	return time.Time{}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

type deploymentDetail struct {
	EventType    string `json:"eventType"`
	EventName    string `json:"eventName"`
	DeploymentID string `json:"deploymentId"`
	UpdatedAt    string `json:"updatedAt"`
	Reason       string `json:"reason"`
}

func deploymentEvent(env Envelope) (*ecsEvent, error) {
	var d deploymentDetail
	if err := json.Unmarshal(env.Detail, &d); err != nil {
		return nil, bad("decode deployment state change: %v", err)
	}
	if d.EventName == "" {
		return nil, bad("deployment state change without eventName")
	}
	cluster, service, err := firstServiceARN(env)
	if err != nil {
		return nil, err
	}
	ev := &ecsEvent{cluster: cluster, service: service, name: d.EventName, ecsDeployment: d.DeploymentID}
	msg := fmt.Sprintf("%s %s/%s", d.EventName, cluster, service)
	if d.DeploymentID != "" {
		msg += " (" + d.DeploymentID + ")"
	}
	if d.Reason != "" {
		msg += ": " + d.Reason
	}
	switch d.EventName {
	case "SERVICE_DEPLOYMENT_COMPLETED":
		ev.outcome = succeed
		ev.output = map[string]any{"steady": true, "event": d.EventName, "ecsDeploymentId": d.DeploymentID, "reason": d.Reason}
	case "SERVICE_DEPLOYMENT_FAILED":
		ev.outcome = fail
		ev.cause = "ECS " + msg
	}
	ev.entry = model.LedgerEntry{At: eventTime(d.UpdatedAt, env.Time), Kind: model.LedgerECSEvent, Message: msg,
		Data: mustJSON(map[string]any{"eventId": env.ID, "detailType": env.DetailType, "eventType": d.EventType,
			"eventName": d.EventName, "ecsDeploymentId": d.DeploymentID, "reason": d.Reason,
			"cluster": cluster, "service": service})}
	return ev, nil
}

type serviceActionDetail struct {
	EventType  string   `json:"eventType"`
	EventName  string   `json:"eventName"`
	ClusterArn string   `json:"clusterArn"`
	CreatedAt  string   `json:"createdAt"`
	TaskArns   []string `json:"taskArns"`
	Reason     string   `json:"reason"`
}

func serviceActionEvent(env Envelope) (*ecsEvent, error) {
	var d serviceActionDetail
	if err := json.Unmarshal(env.Detail, &d); err != nil {
		return nil, bad("decode service action: %v", err)
	}
	if d.EventName == "" {
		return nil, bad("service action without eventName")
	}
	cluster, service, err := firstServiceARN(env)
	if err != nil {
		return nil, err
	}
	ev := &ecsEvent{cluster: cluster, service: service, name: d.EventName}
	msg := fmt.Sprintf("%s %s/%s", d.EventName, cluster, service)
	if d.Reason != "" {
		msg += ": " + d.Reason
	}
	switch d.EventName {
	case "SERVICE_STEADY_STATE":
		ev.outcome = succeed
		ev.output = map[string]any{"steady": true, "event": d.EventName}
	case "SERVICE_TASK_START_IMPAIRED":
		ev.outcome = fail
		ev.cause = "ECS " + msg + ": the service is unable to consistently start tasks successfully"
	}
	ev.entry = model.LedgerEntry{At: eventTime(d.CreatedAt, env.Time), Kind: model.LedgerECSEvent, Message: msg,
		Data: mustJSON(map[string]any{"eventId": env.ID, "detailType": env.DetailType, "eventType": d.EventType,
			"eventName": d.EventName, "cluster": cluster, "service": service, "taskArns": d.TaskArns})}
	return ev, nil
}

type containerDetail struct {
	Name       string `json:"name"`
	ExitCode   *int   `json:"exitCode"`
	Reason     string `json:"reason"`
	LastStatus string `json:"lastStatus"`
	Image      string `json:"image"`
}

type taskDetail struct {
	ClusterArn        string            `json:"clusterArn"`
	Group             string            `json:"group"`
	LastStatus        string            `json:"lastStatus"`
	DesiredStatus     string            `json:"desiredStatus"`
	TaskArn           string            `json:"taskArn"`
	TaskDefinitionArn string            `json:"taskDefinitionArn"`
	StartedBy         string            `json:"startedBy"`
	StoppedReason     string            `json:"stoppedReason"`
	StopCode          string            `json:"stopCode"`
	StoppedAt         string            `json:"stoppedAt"`
	UpdatedAt         string            `json:"updatedAt"`
	Containers        []containerDetail `json:"containers"`
}

// taskID is the last part of a task ARN.
func taskID(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

func taskEvent(env Envelope) (*ecsEvent, error) {
	var d taskDetail
	if err := json.Unmarshal(env.Detail, &d); err != nil {
		return nil, bad("decode task state change: %v", err)
	}
	service, ok := strings.CutPrefix(d.Group, "service:")
	if !ok {
		return nil, nil
	}
	cluster := store.ClusterName(d.ClusterArn)
	if cluster == "" || service == "" || d.LastStatus == "" {
		return nil, bad("task state change without clusterArn, service group or lastStatus")
	}
	ev := &ecsEvent{cluster: cluster, service: service, name: "TASK_" + d.LastStatus}
	data := map[string]any{"eventId": env.ID, "detailType": env.DetailType, "cluster": cluster, "service": service,
		"taskArn": d.TaskArn, "taskDefinitionArn": d.TaskDefinitionArn, "lastStatus": d.LastStatus,
		"desiredStatus": d.DesiredStatus, "ecsDeploymentId": d.StartedBy}
	td := d.TaskDefinitionArn[strings.LastIndexByte(d.TaskDefinitionArn, '/')+1:]
	if d.LastStatus != "STOPPED" {
		ev.entry = model.LedgerEntry{At: eventTime(d.UpdatedAt, env.Time), Kind: model.LedgerECSEvent,
			Message: fmt.Sprintf("task %s of %s/%s (%s) %s", taskID(d.TaskArn), cluster, service, td, d.LastStatus),
			Data:    mustJSON(data)}
		return ev, nil
	}
	var parts []string
	var containers []map[string]any
	for _, c := range d.Containers {
		cm := map[string]any{"name": c.Name}
		s := "container " + c.Name
		if c.ExitCode != nil {
			cm["exitCode"] = *c.ExitCode
			s += fmt.Sprintf(" exit code %d", *c.ExitCode)
		}
		if c.Reason != "" {
			cm["reason"] = c.Reason
			s += ": " + c.Reason
		}
		if c.ExitCode != nil || c.Reason != "" {
			parts = append(parts, s)
		}
		containers = append(containers, cm)
	}
	msg := fmt.Sprintf("task %s of %s/%s (%s) stopped", taskID(d.TaskArn), cluster, service, td)
	if d.StoppedReason != "" {
		msg += ": " + d.StoppedReason
	}
	if d.StopCode != "" {
		msg += " [" + d.StopCode + "]"
	}
	if len(parts) > 0 {
		msg += "; " + strings.Join(parts, "; ")
	}
	data["stoppedReason"], data["stopCode"] = d.StoppedReason, d.StopCode
	if len(containers) > 0 {
		data["containers"] = containers
	}
	ev.entry = model.LedgerEntry{At: eventTime(d.StoppedAt, d.UpdatedAt, env.Time), Kind: model.LedgerTaskStopped,
		Message: msg, Data: mustJSON(data)}
	switch d.StopCode {
	case "EssentialContainerExited", "TaskFailedToStart":
		ev.crash = msg
	}
	return ev, nil
}

// onECS records the event for every deployment waiting on the service and
// acts on its STEADY waits (and on VERIFY waits when a task crashed).
func (h *Handler) onECS(ctx context.Context, env Envelope, ev *ecsEvent) error {
	waits, err := h.st.WaitsForService(ctx, ev.cluster, ev.service)
	if err != nil {
		return fmt.Errorf("find waits: %w", err)
	}
	// Deployments waiting on the service get the event; so do those that
	// watch it after their wait ended, unless another deployment is
	// waiting now (then their watch is over and is removed).
	active := map[string]bool{}
	for _, w := range waits {
		if w.Kind == store.WaitSteady || w.Kind == store.WaitVerify {
			active[w.DeploymentID] = true
		}
	}
	var concerned, stale []store.Wait
	for _, w := range waits {
		switch {
		case w.Kind == store.WaitSteady || w.Kind == store.WaitVerify:
			concerned = append(concerned, w)
		case w.Kind == store.WaitWatch && (len(active) == 0 || active[w.DeploymentID]):
			concerned = append(concerned, w)
		case w.Kind == store.WaitWatch:
			stale = append(stale, w)
		}
	}
	if len(concerned) == 0 {
		h.dropStale(ctx, stale)
		h.log.DebugContext(ctx, "ecs-events: no deployment waits on the service", "event_id", env.ID,
			"cluster", ev.cluster, "service", ev.service, "event", ev.name)
		return nil
	}
	var answers []answer
	for _, w := range concerned {
		if w.Kind == store.WaitVerify && ev.crash != "" {
			// The revision under verification is crash-looping even if no
			// alarm has noticed yet: a bake is not a pass.
			cause := truncate("a task stopped during verification: "+ev.crash, maxCause)
			answers = append(answers, answer{w: w, final: true, what: ev.name, send: func(ctx context.Context, tc TaskCompleter) error {
				return tc.SendTaskFailure(ctx, w.Token, ErrVerificationFailed, cause)
			}})
			continue
		}
		if w.Kind != store.WaitSteady {
			continue
		}
		outcome := ev.outcome
		if ev.name == "SERVICE_STEADY_STATE" && !ev.entry.At.IsZero() && ev.entry.At.Before(w.Created) {
			// ECS repeats SERVICE_STEADY_STATE periodically: one from before
			// the wait (the service's previous steady state, delivered
			// late) says nothing about this deployment.
			h.log.InfoContext(ctx, "ecs-events: steady state from before the wait taken as progress", "event_id", env.ID,
				"deployment_id", w.DeploymentID, "event_time", ev.entry.At, "wait_created", w.Created)
			outcome = progress
		}
		if outcome != progress && otherDeployment(w, ev) {
			h.log.InfoContext(ctx, "ecs-events: outcome of another ECS deployment taken as progress", "event_id", env.ID,
				"deployment_id", w.DeploymentID, "event", ev.name, "event_ecs_deployment", ev.ecsDeployment,
				"wait_ecs_deployment", w.ECSDeployment)
			outcome = progress
		}
		switch outcome {
		case succeed:
			out, _ := json.Marshal(ev.output)
			answers = append(answers, answer{w: w, final: true, what: ev.name, send: func(ctx context.Context, tc TaskCompleter) error {
				return tc.SendTaskSuccess(ctx, w.Token, string(out))
			}})
		case fail:
			cause := truncate(ev.cause, maxCause)
			answers = append(answers, answer{w: w, final: true, what: ev.name, send: func(ctx context.Context, tc TaskCompleter) error {
				return tc.SendTaskFailure(ctx, w.Token, ErrNotStable, cause)
			}})
		default:
			answers = append(answers, answer{w: w, what: ev.name, send: func(ctx context.Context, tc TaskCompleter) error {
				return tc.SendTaskHeartbeat(ctx, w.Token)
			}})
		}
	}
	err = h.answer(ctx, env, concerned, ev.entry, answers)
	h.dropStale(ctx, stale)
	return err
}

// otherDeployment reports whether ev is a deployment state change of an ECS
// deployment other than the one w waits for (false when w waits for any,
// or ev is not about one deployment).
func otherDeployment(w store.Wait, ev *ecsEvent) bool {
	return w.ECSDeployment != "" && ev.ecsDeployment != "" && ev.ecsDeployment != w.ECSDeployment
}

// answer is what an event does to one wait: a final answer (success or
// failure, which ends the wait) or a heartbeat.
type answer struct {
	w     store.Wait
	final bool
	what  string
	send  func(ctx context.Context, tc TaskCompleter) error
}

// answer appends entry to the ledgers of the deployments among waits and
// sends the answers. A final answer is on the workflow's critical path (its
// next step starts when the token is completed), so the answers go first
// and the writes that only keep the record — the ledger entry, and the
// WATCH that keeps a completed STEADY wait's service reaching the ledger —
// run alongside them; the answered waits are deleted once the watches are
// in (so another event of the service always finds the wait or the watch).
// The watch is started before its answer is sent: once the task is
// answered, the workflow may finish (and clear the deployment's waits) at
// any moment (a watch that still lands after that expires with its TTL).
//
// Failures: an answer Step Functions refuses for a reason other than a
// spent token is returned (EventBridge retries the event; a retried event
// may add its ledger entry twice). Once a wait is answered, nothing is
// returned for it: a retry must not answer a later wait of the same
// service with this event, so a ledger entry or a deletion that fails after
// an answer is logged with the entry (a left wait's token is spent: the
// next event or the workflow's finish removes it, or its TTL does).
func (h *Handler) answer(ctx context.Context, env Envelope, waits []store.Wait, entry model.LedgerEntry, answers []answer) error {
	var watches []store.Wait
	for _, a := range answers {
		if a.final && a.w.Kind == store.WaitSteady && h.watch > 0 {
			watches = append(watches, store.Wait{Token: store.WatchToken(a.w.DeploymentID), DeploymentID: a.w.DeploymentID,
				Kind: store.WaitWatch, Cluster: a.w.Cluster, Service: a.w.Service, Expires: watchFrom(entry.At, h.now).Add(h.watch)})
		}
	}
	watching := make(chan struct{})
	recorded := make(chan error, 1)
	go func() {
		for _, w := range watches {
			if err := h.st.PutWait(ctx, w); err != nil {
				h.log.WarnContext(ctx, "ecs-events: could not keep watching the service for the ledger", "deployment_id", w.DeploymentID, "error", err)
			}
		}
		close(watching)
		recorded <- h.record(ctx, waits, entry)
	}()
	var errs []error
	var done []store.Wait
	for _, a := range answers {
		err := a.send(ctx, h.tc)
		switch {
		case err == nil && a.final:
			h.log.InfoContext(ctx, "ecs-events: wait completed", "event_id", env.ID, "deployment_id", a.w.DeploymentID,
				"kind", a.w.Kind, "event", a.what)
			done = append(done, a.w)
		case err == nil:
		case TokenSpent(err):
			h.log.InfoContext(ctx, "ecs-events: token already spent; wait removed", "event_id", env.ID,
				"deployment_id", a.w.DeploymentID, "kind", a.w.Kind, "error", err)
			done = append(done, a.w)
		case a.final:
			errs = append(errs, fmt.Errorf("complete %s wait of %s: %w", a.w.Kind, a.w.DeploymentID, err))
		default:
			errs = append(errs, fmt.Errorf("heartbeat %s wait of %s: %w", a.w.Kind, a.w.DeploymentID, err))
		}
	}
	// The watches are in before an answered wait goes: an event of the
	// service handled in between finds one or the other, and reaches the
	// ledger.
	<-watching
	answered := false
	for _, w := range done {
		answered = answered || w.Kind != store.WaitWatch
		if err := h.st.DeleteWait(ctx, w); err != nil {
			h.log.ErrorContext(ctx, "ecs-events: could not delete an answered wait (its token is spent)", "event_id", env.ID,
				"deployment_id", w.DeploymentID, "kind", w.Kind, "error", err)
		}
	}
	if err := <-recorded; err != nil {
		if !answered {
			errs = append(errs, err)
		} else {
			h.log.ErrorContext(ctx, "ecs-events: ledger entry lost after the wait was answered", "event_id", env.ID,
				"error", err, "at", entry.At, "kind", entry.Kind, "message", entry.Message, "data", string(entry.Data))
		}
	}
	return errors.Join(errs...)
}

// dropStale removes watches that another deployment's wait superseded.
func (h *Handler) dropStale(ctx context.Context, stale []store.Wait) {
	for _, w := range stale {
		if err := h.st.DeleteWait(ctx, w); err != nil {
			h.log.WarnContext(ctx, "ecs-events: remove a watch that another deployment superseded", "deployment_id", w.DeploymentID, "error", err)
		}
	}
}

// record appends entry once per deployment among waits.
func (h *Handler) record(ctx context.Context, waits []store.Wait, entry model.LedgerEntry) error {
	seen := map[string]bool{}
	for _, w := range waits {
		if seen[w.DeploymentID] {
			continue
		}
		seen[w.DeploymentID] = true
		err := h.st.AppendLedger(ctx, w.DeploymentID, entry)
		if errors.Is(err, store.ErrNotFound) {
			h.log.WarnContext(ctx, "ecs-events: waiting deployment is gone; ledger entry dropped", "deployment_id", w.DeploymentID)
			continue
		}
		if err != nil {
			return fmt.Errorf("append ledger of %s: %w", w.DeploymentID, err)
		}
	}
	return nil
}

type alarmState struct {
	Value     string `json:"value"`
	Reason    string `json:"reason"`
	Timestamp string `json:"timestamp"`
}

type alarmDetail struct {
	AlarmName     string     `json:"alarmName"`
	State         alarmState `json:"state"`
	PreviousState alarmState `json:"previousState"`
}

// onAlarm fails the VERIFY waits that watch an alarm entering ALARM.
func (h *Handler) onAlarm(ctx context.Context, env Envelope) error {
	var d alarmDetail
	if err := json.Unmarshal(env.Detail, &d); err != nil {
		return bad("decode alarm state change: %v", err)
	}
	if d.AlarmName == "" || d.State.Value == "" {
		return bad("alarm state change without alarmName or state")
	}
	if d.State.Value != "ALARM" {
		return nil
	}
	waits, err := h.st.WaitsForAlarm(ctx, d.AlarmName)
	if err != nil {
		return fmt.Errorf("find waits: %w", err)
	}
	var verify []store.Wait
	for _, w := range waits {
		if w.Kind == store.WaitVerify {
			verify = append(verify, w)
		}
	}
	if len(verify) == 0 {
		return nil
	}
	msg := fmt.Sprintf("alarm %s entered ALARM (was %s)", d.AlarmName, d.PreviousState.Value)
	if d.State.Reason != "" {
		msg += ": " + d.State.Reason
	}
	entry := model.LedgerEntry{At: eventTime(d.State.Timestamp, env.Time), Kind: model.LedgerNote, Message: msg,
		Data: mustJSON(map[string]any{"eventId": env.ID, "detailType": env.DetailType, "alarmName": d.AlarmName,
			"state": d.State.Value, "previousState": d.PreviousState.Value, "reason": d.State.Reason})}
	answers := make([]answer, 0, len(verify))
	cause := truncate(msg, maxCause)
	for _, w := range verify {
		answers = append(answers, answer{w: w, final: true, what: "ALARM " + d.AlarmName, send: func(ctx context.Context, tc TaskCompleter) error {
			return tc.SendTaskFailure(ctx, w.Token, ErrVerificationFailed, cause)
		}})
	}
	return h.answer(ctx, env, verify, entry, answers)
}

// watchFrom is the event's time, or now when the event had none.
func watchFrom(at time.Time, now func() time.Time) time.Time {
	if at.IsZero() {
		return now()
	}
	return at
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
