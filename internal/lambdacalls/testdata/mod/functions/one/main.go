// Command one is a fixture Lambda.
package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/ecsflow/ecsflow/internal/ecsops"
)

// saver is called through an interface.
type saver interface {
	save(ctx context.Context) error
}

type ddbSaver struct{ c *dynamodb.Client }

func (s *ddbSaver) save(ctx context.Context) error {
	_, err := s.c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
		{Put: &ddbtypes.Put{}},
	}})
	return err
}

// neverMade has the same method, but no value of it is ever made.
type neverMade struct{ c *ecs.Client }

func (n neverMade) save(ctx context.Context) error {
	_, err := n.c.DeleteService(ctx, &ecs.DeleteServiceInput{})
	return err
}

func main() {
	ctx := context.Background()
	cfg := aws.Config{}
	c := &ecsops.Clients{}
	ecsops.WireECS(cfg, c)
	_ = c.Describe(ctx)
	var s saver = &ddbSaver{c: dynamodb.NewFromConfig(cfg)}
	_ = s.save(ctx)
	cfg.Credentials = stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), "arn:aws:iam::1:role/r")
	p := ecs.NewListServicesPaginator(c.ECS, &ecs.ListServicesInput{})
	_, _ = p.NextPage(ctx)
	_ = ecsops.Registry(ctx)
}
