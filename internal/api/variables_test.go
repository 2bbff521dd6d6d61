package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
)

// varsTemplate uses two workflow variables: TAG in the image and RELEASE in
// the environment.
const varsTemplate = `[{"name":"web","image":"${artifact.image}","essential":true,` +
	`"portMappings":[{"containerPort":8080}],"environment":[{"name":"TAG","value":"${workflow.variables.TAG}"},` +
	`{"name":"RELEASE","value":"r-${workflow.variables.RELEASE}"}]}]`

// seedVarsService adds the service "webvars" whose template is varsTemplate.
func seedVarsService(e *env, g graph) string {
	e.t.Helper()
	s := modeltest.Service(g.app, g.as)
	s.Name = "webvars"
	s.ECS.ContainerDefinitions = json.RawMessage(varsTemplate)
	return e.create(g.appPath()+"/services", s)
}

// TestDeploymentMissingWorkflowVariable: a deployment whose service's
// template uses a workflow variable it does not give is refused with 400
// naming variables.<NAME>, and nothing is recorded or started.
func TestDeploymentMissingWorkflowVariable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		g := e.seed()
		svc := seedVarsService(e, g)
		tests := []struct {
			name       string
			vars       map[string]any
			wantFields []string
		}{
			{name: "none given", wantFields: []string{"variables.RELEASE", "variables.TAG"}},
			{name: "one given", vars: map[string]any{"TAG": "v1"}, wantFields: []string{"variables.RELEASE"}},
			{name: "others given", vars: map[string]any{"tag": "v1", "OTHER": "x", "RELEASE": "7"}, wantFields: []string{"variables.TAG"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				req := deployReq(g, g.rolling, map[string]any{"tag": "v1"})
				req["serviceId"] = svc
				if tc.vars != nil {
					req = withVars(req, tc.vars)
				}
				r := e.must(http.StatusBadRequest, http.MethodPost, "/v1/deployments", req)
				fields := r.fields()
				if len(fields) != len(tc.wantFields) {
					t.Errorf("fields %v, want exactly %v", fields, tc.wantFields)
				}
				for _, f := range tc.wantFields {
					name := strings.TrimPrefix(f, "variables.")
					msg, ok := fields[f]
					want := "the task definition of service webvars uses ${workflow.variables." + name + "} but the deployment has no such variable"
					if !ok || !strings.Contains(msg, want) {
						t.Errorf("field %s = %q (present %v), want it to say %q", f, msg, ok, want)
					}
				}
			})
		}
		if n := len(e.starter.started); n != 0 {
			t.Errorf("starter got %d deployments, want none", n)
		}
		l := e.must(http.StatusOK, http.MethodGet, "/v1/deployments?appId="+g.app, nil)
		if items := l.items(); len(items) != 0 {
			t.Fatalf("refused deployments were recorded: %s", l.Raw)
		}

		// With every variable it is created and they reach the engine.
		req := withVars(deployReq(g, g.rolling, map[string]any{"tag": "v1"}), map[string]any{"TAG": "v1", "RELEASE": ""})
		req["serviceId"] = svc
		r := e.must(http.StatusCreated, http.MethodPost, "/v1/deployments", req)
		if r.str("serviceId") != svc || len(e.starter.started) != 1 || e.starter.started[0].Variables["TAG"] != "v1" {
			t.Fatalf("created %s; engine got %d deployments", r.Raw, len(e.starter.started))
		}
	})
}

// TestPipelineMissingWorkflowVariable: a pipeline execution whose request
// service (deployed by its workflow stages that name none) uses a workflow
// variable the request does not give is refused with 400 naming it, and
// nothing is recorded or started.
func TestPipelineMissingWorkflowVariable(t *testing.T) {
	e := onMem(t)
	g := e.seed()
	svc := seedVarsService(e, g)
	f := &fakePipelines{}
	eng := *e
	eng.srv = newServer(t, api.New(e.store, e.starter, api.WithPipelines(f, f)))
	path := "/v1/pipelines/" + g.pipeline + "/executions"
	r := eng.must(http.StatusBadRequest, http.MethodPost, path,
		map[string]any{"artifact": map[string]any{"tag": "v1"}, "serviceId": svc, "variables": map[string]string{"TAG": "v1"}})
	want := "the task definition of service webvars uses ${workflow.variables.RELEASE} but the pipeline execution has no such variable"
	if fields := r.fields(); len(fields) != 1 || !strings.Contains(fields["variables.RELEASE"], want) {
		t.Fatalf("fields %v, want only variables.RELEASE saying %q", fields, want)
	}
	if len(f.started) != 0 {
		t.Fatalf("engine started %v, want nothing", f.started)
	}
	if l := eng.must(http.StatusOK, http.MethodGet, path, nil); len(l.items()) != 0 {
		t.Fatalf("refused start recorded executions: %s", l.Raw)
	}
	// With both it starts.
	eng.must(http.StatusCreated, http.MethodPost, path,
		map[string]any{"artifact": map[string]any{"tag": "v1"}, "serviceId": svc, "variables": map[string]string{"TAG": "v1", "RELEASE": "2"}})
	if len(f.started) != 1 {
		t.Fatalf("engine started %v, want one", f.started)
	}
}
