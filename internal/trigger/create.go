package trigger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
)

// Creator records a deployment and starts its execution, exactly as
// POST /v1/deployments does, with a given id and attribution.
type Creator interface {
	CreateDeployment(ctx context.Context, req api.DeploymentRequest, id string, by model.TriggeredBy) (*model.Deployment, error)
}

// CreateError is a refused or failed creation, as the API answered it.
type CreateError struct {
	Status int
	Detail api.ErrorDetail
}

func (e *CreateError) Error() string {
	return fmt.Sprintf("create deployment: %d %s: %s", e.Status, e.Detail.Code, e.Detail.Message)
}

// Retryable reports whether trying again may succeed: a server error before
// the deployment was settled. A refusal (4xx) never succeeds on retry, and
// on 502/503 the API has recorded the deployment FAILED (its execution did
// not start), which a retry must not undo.
func (e *CreateError) Retryable() bool {
	return e.Status >= 500 && e.Status != http.StatusBadGateway && e.Status != http.StatusServiceUnavailable
}

// APICreator creates deployments through internal/api's own handler, in
// process: the same validation, graph resolution (api.ImageFor), QUEUED
// record, ledger entry, Starter call and FAILED-on-start-error handling as
// POST /v1/deployments, so the two paths cannot drift apart. The handler
// mints a random id and attributes the request to the API; APICreator's
// repository sets the caller's id and TriggeredBy on the deployment as it is
// written. (An exported creation function in internal/api would make this
// detour unnecessary.)
type APICreator struct {
	h http.Handler
}

var _ Creator = (*APICreator)(nil)

// NewAPICreator returns a creator over repo (the store) and starter; opts
// configure the API handler (api.WithLogger, api.WithClock).
func NewAPICreator(repo api.Repository, starter api.Starter, opts ...api.Option) *APICreator {
	return &APICreator{h: api.New(attributing{Repository: repo}, starter, opts...)}
}

type identityKey struct{}

type identity struct {
	id string
	by model.TriggeredBy
}

// attributing is the store as the API handler sees it: a deployment created
// under a context that carries an identity gets that id and attribution.
type attributing struct{ api.Repository }

func (a attributing) Create(ctx context.Context, e model.Entity) error {
	if d, ok := e.(*model.Deployment); ok {
		if who, ok := ctx.Value(identityKey{}).(identity); ok {
			d.ID, d.TriggeredBy = who.id, who.by
		}
	}
	return a.Repository.Create(ctx, e)
}

// CreateDeployment posts req to the API handler and returns the created,
// started deployment, or a *CreateError with the API's answer.
func (c *APICreator) CreateDeployment(ctx context.Context, req api.DeploymentRequest, id string, by model.TriggeredBy) (*model.Deployment, error) {
	if id == "" {
		return nil, fmt.Errorf("create deployment: an id is required")
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode deployment request: %w", err)
	}
	ctx = context.WithValue(ctx, identityKey{}, identity{id: id, by: by})
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, "/v1/deployments", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build deployment request: %w", err)
	}
	r.Header.Set("Content-Type", "application/json")
	w := &response{header: http.Header{}}
	c.h.ServeHTTP(w, r)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.status == http.StatusCreated {
		var d model.Deployment
		if err := json.Unmarshal(w.body.Bytes(), &d); err != nil {
			return nil, fmt.Errorf("decode created deployment: %w", err)
		}
		return &d, nil
	}
	var eb api.ErrorBody
	if err := json.Unmarshal(w.body.Bytes(), &eb); err != nil || eb.Error.Code == "" {
		eb.Error = api.ErrorDetail{Code: "Unknown", Message: strings.TrimSpace(string(limit(w.body.Bytes(), 512)))}
	}
	return nil, &CreateError{Status: w.status, Detail: eb.Error}
}

func limit(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// response is a minimal in-memory http.ResponseWriter.
type response struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *response) Header() http.Header { return r.header }

func (r *response) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *response) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

var _ io.Writer = (*response)(nil)
