// Package lambdaboot boots a real built Lambda bootstrap under the AWS Lambda
// Runtime Interface Emulator and invokes it over HTTP, as Lambda would.
//
// The function is ECSFLOW_BOOT_FUNCTION (default "api"), and for the step
// tests ECSFLOW_BOOT_STEP (default "step-rollback", the step that links the
// most AWS clients), built for the host architecture. The emulator is installed with `go install` into
// $ECSFLOW_CACHE_DIR/bin (default ~/.cache/ecsflow/bin) when it is not on
// PATH or there already.
package lambdaboot

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rieModule is the pinned emulator.
const rieModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

const invokePath = "/2015-03-31/functions/function/invocations"

func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/ecsflow/ecsflow\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root (go.mod of github.com/ecsflow/ecsflow) not found")
		}
		dir = parent
	}
}

func cacheDir(t testing.TB) string {
	if d := os.Getenv("ECSFLOW_CACHE_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(home, ".cache", "ecsflow")
}

// emulator returns the path of aws-lambda-rie, installing it if needed.
func emulator(t testing.TB, root string) string {
	t.Helper()
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	bin := filepath.Join(cacheDir(t), "bin")
	p := filepath.Join(bin, "aws-lambda-rie")
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
		return p
	}
	cmd := exec.Command("go", "install", rieModule)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "CGO_ENABLED=0", "GOOS=", "GOARCH=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install the Runtime Interface Emulator: %v\n%s", err, out)
	}
	return p
}

// build compiles functions/<name> for the host, as a Lambda bootstrap
// (with -gcflags=$ECSFLOW_BOOT_GCFLAGS when set, to compare build options).
func build(t testing.TB, root, name string) (string, int64) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bootstrap")
	args := []string{"build", "-tags", "lambda.norpc", "-ldflags=-s -w"}
	if gc := os.Getenv("ECSFLOW_BOOT_GCFLAGS"); gc != "" {
		args = append(args, "-gcflags="+gc)
	}
	cmd := exec.Command("go", append(args, "-o", out, "./functions/"+name)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build functions/%s: %v\n%s", name, err, b)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	return out, st.Size()
}

// freePorts returns n distinct loopback addresses that were free: all are
// held open until all are chosen, so two never get the same port.
func freePorts(t testing.TB, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		addrs[i] = l.Addr().String()
	}
	return addrs
}

// fakeDynamoDB answers Query with an empty page and GetItem with no item,
// and records what it was asked, over the real DynamoDB JSON protocol.
type fakeDynamoDB struct {
	mu    sync.Mutex
	calls []map[string]any
	ops   []string
}

func (f *fakeDynamoDB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	f.mu.Lock()
	f.ops = append(f.ops, op)
	f.calls = append(f.calls, body)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if op == "GetItem" {
		fmt.Fprint(w, `{}`)
		return
	}
	if op != "Query" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"__type":"com.amazon.coral.validate#ValidationException","message":"fake: unexpected %s"}`, op)
		return
	}
	fmt.Fprint(w, `{"Count":0,"Items":[],"ScannedCount":0}`)
}

// apiEvent is events/api-list-applications.json with another path.
func apiEvent(t testing.TB, root, path, query string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "events", "api-list-applications.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev["rawPath"] = path
	ev["rawQueryString"] = query
	if query == "" {
		delete(ev, "queryStringParameters")
	}
	ev["requestContext"].(map[string]any)["http"].(map[string]any)["path"] = path
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type apiResponse struct {
	StatusCode      int               `json:"statusCode"`
	Headers         map[string]string `json:"headers"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
}

// invokeRaw posts event to the emulator and returns the function's answer
// (its result, or Lambda's error object).
func invokeRaw(ctx context.Context, url string, event []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(event))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("emulator answered %s: %s", resp.Status, b)
	}
	return b, nil
}

func decodeAPI(b []byte) (apiResponse, error) {
	var out apiResponse
	if err := json.Unmarshal(b, &out); err != nil {
		return apiResponse{}, fmt.Errorf("decode function response %q: %w", b, err)
	}
	return out, nil
}

func invoke(ctx context.Context, url string, event []byte) (apiResponse, error) {
	b, err := invokeRaw(ctx, url, event)
	if err != nil {
		return apiResponse{}, err
	}
	return decodeAPI(b)
}

// syncBuffer collects the emulator's output.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var initDurationRE = regexp.MustCompile(`Init Duration: ([0-9.]+) ms`)

// booted is a running emulator with the function inside.
type booted struct {
	url   string
	cold  time.Duration // process start -> first response
	first []byte        // the first response, as the emulator returned it
	logs  *syncBuffer
	stop  func()
}

// errPortTaken is bootOnce's answer when the emulator could not listen on
// a port chosen free (another process took it in between).
var errPortTaken = errors.New("emulator port taken")

// boot starts the emulator with bootstrap and invokes event until the first
// response; every AWS endpoint points at ddbURL or a closed loopback port.
// When another process takes a port the emulator was given before it
// listens, boot starts again on new ports (at most three times).
func boot(tb testing.TB, rie, bootstrap, name, ddbURL string, event []byte) *booted {
	tb.Helper()
	for attempt := 1; ; attempt++ {
		b, err := bootOnce(tb, rie, bootstrap, name, ddbURL, event)
		if err == nil {
			return b
		}
		if attempt == 3 {
			tb.Fatalf("boot: %v after %d attempts", err, attempt)
		}
	}
}

func bootOnce(tb testing.TB, rie, bootstrap, name, ddbURL string, event []byte) (*booted, error) {
	tb.Helper()
	addrs := freePorts(tb, 2)
	rieAddr, apiAddr := addrs[0], addrs[1]
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", rieAddr, "--runtime-api-address", apiAddr, "--log-level", "info", bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Dir(bootstrap),
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDBOOTTEST",
		"AWS_SECRET_ACCESS_KEY=boot-test-secret",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL=http://127.0.0.1:1",
		"AWS_ENDPOINT_URL_DYNAMODB=" + ddbURL,
		"AWS_LAMBDA_FUNCTION_NAME=ecsflow-" + name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=29",
		"TABLE_NAME=ecsflow-boot",
		"STATE_MACHINE_ARN_ROLLING=arn:aws:states:us-east-1:123456789012:stateMachine:ecsflow-rolling",
	}
	b := &booted{url: "http://" + rieAddr + invokePath, logs: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = b.logs, b.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start emulator: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	b.stop = func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Retry only while the emulator is not yet listening.
	for {
		resp, err := invokeRaw(ctx, b.url, event)
		if err == nil {
			b.first = resp
			break
		}
		var op *net.OpError
		select {
		case <-exited:
			b.stop()
			if strings.Contains(b.logs.String(), "address already in use") {
				return nil, fmt.Errorf("%w: %s or %s", errPortTaken, rieAddr, apiAddr)
			}
			tb.Fatalf("emulator exited before answering: %v\nemulator output:\n%s", err, b.logs.String())
		default:
		}
		if !errors.As(err, &op) || ctx.Err() != nil {
			b.stop()
			tb.Fatalf("first invocation: %v\nemulator output:\n%s", err, b.logs.String())
		}
		time.Sleep(time.Millisecond)
	}
	b.cold = time.Since(start)
	return b, nil
}

func bootFunction() string {
	if name := os.Getenv("ECSFLOW_BOOT_FUNCTION"); name != "" {
		return name
	}
	return "api"
}

func TestBootUnderRuntimeInterfaceEmulator(t *testing.T) {
	name := bootFunction()
	root := repoRoot(t)
	rie := emulator(t, root)
	buildStart := time.Now()
	bootstrap, size := build(t, root, name)
	t.Logf("functions/%s: host (%s/%s) bootstrap %.1f MB stripped, built in %v", name, runtime.GOOS, runtime.GOARCH, float64(size)/(1<<20), time.Since(buildStart).Round(time.Millisecond))

	ddb := &fakeDynamoDB{}
	srv := httptest.NewServer(ddb)
	defer srv.Close()

	b := boot(t, rie, bootstrap, name, srv.URL, apiEvent(t, root, "/v1/openapi.json", ""))
	defer b.stop()
	defer func() {
		if t.Failed() {
			t.Logf("emulator output:\n%s", b.logs.String())
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url, cold, logs := b.url, b.cold, b.logs
	first, err := decodeAPI(b.first)
	if err != nil {
		t.Fatal(err)
	}
	if first.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/openapi.json: status %d, body %s", first.StatusCode, first.Body)
	}
	var spec struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal([]byte(first.Body), &spec); err != nil {
		t.Fatalf("openapi body: %v: %.200s", err, first.Body)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.") || spec.Paths["/v1/applications"] == nil {
		t.Errorf("openapi document: version %q, %d paths, want 3.x with /v1/applications", spec.OpenAPI, len(spec.Paths))
	}

	// Warm: the real list route, which queries DynamoDB over the wire.
	warmStart := time.Now()
	list, err := invoke(ctx, url, apiEvent(t, root, "/v1/applications", "limit=10"))
	warm := time.Since(warmStart)
	if err != nil {
		t.Fatalf("GET /v1/applications: %v", err)
	}
	if list.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/applications: status %d, body %s", list.StatusCode, list.Body)
	}
	if !json.Valid([]byte(list.Body)) {
		t.Errorf("GET /v1/applications: body is not JSON: %s", list.Body)
	}
	ddb.mu.Lock()
	ops, calls := append([]string(nil), ddb.ops...), append([]map[string]any(nil), ddb.calls...)
	ddb.mu.Unlock()
	if len(ops) != 1 || ops[0] != "Query" {
		t.Fatalf("DynamoDB calls: got %v, want one Query", ops)
	}
	if calls[0]["TableName"] != "ecsflow-boot" {
		t.Errorf("Query TableName: got %v, want ecsflow-boot", calls[0]["TableName"])
	}

	// The emulator reports the runtime's own init time on its REPORT line.
	initMs := "?"
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if m := initDurationRE.FindStringSubmatch(logs.String()); m != nil {
			initMs = m[1]
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("cold start (emulator process start -> first response): %v; runtime Init Duration: %s ms; warm invoke: %v",
		cold.Round(time.Microsecond), initMs, warm.Round(time.Microsecond))
	if cold > 20*time.Second {
		t.Errorf("cold start took %v", cold)
	}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"level":"ERROR"`) {
			t.Errorf("function logged an error: %s", sc.Text())
		}
	}
}

// BenchmarkColdStart measures emulator process start -> first response of
// the built function (GET /v1/openapi.json), one fresh process per op.
func BenchmarkColdStart(b *testing.B) {
	name := bootFunction()
	root := repoRoot(b)
	rie := emulator(b, root)
	bootstrap, _ := build(b, root, name)
	srv := httptest.NewServer(&fakeDynamoDB{})
	defer srv.Close()
	event := apiEvent(b, root, "/v1/openapi.json", "")
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bt := boot(b, rie, bootstrap, name, srv.URL, event)
		total += bt.cold
		b.StopTimer()
		bt.stop()
		if first, err := decodeAPI(bt.first); err != nil || first.StatusCode != http.StatusOK {
			b.Fatalf("first response %s: %v", bt.first, err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "cold-ms/op")
}
