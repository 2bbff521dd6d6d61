package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/ecsflow/ecsflow/internal/model"
)

// Scope names the application and environment an entity lives under; empty
// fields for account-level kinds.
type Scope struct {
	AppID string
	EnvID string
}

// CollectionPath is the API path of kind's collection in scope.
func CollectionPath(kind model.Kind, s Scope) (string, error) {
	need := func(what, v string) error {
		if v == "" {
			return fmt.Errorf("%s needs %s", kind, what)
		}
		return nil
	}
	app := "/v1/applications/" + url.PathEscape(s.AppID)
	switch kind {
	case model.KindApplication:
		return "/v1/applications", nil
	case model.KindCloudProvider:
		return "/v1/cloud-providers", nil
	case model.KindArtifactServer:
		return "/v1/artifact-servers", nil
	case model.KindService, model.KindEnvironment, model.KindWorkflow, model.KindPipeline, model.KindTrigger:
		if err := need("an application", s.AppID); err != nil {
			return "", err
		}
		seg := map[model.Kind]string{model.KindService: "services", model.KindEnvironment: "environments",
			model.KindWorkflow: "workflows", model.KindPipeline: "pipelines", model.KindTrigger: "triggers"}[kind]
		return app + "/" + seg, nil
	case model.KindInfrastructure:
		if err := need("an application", s.AppID); err != nil {
			return "", err
		}
		if err := need("an environment", s.EnvID); err != nil {
			return "", err
		}
		return app + "/environments/" + url.PathEscape(s.EnvID) + "/infrastructures", nil
	case model.KindDeployment:
		return "/v1/deployments", nil
	}
	return "", fmt.Errorf("unknown kind %q", kind)
}

// ScopeOf is the scope an entity lives in.
func ScopeOf(e model.Entity) Scope {
	s := Scope{AppID: e.AppID()}
	if inf, ok := e.(*model.InfrastructureDefinition); ok {
		s.EnvID = inf.EnvironmentID
	}
	return s
}

type page struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor string            `json:"nextCursor"`
}

// List returns every entity of kind in scope, following cursors.
func (c *Client) List(ctx context.Context, kind model.Kind, s Scope) ([]model.Entity, error) {
	path, err := CollectionPath(kind, s)
	if err != nil {
		return nil, err
	}
	var out []model.Entity
	cursor := ""
	for {
		p := path + "?limit=100"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		var pg page
		if _, err := c.DoJSON(ctx, http.MethodGet, p, nil, nil, &pg); err != nil {
			return nil, err
		}
		for _, raw := range pg.Items {
			e, _ := model.New(kind)
			if err := json.Unmarshal(raw, e); err != nil {
				return nil, fmt.Errorf("decode %s: %w", kind, err)
			}
			out = append(out, e)
		}
		if pg.NextCursor == "" || len(pg.Items) == 0 {
			return out, nil
		}
		cursor = pg.NextCursor
	}
}

// Get returns one entity and its ETag.
func (c *Client) Get(ctx context.Context, kind model.Kind, s Scope, id string) (model.Entity, string, error) {
	path, err := CollectionPath(kind, s)
	if err != nil {
		return nil, "", err
	}
	e, _ := model.New(kind)
	r, err := c.DoJSON(ctx, http.MethodGet, path+"/"+url.PathEscape(id), nil, nil, e)
	if err != nil {
		return nil, "", err
	}
	return e, r.ETag, nil
}

// Create posts e to its collection and returns the stored entity.
func (c *Client) Create(ctx context.Context, e model.Entity) (model.Entity, error) {
	path, err := CollectionPath(e.Kind(), ScopeOf(e))
	if err != nil {
		return nil, err
	}
	out, _ := model.New(e.Kind())
	if _, err := c.DoJSON(ctx, http.MethodPost, path, e, nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Update replaces entity id with e, guarded by etag (If-Match).
func (c *Client) Update(ctx context.Context, id, etag string, e model.Entity) (model.Entity, error) {
	path, err := CollectionPath(e.Kind(), ScopeOf(e))
	if err != nil {
		return nil, err
	}
	out, _ := model.New(e.Kind())
	if _, err := c.DoJSON(ctx, http.MethodPut, path+"/"+url.PathEscape(id), e, map[string]string{"If-Match": etag}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// DeploymentRequest is the body of POST /v1/deployments.
type DeploymentRequest struct {
	AppID      string          `json:"appId"`
	WorkflowID string          `json:"workflowId"`
	ServiceID  string          `json:"serviceId,omitempty"`
	Artifact   ArtifactRequest `json:"artifact"`
}

// ArtifactRequest names the image to deploy.
type ArtifactRequest struct {
	Tag    string `json:"tag,omitempty"`
	Digest string `json:"digest,omitempty"`
	Image  string `json:"image,omitempty"`
}

// DeploymentBody is a deployment with the first page of its ledger.
type DeploymentBody struct {
	model.Deployment
	Ledger           []model.LedgerEntry `json:"ledger"`
	LedgerNextCursor string              `json:"ledgerNextCursor,omitempty"`
}

// StartDeployment starts a deployment.
func (c *Client) StartDeployment(ctx context.Context, req DeploymentRequest) (*model.Deployment, error) {
	var d model.Deployment
	if _, err := c.DoJSON(ctx, http.MethodPost, "/v1/deployments", req, nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Deployment returns a deployment with its whole ledger (every page).
func (c *Client) Deployment(ctx context.Context, id string) (*DeploymentBody, error) {
	var out DeploymentBody
	path := "/v1/deployments/" + url.PathEscape(id)
	if _, err := c.DoJSON(ctx, http.MethodGet, path, nil, nil, &out); err != nil {
		return nil, err
	}
	for next := out.LedgerNextCursor; next != ""; {
		var more DeploymentBody
		if _, err := c.DoJSON(ctx, http.MethodGet, path+"?ledgerCursor="+url.QueryEscape(next), nil, nil, &more); err != nil {
			return nil, err
		}
		out.Ledger = append(out.Ledger, more.Ledger...)
		if len(more.Ledger) == 0 {
			break
		}
		next = more.LedgerNextCursor
	}
	out.LedgerNextCursor = ""
	return &out, nil
}

// DeploymentFilter selects deployments (appId, or serviceId and envId).
type DeploymentFilter struct {
	AppID, ServiceID, EnvID string
	Status                  model.Status
	Limit                   int
}

// Deployments lists deployments, newest first (one page of at most Limit, default 100).
func (c *Client) Deployments(ctx context.Context, f DeploymentFilter) ([]*model.Deployment, error) {
	q := url.Values{}
	for k, v := range map[string]string{"appId": f.AppID, "serviceId": f.ServiceID, "envId": f.EnvID, "status": string(f.Status)} {
		if v != "" {
			q.Set(k, v)
		}
	}
	limit := f.Limit
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	q.Set("limit", fmt.Sprint(limit))
	var pg struct {
		Items []*model.Deployment `json:"items"`
	}
	if _, err := c.DoJSON(ctx, http.MethodGet, "/v1/deployments?"+q.Encode(), nil, nil, &pg); err != nil {
		return nil, err
	}
	return pg.Items, nil
}

// Control sends approve, reject, rollback or abort with an optional comment.
func (c *Client) Control(ctx context.Context, id, action, comment string) (*model.Deployment, error) {
	switch action {
	case "approve", "reject", "rollback", "abort":
	default:
		return nil, fmt.Errorf("unknown deployment action %q", action)
	}
	var body any
	if comment != "" {
		body = map[string]string{"comment": comment}
	}
	var d model.Deployment
	if _, err := c.DoJSON(ctx, http.MethodPost, "/v1/deployments/"+url.PathEscape(id)+"/"+action, body, nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}
