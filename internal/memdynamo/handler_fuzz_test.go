package memdynamo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// FuzzHandler sends arbitrary bodies to every operation of a database with
// a store-shaped table: each answer is 200 or a 4xx with a DynamoDB error
// type, never a panic or a 500.
func FuzzHandler(f *testing.F) {
	seeds := map[string]string{
		"GetItem":            `{"TableName":"t","Key":{"PK":{"S":"a"},"SK":{"S":"b"}},"ProjectionExpression":"#a","ExpressionAttributeNames":{"#a":"x"}}`,
		"PutItem":            `{"TableName":"t","Item":{"PK":{"S":"a"},"SK":{"S":"b"},"GSI1PK":{"S":"g"},"GSI1SK":{"S":"1"},"n":{"N":"1"}},"ConditionExpression":"attribute_not_exists(PK)"}`,
		"UpdateItem":         `{"TableName":"t","Key":{"PK":{"S":"a"},"SK":{"S":"b"}},"UpdateExpression":"SET n = if_not_exists(n, :z) + :one","ExpressionAttributeValues":{":z":{"N":"0"},":one":{"N":"1"}},"ReturnValues":"ALL_NEW"}`,
		"DeleteItem":         `{"TableName":"t","Key":{"PK":{"S":"a"},"SK":{"S":"b"}},"ReturnValues":"ALL_OLD"}`,
		"Query":              `{"TableName":"t","IndexName":"GSI1","KeyConditionExpression":"GSI1PK = :g AND begins_with(GSI1SK, :p)","ExpressionAttributeValues":{":g":{"S":"g"},":p":{"S":"1"}},"Limit":1,"ScanIndexForward":false}`,
		"Scan":               `{"TableName":"t","FilterExpression":"n > :z","ExpressionAttributeValues":{":z":{"N":"0"}}}`,
		"TransactWriteItems": `{"TransactItems":[{"Put":{"TableName":"t","Item":{"PK":{"S":"c"},"SK":{"S":"d"}}}},{"ConditionCheck":{"TableName":"t","Key":{"PK":{"S":"a"},"SK":{"S":"b"}},"ConditionExpression":"attribute_exists(PK)"}}]}`,
		"TransactGetItems":   `{"TransactItems":[{"Get":{"TableName":"t","Key":{"PK":{"S":"a"},"SK":{"S":"b"}}}}]}`,
		"BatchGetItem":       `{"RequestItems":{"t":{"Keys":[{"PK":{"S":"a"},"SK":{"S":"b"}}]}}}`,
		"BatchWriteItem":     `{"RequestItems":{"t":[{"PutRequest":{"Item":{"PK":{"S":"x"},"SK":{"S":"y"}}}},{"DeleteRequest":{"Key":{"PK":{"S":"a"},"SK":{"S":"b"}}}}]}}`,
		"CreateTable":        `{"TableName":"u","KeySchema":[{"AttributeName":"H","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"H","AttributeType":"N"}]}`,
		"DescribeTable":      `{"TableName":"t"}`,
		"DeleteTable":        `{"TableName":"u"}`,
		"ListTables":         `{"Limit":1}`,
		"UpdateTimeToLive":   `{"TableName":"t","TimeToLiveSpecification":{"AttributeName":"ttl","Enabled":true}}`,
		"DescribeTimeToLive": `{"TableName":"t"}`,
	}
	var ops []string
	for op, body := range seeds {
		ops = append(ops, op)
		f.Add(op, body)
	}
	f.Add("PutItem", `{"TableName":"t","Item":{"PK":{"S":"a"},"SK":{"S":"b"},"x":{"M":{"a":{"L":[{"NULL":true},{"BS":["AAE="]}]}}}}}`)
	f.Add("Query", `{"TableName":"t","KeyConditionExpression":"PK = :p","ExpressionAttributeValues":{":p":{"S":"a"}},"ExclusiveStartKey":{"PK":{"S":"a"}}}`)
	f.Add("UpdateItem", `{"TableName":"t","Key":{"PK":{"S":"a"},"SK":{"S":"b"}},"UpdateExpression":"REMOVE x.a[0], y ADD s :s","ExpressionAttributeValues":{":s":{"SS":["q"]}}}`)
	f.Fuzz(func(t *testing.T, op, body string) {
		db := New()
		if _, err := db.CreateTable(context.Background(), &dynamodb.CreateTableInput{TableName: aws.String("t"),
			KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("PK"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("SK"), KeyType: types.KeyTypeRange}},
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("PK"), AttributeType: types.ScalarAttributeTypeS},
				{AttributeName: aws.String("SK"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("GSI1PK"), AttributeType: types.ScalarAttributeTypeS},
				{AttributeName: aws.String("GSI1SK"), AttributeType: types.ScalarAttributeTypeS}},
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{IndexName: aws.String("GSI1"),
				KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String("GSI1PK"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("GSI1SK"), KeyType: types.KeyTypeRange}},
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}}},
		}); err != nil {
			t.Fatal(err)
		}
		h := db.Handler()
		// The body goes to its own operation and, to mix shapes, to a second one.
		for _, target := range []string{op, ops[len(body)%len(ops)]} {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+target)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			switch {
			case rec.Code == http.StatusOK:
			case rec.Code >= 400 && rec.Code < 500 && strings.Contains(rec.Body.String(), `"__type":`):
			default:
				t.Fatalf("%s %q: %d %s", target, body, rec.Code, rec.Body.String())
			}
		}
		if err := db.Sync(); err != nil {
			t.Fatal(err)
		}
	})
}
