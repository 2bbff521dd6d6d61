package lambdaboot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// bootStep is the step Lambda the step tests boot.
func bootStep() string {
	if name := os.Getenv("ECSFLOW_BOOT_STEP"); name != "" {
		return name
	}
	return "step-rollback"
}

// lambdaError is the object the runtime answers with when the handler
// returns an error; errorType is the error's type name, which the state
// machines match.
type lambdaError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

func decodeError(b []byte) (lambdaError, error) {
	var e lambdaError
	if err := json.Unmarshal(b, &e); err != nil || e.Type == "" {
		return e, fmt.Errorf("not a Lambda error object: %s", b)
	}
	return e, nil
}

// initDuration waits briefly for the emulator's REPORT line.
func initDuration(logs *syncBuffer) string {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if m := initDurationRE.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "?"
}

// TestBootStepUnderRuntimeInterfaceEmulator boots a step Lambda (wired
// with only its own clients) and runs its handler: a deployment that does
// not exist is read from DynamoDB over the wire and refused with the
// step error the state machines catch (Invalid); a malformed ID is refused
// before any call.
func TestBootStepUnderRuntimeInterfaceEmulator(t *testing.T) {
	name := bootStep()
	root := repoRoot(t)
	rie := emulator(t, root)
	buildStart := time.Now()
	bootstrap, size := build(t, root, name)
	t.Logf("functions/%s: host (%s/%s) bootstrap %.1f MB stripped, built in %v", name, runtime.GOOS, runtime.GOARCH, float64(size)/(1<<20), time.Since(buildStart).Round(time.Millisecond))

	ddb := &fakeDynamoDB{}
	srv := httptest.NewServer(ddb)
	defer srv.Close()
	const missing = "dep-boot-missing"
	b := boot(t, rie, bootstrap, name, srv.URL, []byte(`{"deploymentId":"`+missing+`"}`))
	defer b.stop()
	defer func() {
		if t.Failed() {
			t.Logf("emulator output:\n%s", b.logs.String())
		}
	}()
	first, err := decodeError(b.first)
	if err != nil {
		t.Fatalf("first invocation: %v", err)
	}
	if first.Type != "Invalid" || !strings.Contains(first.Message, missing) {
		t.Errorf("missing deployment: got %s %q, want Invalid naming %s", first.Type, first.Message, missing)
	}
	ddb.mu.Lock()
	ops, calls := append([]string(nil), ddb.ops...), append([]map[string]any(nil), ddb.calls...)
	ddb.mu.Unlock()
	if len(ops) == 0 || ops[0] != "GetItem" {
		t.Fatalf("DynamoDB calls: got %v, want a GetItem first", ops)
	}
	if calls[0]["TableName"] != "ecsflow-boot" {
		t.Errorf("GetItem TableName: got %v, want ecsflow-boot", calls[0]["TableName"])
	}
	if key, _ := json.Marshal(calls[0]["Key"]); !strings.Contains(string(key), missing) {
		t.Errorf("GetItem Key %s does not name %s", key, missing)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	warmStart := time.Now()
	raw, err := invokeRaw(ctx, b.url, []byte(`{"deploymentId":"app-not-a-deployment"}`))
	warm := time.Since(warmStart)
	if err != nil {
		t.Fatalf("second invocation: %v", err)
	}
	bad, err := decodeError(raw)
	if err != nil {
		t.Fatalf("malformed id: %v", err)
	}
	if bad.Type != "Invalid" || !strings.Contains(bad.Message, "app-not-a-deployment") {
		t.Errorf("malformed id: got %s %q, want Invalid naming the id", bad.Type, bad.Message)
	}
	ddb.mu.Lock()
	n := len(ddb.ops)
	ddb.mu.Unlock()
	if n != len(ops) {
		t.Errorf("a malformed id reached DynamoDB: %d calls after, %d before", n, len(ops))
	}
	t.Logf("cold start (emulator process start -> first response): %v; runtime Init Duration: %s ms; warm invoke: %v",
		b.cold.Round(time.Microsecond), initDuration(b.logs), warm.Round(time.Microsecond))
	for _, line := range strings.Split(b.logs.String(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) && strings.Contains(line, `"msg":"configuration"`) {
			t.Errorf("function failed to configure: %s", line)
		}
	}
}

// BenchmarkColdStartStep measures emulator process start -> first response
// of the step Lambda (a missing deployment, one DynamoDB read), one fresh
// process per op.
func BenchmarkColdStartStep(b *testing.B) {
	name := bootStep()
	root := repoRoot(b)
	rie := emulator(b, root)
	bootstrap, _ := build(b, root, name)
	srv := httptest.NewServer(&fakeDynamoDB{})
	defer srv.Close()
	event := []byte(`{"deploymentId":"dep-boot-missing"}`)
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bt := boot(b, rie, bootstrap, name, srv.URL, event)
		total += bt.cold
		b.StopTimer()
		bt.stop()
		if e, err := decodeError(bt.first); err != nil || e.Type != "Invalid" {
			b.Fatalf("first response %s: %v", bt.first, err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "cold-ms/op")
}
