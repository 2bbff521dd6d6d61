package ecsops

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/route53"
)

// Service is one AWS service whose client a Factory builds into Clients.
// Each is a function, so a binary that never names a service does not
// link that service's client (its endpoint rules, serializers and
// schemas): that is what keeps every step Lambda small.
type Service struct {
	field string
	build func(cfg aws.Config, c *Clients)
}

// Field is the name of the Clients field the service's client goes in
// ("ECS", "ELB", "AutoScale", "Route53", "Alarms").
func (s Service) Field() string { return s.field }

// ECS is the Amazon ECS client (Clients.ECS).
func ECS() Service {
	return Service{field: "ECS", build: func(cfg aws.Config, c *Clients) { c.ECS = ecs.NewFromConfig(cfg) }}
}

// ELB is the Elastic Load Balancing v2 client (Clients.ELB).
func ELB() Service {
	return Service{field: "ELB", build: func(cfg aws.Config, c *Clients) { c.ELB = elbv2.NewFromConfig(cfg) }}
}

// AutoScaling is the Application Auto Scaling client (Clients.AutoScale).
func AutoScaling() Service {
	return Service{field: "AutoScale", build: func(cfg aws.Config, c *Clients) {
		c.AutoScale = applicationautoscaling.NewFromConfig(cfg)
	}}
}

// Route53 is the Route 53 client (Clients.Route53).
func Route53() Service {
	return Service{field: "Route53", build: func(cfg aws.Config, c *Clients) { c.Route53 = route53.NewFromConfig(cfg) }}
}

// AllServices is every service of this package (Clients' fields but
// Alarms, which cwalarms.Service fills: cwalarms.NewFactory builds them
// all, for local mode and tests).
func AllServices() []Service {
	return []Service{ECS(), ELB(), AutoScaling(), Route53()}
}

// NewService is a service whose build fills field, the name of the Clients
// field it sets, for services built outside this package
// (cwalarms.Service): a Lambda linking this package then does not link
// their SDK clients.
func NewService(field string, build func(cfg aws.Config, c *Clients)) Service {
	return Service{field: field, build: build}
}

// Services names the Clients fields the factory fills, in wiring order.
func (f *Factory) Services() []string {
	names := make([]string, len(f.services))
	for i, s := range f.services {
		names[i] = s.field
	}
	return names
}
