package api_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
)

func deployReq(g graph, wf string, artifact map[string]any) map[string]any {
	return map[string]any{"appId": g.app, "workflowId": wf, "serviceId": g.svc, "artifact": artifact}
}

func TestDeploymentLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		g := e.seed()
		r := e.must(http.StatusCreated, http.MethodPost, "/v1/deployments", deployReq(g, g.canary, map[string]any{"tag": "v1.2.3"}))
		id := r.str("id")
		if !strings.HasPrefix(id, "dep-") {
			t.Fatalf("id %q: want dep-...", id)
		}
		wantImage := modeltest.Account + ".dkr.ecr." + modeltest.Region + ".amazonaws.com/web"
		for field, want := range map[string]string{
			"status": "QUEUED", "strategy": "CANARY", "envId": g.env, "infraId": g.infra, "serviceId": g.svc,
			"executionArn": "arn:aws:states:us-east-1:123456789012:execution:ecsflow-CANARY:" + id,
		} {
			if got := r.str(field); got != want {
				t.Errorf("%s = %q, want %q", field, got, want)
			}
		}
		if got := r.str("artifact", "image"); got != wantImage {
			t.Errorf("artifact.image = %q, want %q", got, wantImage)
		}
		if got := r.str("triggeredBy", "principal"); got != api.Anonymous {
			t.Errorf("triggeredBy.principal = %q, want %q", got, api.Anonymous)
		}
		if n := len(e.starter.started); n != 1 || e.starter.started[0].ID != id {
			t.Fatalf("starter got %d deployments, want the one recorded (%s)", n, id)
		}
		if st := e.starter.started[0]; st.Status != model.StatusQueued || st.Artifact.Reference() != wantImage+":v1.2.3" {
			t.Errorf("starter got status %s image %s, want QUEUED %s:v1.2.3", st.Status, st.Artifact.Reference(), wantImage)
		}

		got := e.must(http.StatusOK, http.MethodGet, "/v1/deployments/"+id, nil)
		if got.str("executionArn") == "" || got.Header.Get("ETag") == "" {
			t.Errorf("GET deployment: executionArn %q ETag %q", got.str("executionArn"), got.Header.Get("ETag"))
		}
		ledger, _ := got.Body["ledger"].([]any)
		if len(ledger) == 0 || !strings.Contains(fmt.Sprint(ledger[0]), "queued by anonymous") {
			t.Errorf("ledger %v: want the queueing recorded", ledger)
		}

		// A second one, on the rolling workflow, then filters.
		r2 := e.must(http.StatusCreated, http.MethodPost, "/v1/deployments", deployReq(g, g.rolling, map[string]any{
			"digest": "sha256:" + strings.Repeat("ab", 32)}))
		for _, c := range []struct {
			query string
			want  []string
		}{
			{"appId=" + g.app, []string{r2.str("id"), id}},
			{"serviceId=" + g.svc + "&envId=" + g.env, []string{r2.str("id"), id}},
			{"appId=" + g.app + "&status=QUEUED", []string{r2.str("id"), id}},
			{"appId=" + g.app + "&status=SUCCEEDED", nil},
		} {
			l := e.must(http.StatusOK, http.MethodGet, "/v1/deployments?"+c.query, nil)
			var ids []string
			for _, it := range l.items() {
				ids = append(ids, it["id"].(string))
			}
			if fmt.Sprint(ids) != fmt.Sprint(c.want) {
				t.Errorf("GET /v1/deployments?%s: got %v, want %v (newest first)", c.query, ids, c.want)
			}
		}

		// Control: approve needs WAITING_APPROVAL; abort of a QUEUED one aborts it.
		a := e.must(http.StatusConflict, http.MethodPost, "/v1/deployments/"+id+"/approve", map[string]any{"comment": "lgtm"})
		if a.code() != "InvalidDeploymentState" || !strings.Contains(a.str("error", "message"), "WAITING_APPROVAL") {
			t.Errorf("approve of a QUEUED deployment: %s", a.Raw)
		}
		e.must(http.StatusConflict, http.MethodPost, "/v1/deployments/"+id+"/reject", nil)
		ab := e.must(http.StatusOK, http.MethodPost, "/v1/deployments/"+id+"/abort", map[string]any{"comment": "wrong tag"})
		if ab.str("status") != "ABORTED" || !strings.Contains(ab.str("reason"), "wrong tag") || ab.str("endedAt") == "" {
			t.Errorf("abort: status %q reason %q endedAt %q", ab.str("status"), ab.str("reason"), ab.str("endedAt"))
		}
		again := e.must(http.StatusConflict, http.MethodPost, "/v1/deployments/"+id+"/rollback", nil)
		if !strings.Contains(again.str("error", "message"), "ABORTED") {
			t.Errorf("rollback of an aborted deployment: %s", again.Raw)
		}
		rb := e.must(http.StatusOK, http.MethodPost, "/v1/deployments/"+r2.str("id")+"/rollback", nil)
		if rb.str("status") != "ABORTED" {
			t.Errorf("rollback of a QUEUED deployment: status %q, want ABORTED", rb.str("status"))
		}
		full := e.must(http.StatusOK, http.MethodGet, "/v1/deployments/"+id, nil)
		text := fmt.Sprint(full.Body["ledger"])
		for _, want := range []string{"approve requested by anonymous (lgtm): refused", "reject requested", "abort requested by anonymous (wrong tag)", "rollback requested"} {
			if !strings.Contains(text, want) {
				t.Errorf("ledger does not record %q: %s", want, text)
			}
		}
		e.must(http.StatusNotFound, http.MethodPost, "/v1/deployments/dep-00000000000000000000000000000000/abort", nil)
		e.must(http.StatusNotFound, http.MethodGet, "/v1/deployments/dep-00000000000000000000000000000000", nil)
	})
}

func TestDeploymentRefused(t *testing.T) {
	e := onMem(t)
	g := e.seed()
	daemonWF := modeltest.RollingWorkflow(g.app, g.env, g.infra)
	daemonWF.Name = "daemon"
	daemonWF.Strategy = model.Strategy{Type: model.StrategyDaemon, Daemon: &model.DaemonStrategy{MinimumHealthyPercent: 0, MaximumPercent: 100}}
	daemonID := e.create(g.appPath()+"/workflows", daemonWF)
	otherApp := e.create("/v1/applications", mustApp("other"))

	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"no artifact", deployReq(g, g.rolling, map[string]any{}), "artifact"},
		{"bad digest", deployReq(g, g.rolling, map[string]any{"digest": "md5:x"}), "artifact.digest"},
		{"bad tag", deployReq(g, g.rolling, map[string]any{"tag": "-bad tag"}), "artifact.tag"},
		{"other image", deployReq(g, g.rolling, map[string]any{"image": "docker.io/library/nginx"}), "artifact.image"},
		{"unknown workflow", deployReq(g, "wf-00000000000000000000000000000000", map[string]any{"tag": "v1"}), "workflowId"},
		{"no workflow", map[string]any{"appId": g.app, "artifact": map[string]any{"tag": "v1"}}, "workflowId"},
		{"unknown app", map[string]any{"appId": "app-00000000000000000000000000000000", "workflowId": g.rolling, "artifact": map[string]any{"tag": "v1"}}, "appId"},
		{"workflow of another app", map[string]any{"appId": otherApp, "workflowId": g.rolling, "serviceId": g.svc, "artifact": map[string]any{"tag": "v1"}}, "workflowId"},
		{"no service", map[string]any{"appId": g.app, "workflowId": g.rolling, "artifact": map[string]any{"tag": "v1"}}, "serviceId"},
		{"unknown service", map[string]any{"appId": g.app, "workflowId": g.rolling, "serviceId": "svc-00000000000000000000000000000000", "artifact": map[string]any{"tag": "v1"}}, "serviceId"},
		{"daemon strategy for a replica service", deployReq(g, daemonID, map[string]any{"tag": "v1"}), "workflow.strategy.type"},
		{"unknown field", `{"appId":"x","workflowId":"y","artifact":{"tag":"v1"},"force":true}`, "force"},
		{"variable name with a dash", withVars(deployReq(g, g.rolling, map[string]any{"tag": "v1"}), map[string]any{"ok": "1", "bad-name": "x"}), "variables.bad-name"},
		{"variable name starting with a digit", withVars(deployReq(g, g.rolling, map[string]any{"tag": "v1"}), map[string]any{"9lives": "x"}), "variables.9lives"},
		{"variable name of 65 characters", withVars(deployReq(g, g.rolling, map[string]any{"tag": "v1"}), map[string]any{strings.Repeat("v", 65): "x"}), "variables." + strings.Repeat("v", 65)},
		{"variable value over 4096 bytes", withVars(deployReq(g, g.rolling, map[string]any{"tag": "v1"}), map[string]any{"BIG": strings.Repeat("x", 4097)}), "variables.BIG"},
		{"variable value not a string", withVars(deployReq(g, g.rolling, map[string]any{"tag": "v1"}), map[string]any{"N": 3}), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(http.MethodPost, "/v1/deployments", c.body)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("got %d, want 400: %s", r.Status, r.Raw)
			}
			if c.field == "" {
				return // a body that does not decode: 400 without fields
			}
			if _, ok := r.fields()[c.field]; !ok {
				t.Errorf("fields %v do not name %s", r.fields(), c.field)
			}
		})
	}
	if n := len(e.starter.started); n != 0 {
		t.Errorf("starter was asked %d times for refused requests", n)
	}
	l := e.must(http.StatusOK, http.MethodGet, "/v1/deployments?appId="+g.app, nil)
	if n := len(l.items()); n != 0 {
		t.Errorf("%d deployments recorded for refused requests, want 0", n)
	}
	for q, field := range map[string]string{"": "appId", "serviceId=" + g.svc: "appId", "appId=" + g.app + "&status=DONE": "status"} {
		r := e.must(http.StatusBadRequest, http.MethodGet, "/v1/deployments?"+q, nil)
		if _, ok := r.fields()[field]; !ok {
			t.Errorf("GET /v1/deployments?%s: fields %v do not name %s", q, r.fields(), field)
		}
	}
}

func withVars(req map[string]any, vars map[string]any) map[string]any {
	req["variables"] = vars
	return req
}

// TestDeploymentVariables: a standalone deployment's variables are
// recorded on it, reach the engine and come back on GET.
func TestDeploymentVariables(t *testing.T) {
	e := onMem(t)
	g := e.seed()
	vars := map[string]any{"REPLICA_ZONE": "eu-west-1a", "_flag": "", "LONG": strings.Repeat("y", 4096)}
	r := e.must(http.StatusCreated, http.MethodPost, "/v1/deployments", withVars(deployReq(g, g.rolling, map[string]any{"tag": "v1"}), vars))
	id := r.str("id")
	for k, want := range vars {
		if got := r.str("variables", k); got != want {
			t.Errorf("POST answer variables.%s = %.20q, want %.20q", k, got, want)
		}
	}
	if n := len(e.starter.started); n != 1 {
		t.Fatalf("starter got %d deployments, want 1", n)
	}
	started := e.starter.started[0].Variables
	if len(started) != len(vars) {
		t.Errorf("engine got variables %v, want %d of them", started, len(vars))
	}
	for k, want := range vars {
		if got, ok := started[k]; !ok || got != want {
			t.Errorf("engine got variables[%s] = %.20q (present %v), want %.20q", k, got, ok, want)
		}
	}
	got := e.must(http.StatusOK, http.MethodGet, "/v1/deployments/"+id, nil)
	if v := got.str("variables", "REPLICA_ZONE"); v != "eu-west-1a" {
		t.Errorf("GET variables.REPLICA_ZONE = %q, want eu-west-1a", v)
	}

	// Without variables, none are recorded.
	r = e.must(http.StatusCreated, http.MethodPost, "/v1/deployments", deployReq(g, g.rolling, map[string]any{"tag": "v2"}))
	if _, ok := r.Body["variables"]; ok {
		t.Errorf("deployment without variables answers variables %v", r.Body["variables"])
	}
}

func TestDeploymentStartFailureMarksFailed(t *testing.T) {
	e := onMem(t)
	g := e.seed()
	e.starter.err = errors.New("ThrottlingException: rate exceeded")
	r := e.must(http.StatusBadGateway, http.MethodPost, "/v1/deployments", deployReq(g, g.rolling, map[string]any{"tag": "v1"}))
	if r.code() != "StartFailed" || strings.Contains(r.str("error", "message"), "Throttling") {
		t.Errorf("answer %s: want StartFailed without internal detail", r.Raw)
	}
	l := e.must(http.StatusOK, http.MethodGet, "/v1/deployments?appId="+g.app, nil)
	items := l.items()
	if len(items) != 1 {
		t.Fatalf("%d deployments recorded, want 1", len(items))
	}
	if items[0]["status"] != "FAILED" || !strings.Contains(fmt.Sprint(items[0]["reason"]), "ThrottlingException") {
		t.Errorf("recorded deployment: status %v reason %v, want FAILED naming the cause", items[0]["status"], items[0]["reason"])
	}
	if !strings.Contains(r.str("error", "message"), items[0]["id"].(string)) {
		t.Errorf("answer %s does not name the recorded deployment", r.Raw)
	}
	if !strings.Contains(e.logs.String(), "ThrottlingException") {
		t.Error("the start failure's cause is not in the log")
	}
}

func TestDeploymentWithoutEngine(t *testing.T) {
	b := onMem(t)
	g := b.seed()
	h := api.New(b.store, api.UnavailableStarter{Reason: "no runner here"})
	e := &env{t: t, store: b.store, starter: b.starter, logs: b.logs}
	e.srv = newServer(t, h)
	r := e.must(http.StatusServiceUnavailable, http.MethodPost, "/v1/deployments", deployReq(g, g.rolling, map[string]any{"tag": "v1"}))
	if r.code() != "EngineUnavailable" || !strings.Contains(r.str("error", "message"), "no runner here") {
		t.Errorf("answer %s", r.Raw)
	}
	items := e.must(http.StatusOK, http.MethodGet, "/v1/deployments?appId="+g.app, nil).items()
	if len(items) != 1 || items[0]["status"] != "FAILED" {
		t.Errorf("recorded %v, want one FAILED deployment", items)
	}
}

func TestImageFor(t *testing.T) {
	cp := modeltest.CloudProvider()
	cases := []struct {
		name string
		srv  model.ArtifactServer
		want string
	}{
		{"ecr", model.ArtifactServer{Type: model.ArtifactServerECR, RegistryID: "111122223333", Region: "eu-west-1"}, "111122223333.dkr.ecr.eu-west-1.amazonaws.com/web"},
		{"ecr defaults to the provider account", model.ArtifactServer{Type: model.ArtifactServerECR, Region: "us-east-1"}, modeltest.Account + ".dkr.ecr.us-east-1.amazonaws.com/web"},
		{"private registry", model.ArtifactServer{Type: model.ArtifactServerDockerRegistry, URL: "https://registry.example.com:5000/v2/"}, "registry.example.com:5000/web"},
		{"docker hub", model.ArtifactServer{Type: model.ArtifactServerDockerRegistry, URL: "https://index.docker.io/v1/"}, "web"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := api.ImageFor(&c.srv, cp, "web")
			if err != nil || got != c.want {
				t.Errorf("ImageFor = %q, %v; want %q", got, err, c.want)
			}
		})
	}
	if _, err := api.ImageFor(&model.ArtifactServer{Type: model.ArtifactServerECR, Region: "us-east-1"}, nil, "web"); err == nil {
		t.Error("ECR without registry or provider: no error")
	}
}

// A REJECT workflow's deployment is refused with 409 while another
// deployment holds the service's lease, before anything is recorded or
// started; a QUEUE workflow's deployment is accepted and waits in the engine.
func TestDeploymentRejectedWhileLeaseHeld(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		g := e.seed()
		key := model.LeaseKey(modeltest.Account, modeltest.Region, "prod", "web")
		if _, err := e.store.AcquireLease(context.Background(), key, "dep-holder", time.Hour); err != nil {
			t.Fatal(err)
		}
		r := e.must(http.StatusConflict, http.MethodPost, "/v1/deployments", deployReq(g, g.canary, map[string]any{"tag": "v2"}))
		if r.code() != "LockHeld" || !strings.Contains(r.str("error", "message"), "dep-holder") {
			t.Fatalf("got %s %q, want LockHeld naming the holder", r.code(), r.str("error", "message"))
		}
		if n := len(e.starter.started); n != 0 {
			t.Fatalf("starter called %d times for a refused deployment, want 0", n)
		}
		list := e.must(http.StatusOK, http.MethodGet, "/v1/deployments?appId="+g.app, nil)
		if n := len(list.items()); n != 0 {
			t.Fatalf("%d deployments recorded for a refused request, want 0", n)
		}
		e.must(http.StatusCreated, http.MethodPost, "/v1/deployments", deployReq(g, g.rolling, map[string]any{"tag": "v2"}))
		if err := e.store.ReleaseLease(context.Background(), key, "dep-holder"); err != nil {
			t.Fatal(err)
		}
		e.must(http.StatusCreated, http.MethodPost, "/v1/deployments", deployReq(g, g.canary, map[string]any{"tag": "v2"}))
	})
}

// fakeDigests is a hand-written DigestResolver over a fixed tag -> digest table.
type fakeDigests struct {
	digests map[string]string
	err     error
}

func (f fakeDigests) ResolveDigest(_ context.Context, _ *model.ArtifactServer, repo, tag string) (string, error) {
	if f.err != nil {
		return "", f.err
	}
	if d, ok := f.digests[repo+":"+tag]; ok {
		return d, nil
	}
	return "", fmt.Errorf("describe image %s:%s: %w", repo, tag, api.ErrTagNotFound)
}

func TestDeploymentPinsTagToDigest(t *testing.T) {
	digest := "sha256:" + strings.Repeat("cd", 32)
	b := dynamotest.MemHTTP()
	e := newEnv(t, b, dynamotest.Table(t, b), api.WithDigestResolver(fakeDigests{digests: map[string]string{"web:v1": digest}}))
	g := e.seed()
	r := e.must(http.StatusCreated, http.MethodPost, "/v1/deployments", deployReq(g, g.rolling, map[string]any{"tag": "v1"}))
	if got := r.str("artifact", "digest"); got != digest {
		t.Fatalf("artifact.digest = %q, want the tag pinned to %s", got, digest)
	}
	if got := e.starter.started[0].Artifact.Reference(); !strings.HasSuffix(got, "/web@"+digest) {
		t.Fatalf("started with image %s, want it pinned to the digest", got)
	}
	missing := e.must(http.StatusBadRequest, http.MethodPost, "/v1/deployments", deployReq(g, g.rolling, map[string]any{"tag": "v9"}))
	if msg := missing.fields()["artifact.tag"]; !strings.Contains(msg, `"v9"`) {
		t.Fatalf("fields %v, want artifact.tag naming v9", missing.fields())
	}
	if n := len(e.starter.started); n != 1 {
		t.Fatalf("starter called %d times, want only for the resolvable tag", n)
	}

	down := newEnv(t, b, dynamotest.Table(t, b), api.WithDigestResolver(fakeDigests{err: errors.New("registry unreachable")}))
	g2 := down.seed()
	r = down.must(http.StatusBadGateway, http.MethodPost, "/v1/deployments", deployReq(g2, g2.rolling, map[string]any{"tag": "v1"}))
	if r.code() != "ArtifactUnavailable" {
		t.Fatalf("code %s, want ArtifactUnavailable", r.code())
	}
}

// engineStarter moves the deployment on (as the engine's first step does)
// before StartExecution returns, so the API's record of the execution ARN
// meets a newer version than the one it created.
type engineStarter struct {
	st interface {
		Get(ctx context.Context, kind model.Kind, id string) (model.Entity, error)
		Update(ctx context.Context, e model.Entity) error
	}
}

func (s *engineStarter) Start(ctx context.Context, d *model.Deployment) (string, error) {
	e, err := s.st.Get(ctx, model.KindDeployment, d.ID)
	if err != nil {
		return "", err
	}
	cur := e.(*model.Deployment)
	cur.Status = model.StatusRunning
	if err := s.st.Update(ctx, cur); err != nil {
		return "", err
	}
	return "arn:aws:states:us-east-1:123456789012:execution:ecsflow-ROLLING:" + d.ID, nil
}

func TestDeploymentExecutionRecordedOverAnEngineWrite(t *testing.T) {
	for _, engine := range []bool{false, true} {
		t.Run(fmt.Sprintf("engine wrote first=%v", engine), func(t *testing.T) {
			b := dynamotest.Mem()
			cnt := store.NewCountingDB(b.DB)
			st := store.New(cnt, dynamotest.Table(t, b))
			e := &env{t: t, store: st, starter: &fakeStarter{}, logs: &syncBuffer{}}
			var starter api.Starter = e.starter
			if engine {
				starter = &engineStarter{st: st}
			}
			e.srv = newServer(t, api.New(st, starter, api.WithLogger(slog.New(slog.NewJSONHandler(e.logs, nil)))))
			g := e.seed()
			cnt.Reset()
			r := e.must(http.StatusCreated, http.MethodPost, "/v1/deployments", deployReq(g, g.rolling, map[string]any{"tag": "v1"}))
			id := r.str("id")
			want, wantVersion, wantStatus := "arn:aws:states:us-east-1:123456789012:execution:ecsflow-ROLLING:"+id, 2.0, "QUEUED"
			if engine {
				wantVersion, wantStatus = 3, "RUNNING"
			}
			if got := r.str("executionArn"); got != want {
				t.Errorf("executionArn = %q, want %q", got, want)
			}
			if got := r.Body["version"]; got != wantVersion || r.str("status") != wantStatus {
				t.Errorf("answer has version %v status %s, want %v %s", got, r.str("status"), wantVersion, wantStatus)
			}
			// The graph (8 entities) and the update's own read; no read-back
			// of the deployment just created unless the engine wrote it.
			if got := cnt.Counts()["GetItem"]; !engine && got > 9 {
				t.Errorf("creation cost %d GetItem, want at most 9", got)
			}
			stored, err := st.Get(context.Background(), model.KindDeployment, id)
			if err != nil {
				t.Fatal(err)
			}
			if d := stored.(*model.Deployment); d.ExecutionARN != want || string(d.Status) != wantStatus {
				t.Errorf("stored deployment has %q %s, want %q %s", d.ExecutionARN, d.Status, want, wantStatus)
			}
		})
	}
}
