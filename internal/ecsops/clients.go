// Package ecsops is ecsflow's gateway to the AWS APIs a deployment drives:
// ECS, ELBv2, Application Auto Scaling, CloudWatch (alarm states, through
// internal/ecsops/cwalarms) and Route 53, through
// aws-sdk-go-v2, and Cloud Map. ECS registers a service's tasks in its
// Cloud Map service itself (CreateService's serviceRegistries); ecsflow's
// own few Cloud Map calls (cloudmap.go: each revision's Cloud Map service in
// DNS blue/green, found, created and deleted) are signed AWS JSON 1.1
// requests made with the ECS client's region, credentials and HTTP client
// rather than the servicediscovery SDK client, to keep the step binaries
// small; they are counted and retried (throttling, 5xx) like the SDK's.
//
// A Factory builds a Clients per deployment target, with the clients of the
// services it was wired with (wire.go): a Lambda wires only what its handler
// calls, so the other services' SDK packages stay out of its binary. On AWS the target
// account is reached by assuming the cloud provider's role through STS with
// its ExternalId (credentials cached and refreshed by the SDK); in local mode
// every client talks to one endpoint (the emulator) with static credentials.
// Every client carries a middleware that counts API calls by operation
// ("ecs:UpdateService") into the Counter found in the call's context, which
// is how a deployment's ledger knows what it cost.
package ecsops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Target is the account and region a deployment acts in.
type Target struct {
	Region string
	// RoleARN is the cloud provider's role; empty means the base
	// credentials act directly (local mode, or a same-account setup).
	RoleARN    string
	ExternalID string
}

// Clients are the SDK clients for one target. A client of a service the
// factory was not wired with is nil.
type Clients struct {
	ECS       *ecs.Client
	ELB       *elbv2.Client
	AutoScale *applicationautoscaling.Client
	// Alarms reads CloudWatch alarms (cwalarms.Service).
	Alarms  AlarmReader
	Route53 *route53.Client
}

// Factory builds and caches Clients per target. It is safe for concurrent use.
type Factory struct {
	base     aws.Config
	endpoint string
	session  string
	services []Service

	mu    sync.Mutex
	cache map[Target]*Clients
}

// Option configures a Factory.
type Option func(*Factory)

// WithLocalEndpoint sends every call to endpoint (the emulator) with static
// credentials and no role assumption.
func WithLocalEndpoint(endpoint string) Option {
	return func(f *Factory) { f.endpoint = endpoint }
}

// WithSessionName sets the STS role session name (default "ecsflow").
func WithSessionName(name string) Option {
	return func(f *Factory) {
		if name != "" {
			f.session = name
		}
	}
}

// NewFactory returns a factory over the base configuration (the Lambda's
// own credentials on AWS) that builds every service's client.
func NewFactory(base aws.Config, opts ...Option) *Factory {
	return NewFactoryFor(base, AllServices(), opts...)
}

// NewFactoryFor returns a factory over the base configuration that builds
// only the clients of services; the other fields of its Clients are nil.
func NewFactoryFor(base aws.Config, services []Service, opts ...Option) *Factory {
	f := &Factory{base: base.Copy(), session: "ecsflow", services: slices.Clone(services), cache: map[Target]*Clients{}}
	for _, o := range opts {
		o(f)
	}
	if f.endpoint != "" {
		f.base.BaseEndpoint = aws.String(f.endpoint)
		f.base.Credentials = credentials.NewStaticCredentialsProvider("ecsflowlocal", "ecsflowlocal", "")
	}
	if f.base.Retryer == nil {
		f.base.Retryer = func() aws.Retryer { return retry.NewStandard() }
	}
	f.base.APIOptions = append(append([]func(*middlewareStack) error(nil), f.base.APIOptions...), addCounter)
	return f
}

// ErrNoRegion is returned for a target without a region.
var ErrNoRegion = errors.New("target has no region")

// Clients returns the clients for t, building them on first use. Building
// makes no call: the role is assumed lazily, on the first request, and its
// credentials are cached until shortly before they expire.
func (f *Factory) Clients(_ context.Context, t Target) (*Clients, error) {
	if t.Region == "" {
		return nil, fmt.Errorf("ecs clients: %w", ErrNoRegion)
	}
	if f.endpoint != "" {
		// One world locally: the role and external ID do not matter.
		t.RoleARN, t.ExternalID = "", ""
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.cache[t]; ok {
		return c, nil
	}
	cfg := f.base.Copy()
	cfg.Region = t.Region
	if t.RoleARN != "" {
		stsClient := sts.NewFromConfig(f.base)
		ext := t.ExternalID
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, t.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = f.session
			if ext != "" {
				o.ExternalID = aws.String(ext)
			}
		}))
	}
	c := &Clients{}
	for _, s := range f.services {
		s.build(cfg, c)
	}
	f.cache[t] = c
	return c, nil
}
