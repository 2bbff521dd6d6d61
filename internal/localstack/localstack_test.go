package localstack_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/localstack"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

func quiet() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

// TestDemo runs the demo against the stack on its embedded DynamoDB and on
// DynamoDB Local (through --dynamodb-endpoint's configuration).
func TestDemo(t *testing.T) {
	cases := []struct {
		name string
		cfg  func(t *testing.T) localstack.Config
	}{
		{"embedded", func(t *testing.T) localstack.Config { return localstack.Config{Logger: quiet()} }},
		{"DynamoDBLocal", func(t *testing.T) localstack.Config {
			return localstack.Config{Logger: quiet(), DynamoDBEndpoint: dynamotest.Local(t).Endpoint,
				Table: fmt.Sprintf("demo-%d", time.Now().UnixNano())}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := localstack.Start(ctx, c.cfg(t))
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
				t.Errorf("URL %q, want a loopback URL", s.URL())
			}
			var out strings.Builder
			if err := localstack.Demo(ctx, s.URL(), &out); err != nil {
				t.Fatalf("Demo: %v\n%s", err, out.String())
			}
			for _, want := range []string{"created trigger", "ecs.networkMode", "strategy.canary.phases[1].percent",
				"PreconditionFailed", "Referenced", "every one behaved"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("demo output lacks %q:\n%s", want, out.String())
				}
			}
			// A second run on the same data must notice the duplicates and fail.
			if err := localstack.Demo(ctx, s.URL(), io.Discard); err == nil || !strings.Contains(err.Error(), "409") {
				t.Errorf("second demo on the same data: err %v, want a 409 duplicate failure", err)
			}
			url := s.URL()
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if _, err := http.Get(url + "/v1/openapi.json"); err == nil {
				t.Error("the API still answers after Close")
			}
		})
	}
}

func TestStartRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:8080", "nonsense"} {
		if s, err := localstack.Start(context.Background(), localstack.Config{Listen: addr, Logger: quiet()}); err == nil {
			s.Close()
			t.Errorf("Start(%q): no error, want a loopback-only refusal", addr)
		}
	}
}

func TestStartReportsUnreachableDynamoDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A port that was just free: nothing listens there.
	s, err := localstack.Start(ctx, localstack.Config{Logger: quiet()})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	dead := s.DynamoDBURL()
	s.Close()
	_, err = localstack.Start(ctx, localstack.Config{Logger: quiet(), DynamoDBEndpoint: dead})
	if err == nil || !strings.Contains(err.Error(), "create table") {
		t.Errorf("Start on a dead endpoint: err %v, want a create table failure", err)
	}
}
