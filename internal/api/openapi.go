package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/ecsflow/ecsflow/internal/model"
)

// The OpenAPI document is written here by hand, operation by operation, apart
// from the routing table; TestOpenAPIMatchesRoutes fails when the two differ.
// Schemas are derived from the Go types by reflection, so they follow the
// model.

type docEntity struct {
	kind       model.Kind
	singular   string
	collection string
	item       string
	params     []string // path parameters of the collection
}

var docEntities = []docEntity{
	{model.KindApplication, "application", "/v1/applications", "/v1/applications/{appId}", nil},
	{model.KindCloudProvider, "cloud provider", "/v1/cloud-providers", "/v1/cloud-providers/{id}", nil},
	{model.KindArtifactServer, "artifact server", "/v1/artifact-servers", "/v1/artifact-servers/{id}", nil},
	{model.KindService, "service", "/v1/applications/{appId}/services", "/v1/applications/{appId}/services/{id}", []string{"appId"}},
	{model.KindEnvironment, "environment", "/v1/applications/{appId}/environments", "/v1/applications/{appId}/environments/{id}", []string{"appId"}},
	{model.KindInfrastructure, "infrastructure definition", "/v1/applications/{appId}/environments/{envId}/infrastructures",
		"/v1/applications/{appId}/environments/{envId}/infrastructures/{id}", []string{"appId", "envId"}},
	{model.KindWorkflow, "workflow", "/v1/applications/{appId}/workflows", "/v1/applications/{appId}/workflows/{id}", []string{"appId"}},
	{model.KindPipeline, "pipeline", "/v1/applications/{appId}/pipelines", "/v1/applications/{appId}/pipelines/{id}", []string{"appId"}},
	{model.KindTrigger, "trigger", "/v1/applications/{appId}/triggers", "/v1/applications/{appId}/triggers/{id}", []string{"appId"}},
}

type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func pathParam(name string) obj {
	return obj{"name": name, "in": "path", "required": true, "schema": obj{"type": "string"}}
}

func queryParam(name, desc string) obj {
	return obj{"name": name, "in": "query", "required": false, "description": desc, "schema": obj{"type": "string"}}
}

func jsonContent(schema obj) obj { return obj{"application/json": obj{"schema": schema}} }

func errResp(desc string) obj {
	return obj{"description": desc, "content": jsonContent(ref("ErrorBody"))}
}

func okResp(desc string, schema obj, withETag bool) obj {
	r := obj{"description": desc, "content": jsonContent(schema)}
	if withETag {
		r["headers"] = obj{"ETag": obj{"description": "the entity's version, quoted", "schema": obj{"type": "string"}}}
	}
	return r
}

func params(names ...string) []obj {
	out := make([]obj, 0, len(names))
	for _, n := range names {
		out = append(out, pathParam(n))
	}
	return out
}

var pageParams = []obj{
	queryParam("limit", "page size, 1-100 (default 50)"),
	queryParam("cursor", "nextCursor of the previous page"),
}

func buildOpenAPI() obj {
	paths := obj{}
	put := func(path, method string, op obj) {
		p, _ := paths[path].(obj)
		if p == nil {
			p = obj{}
			paths[path] = p
		}
		p[strings.ToLower(method)] = op
	}
	common := func(codes ...string) obj {
		r := obj{}
		for _, c := range codes {
			switch c {
			case "400":
				r[c] = errResp("invalid input; fields name the problems")
			case "404":
				r[c] = errResp("unknown id")
			case "409":
				r[c] = errResp("duplicate name, referenced entity, held lock or wrong deployment state")
			case "412":
				r[c] = errResp("If-Match is stale")
			case "413":
				r[c] = errResp("body over 1 MiB")
			case "415":
				r[c] = errResp("body is not JSON")
			case "428":
				r[c] = errResp("If-Match is required")
			}
		}
		return r
	}
	with := func(r obj, code string, v obj) obj { r[code] = v; return r }
	ifMatch := obj{"name": "If-Match", "in": "header", "schema": obj{"type": "string"},
		"description": "ETag of the version being replaced or deleted"}

	for _, d := range docEntities {
		name := string(d.kind)
		itemParams := append(params(d.params...), pathParam(lastParam(d.item)))
		put(d.collection, http.MethodGet, obj{
			"summary": "List " + d.singular + "s", "operationId": "list" + name,
			"parameters": append(params(d.params...), pageParams...),
			"responses":  with(common("400", "404"), "200", okResp("a page of "+d.singular+"s", listSchema(name), false)),
		})
		put(d.collection, http.MethodPost, obj{
			"summary": "Create a " + d.singular, "operationId": "create" + name,
			"parameters":  params(d.params...),
			"requestBody": obj{"required": true, "content": jsonContent(ref(name))},
			"responses":   with(common("400", "404", "409", "413", "415"), "201", okResp("created", ref(name), true)),
		})
		put(d.item, http.MethodGet, obj{
			"summary": "Get a " + d.singular, "operationId": "get" + name, "parameters": itemParams,
			"responses": with(common("404"), "200", okResp("the "+d.singular, ref(name), true)),
		})
		put(d.item, http.MethodPut, obj{
			"summary": "Replace a " + d.singular, "operationId": "update" + name,
			"parameters":  append(append([]obj{}, itemParams...), requiredHeader(ifMatch)),
			"requestBody": obj{"required": true, "content": jsonContent(ref(name))},
			"responses":   with(common("400", "404", "409", "412", "413", "415", "428"), "200", okResp("replaced", ref(name), true)),
		})
		put(d.item, http.MethodDelete, obj{
			"summary": "Delete a " + d.singular, "operationId": "delete" + name,
			"parameters": append(append([]obj{}, itemParams...), ifMatch),
			"responses":  with(common("404", "409", "412"), "204", obj{"description": "deleted"}),
		})
	}
	put("/v1/deployments", http.MethodGet, obj{
		"summary": "List deployments, newest first", "operationId": "listDeployments",
		"parameters": append([]obj{
			queryParam("appId", "application (required unless serviceId and envId are given)"),
			queryParam("serviceId", "service"), queryParam("envId", "environment"),
			queryParam("status", "deployment status"),
		}, pageParams...),
		"responses": with(common("400"), "200", okResp("a page of deployments", listSchema("Deployment"), false)),
	})
	put("/v1/deployments", http.MethodPost, obj{
		"summary":     "Start a deployment: validate the graph, record it QUEUED and start its execution",
		"operationId": "createDeployment",
		"requestBody": obj{"required": true, "content": jsonContent(ref("DeploymentRequest"))},
		"responses": with(with(with(common("400", "409", "413", "415"), "201", okResp("recorded and started", ref("Deployment"), true)),
			"502", errResp("recorded, but the execution did not start; the deployment is FAILED")),
			"503", errResp("recorded, but no deployment engine is connected; the deployment is FAILED")),
	})
	put("/v1/deployments/{id}", http.MethodGet, obj{
		"summary": "Get a deployment and its ledger", "operationId": "getDeployment",
		"parameters": []obj{pathParam("id"), queryParam("ledgerCursor", "ledgerNextCursor of the previous answer")},
		"responses":  with(common("400", "404"), "200", okResp("the deployment and its ledger", ref("DeploymentBody"), true)),
	})
	for _, a := range []string{"approve", "reject", "rollback", "abort"} {
		op := obj{
			"summary": strings.ToUpper(a[:1]) + a[1:] + " a deployment", "operationId": a + "Deployment",
			"parameters":  []obj{pathParam("id")},
			"requestBody": obj{"required": false, "content": jsonContent(ref("ControlRequest"))},
			"responses":   with(common("400", "404", "409", "413", "415"), "200", okResp("the deployment after the request", ref("Deployment"), true)),
		}
		if a == "rollback" {
			// internal/api/rollback.go: a deployment that has not ended is
			// rolled back in place (200); one that ended SUCCEEDED is rolled
			// back by redeploying the last known good revision before it,
			// as a new deployment (202).
			op["summary"] = "Roll a deployment back: in place while it runs (200), or, once it has ended SUCCEEDED, " +
				"by starting a new deployment of the last known good revision before it (202)"
			op["description"] = "A running deployment is rolled back in place and answered 200. For a deployment that ended " +
				"SUCCEEDED, a new deployment (triggeredBy ROLLBACK, the same workflow, the last known good artifact) is recorded, " +
				"started and answered 202 with its Location; both ledgers say so. 409 when there is nothing earlier to go back to, " +
				"the deployment ended otherwise, a later deployment of the same service exists, or it is already being rolled back."
			resp := op["responses"].(obj)
			accepted := okResp("the new deployment that rolls back by redeploying the last known good revision (QUEUED or later)", ref("Deployment"), true)
			accepted["headers"].(obj)["Location"] = obj{"description": "the new deployment: /v1/deployments/{its id}", "schema": obj{"type": "string"}}
			resp["202"] = accepted
			resp["502"] = errResp("the redeploy was recorded, but its execution did not start; it is FAILED")
			resp["503"] = errResp("the redeploy was recorded, but no deployment engine is connected; it is FAILED")
		}
		put("/v1/deployments/{id}/"+a, http.MethodPost, op)
	}
	put("/v1/openapi.json", http.MethodGet, obj{
		"summary": "This document", "operationId": "openAPI",
		"responses": obj{"200": obj{"description": "the OpenAPI 3 document", "content": jsonContent(obj{"type": "object"})}},
	})

	g := &schemaGen{schemas: obj{}}
	for _, d := range docEntities {
		e, _ := model.New(d.kind)
		g.named(reflect.TypeOf(e).Elem())
	}
	pipelineDocs(put, common, with, g)
	for _, t := range []any{model.Deployment{}, DeploymentRequest{}, ControlRequest{}, ErrorBody{}, DeploymentBody{}} {
		g.named(reflect.TypeOf(t))
	}
	return obj{
		"openapi": "3.0.3",
		"info": obj{"title": "ecsflow API", "version": "1",
			"description": "Continuous delivery for Amazon ECS. Requests are IAM-signed through API Gateway; " +
				"PUT requires If-Match; errors are {error:{code,message,fields}}."},
		"paths":      paths,
		"components": obj{"schemas": g.schemas},
	}
}

func lastParam(path string) string {
	i := strings.LastIndex(path, "{")
	return strings.TrimSuffix(path[i+1:], "}")
}

func requiredHeader(o obj) obj {
	c := make(obj, len(o)+1)
	for k, v := range o {
		c[k] = v
	}
	c["required"] = true
	return c
}

func listSchema(item string) obj {
	return obj{"type": "object", "properties": obj{
		"items":      obj{"type": "array", "items": ref(item)},
		"nextCursor": obj{"type": "string"},
	}}
}

// schemaGen derives JSON schemas from Go types by their json tags.
type schemaGen struct{ schemas obj }

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage{})
	metaType = reflect.TypeOf(model.Meta{})
)

// named registers t as a component schema and returns a reference to it.
func (g *schemaGen) named(t reflect.Type) obj {
	name := t.Name()
	if _, ok := g.schemas[name]; !ok {
		g.schemas[name] = obj{} // placeholder against recursion
		g.schemas[name] = g.structSchema(t)
	}
	return ref(name)
}

func (g *schemaGen) structSchema(t reflect.Type) obj {
	props := obj{}
	g.fields(t, props, false)
	return obj{"type": "object", "properties": props}
}

func (g *schemaGen) fields(t reflect.Type, props obj, readOnly bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			g.fields(ft, props, readOnly || ft == metaType)
			continue
		}
		if name == "" {
			name = f.Name
		}
		s := g.schema(ft)
		if readOnly {
			s = obj{"allOf": []obj{s}, "readOnly": true}
		}
		props[name] = s
	}
}

func (g *schemaGen) schema(t reflect.Type) obj {
	switch {
	case t == timeType:
		return obj{"type": "string", "format": "date-time"}
	case t == rawType:
		return obj{"description": "any JSON value"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem())
	case reflect.String:
		return obj{"type": "string"}
	case reflect.Bool:
		return obj{"type": "boolean"}
	case reflect.Int32:
		return obj{"type": "integer", "format": "int32"}
	case reflect.Int, reflect.Int64:
		return obj{"type": "integer", "format": "int64"}
	case reflect.Float32, reflect.Float64:
		return obj{"type": "number"}
	case reflect.Slice, reflect.Array:
		return obj{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return obj{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		if t.Name() != "" {
			return g.named(t)
		}
		return g.structSchema(t)
	}
	return obj{}
}

var openAPIDoc = sync.OnceValue(func() []byte {
	b, err := json.MarshalIndent(buildOpenAPI(), "", "  ")
	if err != nil {
		panic("marshal openapi document: " + err.Error()) // a programming error caught by tests
	}
	return b
})

// OpenAPI returns the API's OpenAPI 3 document as JSON.
func OpenAPI() []byte { return openAPIDoc() }

func (h *Handler) openAPI(w http.ResponseWriter, _ *http.Request) {
	b := openAPIDoc()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
