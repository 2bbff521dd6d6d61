package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/ecsflow/ecsflow/internal/model"
)

// scope says what an entity's collection hangs under.
type scope int

const (
	scopeAccount scope = iota // /v1/<kind>s
	scopeApp                  // /v1/applications/{appId}/<kind>s
	scopeEnv                  // /v1/applications/{appId}/environments/{envId}/<kind>s
)

// resource is one entity kind's CRUD routes.
type resource struct {
	kind       model.Kind
	collection string // collection path pattern
	idParam    string // wildcard naming the entity in item paths
	scope      scope
}

func (r resource) item() string { return r.collection + "/{" + r.idParam + "}" }

var resources = []resource{
	{model.KindApplication, "/v1/applications", "appId", scopeAccount},
	{model.KindCloudProvider, "/v1/cloud-providers", "id", scopeAccount},
	{model.KindArtifactServer, "/v1/artifact-servers", "id", scopeAccount},
	{model.KindService, "/v1/applications/{appId}/services", "id", scopeApp},
	{model.KindEnvironment, "/v1/applications/{appId}/environments", "id", scopeApp},
	{model.KindInfrastructure, "/v1/applications/{appId}/environments/{envId}/infrastructures", "id", scopeEnv},
	{model.KindWorkflow, "/v1/applications/{appId}/workflows", "id", scopeApp},
	{model.KindPipeline, "/v1/applications/{appId}/pipelines", "id", scopeApp},
	{model.KindTrigger, "/v1/applications/{appId}/triggers", "id", scopeApp},
}

// Route is one method and path pattern the API serves.
type Route struct {
	Method  string
	Pattern string
}

type route struct {
	Route
	handle http.HandlerFunc
}

// Deployment actions, POST /v1/deployments/{id}/<action>.
var actions = []string{"approve", "reject", "rollback", "abort"}

func (h *Handler) routes() []route {
	var out []route
	add := func(method, pattern string, f http.HandlerFunc) {
		out = append(out, route{Route{method, pattern}, f})
	}
	for _, res := range resources {
		add(http.MethodGet, res.collection, h.listEntities(res))
		add(http.MethodPost, res.collection, h.createEntity(res))
		add(http.MethodGet, res.item(), h.getEntity(res))
		add(http.MethodPut, res.item(), h.updateEntity(res))
		add(http.MethodDelete, res.item(), h.deleteEntity(res))
	}
	add(http.MethodGet, "/v1/deployments", h.listDeployments)
	add(http.MethodPost, "/v1/deployments", h.createDeployment)
	add(http.MethodGet, "/v1/deployments/{id}", h.getDeployment)
	for _, a := range actions {
		add(http.MethodPost, "/v1/deployments/{id}/"+a, h.controlDeployment(a))
	}
	h.pipelineRoutes(add)
	add(http.MethodGet, "/v1/openapi.json", h.openAPI)
	return out
}

// Routes lists every method and pattern the handler serves, in registration order.
func (h *Handler) Routes() []Route {
	rs := h.routes()
	out := make([]Route, len(rs))
	for i, r := range rs {
		out[i] = r.Route
	}
	return out
}

// register installs every route, a JSON 405 (with Allow) for a known path
// with another method, and a JSON 404 for everything else.
func (h *Handler) register() {
	allowed := map[string][]string{}
	var order []string
	for _, r := range h.routes() {
		h.mux.Handle(r.Method+" "+r.Pattern, r.handle)
		if _, ok := allowed[r.Pattern]; !ok {
			order = append(order, r.Pattern)
		}
		allowed[r.Pattern] = append(allowed[r.Pattern], r.Method)
	}
	for _, p := range order {
		methods := allowed[p]
		if slices.Contains(methods, http.MethodGet) {
			methods = append(methods, http.MethodHead)
		}
		allow := strings.Join(methods, ", ")
		h.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			h.writeError(w, r, errorf(http.StatusMethodNotAllowed, codeMethodNotAllowed,
				"%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow))
		})
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, errorf(http.StatusNotFound, codeNoRoute, "no route for %s %s", r.Method, r.URL.Path))
	})
}
