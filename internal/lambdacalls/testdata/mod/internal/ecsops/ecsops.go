// Package ecsops is a fixture: a Clients with two fields, and a
// hand-written caller.
package ecsops

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

type Clients struct {
	ECS *ecs.Client
	ELB any
}

// WireECS fills ECS.
func WireECS(cfg aws.Config, c *Clients) { c.ECS = ecs.NewFromConfig(cfg) }

// Describe reads ECS.
func (c *Clients) Describe(ctx context.Context) error {
	_, err := c.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{})
	return err
}

// Unused reads ELB; nothing calls it.
func (c *Clients) Unused() any { return c.ELB }

type cloudMapAPI struct{}

func (a *cloudMapAPI) call(ctx context.Context, op string, in any) error { return nil }

// Registry makes a raw Cloud Map call.
func Registry(ctx context.Context) error { return (&cloudMapAPI{}).call(ctx, "GetService", nil) }
