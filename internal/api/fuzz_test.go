package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
)

// checkAnswer fails unless the answer is a success in okCodes or a JSON 4xx
// error with a code and a message.
func checkAnswer(t *testing.T, status int, raw []byte, okCodes ...int) {
	t.Helper()
	for _, c := range okCodes {
		if status == c {
			return
		}
	}
	if status < 400 || status > 499 {
		t.Fatalf("status %d, want %v or 4xx: %s", status, okCodes, raw)
	}
	var eb struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(raw, &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("4xx without a JSON error body: %s", raw)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// FuzzEntityRequest posts arbitrary bodies to every collection and replaces
// an entity with them: the API never panics and never answers 5xx.
func FuzzEntityRequest(f *testing.F) {
	app, cp := "APP", "CP"
	seeds := [][]byte{
		mustJSON(body(modeltest.Application())),
		mustJSON(body(modeltest.CloudProvider())),
		mustJSON(body(modeltest.ArtifactServer(cp))),
		mustJSON(body(modeltest.Service(app, "AS"))),
		mustJSON(body(modeltest.Environment(app))),
		mustJSON(body(modeltest.Infrastructure(app, "ENV", cp))),
		mustJSON(body(modeltest.CanaryWorkflow(app, "ENV", "INFRA"))),
		mustJSON(body(modeltest.BlueGreenWorkflow(app, "ENV", "INFRA"))),
		mustJSON(body(modeltest.Pipeline(app, "WF", "WF"))),
		mustJSON(body(modeltest.Trigger(app, "AS", "WF", "SVC"))),
		[]byte(`{"name":`), []byte(`[]`), []byte(`null`), []byte(`{"name":"x","ecs":{"containerDefinitions":"oops"}}`),
		[]byte(`{"name":"x","strategy":{"type":"CANARY","canary":{"phases":[{"percent":-1},{"count":0}]}}}`),
		[]byte(`{"name":"x","createdAt":"yesterday"}`), []byte(`{"name":"\u0000\ud800"}`), []byte(`{"tags":{"a":1}}`),
		[]byte(`{"name":"x"}{}`), []byte{0xff, 0xfe},
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	m := newMemAPI(f)
	collections := []string{
		"/v1/applications", "/v1/cloud-providers", "/v1/artifact-servers",
		m.g.appPath() + "/services", m.g.appPath() + "/environments",
		m.g.appPath() + "/environments/" + m.g.env + "/infrastructures",
		m.g.appPath() + "/workflows", m.g.appPath() + "/pipelines", m.g.appPath() + "/triggers",
	}
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		// Point example references at the real graph so valid bodies can succeed.
		b = []byte(replaceIDs(string(b), m.g))
		c := collections[int(which)%len(collections)]
		rec := m.serve(http.MethodPost, c, b)
		checkAnswer(t, rec.Code, rec.Body.Bytes(), http.StatusCreated)
		rec = m.serve(http.MethodPut, m.g.appPath()+"/workflows/"+m.g.rolling, b, "If-Match", `"1"`)
		checkAnswer(t, rec.Code, rec.Body.Bytes(), http.StatusOK)
	})
}

func replaceIDs(s string, g graph) string {
	r := map[string]string{`"APP"`: `"` + g.app + `"`, `"CP"`: `"` + g.cp + `"`, `"AS"`: `"` + g.as + `"`,
		`"ENV"`: `"` + g.env + `"`, `"INFRA"`: `"` + g.infra + `"`, `"WF"`: `"` + g.rolling + `"`, `"SVC"`: `"` + g.svc + `"`}
	for k, v := range r {
		s = strings.ReplaceAll(s, k, v)
	}
	return s
}

// FuzzWorkflowValidation drives model validation and the graph check through
// the API with arbitrary strategy numbers and names: a workflow is created
// (201) or refused with 4xx naming fields, never a panic or 5xx.
func FuzzWorkflowValidation(f *testing.F) {
	f.Add("CANARY", "ELB", int32(25), int32(50), int32(100), int32(10), int32(100), int32(200))
	f.Add("CANARY", "", int32(50), int32(20), int32(90), int32(101), int32(-1), int32(0))
	f.Add("BLUE_GREEN", "ROUTE53", int32(20), int32(60), int32(100), int32(0), int32(0), int32(0))
	f.Add("BLUE_GREEN", "ELB", int32(60), int32(20), int32(100), int32(0), int32(0), int32(0))
	f.Add("ROLLING", "", int32(0), int32(0), int32(0), int32(0), int32(100), int32(250))
	f.Add("DAEMON", "", int32(0), int32(0), int32(0), int32(0), int32(50), int32(100))
	f.Add("", "x", int32(-5), int32(1<<30), int32(0), int32(0), int32(0), int32(0))
	m := newMemAPI(f)
	n := 0
	f.Fuzz(func(t *testing.T, typ, mode string, p1, p2, p3, weight, minPct, maxPct int32) {
		n++
		w := modeltest.RollingWorkflow(m.g.app, m.g.env, m.g.infra)
		w.Name = fmt.Sprintf("fz%d", n)
		w.Strategy = model.Strategy{Type: model.StrategyType(typ)}
		switch typ {
		case "CANARY":
			w.Strategy.Canary = &model.CanaryStrategy{Phases: []model.CanaryPhase{
				{Percent: &p1, TrafficWeight: &weight}, {Count: &p2}, {Percent: &p3}}}
		case "BLUE_GREEN":
			w.Strategy.BlueGreen = &model.BlueGreenStrategy{Mode: model.BlueGreenMode(mode), LinearSteps: []int32{p1, p2, p3}}
		case "DAEMON":
			w.Strategy.Daemon = &model.DaemonStrategy{MinimumHealthyPercent: minPct, MaximumPercent: maxPct}
		default:
			w.Strategy.Rolling = &model.RollingStrategy{MinimumHealthyPercent: minPct, MaximumPercent: maxPct}
		}
		rec := m.serve(http.MethodPost, m.g.appPath()+"/workflows", mustJSON(body(w)))
		checkAnswer(t, rec.Code, rec.Body.Bytes(), http.StatusCreated)
		if rec.Code == http.StatusBadRequest {
			var eb struct {
				Error struct{ Fields []model.FieldError }
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &eb)
			if len(eb.Error.Fields) == 0 {
				t.Fatalf("400 naming no field: %s", rec.Body)
			}
		}
	})
}

// FuzzDeploymentRequest posts arbitrary deployment requests.
func FuzzDeploymentRequest(f *testing.F) {
	f.Add([]byte(`{"appId":"APP","workflowId":"WF","serviceId":"SVC","artifact":{"tag":"v1"}}`))
	f.Add([]byte(`{"appId":"APP","workflowId":"WF","serviceId":"SVC","artifact":{"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}}`))
	f.Add([]byte(`{"appId":"APP","workflowId":"WF","artifact":{}}`))
	f.Add([]byte(`{"appId":"APP","workflowId":"SVC","serviceId":"WF","artifact":{"image":"x"}}`))
	f.Add([]byte(`{"appId":1}`))
	f.Add([]byte(`{"appId":"dep-x","workflowId":"app-x","serviceId":"as-x","artifact":{"tag":""}}`))
	f.Add([]byte(`{`))
	m := newMemAPI(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		b = []byte(replaceIDs(string(b), m.g))
		rec := m.serve(http.MethodPost, "/v1/deployments", b)
		checkAnswer(t, rec.Code, rec.Body.Bytes(), http.StatusCreated)
		for _, a := range []string{"approve", "abort"} {
			rec = m.serve(http.MethodPost, "/v1/deployments/dep-x/"+a, b)
			checkAnswer(t, rec.Code, rec.Body.Bytes())
		}
	})
}
