// Package trigger starts deployments when a new image appears: an ECR push
// (an EventBridge "ECR Image Action" event) or a new tag that the collector
// finds in a Docker registry.
//
// For each trigger on the image's artifact server and repository whose tag
// filter matches, it creates a deployment pinned to the image digest through
// the API's creation path (see APICreator) and starts it. EventBridge
// delivers at least once, so each (event, trigger) pair is claimed first
// with a conditional write (store.ClaimEventValue, with a TTL) that also
// fixes the deployment id; the execution is named after the deployment id.
// A duplicate delivery finds the claim and does nothing; a delivery after a
// crash takes over the expired claim, reuses the deployment id, and only
// starts the execution if the first attempt did not.
//
// Malformed and unknown events are logged with their id and acknowledged,
// never retried.
package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// DefaultClaimTTL is how long an event id is remembered. EventBridge
// retries a delivery for up to 24 hours.
const DefaultClaimTTL = 48 * time.Hour

// Store is what the trigger needs from the store (*store.Store).
type Store interface {
	Get(ctx context.Context, kind model.Kind, id string) (model.Entity, error)
	Update(ctx context.Context, e model.Entity) error
	List(ctx context.Context, kind model.Kind, appID string, p store.Page) ([]model.Entity, string, error)
	FindTriggers(ctx context.Context, artifactServerID, repository string) ([]*model.Trigger, error)
	ClaimEventValue(ctx context.Context, key, value string, ttl time.Duration) (bool, string, error)
	CompleteClaim(ctx context.Context, key string) error
	ReleaseClaim(ctx context.Context, key string) error
	AppendLedger(ctx context.Context, deploymentID string, entries ...model.LedgerEntry) error
}

var _ Store = (*store.Store)(nil)

// Handler reacts to pushes.
type Handler struct {
	store   Store
	creator Creator
	starter api.Starter
	// pipelines launches pipeline triggers' executions (nil: not started).
	pipelines PipelineLauncher
	matcher   *Matcher
	log       *slog.Logger
	now       func() time.Time
	claimTTL  time.Duration
	fanOut    int
	stats     counters
}

type counters struct {
	events, malformed, ignored, matched, started, duplicates, failed atomic.Int64
}

// Stats are counts since the handler was built.
type Stats struct {
	Events     int64 // events handled (decoded or not)
	Malformed  int64 // events dropped as malformed
	Ignored    int64 // well-formed events that were not pushes, or pushes nobody watches
	Matched    int64 // (push, trigger) pairs that matched
	Started    int64 // deployments created and started
	Duplicates int64 // matches skipped because their claim was taken
	Failed     int64 // matches whose deployment was refused or did not start
}

// Option configures a Handler.
type Option func(*Handler)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithClock sets the clock used for deployment ids.
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// WithClaimTTL sets how long a claim deduplicates (default DefaultClaimTTL).
func WithClaimTTL(d time.Duration) Option { return func(h *Handler) { h.claimTTL = d } }

// DefaultFanOut is how many matches of one push are handled at once.
const DefaultFanOut = 8

// WithFanOut sets how many matches of one push are handled at once
// (default DefaultFanOut; at least 1).
func WithFanOut(n int) Option { return func(h *Handler) { h.fanOut = max(1, n) } }

// New returns a handler. starter must be the one creator starts with: it
// restarts a deployment whose first attempt crashed before its start.
func New(st Store, creator Creator, starter api.Starter, opts ...Option) *Handler {
	h := &Handler{store: st, creator: creator, starter: starter, matcher: NewMatcher(),
		log: slog.Default(), now: time.Now, claimTTL: DefaultClaimTTL, fanOut: DefaultFanOut}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Stats returns the handler's counts.
func (h *Handler) Stats() Stats {
	c := &h.stats
	return Stats{Events: c.events.Load(), Malformed: c.malformed.Load(), Ignored: c.ignored.Load(),
		Matched: c.matched.Load(), Started: c.started.Load(), Duplicates: c.duplicates.Load(), Failed: c.failed.Load()}
}

// ECRPushPattern is the EventBridge event pattern of the events
// HandleEvent acts on (successful ECR pushes); the rule that targets the
// trigger function uses it.
const ECRPushPattern = `{"source":["aws.ecr"],"detail-type":["ECR Image Action"],` +
	`"detail":{"action-type":["PUSH"],"result":["SUCCESS"]}}`

// Lambda is HandleEvent as a Lambda (or local event bus) handler: the error
// is returned only when a retry may help.
func (h *Handler) Lambda(ctx context.Context, event json.RawMessage) error {
	if at, ok, err := DecodeScheduleTick(event); ok {
		if err != nil {
			h.stats.events.Add(1)
			h.stats.malformed.Add(1)
			h.log.WarnContext(ctx, "malformed schedule tick dropped", "error", err)
			return nil
		}
		_, err := h.Tick(ctx, at)
		return err
	}
	_, err := h.HandleEvent(ctx, event)
	return err
}

// Outcome is what one push led to.
type Outcome struct {
	EventID string
	// Deployments are the ids of the deployments this delivery created or
	// finished starting, in trigger order.
	Deployments []string
	Matched     int
	Duplicates  int
	Failed      int
}

// HandleEvent handles one EventBridge event. It returns an error only when
// a retry may help (the store or the API failed); malformed and ignored
// events are logged and acknowledged with a nil error.
func (h *Handler) HandleEvent(ctx context.Context, raw []byte) (Outcome, error) {
	h.stats.events.Add(1)
	p, err := DecodeECREvent(raw)
	if err != nil {
		var ee *EventError
		errors.As(err, &ee)
		if errors.Is(err, ErrIgnoredEvent) {
			h.stats.ignored.Add(1)
			h.log.InfoContext(ctx, "event ignored", "event_id", ee.ID, "reason", ee.Reason)
		} else {
			h.stats.malformed.Add(1)
			h.log.WarnContext(ctx, "malformed event dropped", "event_id", ee.ID, "reason", ee.Reason, "bytes", len(raw))
		}
		return Outcome{EventID: ee.ID}, nil
	}
	servers, err := h.ecrServers(ctx, p.Account, p.Region)
	if err != nil {
		return Outcome{EventID: p.EventID}, fmt.Errorf("event %s: %w", p.EventID, err)
	}
	if len(servers) == 0 {
		h.stats.ignored.Add(1)
		h.log.InfoContext(ctx, "no ECR artifact server for the event's registry", "event_id", p.EventID,
			"account", p.Account, "region", p.Region, "repository", p.Repository)
		return Outcome{EventID: p.EventID}, nil
	}
	return h.Dispatch(ctx, p, servers...)
}

// ecrServers returns the ECR artifact servers of a registry: those whose
// registryId (or, when empty, their cloud provider's account) is account
// and whose region is region.
func (h *Handler) ecrServers(ctx context.Context, account, region string) ([]*model.ArtifactServer, error) {
	var out []*model.ArtifactServer
	page := store.Page{Limit: store.MaxLimit}
	for {
		items, next, err := h.store.List(ctx, model.KindArtifactServer, "", page)
		if err != nil {
			return nil, fmt.Errorf("list artifact servers: %w", err)
		}
		for _, e := range items {
			s, ok := e.(*model.ArtifactServer)
			if !ok || s.Type != model.ArtifactServerECR || s.Region != region {
				continue
			}
			reg := s.RegistryID
			if reg == "" && s.CloudProviderID != "" {
				cp, err := h.store.Get(ctx, model.KindCloudProvider, s.CloudProviderID)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return nil, fmt.Errorf("cloud provider of artifact server %s: %w", s.ID, err)
				}
				if c, ok := cp.(*model.CloudProvider); ok {
					reg = c.AccountID
				}
			}
			if reg == account {
				out = append(out, s)
			}
		}
		if next == "" {
			return out, nil
		}
		page.Cursor = next
	}
}

// Dispatch fires the triggers of servers on p's repository that match p.
// It is the path of both ECR pushes and collected tags.
func (h *Handler) Dispatch(ctx context.Context, p Push, servers ...*model.ArtifactServer) (Outcome, error) {
	var jobs []job
	for _, srv := range servers {
		triggers, err := h.store.FindTriggers(ctx, srv.ID, p.Repository)
		if err != nil {
			return Outcome{EventID: p.EventID}, fmt.Errorf("event %s: %w", p.EventID, err)
		}
		fired, broken := h.matcher.Match(triggers, p.Tag)
		for _, err := range broken {
			h.log.ErrorContext(ctx, "trigger skipped", "event_id", p.EventID, "error", err)
		}
		for _, t := range fired {
			if t.WorkflowID == "" && h.pipelines == nil {
				// Pipeline triggers need a PipelineLauncher
				// (WithPipelines); acknowledged, not retried.
				h.log.WarnContext(ctx, "pipeline trigger not started: pipelines are not implemented", "event_id", p.EventID,
					"trigger_id", t.ID, "pipeline_id", t.PipelineID)
				continue
			}
			jobs = append(jobs, job{p, srv, t})
		}
	}
	return h.run(ctx, p.EventID, jobs)
}

// job is one (push, trigger) pair to fire.
type job struct {
	p   Push
	srv *model.ArtifactServer
	t   *model.Trigger
}

// run fires jobs, at most h.fanOut at a time, and sums up what they did.
func (h *Handler) run(ctx context.Context, eventID string, jobs []job) (Outcome, error) {
	out := Outcome{EventID: eventID}
	out.Matched = len(jobs)
	h.stats.matched.Add(int64(len(jobs)))

	// Matches are independent (each has its own claim and deployment):
	// they run concurrently, at most h.fanOut at a time.
	type result struct {
		id  string
		dup bool
		err error
	}
	res := make([]result, len(jobs))
	sem := make(chan struct{}, h.fanOut)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fire := h.fire
			if j.t.WorkflowID == "" {
				fire = h.firePipeline
			}
			id, dup, err := fire(ctx, j.p, j.srv, j.t)
			res[i] = result{id, dup, err}
		}()
	}
	wg.Wait()
	var errs []error
	for _, r := range res {
		switch {
		case r.err != nil:
			errs = append(errs, r.err)
		case r.dup:
			out.Duplicates++
			h.stats.duplicates.Add(1)
		case r.id == "":
			out.Failed++
			h.stats.failed.Add(1)
		default:
			out.Deployments = append(out.Deployments, r.id)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return out, fmt.Errorf("event %s: %w", eventID, err)
	}
	return out, nil
}

// fire handles one (push, trigger) match. It returns the deployment id it
// started, dup when the claim was taken, "" and no error when the
// deployment was refused or recorded FAILED (acknowledged), and an error
// when a retry may help (the claim is then released for the retry).
func (h *Handler) fire(ctx context.Context, p Push, srv *model.ArtifactServer, t *model.Trigger) (id string, dup bool, err error) {
	key := ClaimKey(p.EventID, t.ID)
	proposed := DeploymentID(p.EventID, t.ID, h.now())
	claimed, depID, err := h.store.ClaimEventValue(ctx, key, proposed, h.claimTTL)
	if err != nil {
		return "", false, fmt.Errorf("trigger %s: %w", t.ID, err)
	}
	if !claimed {
		h.log.InfoContext(ctx, "duplicate delivery skipped", "event_id", p.EventID, "trigger_id", t.ID)
		return "", true, nil
	}
	log := h.log.With("event_id", p.EventID, "trigger_id", t.ID, "deployment_id", depID)
	release := func(cause error) (string, bool, error) {
		if rerr := h.store.ReleaseClaim(context.WithoutCancel(ctx), key); rerr != nil {
			log.ErrorContext(ctx, "release claim", "error", rerr)
		}
		return "", false, fmt.Errorf("trigger %s: %w", t.ID, cause)
	}
	settle := func(id string) (string, bool, error) {
		if cerr := h.store.CompleteClaim(context.WithoutCancel(ctx), key); cerr != nil {
			log.ErrorContext(ctx, "complete claim", "error", cerr)
		}
		if id != "" {
			h.stats.started.Add(1)
		}
		return id, false, nil
	}

	// A takeover (the stored id is not the one proposed) follows an attempt
	// that may have recorded the deployment before it died.
	if depID != proposed {
		found, err := h.finish(ctx, log, depID)
		if err != nil {
			return release(err)
		}
		if found {
			return settle(depID)
		}
	}

	req := api.DeploymentRequest{AppID: t.ApplicationID, WorkflowID: t.WorkflowID, ServiceID: t.ServiceID,
		Artifact: api.ArtifactRequest{Tag: p.Tag, Digest: p.Digest}}
	// The image must be the trigger's repository: the API refuses a service
	// that deploys another one.
	if img, err := h.image(ctx, srv, p.Repository); err == nil {
		req.Artifact.Image = img
	}
	d, err := h.creator.CreateDeployment(ctx, req, depID, model.TriggeredBy{Kind: model.TriggeredByTrigger, ID: t.ID,
		Principal: "event " + p.EventID})
	var ce *CreateError
	switch {
	case errors.As(err, &ce) && ce.Status == http.StatusConflict && ce.Detail.Code == codeAlreadyExists:
		// The id is taken: an earlier attempt recorded it after all.
		found, err := h.finish(ctx, log, depID)
		if err != nil || !found {
			return release(fmt.Errorf("deployment %s: id taken but not readable: %v", depID, err))
		}
		return settle(depID)
	case errors.As(err, &ce) && !ce.Retryable():
		log.WarnContext(ctx, "triggered deployment refused or not started", "status", ce.Status, "code", ce.Detail.Code,
			"message", ce.Detail.Message)
		return settle("")
	case err != nil:
		return release(err)
	}
	log.InfoContext(ctx, "triggered deployment started", "repository", p.Repository, "tag", p.Tag, "digest", p.Digest,
		"execution_arn", d.ExecutionARN)
	// The API's own entry names no principal (there is no caller identity
	// in process); this one says what started it. The ledger is the record,
	// not the truth: a failure is logged.
	what := p.Repository + "@" + p.Digest
	if p.Tag != "" {
		what = p.Repository + ":" + p.Tag + " (" + p.Digest + ")"
	}
	if err := h.store.AppendLedger(ctx, d.ID, model.LedgerEntry{At: h.now().UTC(), Kind: model.LedgerNote,
		Message: fmt.Sprintf("triggered by trigger %s (%s) on a push of %s, event %s", t.ID, t.Name, what, p.EventID)}); err != nil {
		log.ErrorContext(ctx, "append ledger", "error", err)
	}
	return settle(d.ID)
}

// codeAlreadyExists is the API's error code for a taken id or name.
const codeAlreadyExists = "AlreadyExists"

// finish completes what an interrupted attempt began: when the deployment
// was recorded but its start was not, it starts it. found is false when
// the deployment was never recorded.
func (h *Handler) finish(ctx context.Context, log *slog.Logger, depID string) (found bool, err error) {
	e, err := h.store.Get(ctx, model.KindDeployment, depID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get deployment %s: %w", depID, err)
	}
	d, ok := e.(*model.Deployment)
	if !ok {
		return false, fmt.Errorf("deployment %s is a %T", depID, e)
	}
	if d.ExecutionARN == "" && d.Status == model.StatusQueued {
		if err := h.resume(ctx, d); err != nil {
			return false, err
		}
		log.InfoContext(ctx, "deployment started after an interrupted attempt", "execution_arn", d.ExecutionARN)
	}
	return true, nil
}

// image is the image reference of repository on srv, as the API computes it.
func (h *Handler) image(ctx context.Context, srv *model.ArtifactServer, repository string) (string, error) {
	var cp *model.CloudProvider
	if srv.Type == model.ArtifactServerECR && srv.RegistryID == "" && srv.CloudProviderID != "" {
		e, err := h.store.Get(ctx, model.KindCloudProvider, srv.CloudProviderID)
		if err != nil {
			return "", fmt.Errorf("cloud provider of artifact server %s: %w", srv.ID, err)
		}
		cp, _ = e.(*model.CloudProvider)
	}
	return api.ImageFor(srv, cp, repository)
}

// resume starts a recorded deployment whose first attempt stopped before
// its start was recorded. The execution is named after the deployment id
// (api.SFNStarter) with an input derived from the deployment, so Step
// Functions never runs a second execution of the same deployment: it
// returns the running one, or ExecutionAlreadyExists once it closed.
func (h *Handler) resume(ctx context.Context, d *model.Deployment) error {
	arn, err := h.starter.Start(ctx, d)
	var exists *sfntypes.ExecutionAlreadyExists
	if errors.As(err, &exists) {
		// The interrupted attempt did start it, and the execution has
		// already closed (Step Functions returns the existing execution for
		// the same name and input only while it runs). Started once: done.
		h.log.InfoContext(ctx, "execution of the deployment already exists", "deployment_id", d.ID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("start deployment %s: %w", d.ID, err)
	}
	for attempt := 0; ; attempt++ {
		d.ExecutionARN = arn
		err := h.store.Update(ctx, d)
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt >= 5 {
			return fmt.Errorf("record execution of deployment %s: %w", d.ID, err)
		}
		e, gerr := h.store.Get(ctx, model.KindDeployment, d.ID)
		if gerr != nil {
			return fmt.Errorf("record execution of deployment %s: %w", d.ID, gerr)
		}
		cur, ok := e.(*model.Deployment)
		if !ok {
			return fmt.Errorf("record execution of deployment %s: store returned %T", d.ID, e)
		}
		*d = *cur
	}
}
