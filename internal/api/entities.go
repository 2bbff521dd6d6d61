package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/store"
)

// ListBody is a page of a collection.
type ListBody[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
}

func notFound(kind model.Kind, id string) *apiError {
	return errorf(http.StatusNotFound, codeNotFound, "%s %s not found", kind, id)
}

// get loads an entity of kind, answering 404 for an ID of another kind.
func (h *Handler) get(ctx context.Context, kind model.Kind, id string) (model.Entity, error) {
	if k, ok := model.KindOfID(id); !ok || k != kind {
		return nil, notFound(kind, id)
	}
	e, err := h.repo.Get(ctx, kind, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound(kind, id)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", kind, id, err)
	}
	return e, nil
}

// getAs loads an entity and asserts its Go type.
func getAs[T model.Entity](ctx context.Context, h *Handler, kind model.Kind, id string) (T, error) {
	var zero T
	e, err := h.get(ctx, kind, id)
	if err != nil {
		return zero, err
	}
	t, ok := e.(T)
	if !ok {
		return zero, fmt.Errorf("get %s %s: store returned %T", kind, id, e)
	}
	return t, nil
}

func pageFrom(r *http.Request) (store.Page, error) {
	q := r.URL.Query()
	p := store.Page{Cursor: q.Get("cursor")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			return p, fieldError(http.StatusBadRequest, codeValidation, "limit", "must be a number from 1 to 100")
		}
		p.Limit = int32(n)
	}
	return p, nil
}

// checkScope answers 404 unless the application (and environment) in the
// path exist and belong together.
func (h *Handler) checkScope(ctx context.Context, res resource, r *http.Request) (appID, envID string, err error) {
	if res.scope == scopeAccount {
		return "", "", nil
	}
	appID = r.PathValue("appId")
	if _, err := h.get(ctx, model.KindApplication, appID); err != nil {
		return "", "", err
	}
	if res.scope == scopeEnv {
		envID = r.PathValue("envId")
		env, err := h.get(ctx, model.KindEnvironment, envID)
		if err != nil {
			return "", "", err
		}
		if env.AppID() != appID {
			return "", "", notFound(model.KindEnvironment, envID)
		}
	}
	return appID, envID, nil
}

// belongs reports whether e sits under the path's application and environment.
func belongs(e model.Entity, res resource, appID, envID string) bool {
	if res.scope == scopeAccount {
		return true
	}
	if e.AppID() != appID {
		return false
	}
	if res.scope == scopeEnv {
		inf, ok := e.(*model.InfrastructureDefinition)
		return ok && inf.EnvironmentID == envID
	}
	return true
}

// loadScoped loads the entity named in the path and checks it belongs there.
func (h *Handler) loadScoped(ctx context.Context, res resource, r *http.Request) (model.Entity, error) {
	id := r.PathValue(res.idParam)
	e, err := h.get(ctx, res.kind, id)
	if err != nil {
		return nil, err
	}
	if !belongs(e, res, r.PathValue("appId"), r.PathValue("envId")) {
		return nil, notFound(res.kind, id)
	}
	return e, nil
}

// setScope fills the body's appId (and envId) from the path, refusing a
// different one.
func setScope(e model.Entity, res resource, appID, envID string) []model.FieldError {
	if res.scope == scopeAccount {
		return nil
	}
	var fe []model.FieldError
	fill := func(field string, v *string, want string) {
		switch *v {
		case "":
			*v = want
		case want:
		default:
			fe = append(fe, model.FieldError{Field: field, Message: fmt.Sprintf("is %q but the path names %q", *v, want)})
		}
	}
	switch t := e.(type) {
	case *model.Service:
		fill("appId", &t.ApplicationID, appID)
	case *model.Environment:
		fill("appId", &t.ApplicationID, appID)
	case *model.InfrastructureDefinition:
		fill("appId", &t.ApplicationID, appID)
		fill("envId", &t.EnvironmentID, envID)
	case *model.Workflow:
		fill("appId", &t.ApplicationID, appID)
	case *model.Pipeline:
		fill("appId", &t.ApplicationID, appID)
	case *model.Trigger:
		fill("appId", &t.ApplicationID, appID)
	}
	return fe
}

// appScoped kinds live in one application; a reference to one must stay in
// the referrer's application.
var appScoped = map[model.Kind]bool{
	model.KindService: true, model.KindEnvironment: true, model.KindInfrastructure: true,
	model.KindWorkflow: true, model.KindPipeline: true, model.KindTrigger: true,
}

// checkRefs checks, beyond the entity's own validation, that every entity it
// references exists and that app-scoped ones are in its application, and
// that a workflow can deploy (model.ValidateGraph). All problems at once.
func (h *Handler) checkRefs(ctx context.Context, e model.Entity) error {
	var fe []model.FieldError
	loaded := map[string]model.Entity{}
	for _, ref := range e.References() {
		if ref.Kind == model.KindApplication {
			continue // the path's application, already checked
		}
		got, err := h.get(ctx, ref.Kind, ref.ID)
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusNotFound {
			fe = append(fe, model.FieldError{Field: ref.Field, Message: fmt.Sprintf("no %s with id %q", ref.Kind, ref.ID)})
			continue
		}
		if err != nil {
			return err
		}
		if appScoped[ref.Kind] && got.AppID() != e.AppID() {
			fe = append(fe, model.FieldError{Field: ref.Field, Message: fmt.Sprintf("%s %s belongs to another application", ref.Kind, ref.ID)})
			continue
		}
		loaded[ref.ID] = got
	}
	if len(fe) > 0 {
		return validationError(fe)
	}
	w, ok := e.(*model.Workflow)
	if !ok {
		return nil
	}
	g := model.Graph{Workflow: w}
	g.Environment, _ = loaded[w.EnvironmentID].(*model.Environment)
	g.Infrastructure, _ = loaded[w.InfrastructureID].(*model.InfrastructureDefinition)
	if w.ServiceID != "" {
		g.Service, _ = loaded[w.ServiceID].(*model.Service)
	}
	if g.Infrastructure != nil {
		cp, err := h.get(ctx, model.KindCloudProvider, g.Infrastructure.CloudProviderID)
		if err == nil {
			g.CloudProvider, _ = cp.(*model.CloudProvider)
		} else if ae := toAPIError(err); ae.status != http.StatusNotFound {
			return err
		}
	}
	if err := model.ValidateGraph(g); err != nil {
		return fmt.Errorf("validate workflow graph: %w", err)
	}
	return nil
}

func (h *Handler) listEntities(res resource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		appID, envID, err := h.checkScope(ctx, res, r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		p, err := pageFrom(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		items, next, err := h.repo.List(ctx, res.kind, appID, p)
		if err != nil {
			h.writeError(w, r, fmt.Errorf("list %s: %w", res.kind, err))
			return
		}
		out := ListBody[model.Entity]{Items: make([]model.Entity, 0, len(items)), NextCursor: next}
		for _, e := range items {
			if belongs(e, res, appID, envID) {
				out.Items = append(out.Items, e)
			}
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// decodeEntity decodes and checks a create or update body.
func (h *Handler) decodeEntity(ctx context.Context, w http.ResponseWriter, r *http.Request, res resource, appID, envID string) (model.Entity, error) {
	b, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	e, _ := model.New(res.kind)
	if err := decodeStrict(b, e); err != nil {
		return nil, err
	}
	*e.GetMeta() = model.Meta{} // server-managed
	if fe := setScope(e, res, appID, envID); len(fe) > 0 {
		return nil, validationError(fe)
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if err := h.checkRefs(ctx, e); err != nil {
		return nil, err
	}
	return e, nil
}

func (h *Handler) createEntity(res resource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		appID, envID, err := h.checkScope(ctx, res, r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		e, err := h.decodeEntity(ctx, w, r, res, appID, envID)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if err := h.repo.Create(ctx, e); err != nil {
			h.writeError(w, r, fmt.Errorf("create %s: %w", res.kind, err))
			return
		}
		m := e.GetMeta()
		w.Header().Set("ETag", etag(m.Version))
		w.Header().Set("Location", r.URL.Path+"/"+m.ID)
		writeJSON(w, http.StatusCreated, e)
	}
}

func (h *Handler) getEntity(res resource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		e, err := h.loadScoped(r.Context(), res, r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		w.Header().Set("ETag", etag(e.GetMeta().Version))
		writeJSON(w, http.StatusOK, e)
	}
}

func (h *Handler) updateEntity(res resource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		version, present, anyVersion, err := ifMatch(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if !present {
			h.writeError(w, r, errorf(http.StatusPreconditionRequired, codePreconditionRequired,
				"PUT needs If-Match with the ETag of the version you are replacing (GET it first)"))
			return
		}
		cur, err := h.loadScoped(ctx, res, r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if anyVersion {
			version = cur.GetMeta().Version
		}
		if cur.GetMeta().Version != version {
			h.writeError(w, r, errorf(http.StatusPreconditionFailed, codePreconditionFailed,
				"If-Match %s is stale: the entity is at version %d; GET it again and retry", etag(version), cur.GetMeta().Version))
			return
		}
		e, err := h.decodeEntity(ctx, w, r, res, r.PathValue("appId"), r.PathValue("envId"))
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		m := e.GetMeta()
		m.ID = cur.GetMeta().ID
		m.Version = version
		m.CreatedAt = cur.GetMeta().CreatedAt
		m.UpdatedAt = cur.GetMeta().UpdatedAt
		if err := h.checkDependents(ctx, e); err != nil {
			h.writeError(w, r, err)
			return
		}
		if err := h.repo.Update(ctx, e); err != nil {
			h.writeError(w, r, fmt.Errorf("update %s %s: %w", res.kind, m.ID, err))
			return
		}
		w.Header().Set("ETag", etag(m.Version))
		writeJSON(w, http.StatusOK, e)
	}
}

func (h *Handler) deleteEntity(res resource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		version, present, anyVersion, err := ifMatch(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		cur, err := h.loadScoped(ctx, res, r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if !present || anyVersion {
			version = 0
		} else if cur.GetMeta().Version != version {
			h.writeError(w, r, errorf(http.StatusPreconditionFailed, codePreconditionFailed,
				"If-Match %s is stale: the entity is at version %d", etag(version), cur.GetMeta().Version))
			return
		}
		if err := h.repo.Delete(ctx, res.kind, cur.GetMeta().ID, version); err != nil {
			h.writeError(w, r, fmt.Errorf("delete %s %s: %w", res.kind, cur.GetMeta().ID, err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// checkDependents refuses an update of an infrastructure definition or a
// service that would leave a workflow using it unable to deploy (for
// example removing the target groups a blue/green workflow needs). Each
// problem names the field of the entity being updated and the workflow.
func (h *Handler) checkDependents(ctx context.Context, e model.Entity) error {
	var uses func(*model.Workflow) bool
	switch t := e.(type) {
	case *model.InfrastructureDefinition:
		uses = func(w *model.Workflow) bool { return w.InfrastructureID == t.ID }
	case *model.Service:
		uses = func(w *model.Workflow) bool { return w.ServiceID == t.ID }
	default:
		return nil
	}
	var fe []model.FieldError
	page := store.Page{Limit: 100}
	for {
		items, next, err := h.repo.List(ctx, model.KindWorkflow, e.AppID(), page)
		if err != nil {
			return fmt.Errorf("list workflows of %s: %w", e.AppID(), err)
		}
		for _, it := range items {
			w, ok := it.(*model.Workflow)
			if !ok || !uses(w) {
				continue
			}
			g, err := h.workflowGraph(ctx, w, e)
			if err != nil {
				return err
			}
			var ve *model.ValidationError
			if err := model.ValidateGraph(g); errors.As(err, &ve) {
				for _, f := range ve.Fields {
					fe = append(fe, model.FieldError{Field: dependentField(e, f.Field),
						Message: fmt.Sprintf("workflow %s (%s) needs it: %s", w.Name, w.ID, f.Message)})
				}
			}
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	if len(fe) > 0 {
		return validationError(fe)
	}
	return nil
}

// dependentField turns a graph field ("infrastructure.loadBalancing...")
// into a field of the entity being updated when it blames that entity.
func dependentField(e model.Entity, field string) string {
	prefix := "infrastructure."
	if e.Kind() == model.KindService {
		prefix = "service."
	}
	if rest, ok := strings.CutPrefix(field, prefix); ok {
		return rest
	}
	return field
}

// workflowGraph loads w's graph, with replacement standing in for the stored
// entity of the same ID.
func (h *Handler) workflowGraph(ctx context.Context, w *model.Workflow, replacement model.Entity) (model.Graph, error) {
	load := func(kind model.Kind, id string) (model.Entity, error) {
		if id == "" {
			return nil, nil
		}
		if replacement.GetMeta().ID == id {
			return replacement, nil
		}
		got, err := h.get(ctx, kind, id)
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusNotFound {
			return nil, nil
		}
		return got, err
	}
	g := model.Graph{Workflow: w}
	var err error
	var e model.Entity
	if e, err = load(model.KindEnvironment, w.EnvironmentID); err != nil {
		return g, err
	}
	g.Environment, _ = e.(*model.Environment)
	if e, err = load(model.KindInfrastructure, w.InfrastructureID); err != nil {
		return g, err
	}
	g.Infrastructure, _ = e.(*model.InfrastructureDefinition)
	if e, err = load(model.KindService, w.ServiceID); err != nil {
		return g, err
	}
	g.Service, _ = e.(*model.Service)
	if g.Infrastructure != nil {
		if e, err = load(model.KindCloudProvider, g.Infrastructure.CloudProviderID); err != nil {
			return g, err
		}
		g.CloudProvider, _ = e.(*model.CloudProvider)
	}
	return g, nil
}
