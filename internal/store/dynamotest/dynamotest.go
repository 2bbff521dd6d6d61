// Package dynamotest runs tests against real DynamoDB-compatible servers,
// reached over loopback HTTP by the real aws-sdk-go-v2 client:
//
//   - DynamoDB Local (AWS's own implementation, Java 17), started once per
//     test binary as a child process on a free loopback port. It is taken
//     from $ECSFLOW_DYNAMODB_LOCAL_DIR (the Makefile sets it and fills it
//     with `make dynamodb-local`), by default
//     $HOME/.cache/ecsflow/dynamodb-local-2.9.30/package/emulator; when the
//     jar is missing the harness fetches it the same way (npm pack
//     amplify-dynamodb-simulator@2.9.30, untar) into that directory.
//   - minidyn's HTTP server (github.com/truora/minidyn/server) on an
//     httptest server.
//   - memdynamo (internal/memdynamo), ecsflow's own in-memory DynamoDB,
//     twice: in process (Backend.DB is the *memdynamo.DB itself, Client
//     reaches the same database over HTTP) and through its HTTP handler
//     with the real SDK client.
//
// A test that cannot reach DynamoDB Local fails; nothing skips.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { dynamotest.Main(m) }
//
// then run a test on every backend with ForEach, each with a fresh table.
package dynamotest

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/truora/minidyn/server"

	"github.com/ecsflow/ecsflow/internal/memdynamo"
	"github.com/ecsflow/ecsflow/internal/store"
)

//go:embed LoopbackDynamoDBLocal.java
var launcherSource []byte

// Backend names, which are also the subtest names.
const (
	DynamoDBLocal = "DynamoDBLocal"
	Minidyn       = "Minidyn"
	Memdynamo     = "Memdynamo"     // in process
	MemdynamoHTTP = "MemdynamoHTTP" // over its HTTP handler
)

// Version is the amplify-dynamodb-simulator package that carries DynamoDB Local.
const Version = "2.9.30"

// Backend is one running DynamoDB-compatible server.
type Backend struct {
	Name     string
	Endpoint string // http://127.0.0.1:PORT
	// Client is the real SDK client for Endpoint.
	Client *dynamodb.Client
	// DB is what a store should run on: Client, except for the in-process
	// Memdynamo backend, where it is the *memdynamo.DB (whose tables
	// Client reaches over HTTP too).
	DB store.DynamoDB
}

var (
	localOnce sync.Once
	local     *Backend
	localErr  error
	localStop func()

	miniOnce sync.Once
	mini     *Backend
	miniSrv  *httptest.Server

	memOnce sync.Once
	mem     *Backend
	memHTTP *Backend
	memSrv  *httptest.Server

	tableSeq atomic.Int64
)

// Main runs the tests and then stops the servers the harness started. Call
// it from TestMain; it does not return.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop kills DynamoDB Local and closes the minidyn server, if started.
func Stop() {
	if localStop != nil {
		localStop()
		localStop = nil
	}
	if miniSrv != nil {
		miniSrv.Close()
		miniSrv = nil
	}
	if memSrv != nil {
		memSrv.Close()
		memSrv = nil
	}
}

// Backends returns every backend (DynamoDB Local, minidyn, memdynamo in
// process and over HTTP), starting them on first use. It fails tb when
// DynamoDB Local cannot be started.
func Backends(tb testing.TB) []Backend {
	tb.Helper()
	l := Local(tb)
	return []Backend{l, Mini(), Mem(), MemHTTP()}
}

// Local returns DynamoDB Local, starting it on first use; it fails tb when
// it cannot.
func Local(tb testing.TB) Backend {
	tb.Helper()
	localOnce.Do(func() { local, localErr = startLocal() })
	if localErr != nil {
		// Required under `make test` (ECSFLOW_REQUIRE_DYNAMODB_LOCAL=1) and
		// everywhere else too: nothing skips.
		tb.Fatalf("DynamoDB Local did not start (it is required; ECSFLOW_REQUIRE_DYNAMODB_LOCAL=%q): %v\n"+
			"fix: install a Java 17 JDK (java and javac) and Node (npm), then `make dynamodb-local`",
			os.Getenv("ECSFLOW_REQUIRE_DYNAMODB_LOCAL"), localErr)
	}
	return *local
}

// Mini returns the minidyn HTTP server backend, starting it on first use.
func Mini() Backend {
	miniOnce.Do(func() {
		miniSrv = httptest.NewServer(server.NewServer())
		c := NewClient(miniSrv.URL)
		mini = &Backend{Name: Minidyn, Endpoint: miniSrv.URL, Client: c, DB: c}
	})
	return *mini
}

func startMem() {
	memOnce.Do(func() {
		db := memdynamo.New()
		memSrv = httptest.NewServer(db.Handler())
		c := NewClient(memSrv.URL)
		mem = &Backend{Name: Memdynamo, Endpoint: memSrv.URL, Client: c, DB: db}
		memHTTP = &Backend{Name: MemdynamoHTTP, Endpoint: memSrv.URL, Client: c, DB: c}
	})
}

// Mem returns memdynamo in process: DB is the *memdynamo.DB. Its tables
// are shared with MemHTTP.
func Mem() Backend {
	startMem()
	return *mem
}

// MemHTTP returns memdynamo's HTTP handler on an httptest server, reached
// by the real SDK client.
func MemHTTP() Backend {
	startMem()
	return *memHTTP
}

// NewClient is a real SDK client for a local endpoint, with static dummy
// credentials (no credential chain, no IMDS).
func NewClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("ecsflowlocal", "ecsflowlocal", ""),
		HTTPClient: &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second,
		}},
	})
}

// Table creates a fresh store table on b and returns its name.
func Table(tb testing.TB, b Backend) string {
	tb.Helper()
	name := fmt.Sprintf("ecsflow-test-%d-%d", os.Getpid(), tableSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := store.CreateTable(ctx, b.Client, name); err != nil {
		tb.Fatalf("%s: %v", b.Name, err)
	}
	return name
}

// ForEach runs f as a subtest per backend (DynamoDBLocal/..., Minidyn/...),
// each with a fresh table.
func ForEach(t *testing.T, f func(t *testing.T, b Backend, table string)) {
	t.Helper()
	for _, b := range Backends(t) {
		t.Run(b.Name, func(t *testing.T) { f(t, b, Table(t, b)) })
	}
}

// Dir is where DynamoDB Local's jar is expected.
func Dir() string {
	if d := os.Getenv("ECSFLOW_DYNAMODB_LOCAL_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "ecsflow", "dynamodb-local-"+Version, "package", "emulator")
}

// errPortTaken: the free port picked for DynamoDB Local was taken by
// another process before the JVM bound it.
var errPortTaken = errors.New("port taken before dynamodb local bound it")

func startLocal() (*Backend, error) {
	dir := Dir()
	if err := ensureJar(dir); err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("java"); err != nil {
		return nil, fmt.Errorf("java (17+) not found: %w", err)
	}
	// A port found free can be taken by another process (other test
	// binaries bind ephemeral ports all the time) before the JVM binds
	// it: then try another one.
	for attempt := 1; ; attempt++ {
		b, err := startLocalOn(dir)
		if errors.Is(err, errPortTaken) && attempt < 5 {
			continue
		}
		return b, err
	}
}

// pickPort finds the port for DynamoDB Local (a variable for tests).
var pickPort = freePort

func startLocalOn(dir string) (*Backend, error) {
	port, err := pickPort()
	if err != nil {
		return nil, err
	}
	// DynamoDB Local's own launcher binds every interface; the launcher
	// below serves the same handler on 127.0.0.1 only. Telemetry is off.
	work, err := os.MkdirTemp("", "dynamodb-local-")
	if err != nil {
		return nil, fmt.Errorf("dynamodb local launcher: %w", err)
	}
	classpath := "DynamoDBLocal.jar" + string(os.PathListSeparator) + filepath.Join("DynamoDBLocal_lib", "*")
	mainArg, err := launcher(dir, work, classpath)
	if err != nil {
		_ = os.RemoveAll(work)
		return nil, err
	}
	if filepath.Ext(mainArg) != ".java" {
		classpath += string(os.PathListSeparator) + filepath.Dir(mainArg)
		mainArg = strings.TrimSuffix(filepath.Base(mainArg), ".class")
	}
	cmd := exec.Command("java", "-Djava.library.path=./DynamoDBLocal_lib", "-Xmx512m", "-XX:+UseSerialGC",
		"-cp", classpath, mainArg, strconv.Itoa(port))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DDB_LOCAL_TELEMETRY=0")
	logf, err := os.Create(filepath.Join(work, "server.log"))
	if err != nil {
		_ = os.RemoveAll(work)
		return nil, fmt.Errorf("dynamodb local log: %w", err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	setProcAttrs(cmd)
	// The parent-death signal fires when the thread that forked the child
	// exits, so the forking goroutine keeps its thread until the child ends.
	started, exited := make(chan error, 1), make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
		_ = logf.Close()
	}()
	if err := <-started; err != nil {
		_ = logf.Close()
		_ = os.RemoveAll(work)
		return nil, fmt.Errorf("start dynamodb local: %w", err)
	}
	stop := func() {
		defer os.RemoveAll(work)
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
	}
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	client := NewClient(endpoint)
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-exited:
			out, _ := os.ReadFile(logf.Name())
			_ = os.RemoveAll(work)
			return nil, fmt.Errorf("dynamodb local exited (%v): %s", err, tail(out))
		default:
		}
		// The launcher says when it listens; until then whatever answers on
		// the port is not ours. A failed bind leaves the JVM running (its
		// other threads), so the log says it, not the exit.
		out, _ := os.ReadFile(logf.Name())
		if bytes.Contains(out, []byte("Address already in use")) {
			stop()
			return nil, fmt.Errorf("dynamodb local on port %d: %w", port, errPortTaken)
		}
		if bytes.Contains(out, []byte("DynamoDB Local listening on")) && ready(client) {
			localStop = stop
			return &Backend{Name: DynamoDBLocal, Endpoint: endpoint, Client: client, DB: client}, nil
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logf.Name())
			stop()
			return nil, fmt.Errorf("dynamodb local not ready on %s after 90s: %s", endpoint, tail(out))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ready reports whether the server answers a DynamoDB request (a
// ResourceNotFoundException for a missing table counts).
func ready(c *dynamodb.Client) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("ecsflow-readiness-probe")},
		func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	if err == nil {
		return true
	}
	var apiErr interface{ ErrorCode() string }
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ResourceNotFoundException"
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
