package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/examples"
)

// With ResolveTags (what `ecsflow local` runs with), deploying a tag pins
// the digest the emulator's ECR holds for it, and a tag never pushed is
// refused with 400 naming artifact.tag.
func TestResolveTagsPinsPushedTagsAndRefusesOthers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, Config{ClockScale: 200, ResolveTags: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := SeedExample(ctx, s, ExamplePath, examples.ECSFlow, ExampleOptions{DisableTrigger: true}, io.Discard); err != nil {
		t.Fatal(err)
	}
	get := func(path string) []map[string]any {
		t.Helper()
		resp, err := http.Get(s.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Items []map[string]any }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return body.Items
	}
	idOf := func(items []map[string]any, name string) string {
		for _, it := range items {
			if it["name"] == name {
				return it["id"].(string)
			}
		}
		t.Fatalf("no %s in %v", name, items)
		return ""
	}
	app := idOf(get("/v1/applications"), "shop")
	wf := idOf(get("/v1/applications/"+app+"/workflows"), "web-dev-canary")
	svc := idOf(get("/v1/applications/"+app+"/services"), "web")
	deploy := func(tag string) (int, map[string]any) {
		b, _ := json.Marshal(map[string]any{"appId": app, "workflowId": wf, "serviceId": svc, "artifact": map[string]any{"tag": tag}})
		resp, err := http.Post(s.URL()+"/v1/deployments", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	code, body := deploy("v9.9.9")
	if code != http.StatusBadRequest || !strings.Contains(strings.Join(fieldNames(body), ","), "artifact.tag") {
		t.Fatalf("deploy of a tag never pushed: %d %v, want 400 naming artifact.tag", code, body)
	}
	digest, err := s.Emulator().PushImage(ctx, "web", "v2.0.0")
	if err != nil {
		t.Fatal(err)
	}
	code, body = deploy("v2.0.0")
	if code != http.StatusCreated {
		t.Fatalf("deploy of a pushed tag: %d %v, want 201", code, body)
	}
	if art, _ := body["artifact"].(map[string]any); art["digest"] != digest {
		t.Fatalf("artifact %v, want the tag pinned to %s", body["artifact"], digest)
	}
}

func fieldNames(body map[string]any) []string {
	e, _ := body["error"].(map[string]any)
	fs, _ := e["fields"].([]any)
	var out []string
	for _, f := range fs {
		if m, ok := f.(map[string]any); ok {
			out = append(out, m["field"].(string))
		}
	}
	return out
}
