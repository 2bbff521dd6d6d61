package api_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestAccessLog(t *testing.T) {
	e := onMem(t)
	r := e.must(http.StatusCreated, http.MethodPost, "/v1/applications", map[string]any{"name": "secret-name-xyz"})
	id := r.Header.Get("X-Request-Id")
	e.must(http.StatusNotFound, http.MethodGet, "/v1/applications/app-00000000000000000000000000000000", nil)
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(e.logs.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("%d access log lines, want 2:\n%s", len(lines), e.logs.String())
	}
	first := lines[0]
	for k, want := range map[string]any{"request_id": id, "method": "POST", "path": "/v1/applications", "status": float64(201)} {
		if first[k] != want {
			t.Errorf("log %s = %v, want %v", k, first[k], want)
		}
	}
	if _, ok := first["duration_ms"].(float64); !ok {
		t.Errorf("no duration_ms in %v", first)
	}
	if lines[1]["status"] != float64(404) || lines[1]["request_id"] == id {
		t.Errorf("second line %v: want status 404 and its own request id", lines[1])
	}
	if strings.Contains(e.logs.String(), "secret-name-xyz") {
		t.Error("the log holds a request body")
	}
}
