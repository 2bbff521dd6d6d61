package memdynamo_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsflow/ecsflow/internal/memdynamo"
	"github.com/ecsflow/ecsflow/internal/store"
)

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

func TestOpenSyncReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ddb.json")
	db, err := memdynamo.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("Open created the file before any Sync: %v", err)
	}
	if err := store.CreateTable(ctx, db, "tbl"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String("tbl"),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("ttl"), Enabled: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	items := []map[string]types.AttributeValue{
		{"PK": s("a"), "SK": s("#E"), "GSI1PK": s("g"), "GSI1SK": s("1"), "doc": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"list": &types.AttributeValueMemberL{Value: []types.AttributeValue{n("1.5"), &types.AttributeValueMemberNULL{Value: true}}},
			"bin":  &types.AttributeValueMemberB{Value: []byte{0, 1, 255}},
			"set":  &types.AttributeValueMemberSS{Value: []string{"x", "y"}},
			"ok":   &types.AttributeValueMemberBOOL{Value: true},
			"uni":  s("naïve \"quoted\" \u2028"),
		}}},
		{"PK": s("b"), "SK": s("#E"), "GSI1PK": s("g"), "GSI1SK": s("2")},
		{"PK": s("c"), "SK": s("#E")}, // not in GSI1 (sparse)
	}
	for _, it := range items {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("tbl"), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}

	again, err := memdynamo.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := again.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("tbl"), Key: map[string]types.AttributeValue{"PK": s("a"), "SK": s("#E")}})
	if err != nil {
		t.Fatal(err)
	}
	if want := items[0]; !sameItem(got.Item, want) {
		t.Errorf("reopened item = %#v, want %#v", got.Item, want)
	}
	q, err := again.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("tbl"), IndexName: aws.String("GSI1"),
		KeyConditionExpression:    aws.String("GSI1PK = :g"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": s("g")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Items) != 2 || q.Items[0]["PK"].(*types.AttributeValueMemberS).Value != "a" {
		t.Errorf("GSI1 after reopen = %v, want a then b", q.Items)
	}
	ttl, err := again.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String("tbl")})
	if err != nil || ttl.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Errorf("TTL after reopen = %+v, %v; want enabled", ttl, err)
	}
}

func sameItem(a, b map[string]types.AttributeValue) bool {
	return strings.TrimSpace(dump(a)) == strings.TrimSpace(dump(b))
}

func TestOpenRefusesForeignAndNewerFiles(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, body, want string
	}{
		{"not json", "{", "decode"},
		{"another format", `{"format":"something-else","version":1}`, "not a memdynamo snapshot"},
		{"newer version", `{"format":"ecsflow-memdynamo","version":99,"tables":[]}`, "version 99"},
		{"bad item", `{"format":"ecsflow-memdynamo","version":1,"tables":[{"definition":{"TableName":"t","KeySchema":[{"AttributeName":"PK","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"PK","AttributeType":"S"}]},"items":[{"PK":{"N":"1"}}]}]}`, "Type mismatch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".json")
			if err := os.WriteFile(path, []byte(c.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := memdynamo.Open(path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestSyncWithoutChangesKeepsTheFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ddb.json")
	db, err := memdynamo.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateTable(ctx, db, "tbl"); err != nil {
		t.Fatal(err)
	}
	if err := db.Sync(); err != nil {
		t.Fatal(err)
	}
	st1, _ := os.Stat(path)
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if err := db.Sync(); err != nil {
		t.Fatalf("a Sync with nothing to write: %v", err)
	}
	st2, _ := os.Stat(path)
	if !st1.ModTime().Equal(st2.ModTime()) || st1.Size() != st2.Size() {
		t.Errorf("the file was rewritten without changes")
	}
	if err := memdynamo.New().Sync(); err != nil {
		t.Errorf("Sync of a database without a file = %v, want nil", err)
	}
}
