package awsemu

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

var testStart = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	t     *testing.T
	emu   *Emulator
	srv   *httptest.Server
	clock *simclock.Scaled
	sink  *RecordingSink
	cfg   aws.Config
	ecs   *ecs.Client
}

// newHarness starts an emulator at the given clock scale behind an
// httptest server and returns real SDK clients pointed at it.
func newHarness(t *testing.T, scale float64) *harness {
	t.Helper()
	clock := simclock.NewScaled(testStart, scale)
	sink := NewRecordingSink()
	emu := New(Options{Clock: clock, Sink: sink, Seed: 7})
	srv := httptest.NewServer(emu)
	h := &harness{t: t, emu: emu, srv: srv, clock: clock, sink: sink}
	h.cfg = aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		Retryer:      func() aws.Retryer { return retry.NewStandard() },
	}
	h.ecs = ecs.NewFromConfig(h.cfg)
	t.Cleanup(func() {
		srv.Close()
		emu.Close()
		clock.Close()
	})
	return h
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

// fargateService creates a cluster (if needed), a task definition with the
// image and a FARGATE service with the circuit breaker set as given.
func (h *harness) fargateService(ctx context.Context, cluster, name, image string, desired int32, rollback bool) *ecstypes.Service {
	h.t.Helper()
	if _, err := h.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
		h.t.Fatalf("CreateCluster: %v", err)
	}
	td := h.registerTD(ctx, name, image)
	out, err := h.ecs.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster:        aws.String(cluster),
		ServiceName:    aws.String(name),
		TaskDefinition: td.TaskDefinitionArn,
		DesiredCount:   aws.Int32(desired),
		LaunchType:     ecstypes.LaunchTypeFargate,
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{
			Subnets: []string{"subnet-1"}, SecurityGroups: []string{"sg-1"},
		}},
		DeploymentConfiguration: &ecstypes.DeploymentConfiguration{
			DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{Enable: true, Rollback: rollback},
		},
	})
	if err != nil {
		h.t.Fatalf("CreateService: %v", err)
	}
	return out.Service
}

func (h *harness) registerTD(ctx context.Context, family, image string) *ecstypes.TaskDefinition {
	h.t.Helper()
	out, err := h.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String(family),
		NetworkMode:             ecstypes.NetworkModeAwsvpc,
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		Cpu:                     aws.String("256"),
		Memory:                  aws.String("512"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name:         aws.String("app"),
			Image:        aws.String(image),
			Essential:    aws.Bool(true),
			PortMappings: []ecstypes.PortMapping{{ContainerPort: aws.Int32(8080)}},
		}},
	})
	if err != nil {
		h.t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	return out.TaskDefinition
}

func (h *harness) waitStable(ctx context.Context, cluster, svc string) {
	h.t.Helper()
	wt := ecs.NewServicesStableWaiter(h.ecs, func(o *ecs.ServicesStableWaiterOptions) {
		o.MinDelay = 20 * time.Millisecond
		o.MaxDelay = 100 * time.Millisecond
	})
	if err := wt.Wait(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{svc}}, 15*time.Second); err != nil {
		h.t.Fatalf("ServicesStable waiter for %s: %v\nstate: %s", svc, err, h.stateJSON())
	}
}

func (h *harness) stateJSON() string {
	b, _ := json.MarshalIndent(h.emu.State().Clusters, "", " ")
	return string(b)
}

// waitFor polls cond (with the SDK) until it holds or ctx ends.
func (h *harness) waitFor(ctx context.Context, what string, cond func() bool) {
	h.t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			h.t.Fatalf("timed out waiting for %s\nstate: %s", what, h.stateJSON())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (h *harness) describe(ctx context.Context, cluster, svc string) ecstypes.Service {
	h.t.Helper()
	out, err := h.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{svc}})
	if err != nil {
		h.t.Fatalf("DescribeServices: %v", err)
	}
	if len(out.Services) != 1 {
		h.t.Fatalf("DescribeServices returned %d services, failures %v", len(out.Services), out.Failures)
	}
	return out.Services[0]
}

func detailOf(t *testing.T, ev Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Detail, &m); err != nil {
		t.Fatalf("event detail is not JSON: %v", err)
	}
	return m
}

type smithyMiddlewareStack = middleware.Stack

// countAttempts counts every HTTP attempt, retries included.
func countAttempts(st *middleware.Stack, n *int) error {
	return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("countAttempts", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		*n++
		return next.HandleFinalize(ctx, in)
	}), middleware.After)
}

// disableHostPrefix stops the SDK from prefixing the loopback host (for
// Cloud Map's DiscoverInstances, which otherwise calls data-127.0.0.1).
func disableHostPrefix(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("disableHostPrefix", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		return next.HandleInitialize(smithyhttp.DisableEndpointHostPrefix(ctx, true), in)
	}), middleware.Before)
}

func staticCreds() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")
}

func rawCallF(h http.Handler, target string, body []byte) (int, http.Header, []byte) {
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Header(), rec.Body.Bytes()
}

func rawCallRaw(h http.Handler, method, path string, body []byte) (int, http.Header, []byte) {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Header(), rec.Body.Bytes()
}

func jsonUnmarshal(b []byte, v any) bool { return json.Unmarshal(b, v) == nil }
