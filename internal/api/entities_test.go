package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ecsflow/ecsflow/internal/model/modeltest"
)

type item struct{ label, collection, id string }

func (g graph) items() []item {
	ap := g.appPath()
	return []item{
		{"cloud provider", "/v1/cloud-providers", g.cp},
		{"artifact server", "/v1/artifact-servers", g.as},
		{"application", "/v1/applications", g.app},
		{"service", ap + "/services", g.svc},
		{"environment", ap + "/environments", g.env},
		{"infrastructure", ap + "/environments/" + g.env + "/infrastructures", g.infra},
		{"rolling workflow", ap + "/workflows", g.rolling},
		{"canary workflow", ap + "/workflows", g.canary},
		{"blue/green workflow", ap + "/workflows", g.bluegreen},
		{"pipeline", ap + "/pipelines", g.pipeline},
		{"trigger", ap + "/triggers", g.trigger},
	}
}

func TestEntityLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		g := e.seed()
		for _, it := range g.items() {
			path := it.collection + "/" + it.id
			got := e.must(http.StatusOK, http.MethodGet, path, nil)
			if et := got.Header.Get("ETag"); et != `"1"` {
				t.Errorf("GET %s: ETag %q, want \"1\"", it.label, et)
			}
			if got.str("id") != it.id {
				t.Errorf("GET %s: id %q, want %q", it.label, got.str("id"), it.id)
			}
			list := e.must(http.StatusOK, http.MethodGet, it.collection, nil)
			if !slices.ContainsFunc(list.items(), func(m map[string]any) bool { return m["id"] == it.id }) {
				t.Errorf("GET %s: %s missing from the list %s", it.collection, it.id, list.Raw)
			}
			// Rename through PUT: the body is the GET answer, edited.
			upd := got.Body
			newName := upd["name"].(string) + "-renamed"
			upd["name"] = newName
			put := e.must(http.StatusOK, http.MethodPut, path, upd, "If-Match", `"1"`)
			if et := put.Header.Get("ETag"); et != `"2"` {
				t.Errorf("PUT %s: ETag %q, want \"2\"", it.label, et)
			}
			again := e.must(http.StatusOK, http.MethodGet, path, nil)
			if again.str("name") != newName || again.Body["version"] != float64(2) {
				t.Errorf("GET %s after PUT: name %q version %v, want %q version 2", it.label, again.str("name"), again.Body["version"], newName)
			}
			if again.str("createdAt") != got.str("createdAt") {
				t.Errorf("PUT %s changed createdAt from %s to %s", it.label, got.str("createdAt"), again.str("createdAt"))
			}
		}
		// Delete in reverse dependency order; each is then gone.
		items := g.items()
		slices.Reverse(items)
		for _, it := range items {
			path := it.collection + "/" + it.id
			r := e.do(http.MethodDelete, path, nil, "If-Match", `"2"`)
			if r.Status != http.StatusNoContent {
				t.Fatalf("DELETE %s: got %d, want 204: %s", it.label, r.Status, r.Raw)
			}
			if r := e.do(http.MethodGet, path, nil); r.Status != http.StatusNotFound || r.code() != "NotFound" {
				t.Errorf("GET %s after DELETE: got %d %s, want 404 NotFound", it.label, r.Status, r.Raw)
			}
		}
	})
}

func TestCreateAnswers(t *testing.T) {
	e := onMem(t)
	r := e.must(http.StatusCreated, http.MethodPost, "/v1/applications", map[string]any{"name": "shop", "id": "app-ignored", "version": 7})
	id := r.str("id")
	if !strings.HasPrefix(id, "app-") || id == "app-ignored" {
		t.Errorf("id %q: want a server-assigned app- id", id)
	}
	if got, want := r.Header.Get("Location"), "/v1/applications/"+id; got != want {
		t.Errorf("Location %q, want %q", got, want)
	}
	if r.Body["version"] != float64(1) || r.Header.Get("ETag") != `"1"` {
		t.Errorf("version %v ETag %q, want 1 and \"1\"", r.Body["version"], r.Header.Get("ETag"))
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id on the answer")
	}
}

func TestAppScoping(t *testing.T) {
	e := onMem(t)
	g := e.seed()
	other := e.create("/v1/applications", mustApp("other"))
	otherEnv := e.create("/v1/applications/"+other+"/environments", envOf(other))
	cases := []struct {
		name, method, path string
		body               any
		want               int
	}{
		{"service through another app", http.MethodGet, "/v1/applications/" + other + "/services/" + g.svc, nil, 404},
		{"infra through another env", http.MethodGet, "/v1/applications/" + other + "/environments/" + otherEnv + "/infrastructures/" + g.infra, nil, 404},
		{"env of another app in the path", http.MethodGet, "/v1/applications/" + g.app + "/environments/" + otherEnv + "/infrastructures", nil, 404},
		{"list under an unknown app", http.MethodGet, "/v1/applications/app-0000/services", nil, 404},
		{"create under an unknown app", http.MethodPost, "/v1/applications/app-0000/services", map[string]any{"name": "x"}, 404},
		{"id of another kind", http.MethodGet, "/v1/applications/" + g.app + "/services/" + g.env, nil, 404},
		{"delete through another app", http.MethodDelete, "/v1/applications/" + other + "/workflows/" + g.rolling, nil, 404},
		{"body appId differs from the path", http.MethodPost, "/v1/applications/" + other + "/environments",
			map[string]any{"appId": g.app, "name": "x", "type": "PROD"}, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.method, c.path, c.body)
			if r.Status != c.want {
				t.Fatalf("got %d, want %d: %s", r.Status, c.want, r.Raw)
			}
			if c.want == 400 {
				if _, ok := r.fields()["appId"]; !ok {
					t.Errorf("fields %v do not name appId", r.fields())
				}
			}
		})
	}
	// A workflow may not point at another application's environment.
	wf := body(workflowOn(g.app, otherEnv, g.infra))
	r := e.must(http.StatusBadRequest, http.MethodPost, g.appPath()+"/workflows", wf)
	if msg, ok := r.fields()["envId"]; !ok || !strings.Contains(msg, "another application") {
		t.Errorf("fields %v: want envId naming another application", r.fields())
	}
	// The infrastructure list holds only the path's environment's.
	list := e.must(http.StatusOK, http.MethodGet, "/v1/applications/"+g.app+"/environments/"+g.env+"/infrastructures", nil)
	if n := len(list.items()); n != 1 {
		t.Errorf("infrastructures of the env: got %d, want 1", n)
	}
}

func TestPaging(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		for _, n := range []string{"a1", "a2", "a3", "a4", "a5"} {
			e.create("/v1/applications", mustApp(n))
		}
		seen := map[string]bool{}
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("paging does not end")
			}
			path := "/v1/applications?limit=2"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			r := e.must(http.StatusOK, http.MethodGet, path, nil)
			if len(r.items()) > 2 {
				t.Fatalf("page of %d items, limit 2", len(r.items()))
			}
			for _, it := range r.items() {
				seen[it["name"].(string)] = true
			}
			cursor = r.str("nextCursor")
			if cursor == "" {
				break
			}
		}
		if len(seen) != 5 {
			t.Errorf("paged through %d applications, want 5: %v", len(seen), seen)
		}
		r := e.must(http.StatusBadRequest, http.MethodGet, "/v1/applications?cursor=bm90LWEtY3Vyc29y", nil)
		if _, ok := r.fields()["cursor"]; !ok {
			t.Errorf("bad cursor: fields %v do not name cursor", r.fields())
		}
		r = e.must(http.StatusBadRequest, http.MethodGet, "/v1/applications?limit=1000", nil)
		if _, ok := r.fields()["limit"]; !ok {
			t.Errorf("bad limit: fields %v do not name limit", r.fields())
		}
	})
}

// An update that would leave a workflow unable to deploy is refused, naming
// the field and the workflow.
func TestUpdateKeepsWorkflowsDeployable(t *testing.T) {
	e := onMem(t)
	g := e.seed()
	infraPath := g.appPath() + "/environments/" + g.env + "/infrastructures/" + g.infra
	inf := e.must(http.StatusOK, http.MethodGet, infraPath, nil)
	delete(inf.Body, "loadBalancing")
	r := e.must(http.StatusBadRequest, http.MethodPut, infraPath, inf.Body, "If-Match", `"1"`)
	msg, ok := r.fields()["loadBalancing.targetGroupArns"]
	if !ok || !strings.Contains(msg, "bluegreen") {
		t.Errorf("fields %v: want loadBalancing.targetGroupArns naming workflow bluegreen", r.fields())
	}
	// A harmless change to the same infrastructure goes through.
	inf = e.must(http.StatusOK, http.MethodGet, infraPath, nil)
	inf.Body["cluster"] = "prod-2"
	e.must(http.StatusOK, http.MethodPut, infraPath, inf.Body, "If-Match", `"1"`)

	// A workflow bound to the service keeps the service's load balancer.
	bound := modeltest.BlueGreenWorkflow(g.app, g.env, g.infra)
	bound.Name = "bound"
	bound.ServiceID = g.svc
	e.create(g.appPath()+"/workflows", bound)
	svcPath := g.appPath() + "/services/" + g.svc
	svc := e.must(http.StatusOK, http.MethodGet, svcPath, nil)
	ecs := svc.Body["ecs"].(map[string]any)
	delete(ecs, "loadBalancer")
	r = e.must(http.StatusBadRequest, http.MethodPut, svcPath, svc.Body, "If-Match", `"1"`)
	if msg, ok := r.fields()["ecs.loadBalancer"]; !ok || !strings.Contains(msg, "bound") {
		t.Errorf("fields %v: want ecs.loadBalancer naming workflow bound", r.fields())
	}
}
