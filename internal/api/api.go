// Package api is ecsflow's REST API: one http.Handler, served in Lambda
// through the API Gateway HTTP API (payload v2) adapter and served directly by
// `ecsflow local`.
//
// Conventions:
//
//   - POST on a collection creates and answers 201 with the entity, a
//     Location and an ETag, the entity's version in quotes ("3").
//   - GET answers the entity with its ETag.
//   - PUT replaces the entity and REQUIRES If-Match with the version the
//     client last saw: without it the answer is 428 Precondition Required, a
//     stale one gets 412. This makes every update an optimistic write; there
//     is no unconditional overwrite. The body's id, version, createdAt and
//     updatedAt are server-managed and ignored.
//   - DELETE answers 204; If-Match is optional on DELETE and, when sent, must
//     match (412 otherwise).
//   - Bodies are JSON (Content-Type application/json, else 415), at most
//     1 MiB (413), decoded strictly: unknown fields, trailing data and wrong
//     types are 400 naming the field.
//   - Errors are {"error":{"code","message","fields":[{"field","message"}]}}.
//   - Entities under /v1/applications/{appId} must belong to that
//     application (and infrastructures to {envId}), else 404. A body's appId
//     (and envId) may be omitted and is then taken from the path; a different
//     one is 400.
//   - Lists answer {"items":[...],"nextCursor":"..."} and take limit (1-100)
//     and cursor. A page of infrastructures is filtered to the environment
//     in the path, so a page may hold fewer items than the limit while
//     nextCursor is still set.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// Repository is what the API needs from the store (*store.Store implements it).
type Repository interface {
	Create(ctx context.Context, e model.Entity) error
	Get(ctx context.Context, kind model.Kind, id string) (model.Entity, error)
	Update(ctx context.Context, e model.Entity) error
	Delete(ctx context.Context, kind model.Kind, id string, expectedVersion int64) error
	List(ctx context.Context, kind model.Kind, appID string, p store.Page) ([]model.Entity, string, error)
	ListDeployments(ctx context.Context, f store.DeploymentFilter, p store.Page) ([]*model.Deployment, string, error)
	AppendLedger(ctx context.Context, deploymentID string, entries ...model.LedgerEntry) error
	Ledger(ctx context.Context, deploymentID string, p store.Page) ([]model.LedgerEntry, string, error)
	GetLease(ctx context.Context, key string) (store.Lease, bool, error)
}

// Starter starts the execution that carries a recorded deployment out.
type Starter interface {
	Start(ctx context.Context, d *model.Deployment) (executionARN string, err error)
}

// Controller acts on a running deployment on a user's request. The engine
// implements it; RecordingController stands in until it does.
type Controller interface {
	Approve(ctx context.Context, id, principal, comment string) error
	Reject(ctx context.Context, id, principal, comment string) error
	Rollback(ctx context.Context, id, principal, comment string) error
	Abort(ctx context.Context, id, principal, comment string) error
}

// MaxBodyBytes is the largest request body accepted (413 above).
const MaxBodyBytes = 1 << 20

// Handler serves the REST API.
type Handler struct {
	repo    Repository
	starter Starter
	ctrl    Controller
	digests DigestResolver
	pipes   pipelineDeps
	log     *slog.Logger
	now     func() time.Time
	mux     *http.ServeMux
	root    http.Handler
}

// Option configures a Handler.
type Option func(*Handler)

// WithLogger sets the logger for the access log and internal errors
// (default: slog JSON on stderr).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithClock sets the clock used for ledger entries and deployment times.
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// WithController sets the deployment controller (default: a
// RecordingController on the same repository).
func WithController(c Controller) Option { return func(h *Handler) { h.ctrl = c } }

// DigestResolver pins a tag to the digest it points at now (ECR
// DescribeImages or a registry manifest). An error that Is ErrTagNotFound
// means the tag does not exist.
type DigestResolver interface {
	ResolveDigest(ctx context.Context, srv *model.ArtifactServer, repository, tag string) (string, error)
}

// ErrTagNotFound is what a DigestResolver's error Is when the tag does not exist.
var ErrTagNotFound = errors.New("tag not found")

// WithDigestResolver makes POST /v1/deployments pin a requested tag to its
// digest, and refuse a tag that does not exist with 400 naming it. Without
// one, a tag is deployed as given.
func WithDigestResolver(r DigestResolver) Option { return func(h *Handler) { h.digests = r } }

// New returns the API handler. starter starts deployments' executions.
func New(repo Repository, starter Starter, opts ...Option) *Handler {
	h := &Handler{repo: repo, starter: starter, now: time.Now}
	for _, o := range opts {
		o(h)
	}
	if h.log == nil {
		h.log = slog.New(slog.NewJSONHandler(logOutput, nil))
	}
	if h.ctrl == nil {
		h.ctrl = NewRecordingController(repo, WithControllerClock(h.now))
	}
	h.mux = http.NewServeMux()
	h.register()
	h.root = h.accessLog(h.mux)
	return h
}

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.root.ServeHTTP(w, r) }
