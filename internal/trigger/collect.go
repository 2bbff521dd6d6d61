package trigger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// DefaultPollInterval is a Docker registry server's collection interval
// when it sets none.
const DefaultPollInterval = 5 * time.Minute

// pollSlack lets a scheduled run that comes a little early still collect a
// server whose interval equals the schedule's.
const pollSlack = 30 * time.Second

// CollectStore is what the collector needs from the store (*store.Store).
type CollectStore interface {
	List(ctx context.Context, kind model.Kind, appID string, p store.Page) ([]model.Entity, string, error)
	SeenTags(ctx context.Context, serverID, repository string) (map[string]store.SeenTag, time.Time, error)
	RecordTag(ctx context.Context, serverID, repository, tag, digest string) error
	MarkPolled(ctx context.Context, serverID, repository string) error
	PutCollectStatus(ctx context.Context, st store.CollectStatus) error
	CollectStatus(ctx context.Context, serverID string) (store.CollectStatus, bool, error)
}

var _ CollectStore = (*store.Store)(nil)

// RegistryReader lists tags and resolves digests (*Registries).
type RegistryReader interface {
	Tags(ctx context.Context, srv *model.ArtifactServer, repo string) ([]string, error)
	ResolveDigest(ctx context.Context, srv *model.ArtifactServer, repo, tag string) (string, error)
}

var _ RegistryReader = (*Registries)(nil)

// Collector polls the repositories of DOCKER_REGISTRY artifact servers that
// triggers watch, and sends each new tag down the trigger path
// (Handler.Dispatch) with a synthetic event id, so it deduplicates like an
// ECR push event.
//
// The first poll of a repository records its tag names as a baseline and
// fires nothing (its existing images are not new); so does a poll after
// more than DefaultStaleAfter without a successful one. Later polls fire for tags not
// seen before; a tag is recorded as seen only after its dispatch succeeded,
// so a failed dispatch is retried on the next poll (and deduplicated by its
// claim if it had in fact gone through). A tag moved to another digest is
// not detected (that would cost a manifest request per tag per poll).
type Collector struct {
	store      CollectStore
	registry   RegistryReader
	handler    *Handler
	log        *slog.Logger
	now        func() time.Time
	maxNew     int
	staleAfter time.Duration
}

// DefaultStaleAfter is how long a repository may go without a successful
// poll before its tags are baselined again instead of sent.
const DefaultStaleAfter = 24 * time.Hour

// WithStaleAfter sets how long a repository may go without a successful
// poll before it is baselined again (default DefaultStaleAfter).
func WithStaleAfter(d time.Duration) CollectorOption { return func(c *Collector) { c.staleAfter = d } }

// MaxNewTagsPerRun bounds the new tags one run sends per repository, so a
// burst (after an outage) cannot run a collection past its Lambda timeout;
// the rest are sent by the next runs.
const MaxNewTagsPerRun = 50

// WithMaxNewTags sets the per-repository bound of a run (default
// MaxNewTagsPerRun; at least 1).
func WithMaxNewTags(n int) CollectorOption { return func(c *Collector) { c.maxNew = max(1, n) } }

// CollectorOption configures a Collector.
type CollectorOption func(*Collector)

// WithCollectorLogger sets the logger (default slog.Default()).
func WithCollectorLogger(l *slog.Logger) CollectorOption { return func(c *Collector) { c.log = l } }

// WithCollectorClock sets the clock (default time.Now).
func WithCollectorClock(now func() time.Time) CollectorOption {
	return func(c *Collector) { c.now = now }
}

// NewCollector returns a collector that dispatches through h.
func NewCollector(st CollectStore, reg RegistryReader, h *Handler, opts ...CollectorOption) *Collector {
	c := &Collector{store: st, registry: reg, handler: h, log: slog.Default(), now: time.Now, maxNew: MaxNewTagsPerRun, staleAfter: DefaultStaleAfter}
	for _, o := range opts {
		o(c)
	}
	return c
}

// ServerReport is one server's collection.
type ServerReport struct {
	ServerID string
	Skipped  bool // not due yet
	// Repositories polled, in order.
	Repositories []string
	// NewTags are "repository:tag" sent down the trigger path.
	NewTags []string
	// Deployments started by the new tags.
	Deployments []string
	// Deferred counts new tags left for the next poll (over
	// MaxNewTagsPerRun in a repository).
	Deferred int
	// Err is the recorded error ("" when none).
	Err string
}

// CollectAll collects every DOCKER_REGISTRY server that is due. A
// registry's failure (unreachable, bad credentials) is recorded on its
// server's collection status and does not stop the others, nor fail the
// run: the schedule retries, not the invoker. Only a store failure that
// prevents listing the servers is returned.
func (c *Collector) CollectAll(ctx context.Context) ([]ServerReport, error) {
	servers, err := listAll(ctx, c.store, model.KindArtifactServer, "")
	if err != nil {
		return nil, fmt.Errorf("collect: %w", err)
	}
	watched, err := c.watched(ctx)
	if err != nil {
		return nil, fmt.Errorf("collect: %w", err)
	}
	var out []ServerReport
	for _, e := range servers {
		srv, ok := e.(*model.ArtifactServer)
		if !ok || srv.Type != model.ArtifactServerDockerRegistry {
			continue
		}
		out = append(out, c.collect(ctx, srv, watched[srv.ID], false))
	}
	return out, nil
}

// CollectServer collects one server now, due or not.
func (c *Collector) CollectServer(ctx context.Context, srv *model.ArtifactServer) (ServerReport, error) {
	if srv.Type != model.ArtifactServerDockerRegistry {
		return ServerReport{}, fmt.Errorf("collect %s: only DOCKER_REGISTRY servers are polled", srv.ID)
	}
	watched, err := c.watched(ctx)
	if err != nil {
		return ServerReport{}, fmt.Errorf("collect %s: %w", srv.ID, err)
	}
	return c.collect(ctx, srv, watched[srv.ID], true), nil
}

// watched maps each artifact server to the repositories its enabled
// triggers watch (sorted). Triggers are listed per application (GSI2); the
// store has no index of triggers by server alone.
func (c *Collector) watched(ctx context.Context) (map[string][]string, error) {
	apps, err := listAll(ctx, c.store, model.KindApplication, "")
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, a := range apps {
		trs, err := listAll(ctx, c.store, model.KindTrigger, a.GetMeta().ID)
		if err != nil {
			return nil, err
		}
		for _, e := range trs {
			t, ok := e.(*model.Trigger)
			if !ok || t.Disabled || slices.Contains(out[t.ArtifactServerID], t.Repository) {
				continue
			}
			out[t.ArtifactServerID] = append(out[t.ArtifactServerID], t.Repository)
		}
	}
	for _, r := range out {
		slices.Sort(r)
	}
	return out, nil
}

// lister is the part of the store listAll reads.
type lister interface {
	List(ctx context.Context, kind model.Kind, appID string, p store.Page) ([]model.Entity, string, error)
}

func listAll(ctx context.Context, st lister, kind model.Kind, appID string) ([]model.Entity, error) {
	var out []model.Entity
	p := store.Page{Limit: store.MaxLimit}
	for {
		items, next, err := st.List(ctx, kind, appID, p)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", kind, err)
		}
		out = append(out, items...)
		if next == "" {
			return out, nil
		}
		p.Cursor = next
	}
}

func (c *Collector) collect(ctx context.Context, srv *model.ArtifactServer, repos []string, force bool) ServerReport {
	rep := ServerReport{ServerID: srv.ID}
	log := c.log.With("artifact_server_id", srv.ID)
	now := c.now().UTC()
	prev, had, err := c.store.CollectStatus(ctx, srv.ID)
	if err != nil {
		rep.Err = err.Error()
		log.ErrorContext(ctx, "read collection status", "error", err)
		return rep
	}
	interval := DefaultPollInterval
	if srv.PollIntervalMinutes > 0 {
		interval = time.Duration(srv.PollIntervalMinutes) * time.Minute
	}
	if !force && had && now.Before(prev.LastPolledAt.Add(interval-pollSlack)) {
		rep.Skipped = true
		return rep
	}
	status := store.CollectStatus{ServerID: srv.ID, LastPolledAt: now, LastSuccessAt: prev.LastSuccessAt}
	var errs []error
	for _, repo := range repos {
		rep.Repositories = append(rep.Repositories, repo)
		if err := c.collectRepo(ctx, srv, repo, &rep); err != nil {
			errs = append(errs, err)
			log.WarnContext(ctx, "collection failed", "repository", repo, "error", err)
			if errors.Is(err, ErrCredentials) {
				break // every repository would fail the same way
			}
		}
	}
	status.NewTags = len(rep.NewTags)
	if err := errors.Join(errs...); err != nil {
		rep.Err = err.Error()
		status.LastError = rep.Err
	} else {
		end := c.now().UTC()
		status.LastSuccessAt = &end
	}
	if err := c.store.PutCollectStatus(ctx, status); err != nil {
		log.ErrorContext(ctx, "record collection status", "error", err)
	}
	return rep
}

func (c *Collector) collectRepo(ctx context.Context, srv *model.ArtifactServer, repo string, rep *ServerReport) error {
	seen, polledAt, err := c.store.SeenTags(ctx, srv.ID, repo)
	if err != nil {
		return err
	}
	tags, err := c.registry.Tags(ctx, srv, repo)
	if err != nil {
		return err
	}
	// A repository never polled, or not polled successfully for longer
	// than staleAfter (unwatched, or its registry down), is (re)baselined:
	// what appeared meanwhile is not sent, so a trigger added back, or a
	// registry back after a long outage, does not deploy old images.
	polled := !polledAt.IsZero() && c.now().Sub(polledAt) <= c.staleAfter
	sent := 0
	for _, tag := range tags {
		if _, ok := seen[tag]; ok || !tagRE.MatchString(tag) {
			continue
		}
		if !polled {
			// Baseline: the tag's name is enough (its digest is only
			// needed to deploy it), so the first poll costs one listing,
			// not a manifest request per tag.
			if err := c.store.RecordTag(ctx, srv.ID, repo, tag, ""); err != nil {
				return err
			}
			continue
		}
		if sent == c.maxNew {
			rep.Deferred++
			continue
		}
		digest, err := c.registry.ResolveDigest(ctx, srv, repo, tag)
		var nf *TagNotFoundError
		if errors.As(err, &nf) {
			continue // deleted since the listing
		}
		if err != nil {
			return err
		}
		p := Push{EventID: SyntheticEventID(srv.ID, repo, tag, digest), Time: c.now().UTC(),
			Repository: repo, Tag: tag, Digest: digest}
		out, err := c.handler.Dispatch(ctx, p, srv)
		if err != nil {
			return err
		}
		sent++
		rep.NewTags = append(rep.NewTags, repo+":"+tag)
		rep.Deployments = append(rep.Deployments, out.Deployments...)
		if err := c.store.RecordTag(ctx, srv.ID, repo, tag, digest); err != nil {
			return err
		}
	}
	return c.store.MarkPolled(ctx, srv.ID, repo)
}
