package awsemu

import (
	"encoding/json"
	"net/http"
	"sort"
	"testing"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// fuzzOps lists every awsJson operation the emulator serves.
func fuzzOps() []string {
	var ops []string
	for prefix, svc := range jsonServices {
		for op := range svc.ops {
			ops = append(ops, prefix+"."+op)
		}
	}
	sort.Strings(ops)
	return ops
}

// FuzzAWSJSONDecoder sends arbitrary bodies to every awsJson operation: the
// emulator must answer with a well-formed success or AWS error, never a 500.
func FuzzAWSJSONDecoder(f *testing.F) {
	ops := fuzzOps()
	seeds := []string{
		`{}`, `{"clusterName":"c"}`, `{"cluster":"c","serviceName":"s","taskDefinition":"f:1","desiredCount":2}`,
		`{"family":"f","containerDefinitions":[{"name":"a","image":"i"}]}`, `{"services":["a","b"]}`, `{"tasks":[]}`,
		`{"ServiceNamespace":"ecs","ResourceId":"service/c/s","ScalableDimension":"ecs:service:DesiredCount","MinCapacity":1,"MaxCapacity":0}`,
		`{"repositoryName":"r","imageManifest":"{}","imageTag":"t"}`, `{"Name":"n","Vpc":"v"}`, `{"nextToken":"!!!","maxResults":0}`,
		`null`, `[]`, `"x"`, `{"desiredCount":1e99}`, `{"cluster":"c","service":"s","desiredCount":2147483647}`, `{"clusterName":"` + string([]byte{0xff, 0xfe}) + `"}`,
	}
	for i, s := range seeds {
		f.Add(uint16(i*7), []byte(s))
	}
	emu := New(Options{Clock: simclock.NewManual(testStart), Seed: 1})
	f.Cleanup(emu.Close)
	// A little world so that references can resolve.
	for _, b := range []struct{ op, body string }{
		{"AmazonEC2ContainerServiceV20141113.CreateCluster", `{"clusterName":"c"}`},
		{"AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition", `{"family":"f","containerDefinitions":[{"name":"a","image":"i"}]}`},
		{"AmazonEC2ContainerServiceV20141113.RegisterContainerInstance", `{"cluster":"c"}`},
		{"AmazonEC2ContainerServiceV20141113.CreateService", `{"cluster":"c","serviceName":"s","taskDefinition":"f","desiredCount":1}`},
		{"AmazonEC2ContainerRegistry_V20150921.CreateRepository", `{"repositoryName":"rr"}`},
	} {
		status, _, body := rawCallF(emu, b.op, []byte(b.body))
		if status != 200 {
			f.Fatalf("setup %s: %d %s", b.op, status, body)
		}
	}
	f.Fuzz(func(t *testing.T, which uint16, body []byte) {
		op := ops[int(which)%len(ops)]
		status, _, out := rawCallF(emu, op, body)
		if status == http.StatusInternalServerError {
			t.Fatalf("%s with %q: 500 %s", op, body, out)
		}
		if !json.Valid(out) {
			t.Fatalf("%s with %q: response is not JSON: %q", op, body, out)
		}
		if status != 200 {
			var e struct {
				Type string `json:"__type"`
			}
			if json.Unmarshal(out, &e) != nil || e.Type == "" {
				t.Fatalf("%s: error response without __type: %s", op, out)
			}
		}
	})
}

// FuzzControlAPI sends arbitrary requests to the control API.
func FuzzControlAPI(f *testing.F) {
	paths := []string{"/_emulator/clock", "/_emulator/ecr/push", "/_emulator/faults", "/_emulator/state", "/_emulator/x"}
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}
	for i, s := range []string{issuePlan, `{"scale":5}`, `{"repository":"a/b","tag":"t"}`, `{}`, `{"rules":[{"alarm":"a","state":"OK","atSeconds":1e300}]}`, `{"seed":-1,"rules":null}`, `x`} {
		f.Add(uint8(i), uint8(i+1), []byte(s))
	}
	clock := simclock.NewScaled(testStart, 1)
	f.Cleanup(clock.Close)
	emu := New(Options{Clock: clock})
	f.Cleanup(emu.Close)
	f.Fuzz(func(t *testing.T, p, m uint8, body []byte) {
		path := paths[int(p)%len(paths)]
		method := methods[int(m)%len(methods)]
		status, _, out := rawCallRaw(emu, method, path, body)
		if status >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, status, out)
		}
		if status != http.StatusNoContent && !json.Valid(out) {
			t.Fatalf("%s %s: response is not JSON: %q", method, path, out)
		}
	})
}

// FuzzFaultPlan checks that a plan that parses survives a round trip.
func FuzzFaultPlan(f *testing.F) {
	f.Add([]byte(issuePlan))
	f.Add([]byte(`{"rules":[{"api":"elbv2:ModifyListener","latencyMs":5}]}`))
	f.Add([]byte(`{"seed":3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseFaultPlan(data)
		if err != nil {
			return
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("marshal a valid plan: %v", err)
		}
		if _, err := ParseFaultPlan(b); err != nil {
			t.Fatalf("a valid plan does not re-parse: %v\n%s", err, b)
		}
	})
}
