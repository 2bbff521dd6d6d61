package dynamotest

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

// TestDynamoDBLocalListensOnLoopbackOnly reads the kernel's socket table:
// the listening socket of DynamoDB Local's port must be bound to
// 127.0.0.1 (plain or IPv4-mapped), not to a wildcard address.
func TestDynamoDBLocalListensOnLoopbackOnly(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Fatalf("this check reads /proc/net and needs linux, not %s", runtime.GOOS)
	}
	b := Local(t)
	u, err := url.Parse(b.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var port int
	if _, err := fmt.Sscanf(u.Port(), "%d", &port); err != nil {
		t.Fatal(err)
	}
	hexPort := fmt.Sprintf("%04X", port)
	var listeners []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local_address rem_address st ...; st 0A is LISTEN.
			if len(fields) < 4 || fields[3] != "0A" || !strings.HasSuffix(fields[1], ":"+hexPort) {
				continue
			}
			listeners = append(listeners, fields[1])
		}
		fh.Close()
	}
	if len(listeners) == 0 {
		t.Fatalf("no listening socket on port %d", port)
	}
	for _, l := range listeners {
		addr := strings.TrimSuffix(l, ":"+hexPort)
		if addr != "0100007F" && addr != "0000000000000000FFFF00000100007F" {
			t.Errorf("DynamoDB Local listens on %s (hex), want 127.0.0.1 only", l)
		}
	}
}

func TestBothBackendsAnswer(t *testing.T) {
	for _, b := range Backends(t) {
		if !ready(b.Client) {
			t.Errorf("%s at %s does not answer", b.Name, b.Endpoint)
		}
		if !strings.HasPrefix(b.Endpoint, "http://127.0.0.1:") {
			t.Errorf("%s endpoint %s is not on loopback", b.Name, b.Endpoint)
		}
	}
}

func TestEnsureJarRefusesAnUnfetchableDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "somewhere")
	err := ensureJar(dir)
	if err == nil || !strings.Contains(err.Error(), "package/emulator") {
		t.Errorf("ensureJar(%s) = %v, want an error saying it cannot fetch there", dir, err)
	}
}

// TestLocalRetriesATakenPort: when the port picked for DynamoDB Local is
// taken before the JVM binds it, the harness starts it on another one
// instead of waiting out its deadline or talking to whoever holds the port.
func TestLocalRetriesATakenPort(t *testing.T) {
	Local(t) // the shared instance first, so that its stop is kept
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	calls := 0
	pickPort = func() (int, error) {
		calls++
		if calls == 1 {
			return takenPort, nil
		}
		return freePort()
	}
	defer func() { pickPort = freePort }()
	shared := localStop
	defer func() { localStop = shared }()
	start := time.Now()
	b, err := startLocal()
	if err != nil {
		t.Fatalf("startLocal with a taken port: %v", err)
	}
	localStop()
	if calls < 2 || strings.HasSuffix(b.Endpoint, fmt.Sprintf(":%d", takenPort)) {
		t.Errorf("started on %s after %d picks, want another port than %d", b.Endpoint, calls, takenPort)
	}
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("took %v: the taken port was not noticed", d)
	}
}
