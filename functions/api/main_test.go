package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

type okStarter struct{}

func (okStarter) Start(_ context.Context, d *model.Deployment) (string, error) {
	return "arn:aws:states:us-east-1:123456789012:execution:ecsflow-rolling:" + d.ID, nil
}

func loadEvent(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := os.ReadFile("../../events/" + name)
	if err != nil {
		t.Fatalf("read event: %v", err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("decode event %s: %v", name, err)
	}
	return ev
}

func decode(t *testing.T, res events.APIGatewayV2HTTPResponse) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(res.Body), &m); err != nil {
		t.Fatalf("response body %q: %v", res.Body, err)
	}
	return m
}

// TestAPIGatewayEvents feeds real API Gateway HTTP API (payload 2.0) events
// from events/ through the adapter into the handler on a real store.
func TestAPIGatewayEvents(t *testing.T) {
	b := dynamotest.MemHTTP()
	st := store.New(b.Client, dynamotest.Table(t, b))
	logs := &strings.Builder{}
	h := api.New(st, okStarter{}, api.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	invoke := proxy(h)
	ctx := context.Background()

	res, err := invoke(ctx, loadEvent(t, "api-create-application.json"))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create: status %d: %s", res.StatusCode, res.Body)
	}
	if got := header(res, "ETag"); got != `"1"` {
		t.Errorf("ETag %q, want \"1\"", got)
	}
	if got := header(res, "X-Request-Id"); got != "Kx1AbCdEoAMEb3Q=" {
		t.Errorf("X-Request-Id %q, want API Gateway's request id", got)
	}
	if !strings.Contains(logs.String(), `"request_id":"Kx1AbCdEoAMEb3Q="`) {
		t.Errorf("the access log does not carry API Gateway's request id:\n%s", logs)
	}
	app := decode(t, res)
	if app["name"] != "shop" {
		t.Errorf("created %v", app)
	}

	res, _ = invoke(ctx, loadEvent(t, "api-list-applications.json"))
	list := decode(t, res)
	if items, _ := list["items"].([]any); res.StatusCode != 200 || len(items) != 1 {
		t.Errorf("list: status %d body %s", res.StatusCode, res.Body)
	}

	res, _ = invoke(ctx, loadEvent(t, "api-create-application-invalid-base64.json"))
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, `"field":"name"`) {
		t.Errorf("invalid base64 body: status %d body %s, want 400 naming name", res.StatusCode, res.Body)
	}

	// The IAM identity from the request context is the principal of a control request.
	dep := seedDeployment(t, h, app["id"].(string))
	ev := loadEvent(t, "api-abort-deployment.json")
	ev.RawPath = "/v1/deployments/" + dep + "/abort"
	ev.RequestContext.HTTP.Path = ev.RawPath
	res, _ = invoke(ctx, ev)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("abort: status %d: %s", res.StatusCode, res.Body)
	}
	alice := "arn:aws:sts::123456789012:assumed-role/platform-admin/alice"
	if got := decode(t, res)["reason"]; !strings.Contains(got.(string), alice) {
		t.Errorf("reason %q does not name %s", got, alice)
	}

	// Without an authorizer, a client-set context header is not believed.
	ev = loadEvent(t, "api-abort-deployment.json")
	ev.RequestContext.Authorizer = nil
	ev.Headers["x-golambdaproxyapigatewaycontext"] = `{"authorizer":{"iam":{"userArn":"arn:aws:iam::123456789012:user/mallory"}}}`
	ev.RawPath = "/v1/deployments/" + dep + "/approve"
	ev.RequestContext.HTTP.Path = ev.RawPath
	res, _ = invoke(ctx, ev)
	if res.StatusCode != http.StatusConflict || strings.Contains(res.Body, "mallory") {
		t.Errorf("approve: status %d body %s", res.StatusCode, res.Body)
	}
	g, _ := invoke(ctx, getEvent(ev, "/v1/deployments/"+dep))
	if strings.Contains(g.Body, "mallory") || !strings.Contains(g.Body, "approve requested by anonymous") {
		t.Errorf("ledger after a spoofed header: %s", g.Body)
	}
}

func getEvent(ev events.APIGatewayV2HTTPRequest, path string) events.APIGatewayV2HTTPRequest {
	ev.RawPath, ev.RequestContext.HTTP.Path, ev.RequestContext.HTTP.Method = path, path, http.MethodGet
	ev.Body = ""
	delete(ev.Headers, "content-type")
	delete(ev.Headers, "content-length")
	return ev
}

// seedDeployment creates a graph under appID through the handler and a
// QUEUED deployment on it, returning the deployment's ID.
func seedDeployment(t *testing.T, h http.Handler, appID string) string {
	t.Helper()
	post := func(path string, v any) string {
		b, _ := json.Marshal(v)
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", path, rec.Code, body)
		}
		var out struct{ ID string }
		_ = json.Unmarshal(body, &out)
		return out.ID
	}
	strip := func(e model.Entity) map[string]any {
		b, _ := json.Marshal(e)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		delete(m, "id")
		delete(m, "version")
		delete(m, "createdAt")
		delete(m, "updatedAt")
		return m
	}
	ap := "/v1/applications/" + appID
	cp := post("/v1/cloud-providers", strip(modeltest.CloudProvider()))
	as := post("/v1/artifact-servers", strip(modeltest.ArtifactServer(cp)))
	svc := post(ap+"/services", strip(modeltest.Service(appID, as)))
	env := post(ap+"/environments", strip(modeltest.Environment(appID)))
	infra := post(ap+"/environments/"+env+"/infrastructures", strip(modeltest.Infrastructure(appID, env, cp)))
	wf := post(ap+"/workflows", strip(modeltest.RollingWorkflow(appID, env, infra)))
	return post("/v1/deployments", map[string]any{"appId": appID, "workflowId": wf, "serviceId": svc,
		"artifact": map[string]any{"tag": "v1"}})
}

// header looks a response header up case-insensitively (the adapter
// canonicalizes names: ETag arrives as Etag).
func header(res events.APIGatewayV2HTTPResponse, name string) string {
	for k, v := range res.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
