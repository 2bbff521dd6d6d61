package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
)

// Demo drives a running API at baseURL the way a new user would: it creates
// a full entity graph, lists it, and shows that invalid input, a stale
// update and a referenced delete are refused. It writes a readable account
// to out and returns an error naming the first step that did not behave.
func Demo(ctx context.Context, baseURL string, out io.Writer) error {
	d := &demo{ctx: ctx, base: strings.TrimSuffix(baseURL, "/"), out: out,
		client: &http.Client{Timeout: 30 * time.Second}}
	return d.run()
}

type demo struct {
	ctx    context.Context
	base   string
	out    io.Writer
	client *http.Client
	steps  int
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (d *demo) do(method, path string, body any, header map[string]string) (reply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{}, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(d.ctx, method, d.base+path, rd)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: read: %w", method, path, err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			return r, fmt.Errorf("%s %s: answer is not a JSON object: %w", method, path, err)
		}
	}
	return r, nil
}

// expect performs a request and checks its status.
func (d *demo) expect(want int, method, path string, body any, header map[string]string) (reply, error) {
	r, err := d.do(method, path, body, header)
	if err != nil {
		return r, err
	}
	if r.status != want {
		return r, fmt.Errorf("%s %s: got %d, want %d: %s", method, path, r.status, want, bytes.TrimSpace(r.raw))
	}
	return r, nil
}

// entityBody is e as a request body, without the server-managed fields.
func entityBody(e model.Entity) map[string]any {
	b, _ := json.Marshal(e)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"id", "version", "createdAt", "updatedAt"} {
		delete(m, k)
	}
	return m
}

func (d *demo) create(label, path string, e model.Entity) (string, error) {
	r, err := d.expect(http.StatusCreated, http.MethodPost, path, entityBody(e), nil)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", label, err)
	}
	id, _ := r.body["id"].(string)
	if id == "" || r.header.Get("ETag") != `"1"` {
		return "", fmt.Errorf("create %s: want an id and ETag \"1\", got id %q ETag %q", label, id, r.header.Get("ETag"))
	}
	d.say("  created %-22s %s", label, id)
	return id, nil
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.out, format+"\n", args...) }

func (d *demo) step(title string) {
	d.steps++
	d.say("\n%d. %s", d.steps, title)
}

func fieldsOf(r reply) []string {
	e, _ := r.body["error"].(map[string]any)
	fs, _ := e["fields"].([]any)
	var out []string
	for _, f := range fs {
		m, _ := f.(map[string]any)
		out = append(out, fmt.Sprintf("%v (%v)", m["field"], m["message"]))
	}
	return out
}

func hasField(r reply, field string) bool {
	for _, f := range fieldsOf(r) {
		if strings.HasPrefix(f, field+" (") {
			return true
		}
	}
	return false
}

func (d *demo) run() error {
	d.say("ecsflow demo against %s", d.base)

	d.step("Create a full entity graph through the API")
	cp, err := d.create("cloud provider", "/v1/cloud-providers", modeltest.CloudProvider())
	if err != nil {
		return err
	}
	as, err := d.create("artifact server (ECR)", "/v1/artifact-servers", modeltest.ArtifactServer(cp))
	if err != nil {
		return err
	}
	app, err := d.create("application", "/v1/applications", modeltest.Application())
	if err != nil {
		return err
	}
	ap := "/v1/applications/" + app
	svc, err := d.create("service", ap+"/services", modeltest.Service(app, as))
	if err != nil {
		return err
	}
	env, err := d.create("environment", ap+"/environments", modeltest.Environment(app))
	if err != nil {
		return err
	}
	infra, err := d.create("infrastructure", ap+"/environments/"+env+"/infrastructures", modeltest.Infrastructure(app, env, cp))
	if err != nil {
		return err
	}
	rolling, err := d.create("rolling workflow", ap+"/workflows", modeltest.RollingWorkflow(app, env, infra))
	if err != nil {
		return err
	}
	canary, err := d.create("canary workflow", ap+"/workflows", modeltest.CanaryWorkflow(app, env, infra))
	if err != nil {
		return err
	}
	if _, err := d.create("blue/green workflow", ap+"/workflows", modeltest.BlueGreenWorkflow(app, env, infra)); err != nil {
		return err
	}
	if _, err := d.create("pipeline", ap+"/pipelines", modeltest.Pipeline(app, rolling, canary)); err != nil {
		return err
	}
	if _, err := d.create("trigger", ap+"/triggers", modeltest.Trigger(app, as, rolling, svc)); err != nil {
		return err
	}

	d.step("List it")
	for _, l := range []struct {
		path string
		want int
	}{
		{"/v1/cloud-providers", 1}, {"/v1/artifact-servers", 1}, {"/v1/applications", 1},
		{ap + "/services", 1}, {ap + "/environments", 1}, {ap + "/environments/" + env + "/infrastructures", 1},
		{ap + "/workflows", 3}, {ap + "/pipelines", 1}, {ap + "/triggers", 1},
	} {
		r, err := d.expect(http.StatusOK, http.MethodGet, l.path, nil, nil)
		if err != nil {
			return err
		}
		items, _ := r.body["items"].([]any)
		var names []string
		for _, it := range items {
			m, _ := it.(map[string]any)
			names = append(names, fmt.Sprint(m["name"]))
		}
		if len(items) != l.want {
			return fmt.Errorf("GET %s: got %d items, want %d", l.path, len(items), l.want)
		}
		short := strings.NewReplacer(app, "{appId}", env, "{envId}").Replace(l.path)
		d.say("  GET %-62s %d: %s", short, len(items), strings.Join(names, ", "))
	}

	d.step("Invalid input is refused, naming the field")
	bad := modeltest.CanaryWorkflow(app, env, infra)
	bad.Name = "bad-canary"
	bad.Strategy.Canary.Phases[1].Percent = modeltest.Int32(20) // falls below phase 0's 25%
	w := modeltest.Int32(150)
	bad.Strategy.Canary.Phases[2].TrafficWeight = w // outside 0..100
	r, err := d.expect(http.StatusBadRequest, http.MethodPost, ap+"/workflows", entityBody(bad), nil)
	if err != nil {
		return err
	}
	for _, f := range []string{"strategy.canary.phases[1].percent", "strategy.canary.phases[2].trafficWeight"} {
		if !hasField(r, f) {
			return fmt.Errorf("invalid canary: the answer does not name %s: %s", f, r.raw)
		}
	}
	d.say("  POST a canary with falling phases and weight 150 -> %d:\n    %s", r.status, strings.Join(fieldsOf(r), "\n    "))
	fargate := modeltest.Service(app, as)
	fargate.Name = "bridge-on-fargate"
	fargate.ECS.NetworkMode = model.NetworkBridge
	r, err = d.expect(http.StatusBadRequest, http.MethodPost, ap+"/services", entityBody(fargate), nil)
	if err != nil {
		return err
	}
	if !hasField(r, "ecs.networkMode") {
		return fmt.Errorf("FARGATE without awsvpc: the answer does not name ecs.networkMode: %s", r.raw)
	}
	d.say("  POST a FARGATE service in bridge mode -> %d: %s", r.status, strings.Join(fieldsOf(r), "; "))

	d.step("A stale update is refused")
	r, err = d.expect(http.StatusOK, http.MethodGet, ap+"/services/"+svc, nil, nil)
	if err != nil {
		return err
	}
	seen := r.header.Get("ETag")
	upd := r.body
	upd["description"] = "first edit"
	r, err = d.expect(http.StatusOK, http.MethodPut, ap+"/services/"+svc, upd, map[string]string{"If-Match": seen})
	if err != nil {
		return err
	}
	d.say("  PUT with If-Match %s -> %d, ETag now %s", seen, r.status, r.header.Get("ETag"))
	upd["description"] = "second edit from a stale copy"
	r, err = d.expect(http.StatusPreconditionFailed, http.MethodPut, ap+"/services/"+svc, upd, map[string]string{"If-Match": seen})
	if err != nil {
		return err
	}
	d.say("  PUT again with the stale If-Match %s -> %d %s", seen, r.status, errMessage(r))

	d.step("A referenced delete is refused")
	r, err = d.expect(http.StatusConflict, http.MethodDelete, ap+"/environments/"+env, nil, nil)
	if err != nil {
		return err
	}
	e, _ := r.body["error"].(map[string]any)
	if by, _ := e["referencedBy"].([]any); len(by) == 0 {
		return fmt.Errorf("referenced delete: the answer does not name the referrers: %s", r.raw)
	}
	d.say("  DELETE the environment -> %d %s", r.status, errMessage(r))

	d.step("A deployment request is validated and recorded")
	r, err = d.do(http.MethodPost, "/v1/deployments", map[string]any{"appId": app, "workflowId": rolling,
		"serviceId": svc, "artifact": map[string]any{"tag": "v1.2.3"}}, nil)
	if err != nil {
		return err
	}
	switch r.status {
	case http.StatusCreated:
		d.say("  POST /v1/deployments -> %d, deployment %v is %v", r.status, r.body["id"], r.body["status"])
	case http.StatusServiceUnavailable:
		d.say("  POST /v1/deployments -> %d: %s", r.status, errMessage(r))
		d.say("  (this stack has no deployment engine yet, so the deployment is recorded as FAILED, not left QUEUED)")
	default:
		return fmt.Errorf("POST /v1/deployments: got %d: %s", r.status, r.raw)
	}
	r, err = d.expect(http.StatusOK, http.MethodGet, "/v1/deployments?appId="+app, nil, nil)
	if err != nil {
		return err
	}
	items, _ := r.body["items"].([]any)
	if len(items) != 1 {
		return fmt.Errorf("GET /v1/deployments: got %d deployments, want 1", len(items))
	}
	dep, _ := items[0].(map[string]any)
	art, _ := dep["artifact"].(map[string]any)
	d.say("  GET /v1/deployments?appId=... -> %v %v of %v:%v", dep["id"], dep["status"], art["image"], art["tag"])

	d.say("\nSummary: %d steps, every one behaved as it should.", d.steps)
	return nil
}

func errMessage(r reply) string {
	e, _ := r.body["error"].(map[string]any)
	return fmt.Sprintf("%v: %v", e["code"], e["message"])
}
