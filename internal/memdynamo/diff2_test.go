package memdynamo_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
)

// fullDB is what both the SDK client and *memdynamo.DB offer beyond the
// store's interface.
type fullDB interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DeleteTable(ctx context.Context, in *dynamodb.DeleteTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

func b(v ...byte) av { return &types.AttributeValueMemberB{Value: v} }

// TestOtherTableShapesAsDynamoDBLocal: number and binary keys, a hash-only
// table, KEYS_ONLY and INCLUDE indexes, Scan and BatchWriteItem, compared
// with DynamoDB Local.
func TestOtherTableShapesAsDynamoDBLocal(t *testing.T) {
	ctx := context.Background()
	results := map[string][]string{}
	seq := 0
	for _, be := range dynamotest.Backends(t) {
		if be.Name == dynamotest.Minidyn {
			continue
		}
		db := be.DB.(fullDB)
		seq++
		num, hash := fmt.Sprintf("shapes-num-%d", seq), fmt.Sprintf("shapes-hash-%d", seq)
		record := func(out any, err error) {
			var s string
			switch o := out.(type) {
			case *dynamodb.ScanOutput:
				if err == nil {
					items := make([]string, len(o.Items))
					for i, it := range o.Items {
						items[i] = dump(it)
					}
					s = fmt.Sprintf("scan count=%d items=%v last=%s", o.Count, items, dump(o.LastEvaluatedKey))
				}
			case *dynamodb.BatchWriteItemOutput:
				if err == nil {
					s = fmt.Sprintf("batch write unprocessed=%d", len(o.UnprocessedItems))
				}
			case *dynamodb.CreateTableOutput:
				if err == nil {
					s = "created"
				}
			}
			if s == "" {
				s = outcome(out, err)
			}
			results[be.Name] = append(results[be.Name], s)
		}
		ks := func(h, r string) []types.KeySchemaElement {
			out := []types.KeySchemaElement{{AttributeName: aws.String(h), KeyType: types.KeyTypeHash}}
			if r != "" {
				out = append(out, types.KeySchemaElement{AttributeName: aws.String(r), KeyType: types.KeyTypeRange})
			}
			return out
		}
		record(db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(num), BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("H"), AttributeType: types.ScalarAttributeTypeS},
				{AttributeName: aws.String("R"), AttributeType: types.ScalarAttributeTypeN}, {AttributeName: aws.String("G"), AttributeType: types.ScalarAttributeTypeB},
				{AttributeName: aws.String("GR"), AttributeType: types.ScalarAttributeTypeN}},
			KeySchema: ks("H", "R"),
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
				{IndexName: aws.String("keys"), KeySchema: ks("G", "GR"), Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}},
				{IndexName: aws.String("incl"), KeySchema: ks("G", ""), Projection: &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{"x"}}},
			}}))
		record(db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(hash), BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("H"), AttributeType: types.ScalarAttributeTypeB}},
			KeySchema:            ks("H", "")}))
		record(db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(hash), BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("H"), AttributeType: types.ScalarAttributeTypeB}},
			KeySchema:            ks("H", "")}))
		for _, r := range []string{"10", "-2.5", "3", "1e2", "0.001", "-100"} {
			record(db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(num), Item: attrs{"H": s("h"), "R": n(r), "G": b(1, 2), "GR": n(r), "x": s("x" + r), "y": s("y")}}))
		}
		record(db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(num), Item: attrs{"H": s("h"), "R": n("10.0"), "x": s("replaced"), "G": b(0xff)}}))
		for _, q := range []dynamodb.QueryInput{
			{KeyConditionExpression: aws.String("H = :h AND R BETWEEN :lo AND :hi"), ExpressionAttributeValues: attrs{":h": s("h"), ":lo": n("-3"), ":hi": n("10")}, ProjectionExpression: aws.String("R")},
			{KeyConditionExpression: aws.String("H = :h AND R > :lo"), ExpressionAttributeValues: attrs{":h": s("h"), ":lo": n("3")}, ScanIndexForward: aws.Bool(false), Limit: aws.Int32(2), ProjectionExpression: aws.String("R")},
			{IndexName: aws.String("keys"), KeyConditionExpression: aws.String("G = :g"), ExpressionAttributeValues: attrs{":g": b(1, 2)}},
			{IndexName: aws.String("keys"), KeyConditionExpression: aws.String("G = :g AND GR < :z"), ExpressionAttributeValues: attrs{":g": b(1, 2), ":z": n("0")}, ScanIndexForward: aws.Bool(false)},
			{IndexName: aws.String("incl"), KeyConditionExpression: aws.String("G = :g"), ExpressionAttributeValues: attrs{":g": b(0xff)}},
			// Items with equal keys in an index come in no defined order:
			// no Limit here, and the items are compared sorted.
			{IndexName: aws.String("incl"), KeyConditionExpression: aws.String("G = :g"), ExpressionAttributeValues: attrs{":g": b(1, 2)}, Select: types.SelectAllProjectedAttributes},
			{IndexName: aws.String("incl"), KeyConditionExpression: aws.String("G = :g"), ExpressionAttributeValues: attrs{":g": b(1, 2)}, ProjectionExpression: aws.String("y, x")},
		} {
			q.TableName = aws.String(num)
			out, err := db.Query(ctx, &q)
			if err == nil && aws.ToString(q.IndexName) == "incl" {
				slices.SortFunc(out.Items, func(a, b map[string]types.AttributeValue) int { return strings.Compare(dump(a), dump(b)) })
			}
			record(out, err)
		}
		record(db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
			hash: {{PutRequest: &types.PutRequest{Item: attrs{"H": b(3), "v": n("1")}}}, {PutRequest: &types.PutRequest{Item: attrs{"H": b(1), "v": n("2")}}},
				{PutRequest: &types.PutRequest{Item: attrs{"H": b(2)}}}},
			num: {{DeleteRequest: &types.DeleteRequest{Key: attrs{"H": s("h"), "R": n("3")}}}},
		}}))
		record(db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
			hash: {{PutRequest: &types.PutRequest{Item: attrs{"H": b(3)}}}, {DeleteRequest: &types.DeleteRequest{Key: attrs{"H": b(3)}}}},
		}}))
		record(db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(hash), Key: attrs{"H": b(1)}}))
		record(db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(num), FilterExpression: aws.String("R > :z"), ExpressionAttributeValues: attrs{":z": n("0")}, ProjectionExpression: aws.String("R, x")}))
		record(db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(hash), Select: types.SelectCount}))
		record(db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(hash), KeyConditionExpression: aws.String("H = :h"), ExpressionAttributeValues: attrs{":h": b(2)}}))
		record(db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(hash)}))
		record(db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(hash), Key: attrs{"H": b(1)}}))
	}
	ref := results[dynamotest.DynamoDBLocal]
	for _, name := range []string{dynamotest.Memdynamo, dynamotest.MemdynamoHTTP} {
		if len(results[name]) != len(ref) {
			t.Fatalf("%s: %d outcomes, DynamoDB Local %d", name, len(results[name]), len(ref))
		}
		for i := range ref {
			if got, want := results[name][i], ref[i]; got != want {
				t.Errorf("%s: step %d:\n got %s\nwant %s (DynamoDB Local)", name, i, got, want)
			}
		}
	}
}
