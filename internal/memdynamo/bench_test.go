package memdynamo_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsflow/ecsflow/internal/memdynamo"
)

// benchTable is a store-shaped table with size items spread over 100
// partitions, every item also in GSI1.
func benchTable(b *testing.B, size int) (*memdynamo.DB, string) {
	b.Helper()
	db, tbl := newTable(b)
	ctx := context.Background()
	for i := range size {
		it := with(key(fmt.Sprintf("p%03d", i%100), fmt.Sprintf("s%08d", i)), "GSI1PK", s(fmt.Sprintf("g%03d", i%100)), "GSI1SK", s(fmt.Sprintf("%08d", i)),
			"doc", m("name", s("entity"), "count", n("3"), "list", l(s("a"), s("b"))), "version", n("1"))
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tbl), Item: it}); err != nil {
			b.Fatal(err)
		}
	}
	return db, tbl
}

// The cost of a write or a query does not grow with the table (no table
// copies, no scans): compare the sizes.
func BenchmarkTransactWrite(b *testing.B) {
	for _, size := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("items=%d", size), func(b *testing.B) {
			db, tbl := benchTable(b, size)
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
					{Put: &types.Put{TableName: aws.String(tbl), Item: with(key("new", fmt.Sprint(i)), "GSI1PK", s("g000"), "GSI1SK", s(fmt.Sprint(i))),
						ConditionExpression: aws.String("attribute_not_exists(#pk)"), ExpressionAttributeNames: map[string]string{"#pk": "PK"}}},
					{Update: &types.Update{TableName: aws.String(tbl), Key: key("p001", "s00000001"), UpdateExpression: aws.String("SET #v = #v + :one"),
						ConditionExpression: aws.String("attribute_exists(#v)"), ExpressionAttributeNames: map[string]string{"#v": "version"},
						ExpressionAttributeValues: attrs{":one": n("1")}}},
				}})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGetItem(b *testing.B) {
	for _, size := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("items=%d", size), func(b *testing.B) {
			db, tbl := benchTable(b, size)
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				j := i % size
				out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tbl), Key: key(fmt.Sprintf("p%03d", j%100), fmt.Sprintf("s%08d", j))})
				if err != nil || out.Item == nil {
					b.Fatal(out, err)
				}
			}
		})
	}
}

// BenchmarkQueryGSIPage reads a page of 25 from one GSI partition, newest
// first, with a filter.
func BenchmarkQueryGSIPage(b *testing.B) {
	for _, size := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("items=%d", size), func(b *testing.B) {
			db, tbl := benchTable(b, size)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				out, err := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(tbl), IndexName: aws.String("GSI1"),
					KeyConditionExpression: aws.String("#pk = :pk"), FilterExpression: aws.String("#d.#n = :name"),
					ExpressionAttributeNames:  map[string]string{"#pk": "GSI1PK", "#d": "doc", "#n": "name"},
					ExpressionAttributeValues: attrs{":pk": s("g007"), ":name": s("entity")}, ScanIndexForward: aws.Bool(false), Limit: aws.Int32(25)})
				if err != nil || len(out.Items) != min(25, size/100) {
					b.Fatal(len(out.Items), err)
				}
			}
		})
	}
}
