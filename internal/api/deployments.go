package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/placeholder"
	"github.com/ecsflow/ecsflow/internal/store"
)

// DeploymentRequest is the body of POST /v1/deployments. ServiceID may be
// omitted when the workflow fixes its service. The artifact needs a tag, a
// digest or an image; the image, when given, must be the one the service's
// artifact server and repository resolve to. Variables are the
// deployment's workflow variables (${workflow.variables.NAME} in the
// service's container definitions), named and sized as a pipeline
// execution's.
type DeploymentRequest struct {
	AppID      string            `json:"appId"`
	WorkflowID string            `json:"workflowId"`
	ServiceID  string            `json:"serviceId,omitempty"`
	Artifact   ArtifactRequest   `json:"artifact"`
	Variables  map[string]string `json:"variables,omitempty"`
}

// ArtifactRequest names the image to deploy.
type ArtifactRequest struct {
	Tag    string `json:"tag,omitempty"`
	Digest string `json:"digest,omitempty"`
	Image  string `json:"image,omitempty"`
}

// ControlRequest is the optional body of approve, reject, rollback and abort.
type ControlRequest struct {
	Comment string `json:"comment,omitempty"`
}

// DeploymentBody is a deployment with (the first page of) its ledger.
type DeploymentBody struct {
	*model.Deployment
	Ledger           []model.LedgerEntry `json:"ledger"`
	LedgerNextCursor string              `json:"ledgerNextCursor,omitempty"`
}

// ImageFor is the image reference (without tag or digest) that a service's
// artifact server and repository resolve to: for ECR
// <registryId>.dkr.ecr.<region>.amazonaws.com/<repository> (the registry
// defaults to the cloud provider's account), for a Docker registry
// <host>/<repository> (Docker Hub: the repository alone).
func ImageFor(srv *model.ArtifactServer, cp *model.CloudProvider, repository string) (string, error) {
	switch srv.Type {
	case model.ArtifactServerECR:
		reg := srv.RegistryID
		if reg == "" && cp != nil {
			reg = cp.AccountID
		}
		if reg == "" {
			return "", fmt.Errorf("artifact server %s has no registryId and no cloud provider account", srv.Name)
		}
		return reg + ".dkr.ecr." + srv.Region + ".amazonaws.com/" + repository, nil
	case model.ArtifactServerDockerRegistry:
		u, err := url.Parse(srv.URL)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("artifact server %s has an unusable url %q", srv.Name, srv.URL)
		}
		switch u.Hostname() {
		case "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
			return repository, nil
		}
		return u.Host + "/" + repository, nil
	}
	return "", fmt.Errorf("artifact server %s has unknown type %q", srv.Name, srv.Type)
}

// graphFor loads and checks everything a deployment request reaches, and
// returns the deployment to record. Every problem is a 400 naming its field.
func (h *Handler) graphFor(ctx context.Context, req DeploymentRequest, who string) (*model.Deployment, error) {
	var fe []model.FieldError
	bad := func(field, format string, args ...any) {
		fe = append(fe, model.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	// load answers nil (and records a field problem) when the entity is missing.
	load := func(field string, kind model.Kind, id string) (model.Entity, error) {
		if id == "" {
			bad(field, "is required")
			return nil, nil
		}
		e, err := h.get(ctx, kind, id)
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusNotFound {
			bad(field, "no %s with id %q", kind, id)
			return nil, nil
		}
		return e, err
	}
	d := &model.Deployment{
		ApplicationID: req.AppID, WorkflowID: req.WorkflowID, ServiceID: req.ServiceID,
		Status:      model.StatusQueued,
		Artifact:    model.Artifact{Tag: req.Artifact.Tag, Digest: req.Artifact.Digest, Image: req.Artifact.Image},
		TriggeredBy: model.TriggeredBy{Kind: model.TriggeredByAPI, Principal: who},
		Variables:   maps.Clone(req.Variables),
	}
	if err := d.Validate(); err != nil {
		var ve *model.ValidationError
		if !errors.As(err, &ve) {
			return nil, err
		}
		fe = append(fe, ve.Fields...)
	}
	fe = append(fe, variableProblems(req.Variables)...)
	if req.AppID != "" {
		if _, err := load("appId", model.KindApplication, req.AppID); err != nil {
			return nil, err
		}
	}
	var wf *model.Workflow
	if req.WorkflowID != "" {
		e, err := load("workflowId", model.KindWorkflow, req.WorkflowID)
		if err != nil {
			return nil, err
		}
		wf, _ = e.(*model.Workflow)
		if wf != nil && req.AppID != "" && wf.ApplicationID != req.AppID {
			bad("workflowId", "workflow %s belongs to another application", wf.ID)
			wf = nil
		}
	}
	if len(fe) > 0 || wf == nil {
		return nil, validationError(fe)
	}
	svcID := req.ServiceID
	if svcID == "" {
		svcID = wf.ServiceID
	}
	if svcID == "" {
		return nil, validationError([]model.FieldError{{Field: "serviceId", Message: "is required: workflow " + wf.Name + " does not fix a service"}})
	}
	g := model.Graph{Workflow: wf, Deployment: d}
	var err error
	var e model.Entity
	if e, err = load("serviceId", model.KindService, svcID); err != nil {
		return nil, err
	}
	g.Service, _ = e.(*model.Service)
	if g.Service != nil {
		fe = append(fe, missingVariables(g.Service, req.Variables, "deployment")...)
	}
	if e, err = load("workflow.envId", model.KindEnvironment, wf.EnvironmentID); err != nil {
		return nil, err
	}
	g.Environment, _ = e.(*model.Environment)
	if e, err = load("workflow.infraId", model.KindInfrastructure, wf.InfrastructureID); err != nil {
		return nil, err
	}
	g.Infrastructure, _ = e.(*model.InfrastructureDefinition)
	if g.Infrastructure != nil {
		if e, err = load("infrastructure.cloudProviderId", model.KindCloudProvider, g.Infrastructure.CloudProviderID); err != nil {
			return nil, err
		}
		g.CloudProvider, _ = e.(*model.CloudProvider)
	}
	var srv *model.ArtifactServer
	var srvCP *model.CloudProvider
	if g.Service != nil {
		if e, err = load("service.artifact.serverId", model.KindArtifactServer, g.Service.Artifact.ServerID); err != nil {
			return nil, err
		}
		srv, _ = e.(*model.ArtifactServer)
		if srv != nil && srv.CloudProviderID != "" {
			if e, err = load("artifactServer.cloudProviderId", model.KindCloudProvider, srv.CloudProviderID); err != nil {
				return nil, err
			}
			srvCP, _ = e.(*model.CloudProvider)
		}
	}
	if len(fe) > 0 {
		return nil, validationError(fe)
	}
	d.ServiceID = svcID
	d.EnvironmentID = wf.EnvironmentID
	d.InfrastructureID = wf.InfrastructureID
	d.Strategy = wf.Strategy.Type
	d.Artifact.ServerID = srv.ID
	d.Artifact.Repository = g.Service.Artifact.Repository
	image, err := ImageFor(srv, srvCP, g.Service.Artifact.Repository)
	if err != nil {
		bad("service.artifact.serverId", "%v", err)
	} else if req.Artifact.Image != "" && strings.TrimSpace(req.Artifact.Image) != image {
		bad("artifact.image", "the service deploys %s, not %s", image, req.Artifact.Image)
	}
	d.Artifact.Image = image
	if err := model.ValidateGraph(g); err != nil {
		var ve *model.ValidationError
		if !errors.As(err, &ve) {
			return nil, fmt.Errorf("validate deployment graph: %w", err)
		}
		fe = append(fe, ve.Fields...)
	}
	if len(fe) > 0 {
		return nil, validationError(fe)
	}
	if h.digests != nil && d.Artifact.Tag != "" && d.Artifact.Digest == "" {
		dg, err := h.digests.ResolveDigest(ctx, srv, d.Artifact.Repository, d.Artifact.Tag)
		switch {
		case errors.Is(err, ErrTagNotFound):
			return nil, validationError([]model.FieldError{{Field: "artifact.tag",
				Message: fmt.Sprintf("tag %q does not exist in repository %s", d.Artifact.Tag, d.Artifact.Repository)}})
		case err != nil:
			return nil, &apiError{status: http.StatusBadGateway, body: ErrorDetail{Code: codeArtifactUnavailable,
				Message: fmt.Sprintf("could not resolve %s:%s to a digest; try again", d.Artifact.Repository, d.Artifact.Tag)}, cause: err}
		}
		d.Artifact.Digest = dg
	}
	if wf.EffectiveConcurrency() == model.ConcurrencyReject && g.CloudProvider != nil {
		// REJECT refuses a second deployment of the service while one holds
		// its lease; the engine checks again when it takes the lease.
		key := model.LeaseKey(g.CloudProvider.AccountID, g.Infrastructure.Region, g.Infrastructure.Cluster, g.Service.Name)
		l, held, err := h.repo.GetLease(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("read lease %s: %w", key, err)
		}
		if held {
			return nil, &store.LeaseHeldError{Key: l.Key, Holder: l.Holder, Expires: l.Expires}
		}
	}
	return d, nil
}

// missingVariables names, as variables.<NAME>, each workflow variable
// (${workflow.variables.NAME}) that svc's container definitions use and
// vars lacks; what is the thing refused ("deployment"). PREPARE would fail
// the deployment on it (steps.UnresolvedError); refusing it here records
// nothing. A template that is not JSON is left to the service's validation.
func missingVariables(svc *model.Service, vars map[string]string, what string) []model.FieldError {
	missing, err := placeholder.MissingWorkflowVariables(svc.ECS.ContainerDefinitions, vars)
	if err != nil {
		return nil
	}
	out := make([]model.FieldError, 0, len(missing))
	for _, n := range missing {
		out = append(out, model.FieldError{Field: "variables." + n,
			Message: fmt.Sprintf("the task definition of service %s uses ${workflow.variables.%s} but the %s has no such variable", svc.Name, n, what)})
	}
	return out
}

// variableProblems checks a deployment's variables by the rule a pipeline
// execution's variables follow (model.PipelineExecution.Validate: a name of
// at most 64 letters, digits and '_' not starting with a digit, a value of
// at most 4096 bytes), since a pipeline stage hands its execution's
// variables to its deployment: each problem names variables.<name>.
func variableProblems(vars map[string]string) []model.FieldError {
	if len(vars) == 0 {
		return nil
	}
	err := (&model.PipelineExecution{Variables: vars}).Validate()
	var ve *model.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []model.FieldError
	for _, f := range ve.Fields {
		if strings.HasPrefix(f.Field, "variables.") {
			out = append(out, f)
		}
	}
	return out
}

func (h *Handler) createDeployment(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, err := readBody(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var req DeploymentRequest
	if err := decodeStrict(b, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	who := principal(r)
	d, err := h.graphFor(ctx, req, who)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	d.ID = model.NewID(model.KindDeployment)
	if err := h.repo.Create(ctx, d); err != nil {
		h.writeError(w, r, fmt.Errorf("record deployment: %w", err))
		return
	}
	h.ledger(ctx, d.ID, model.LedgerStatus, fmt.Sprintf("queued by %s: %s %s of %s", who, d.Strategy, d.WorkflowID, d.Artifact.Reference()))
	arn, startErr := h.starter.Start(ctx, d)
	if startErr != nil {
		reason := "start execution: " + startErr.Error()
		// The request context may be what failed; record the outcome regardless.
		saveCtx := context.WithoutCancel(ctx)
		if err := h.mutateDeployment(saveCtx, d.ID, func(cur *model.Deployment) error {
			if err := model.Transition(cur.Status, model.StatusFailed); err != nil {
				return nil // the engine already moved it on; leave it be
			}
			now := h.now().UTC()
			cur.Status, cur.Reason, cur.EndedAt = model.StatusFailed, reason, &now
			return nil
		}); err != nil {
			h.writeError(w, r, fmt.Errorf("mark deployment %s failed after %s: %w", d.ID, reason, err))
			return
		}
		h.ledger(saveCtx, d.ID, model.LedgerStatus, "FAILED: "+reason)
		switch {
		case errors.Is(startErr, store.ErrLeaseHeld):
			h.writeError(w, r, startErr)
		case errors.Is(startErr, ErrNoEngine):
			h.writeError(w, r, errorf(http.StatusServiceUnavailable, codeNoEngine,
				"deployment %s was recorded and marked FAILED: %v", d.ID, startErr))
		default:
			h.writeError(w, r, &apiError{status: http.StatusBadGateway, body: ErrorDetail{Code: codeStartFailed,
				Message: fmt.Sprintf("deployment %s was recorded and marked FAILED: its execution did not start", d.ID)}, cause: startErr})
		}
		return
	}
	// The deployment was just written (Version 1): record the execution on
	// that copy, which saves reading it back; when the engine wrote it in
	// the meantime, the update conflicts and mutateDeployment re-reads it.
	final := new(model.Deployment)
	*final = *d
	final.ExecutionARN = arn
	err = h.repo.Update(ctx, final)
	if errors.Is(err, store.ErrConflict) {
		err = h.mutateDeployment(ctx, d.ID, func(cur *model.Deployment) error {
			cur.ExecutionARN = arn
			final = cur
			return nil
		})
	}
	if err != nil {
		h.writeError(w, r, fmt.Errorf("record execution %s of deployment %s: %w", arn, d.ID, err))
		return
	}
	w.Header().Set("ETag", etag(final.Version))
	w.Header().Set("Location", "/v1/deployments/"+final.ID)
	writeJSON(w, http.StatusCreated, final)
}

// mutateDeployment applies f to the stored deployment and writes it,
// re-reading and retrying when something else (the engine) wrote in between.
func (h *Handler) mutateDeployment(ctx context.Context, id string, f func(*model.Deployment) error) error {
	return mutateDeployment(ctx, h.repo, id, f)
}

func mutateDeployment(ctx context.Context, repo Repository, id string, f func(*model.Deployment) error) error {
	for attempt := 0; ; attempt++ {
		e, err := repo.Get(ctx, model.KindDeployment, id)
		if err != nil {
			return fmt.Errorf("get deployment %s: %w", id, err)
		}
		d, ok := e.(*model.Deployment)
		if !ok {
			return fmt.Errorf("get deployment %s: store returned %T", id, e)
		}
		if err := f(d); err != nil {
			return err
		}
		err = repo.Update(ctx, d)
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return fmt.Errorf("update deployment %s: %w", id, err)
		}
		return nil
	}
}

// ledger appends one entry; a failure is logged, not fatal: the ledger is
// the record, the deployment item is the truth.
func (h *Handler) ledger(ctx context.Context, id, kind, msg string) {
	err := h.repo.AppendLedger(ctx, id, model.LedgerEntry{DeploymentID: id, At: h.now().UTC(), Kind: kind, Message: msg})
	if err != nil {
		h.log.ErrorContext(ctx, "append ledger", "request_id", requestID(ctx), "deployment_id", id, "error", err)
	}
}

func (h *Handler) listDeployments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.DeploymentFilter{AppID: q.Get("appId"), ServiceID: q.Get("serviceId"),
		EnvironmentID: q.Get("envId"), Status: model.Status(q.Get("status"))}
	if f.AppID == "" && (f.ServiceID == "" || f.EnvironmentID == "") {
		h.writeError(w, r, fieldError(http.StatusBadRequest, codeValidation, "appId",
			"is required unless both serviceId and envId are given"))
		return
	}
	if f.Status != "" && !f.Status.Valid() {
		h.writeError(w, r, fieldError(http.StatusBadRequest, codeValidation, "status", "is not a deployment status"))
		return
	}
	p, err := pageFrom(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	items, next, err := h.repo.ListDeployments(r.Context(), f, p)
	if err != nil {
		h.writeError(w, r, fmt.Errorf("list deployments: %w", err))
		return
	}
	if items == nil {
		items = []*model.Deployment{}
	}
	writeJSON(w, http.StatusOK, ListBody[*model.Deployment]{Items: items, NextCursor: next})
}

func (h *Handler) getDeployment(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	d, err := getAs[*model.Deployment](ctx, h, model.KindDeployment, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	page := store.Page{Limit: 100, Cursor: r.URL.Query().Get("ledgerCursor")}
	entries, next, err := h.repo.Ledger(ctx, id, page)
	if errors.Is(err, store.ErrBadCursor) {
		h.writeError(w, r, fieldError(http.StatusBadRequest, codeValidation, "ledgerCursor", "is not a cursor this API returned"))
		return
	}
	if err != nil {
		h.writeError(w, r, fmt.Errorf("ledger of deployment %s: %w", id, err))
		return
	}
	if entries == nil {
		entries = []model.LedgerEntry{}
	}
	w.Header().Set("ETag", etag(d.Version))
	writeJSON(w, http.StatusOK, DeploymentBody{Deployment: d, Ledger: entries, LedgerNextCursor: next})
}

// readControlRequest reads the optional body of approve, reject, rollback
// and abort, for deployments and pipeline executions alike.
func readControlRequest(w http.ResponseWriter, r *http.Request) (ControlRequest, error) {
	var req ControlRequest
	b, err := readBody(w, r)
	if err != nil {
		return req, err
	}
	if len(b) > 0 {
		if err := decodeStrict(b, &req); err != nil {
			return req, err
		}
	}
	if len(req.Comment) > 4096 {
		return req, fieldError(http.StatusBadRequest, codeValidation, "comment", "must be at most 4096 bytes")
	}
	return req, nil
}

func (h *Handler) controlDeployment(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := r.PathValue("id")
		req, err := readControlRequest(w, r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if rd, ok := h.ctrl.(RollbackRedeployer); ok && action == "rollback" {
			h.rollbackDeployment(w, r, rd, id, principal(r), req.Comment) // rollback.go
			return
		}
		if _, err := getAs[*model.Deployment](ctx, h, model.KindDeployment, id); err != nil {
			h.writeError(w, r, err)
			return
		}
		who := principal(r)
		var do func(context.Context, string, string, string) error
		switch action {
		case "approve":
			do = h.ctrl.Approve
		case "reject":
			do = h.ctrl.Reject
		case "rollback":
			do = h.ctrl.Rollback
		default:
			do = h.ctrl.Abort
		}
		if err := do(ctx, id, who, req.Comment); err != nil {
			h.writeError(w, r, fmt.Errorf("%s deployment %s: %w", action, id, err))
			return
		}
		d, err := getAs[*model.Deployment](ctx, h, model.KindDeployment, id)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		w.Header().Set("ETag", etag(d.Version))
		writeJSON(w, http.StatusOK, d)
	}
}
