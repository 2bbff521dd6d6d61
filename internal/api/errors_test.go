package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
)

func TestErrorAnswers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		g := e.seed()
		ap := g.appPath()
		svcPath := ap + "/services/" + g.svc

		badCanary := modeltest.CanaryWorkflow(g.app, g.env, g.infra)
		badCanary.Name = "bad"
		badCanary.Strategy.Canary.Phases[2].Percent = modeltest.Int32(90)
		badCanary.Strategy.Canary.Phases[0].TrafficWeight = modeltest.Int32(101)

		daemon := modeltest.Service(g.app, g.as)
		daemon.Name = "agent"
		daemon.ECS.SchedulingStrategy = model.SchedulingDaemon

		fargateBridge := modeltest.Service(g.app, g.as)
		fargateBridge.Name = "bridge"
		fargateBridge.ECS.NetworkMode = model.NetworkBridge

		badARN := modeltest.CloudProvider()
		badARN.Name = "bad-arn"
		badARN.RoleARN = "not-an-arn"

		noTGs := modeltest.Infrastructure(g.app, g.env, g.cp)
		noTGs.Name = "no-lb"
		noTGs.LoadBalancing = nil
		noTGsID := e.create(ap+"/environments/"+g.env+"/infrastructures", noTGs)
		bgWithoutTGs := modeltest.BlueGreenWorkflow(g.app, g.env, noTGsID)
		bgWithoutTGs.Name = "bg-no-lb"

		r53 := modeltest.BlueGreenWorkflow(g.app, g.env, g.infra)
		r53.Name = "bg-dns"
		r53.Strategy.BlueGreen.Mode = model.BlueGreenRoute53

		unknownRef := modeltest.Trigger(g.app, g.as, "wf-00000000000000000000000000000000", g.svc)
		unknownRef.Name = "dangling"

		svc := e.must(http.StatusOK, http.MethodGet, svcPath, nil)
		big := `{"name":"` + strings.Repeat("x", 1<<20) + `"}`

		cases := []struct {
			name       string
			method     string
			path       string
			body       any
			hdr        []string
			wantStatus int
			wantCode   string
			wantField  string // a field the error must name ("" when none)
		}{
			{"phases not rising to 100", "POST", ap + "/workflows", body(badCanary), nil, 400, "ValidationError", "strategy.canary.phases[2].percent"},
			{"traffic weight outside 0..100", "POST", ap + "/workflows", body(badCanary), nil, 400, "ValidationError", "strategy.canary.phases[0].trafficWeight"},
			{"daemon with a desired count", "POST", ap + "/services", body(daemon), nil, 400, "ValidationError", "ecs.desiredCount"},
			{"fargate without awsvpc", "POST", ap + "/services", body(fargateBridge), nil, 400, "ValidationError", "ecs.networkMode"},
			{"malformed ARN", "POST", "/v1/cloud-providers", body(badARN), nil, 400, "ValidationError", "roleArn"},
			{"blue/green without two target groups", "POST", ap + "/workflows", body(bgWithoutTGs), nil, 400, "ValidationError", "infrastructure.loadBalancing.targetGroupArns"},
			{"route53 blue/green without a zone", "POST", ap + "/workflows", body(r53), nil, 400, "ValidationError", "infrastructure.dns.hostedZoneId"},
			{"unknown reference", "POST", ap + "/triggers", body(unknownRef), nil, 400, "ValidationError", "workflowId"},
			{"malformed JSON", "POST", "/v1/applications", `{"name":`, nil, 400, "MalformedRequest", "body"},
			{"syntax error", "POST", "/v1/applications", `{"name" "x"}`, nil, 400, "MalformedRequest", "body"},
			{"unknown field", "POST", "/v1/applications", `{"name":"x","colour":"red"}`, nil, 400, "ValidationError", "colour"},
			{"wrong type", "POST", ap + "/environments", `{"name":"x","type":"PROD","overrides":{"desiredCount":"three"}}`, nil, 400, "ValidationError", "overrides.desiredCount"},
			{"not an object", "POST", "/v1/applications", `[1,2]`, nil, 400, "MalformedRequest", "body"},
			{"trailing data", "POST", "/v1/applications", `{"name":"x"} {"name":"y"}`, nil, 400, "MalformedRequest", "body"},
			{"empty body", "POST", "/v1/applications", ``, nil, 400, "MalformedRequest", "body"},
			{"unknown id", "GET", ap + "/services/svc-00000000000000000000000000000000", nil, nil, 404, "NotFound", ""},
			{"unknown app", "GET", "/v1/applications/app-00000000000000000000000000000000", nil, nil, 404, "NotFound", ""},
			{"no route", "GET", "/v2/things", nil, nil, 404, "NoRoute", ""},
			{"duplicate name", "POST", "/v1/applications", body(modeltest.Application()), nil, 409, "AlreadyExists", "name"},
			{"referenced delete", "DELETE", svcPath, nil, nil, 409, "Referenced", ""},
			{"stale If-Match", "PUT", svcPath, svc.Body, []string{"If-Match", `"7"`}, 412, "PreconditionFailed", ""},
			{"stale If-Match on delete", "DELETE", ap + "/pipelines/" + g.pipeline, nil, []string{"If-Match", `"9"`}, 412, "PreconditionFailed", ""},
			{"missing If-Match", "PUT", svcPath, svc.Body, nil, 428, "PreconditionRequired", ""},
			{"garbage If-Match", "PUT", svcPath, svc.Body, []string{"If-Match", "yesterday"}, 400, "ValidationError", "If-Match"},
			{"body over 1 MiB", "POST", "/v1/applications", big, nil, 413, "PayloadTooLarge", ""},
			{"not JSON", "POST", "/v1/applications", `name=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "UnsupportedMediaType", ""},
			{"no content type", "POST", "/v1/applications", `{"name":"x"}`, []string{"Content-Type", ""}, 415, "UnsupportedMediaType", ""},
			{"method not allowed", "PATCH", svcPath, `{}`, nil, 405, "MethodNotAllowed", ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.do(c.method, c.path, c.body, c.hdr...)
				if r.Status != c.wantStatus || r.code() != c.wantCode {
					t.Fatalf("got %d %q, want %d %q: %.300s", r.Status, r.code(), c.wantStatus, c.wantCode, r.Raw)
				}
				if r.str("error", "message") == "" {
					t.Errorf("no error message: %s", r.Raw)
				}
				if c.wantField != "" {
					if _, ok := r.fields()[c.wantField]; !ok {
						t.Errorf("fields %v do not name %s", r.fields(), c.wantField)
					}
				}
			})
		}

		t.Run("405 lists the allowed methods", func(t *testing.T) {
			r := e.do("PATCH", svcPath, `{}`)
			if got, want := r.Header.Get("Allow"), "GET, PUT, DELETE, HEAD"; got != want {
				t.Errorf("Allow %q, want %q", got, want)
			}
		})
		t.Run("referenced delete names the referrers", func(t *testing.T) {
			r := e.must(http.StatusConflict, http.MethodDelete, ap+"/environments/"+g.env, nil)
			msg := r.str("error", "message")
			for _, id := range []string{g.infra, g.rolling, g.canary, g.bluegreen} {
				if !strings.Contains(msg, id) {
					t.Errorf("message %q does not name referrer %s", msg, id)
				}
			}
			by, _ := r.Body["error"].(map[string]any)["referencedBy"].([]any)
			if len(by) < 4 {
				t.Errorf("referencedBy %v: want at least the infrastructure and three workflows", by)
			}
		})
		t.Run("refused writes change nothing", func(t *testing.T) {
			after := e.must(http.StatusOK, http.MethodGet, svcPath, nil)
			if after.Header.Get("ETag") != `"1"` {
				t.Errorf("service ETag %q after refused writes, want \"1\"", after.Header.Get("ETag"))
			}
			list := e.must(http.StatusOK, http.MethodGet, "/v1/applications", nil)
			if n := len(list.items()); n != 1 {
				t.Errorf("%d applications after refused creates, want 1", n)
			}
		})
		t.Run("every problem at once", func(t *testing.T) {
			r := e.must(http.StatusBadRequest, http.MethodPost, ap+"/services", map[string]any{"ecs": map[string]any{}})
			for _, f := range []string{"name", "artifact.serverId", "artifact.repository", "ecs.containerDefinitions", "ecs.schedulingStrategy"} {
				if _, ok := r.fields()[f]; !ok {
					t.Errorf("fields %v do not name %s", r.fields(), f)
				}
			}
		})
	})
}
