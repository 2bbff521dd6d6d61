// Package localstack wires ecsflow's parts into one local system for
// `ecsflow local`, `make demo` and end-to-end tests: a DynamoDB-compatible
// server (minidyn's, in process, reached over loopback HTTP by the real AWS
// SDK client — or any endpoint given, such as DynamoDB Local), the store on
// it, and the REST API served on a loopback listener.
//
// Later issues add the AWS emulator, the embedded Step Functions and the
// event bus here; Start is the one place they are composed.
package localstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/truora/minidyn/server"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/store"
)

// DefaultTable is the table the local stack uses unless told otherwise.
const DefaultTable = "ecsflow"

// Config says how to start the stack. Zero values are fine.
type Config struct {
	// Listen is the API's loopback address (default 127.0.0.1:0, a free port).
	Listen string
	// DynamoDBEndpoint, when set, is used instead of the embedded server
	// (for example DynamoDB Local at http://127.0.0.1:8000).
	DynamoDBEndpoint string
	// Table is the DynamoDB table (default DefaultTable); created if missing.
	Table string
	// Logger receives the API's access log (default: JSON on stderr).
	Logger *slog.Logger
	// Starter starts deployments (default: api.UnavailableStarter, until the
	// local runner exists).
	Starter api.Starter
}

// Stack is a running local system.
type Stack struct {
	url      string
	ddbURL   string
	store    *store.Store
	handler  *api.Handler
	apiSrv   *http.Server
	ddbSrv   *http.Server
	serveErr chan error
}

// Start brings the stack up and returns once the API answers on its listener.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if cfg.Starter == nil {
		cfg.Starter = api.UnavailableStarter{Reason: "the local stack has no deployment engine yet"}
	}
	if err := checkLoopback(cfg.Listen); err != nil {
		return nil, err
	}
	s := &Stack{serveErr: make(chan error, 2)}
	ddbURL := cfg.DynamoDBEndpoint
	if ddbURL == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("listen for the embedded dynamodb: %w", err)
		}
		s.ddbSrv = &http.Server{Handler: server.NewServer(), ReadHeaderTimeout: 10 * time.Second}
		go func() { s.serveErr <- serveUntilClosed(s.ddbSrv, ln) }()
		ddbURL = "http://" + ln.Addr().String()
	}
	s.ddbURL = ddbURL
	db := NewDynamoDBClient(ddbURL)
	if err := store.CreateTable(ctx, db, cfg.Table); err != nil {
		s.Close()
		return nil, fmt.Errorf("create table %s at %s: %w", cfg.Table, ddbURL, err)
	}
	s.store = store.New(db, cfg.Table)
	s.handler = api.New(s.store, cfg.Starter, api.WithLogger(cfg.Logger))
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	s.apiSrv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { s.serveErr <- serveUntilClosed(s.apiSrv, ln) }()
	s.url = "http://" + ln.Addr().String()
	return s, nil
}

// NewDynamoDBClient returns the real SDK client for a local endpoint, with
// static dummy credentials (local endpoints do not check signatures).
func NewDynamoDBClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

func serveUntilClosed(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listen address %q: only loopback addresses (127.0.0.1) are allowed", addr)
	}
	return nil
}

// URL is the API's base URL, e.g. http://127.0.0.1:8080 (routes are under /v1).
func (s *Stack) URL() string { return s.url }

// DynamoDBURL is the DynamoDB endpoint the stack uses.
func (s *Stack) DynamoDBURL() string { return s.ddbURL }

// Store is the stack's store.
func (s *Stack) Store() *store.Store { return s.store }

// Handler is the stack's API handler.
func (s *Stack) Handler() *api.Handler { return s.handler }

// Close stops the API (letting requests in flight finish, for up to 5 s) and
// then the embedded DynamoDB server.
func (s *Stack) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	if s.apiSrv != nil {
		if err := s.apiSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shut down api: %w", err))
		}
	}
	if s.ddbSrv != nil {
		if err := s.ddbSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shut down embedded dynamodb: %w", err))
		}
	}
	for range cap(s.serveErr) {
		select {
		case err := <-s.serveErr:
			if err != nil {
				errs = append(errs, err)
			}
		default:
		}
	}
	return errors.Join(errs...)
}
