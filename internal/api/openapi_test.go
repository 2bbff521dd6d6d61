package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/ecsflow/ecsflow/internal/api"
)

// TestOpenAPIMatchesRoutes walks the handler's routes and the document and
// fails when either has an operation the other lacks, and checks that every
// route is really served (not answered by the router's 404 or 405).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := onMem(t)
	r := e.must(http.StatusOK, http.MethodGet, "/v1/openapi.json", nil)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
		Comps   struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.Raw, &doc); err != nil {
		t.Fatalf("document is not JSON: %v", err)
	}
	loaded, err := openapi3.NewLoader().LoadFromData(r.Raw)
	if err != nil {
		t.Fatalf("load the document as OpenAPI 3: %v", err)
	}
	if err := loaded.Validate(context.Background()); err != nil {
		t.Errorf("the document is not valid OpenAPI 3: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q, want 3.x", doc.OpenAPI)
	}
	inDoc := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			inDoc[strings.ToUpper(m)+" "+p] = true
		}
	}
	h := api.New(e.store, e.starter)
	served := map[string]bool{}
	for _, rt := range h.Routes() {
		served[rt.Method+" "+rt.Pattern] = true
	}
	for k := range served {
		if !inDoc[k] {
			t.Errorf("route %s is not in the OpenAPI document", k)
		}
	}
	for k := range inDoc {
		if !served[k] {
			t.Errorf("the OpenAPI document has %s, which is not served", k)
		}
	}
	if len(served) < 50 {
		t.Errorf("only %d routes", len(served))
	}
	// Every route is really routed: a request to it is not the router's own 404/405.
	wild := regexp.MustCompile(`\{[^}]+\}`)
	for k := range served {
		method, pattern, _ := strings.Cut(k, " ")
		path := wild.ReplaceAllString(pattern, "x-1")
		got := e.do(method, path, "{}")
		if got.code() == "NoRoute" || got.code() == "MethodNotAllowed" {
			t.Errorf("%s %s answered %d %s", method, path, got.Status, got.code())
		}
	}
	// Every schema the document references exists.
	refs := regexp.MustCompile(`"#/components/schemas/([A-Za-z]+)"`).FindAllStringSubmatch(string(r.Raw), -1)
	for _, m := range refs {
		if _, ok := doc.Comps.Schemas[m[1]]; !ok {
			t.Errorf("schema %s is referenced but not defined", m[1])
		}
	}
	for _, want := range []string{"Service", "Workflow", "Deployment", "DeploymentRequest", "ErrorBody"} {
		if _, ok := doc.Comps.Schemas[want]; !ok {
			t.Errorf("no schema %s", want)
		}
	}
	var wf struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	_ = json.Unmarshal(doc.Comps.Schemas["Workflow"], &wf)
	keys := make([]string, 0, len(wf.Properties))
	for k := range wf.Properties {
		keys = append(keys, k)
	}
	for _, want := range []string{"id", "version", "appId", "envId", "infraId", "strategy", "concurrencyPolicy"} {
		if !slices.Contains(keys, want) {
			t.Errorf("Workflow schema lacks %s: %v", want, keys)
		}
	}
}

// TestOpenAPIDocumentsTheRollbackRedeploy: POST .../rollback answers 200
// (rolled back in place) or 202 with the new deployment and its Location
// (rollback.go), and the document says both.
func TestOpenAPIDocumentsTheRollbackRedeploy(t *testing.T) {
	e := onMem(t)
	r := e.must(http.StatusOK, http.MethodGet, "/v1/openapi.json", nil)
	doc, err := openapi3.NewLoader().LoadFromData(r.Raw)
	if err != nil {
		t.Fatalf("load the document: %v", err)
	}
	op := doc.Paths.Find("/v1/deployments/{id}/rollback").Post
	if op == nil {
		t.Fatal("no POST /v1/deployments/{id}/rollback")
	}
	for code, headers := range map[int][]string{200: {"ETag"}, 202: {"ETag", "Location"}} {
		resp := op.Responses.Status(code)
		if resp == nil || resp.Value == nil {
			t.Fatalf("rollback does not document %d", code)
		}
		mt := resp.Value.Content.Get("application/json")
		if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Deployment" {
			t.Errorf("rollback %d body %+v, want a Deployment", code, mt)
		}
		for _, h := range headers {
			if _, ok := resp.Value.Headers[h]; !ok {
				t.Errorf("rollback %d documents no %s header", code, h)
			}
		}
	}
	for _, code := range []int{409, 502, 503} {
		if op.Responses.Status(code) == nil {
			t.Errorf("rollback does not document %d", code)
		}
	}
	// Only rollback starts a new deployment.
	if doc.Paths.Find("/v1/deployments/{id}/approve").Post.Responses.Status(202) != nil {
		t.Error("approve documents a 202")
	}
}

// TestOpenAPIDocumentsDeploymentVariables: the deployment request takes
// variables (a map of strings), as the handler does.
func TestOpenAPIDocumentsDeploymentVariables(t *testing.T) {
	e := onMem(t)
	r := e.must(http.StatusOK, http.MethodGet, "/v1/openapi.json", nil)
	doc, err := openapi3.NewLoader().LoadFromData(r.Raw)
	if err != nil {
		t.Fatalf("load the document: %v", err)
	}
	req := doc.Components.Schemas["DeploymentRequest"]
	if req == nil || req.Value == nil {
		t.Fatal("no DeploymentRequest schema")
	}
	v := req.Value.Properties["variables"]
	if v == nil || v.Value == nil || !v.Value.Type.Is("object") {
		t.Fatalf("DeploymentRequest.variables = %+v, want an object", v)
	}
	ap := v.Value.AdditionalProperties.Schema
	if ap == nil || ap.Value == nil || !ap.Value.Type.Is("string") {
		t.Errorf("DeploymentRequest.variables values = %+v, want strings", ap)
	}
}
