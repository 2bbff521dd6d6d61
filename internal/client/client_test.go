package client_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/ecsflow/ecsflow/internal/client"
	"github.com/ecsflow/ecsflow/internal/model"
)

func TestIsLoopback(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"http://127.0.0.1:8080", true}, {"http://localhost:8080", true}, {"http://[::1]:8080", true},
		{"https://abc123.execute-api.eu-west-1.amazonaws.com/prod", false}, {"http://10.0.0.1", false},
	} {
		u, _ := url.Parse(c.in)
		if got := client.IsLoopback(u); got != c.want {
			t.Errorf("IsLoopback(%s) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestLoopbackIsUnsigned(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			t.Errorf("loopback request carries Authorization %q", a)
		}
		_, _ = io.WriteString(w, `{"items":[]}`)
	}))
	defer srv.Close()
	c, err := client.New(context.Background(), srv.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Signed() {
		t.Fatal("a loopback client signs")
	}
	if _, err := c.List(context.Background(), model.KindApplication, client.Scope{}); err != nil {
		t.Fatalf("List: %v", err)
	}
}

// TestSigV4 checks over the wire that requests carry a valid execute-api
// signature: the server re-signs what it received with the same
// credentials and time and must get the same Authorization header.
func TestSigV4(t *testing.T) {
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")
	var seen int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen++
		body, _ := io.ReadAll(r.Body)
		got := r.Header.Get("Authorization")
		if !strings.Contains(got, "/eu-west-1/execute-api/aws4_request") {
			t.Errorf("Authorization %q does not scope execute-api in eu-west-1", got)
		}
		at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
		if err != nil {
			t.Fatalf("X-Amz-Date: %v", err)
		}
		re, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), strings.NewReader(string(body)))
		for k, v := range r.Header {
			if k != "Authorization" && k != "Accept-Encoding" && k != "User-Agent" {
				re.Header[k] = v
			}
		}
		re.Header.Del("X-Amz-Date")
		c, _ := creds.Retrieve(r.Context())
		sum := sha256.Sum256(body) // API Gateway hashes the payload it received
		if err := v4.NewSigner().SignHTTP(r.Context(), c, re, hex.EncodeToString(sum[:]), "execute-api", "eu-west-1", at); err != nil {
			t.Fatal(err)
		}
		if want := re.Header.Get("Authorization"); want != got {
			t.Errorf("signature does not verify:\n got  %s\n want %s", got, want)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"dep-1","status":"RUNNING"}`)
	}))
	defer srv.Close()
	c, err := client.New(context.Background(), srv.URL, client.Options{SigV4: &client.SigV4{
		Signer: v4.NewSigner(), Credentials: creds, Region: "eu-west-1"}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Control(context.Background(), "dep-1", "approve", "looks good")
	if err != nil {
		t.Fatalf("Control: %v", err)
	}
	if d.Status != model.StatusRunning || seen != 1 {
		t.Errorf("got %+v after %d requests", d, seen)
	}
}

func TestNonLoopbackNeedsRegion(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_PROFILE", "")
	c, err := client.New(context.Background(), "https://abc123.execute-api.eu-west-1.amazonaws.com/prod", client.Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if !c.Signed() {
		t.Error("an API Gateway endpoint is not signed")
	}
	if _, err := client.New(context.Background(), "https://api.example.com", client.Options{}); err == nil || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Errorf("endpoint without a region: got %v, want an error naming AWS_REGION", err)
	}
}

func TestErrorsAreOneLine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/deployments":
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": "ValidationError",
				"message": "the request is invalid", "fields": []map[string]string{{"field": "workflowId", "message": "is required"}}}})
		default:
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "upstream\nexploded")
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c, _ := client.New(ctx, srv.URL, client.Options{})
	_, err := c.StartDeployment(ctx, client.DeploymentRequest{AppID: "app-1"})
	want := "POST /v1/deployments: 400 Bad Request (ValidationError): the request is invalid; workflowId: is required"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if client.StatusOf(err) != 400 {
		t.Errorf("StatusOf = %d, want 400", client.StatusOf(err))
	}
	_, err = c.Deployment(ctx, "dep-1")
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "502 Bad Gateway") {
		t.Errorf("non-JSON error: %q", err)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	_ = ln.Close()
	c, _ = client.New(ctx, "http://"+addr, client.Options{})
	_, err = c.Deployment(ctx, "dep-1")
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 0 || !strings.Contains(err.Error(), "cannot reach the API") || strings.Contains(err.Error(), "\n") {
		t.Errorf("unreachable API: %q", err)
	}
}

func TestNewRefusesBadEndpoint(t *testing.T) {
	for _, e := range []string{"", "ftp://x", "127.0.0.1:8080"} {
		if _, err := client.New(context.Background(), e, client.Options{}); err == nil {
			t.Errorf("New(%q) accepted", e)
		}
	}
	_ = aws.String
}
