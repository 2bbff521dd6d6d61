package memdynamo_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsflow/ecsflow/internal/memdynamo"
	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
)

var _ store.DynamoDB = (*memdynamo.DB)(nil)
var _ store.TableAdmin = (*memdynamo.DB)(nil)

func newTable(t testing.TB) (*memdynamo.DB, string) {
	t.Helper()
	db := memdynamo.New()
	if err := store.CreateTable(context.Background(), db, "t"); err != nil {
		t.Fatal(err)
	}
	return db, "t"
}

// Nothing a caller holds aliases the database: not the item it wrote, not
// an item it read, not the old version an update returns.
func TestCallersNeverAliasState(t *testing.T) {
	ctx := context.Background()
	db, tbl := newTable(t)
	in := with(key("p", "a"), "doc", m("k", s("v"), "list", l(s("x"))))
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tbl), Item: in}); err != nil {
		t.Fatal(err)
	}
	in["doc"].(*types.AttributeValueMemberM).Value["k"] = s("changed by the writer")
	got, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tbl), Key: key("p", "a")})
	if err != nil {
		t.Fatal(err)
	}
	got.Item["doc"].(*types.AttributeValueMemberM).Value["k"] = s("changed by a reader")
	up, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(tbl), Key: key("p", "a"),
		UpdateExpression: aws.String("SET doc.k = :v, doc.#l[0] = :v"), ExpressionAttributeNames: map[string]string{"#l": "list"},
		ExpressionAttributeValues: attrs{":v": s("new")}, ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"PK":S"p","SK":S"a","doc":M{"k":S"v","list":L[S"x"]}}`; dump(up.Attributes) != want {
		t.Errorf("ALL_OLD = %s, want %s (the stored old version must not change)", dump(up.Attributes), want)
	}
	now, _ := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tbl), Key: key("p", "a")})
	if want := `{"PK":S"p","SK":S"a","doc":M{"k":S"new","list":L[S"new"]}}`; dump(now.Item) != want {
		t.Errorf("after the update = %s, want %s", dump(now.Item), want)
	}
}

// Concurrent conditional increments: every one lands exactly once.
func TestConcurrentConditionalWrites(t *testing.T) {
	ctx := context.Background()
	db, tbl := newTable(t)
	const workers, each = 8, 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts := 0
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(tbl), Key: key("c", "n"),
					UpdateExpression:          aws.String("SET n = if_not_exists(n, :z) + :one ADD seen :me"),
					ExpressionAttributeValues: attrs{":z": n("0"), ":one": n("1"), ":me": ss(fmt.Sprintf("%d-%d", w, i))}})
				if err != nil {
					t.Error(err)
				}
				_, err = db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tbl), Item: key("once", "x"),
					ConditionExpression: aws.String("attribute_not_exists(PK)")})
				var ccf *types.ConditionalCheckFailedException
				if errors.As(err, &ccf) {
					mu.Lock()
					conflicts++
					mu.Unlock()
				} else if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	got, _ := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tbl), Key: key("c", "n")})
	if v := got.Item["n"].(*types.AttributeValueMemberN).Value; v != fmt.Sprint(workers*each) {
		t.Errorf("n = %s, want %d", v, workers*each)
	}
	if seen := len(got.Item["seen"].(*types.AttributeValueMemberSS).Value); seen != workers*each {
		t.Errorf("seen has %d members, want %d", seen, workers*each)
	}
	if conflicts != workers*each-1 {
		t.Errorf("%d conditional puts failed, want all but one (%d)", conflicts, workers*each-1)
	}
}

// TestQueryMatchesAModel writes random items and checks every Query (key
// conditions, both directions, pages of random sizes, GSI) against a
// brute-force answer.
func TestQueryMatchesAModel(t *testing.T) {
	ctx := context.Background()
	db, tbl := newTable(t)
	rng := rand.New(rand.NewPCG(7, 11))
	type row struct{ pk, sk, g string }
	model := map[[2]string]row{}
	sks := []string{"a", "ab", "abc", "b", "ba", "c", "\xff", "\xff\xff", "é", "z"}
	for range 400 {
		r := row{pk: fmt.Sprintf("p%d", rng.IntN(3)), sk: sks[rng.IntN(len(sks))] + fmt.Sprint(rng.IntN(4))}
		if rng.IntN(4) == 0 {
			if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(tbl), Key: key(r.pk, r.sk)}); err != nil {
				t.Fatal(err)
			}
			delete(model, [2]string{r.pk, r.sk})
			continue
		}
		it := key(r.pk, r.sk)
		if rng.IntN(2) == 0 {
			r.g = sks[rng.IntN(len(sks))]
			it["GSI1PK"], it["GSI1SK"] = s("g"), s(r.g)
		}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tbl), Item: it}); err != nil {
			t.Fatal(err)
		}
		model[[2]string{r.pk, r.sk}] = r
	}
	type cond struct {
		expr string
		ok   func(sk string) bool
		vals attrs
	}
	conds := []cond{
		{"", func(string) bool { return true }, nil},
		{" AND SK = :a", func(sk string) bool { return sk == "ab1" }, attrs{":a": s("ab1")}},
		{" AND SK < :a", func(sk string) bool { return sk < "b" }, attrs{":a": s("b")}},
		{" AND SK <= :a", func(sk string) bool { return sk <= "b1" }, attrs{":a": s("b1")}},
		{" AND SK > :a", func(sk string) bool { return sk > "ab" }, attrs{":a": s("ab")}},
		{" AND SK >= :a", func(sk string) bool { return sk >= "c0" }, attrs{":a": s("c0")}},
		{" AND SK BETWEEN :a AND :b", func(sk string) bool { return sk >= "ab" && sk <= "ba9" }, attrs{":a": s("ab"), ":b": s("ba9")}},
		{" AND begins_with(SK, :a)", func(sk string) bool { return strings.HasPrefix(sk, "ab") }, attrs{":a": s("ab")}},
		{" AND begins_with(SK, :a)", func(sk string) bool { return strings.HasPrefix(sk, "\xff") }, attrs{":a": s("\xff")}},
	}
	for _, pk := range []string{"p0", "p1", "p2", "nobody"} {
		for ci, c := range conds {
			for _, forward := range []bool{true, false} {
				var want []string
				for k := range model {
					if k[0] == pk && c.ok(k[1]) {
						want = append(want, k[1])
					}
				}
				slices.Sort(want)
				if !forward {
					slices.Reverse(want)
				}
				var got []string
				var start attrs
				for pages := 0; ; pages++ {
					vals := with(c.vals, ":pk", s(pk))
					out, err := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(tbl), KeyConditionExpression: aws.String("PK = :pk" + c.expr),
						ExpressionAttributeValues: vals, ScanIndexForward: aws.Bool(forward), Limit: aws.Int32(int32(1 + rng.IntN(7))), ExclusiveStartKey: start})
					if err != nil {
						t.Fatalf("%s cond %d: %v", pk, ci, err)
					}
					for _, it := range out.Items {
						got = append(got, it["SK"].(*types.AttributeValueMemberS).Value)
					}
					if out.LastEvaluatedKey == nil || pages > 500 {
						break
					}
					start = out.LastEvaluatedKey
				}
				if !slices.Equal(got, want) {
					t.Errorf("pk %s cond %q forward %v:\n got %q\nwant %q", pk, c.expr, forward, got, want)
				}
			}
		}
	}
	// The GSI holds exactly the items with both of its keys, in key order.
	var rows []row
	for _, r := range model {
		if r.g != "" {
			rows = append(rows, r)
		}
	}
	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(strings.Compare(a.g, b.g), strings.Compare(a.pk, b.pk), strings.Compare(a.sk, b.sk))
	})
	var want []string
	for _, r := range rows {
		want = append(want, r.g+"|"+r.pk+"|"+r.sk)
	}
	var got []string
	var start attrs
	for {
		out, err := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(tbl), IndexName: aws.String("GSI1"), KeyConditionExpression: aws.String("GSI1PK = :g"),
			ExpressionAttributeValues: attrs{":g": s("g")}, Limit: aws.Int32(5), ExclusiveStartKey: start})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			got = append(got, it["GSI1SK"].(*types.AttributeValueMemberS).Value+"|"+it["PK"].(*types.AttributeValueMemberS).Value+"|"+it["SK"].(*types.AttributeValueMemberS).Value)
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		start = out.LastEvaluatedKey
	}
	if !slices.Equal(got, want) {
		t.Errorf("GSI1:\n got %q\nwant %q", got, want)
	}
}

func TestHandlerRefusesWhatIsNotDynamoDB(t *testing.T) {
	srv := httptest.NewServer(memdynamo.New().Handler())
	defer srv.Close()
	cases := []struct {
		name, method, target, body string
		status                     int
		want                       string
	}{
		{"GET", http.MethodGet, "DynamoDB_20120810.ListTables", "", http.StatusMethodNotAllowed, "UnknownOperationException"},
		{"unknown operation", http.MethodPost, "DynamoDB_20120810.ExecuteStatement", "{}", http.StatusBadRequest, "UnknownOperationException"},
		{"no target", http.MethodPost, "", "{}", http.StatusBadRequest, "UnknownOperationException"},
		{"not JSON", http.MethodPost, "DynamoDB_20120810.GetItem", "{", http.StatusBadRequest, "SerializationException"},
		{"wrong member type", http.MethodPost, "DynamoDB_20120810.GetItem", `{"TableName": 5}`, http.StatusBadRequest, "SerializationException"},
		{"bad attribute value", http.MethodPost, "DynamoDB_20120810.GetItem", `{"TableName":"t","Key":{"PK":{"S":"a","N":"1"}}}`, http.StatusBadRequest, "ValidationException"},
		{"missing table", http.MethodPost, "DynamoDB_20120810.GetItem", `{"TableName":"t","Key":{"PK":{"S":"a"}}}`, http.StatusBadRequest, "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"},
		{"list tables", http.MethodPost, "DynamoDB_20120810.ListTables", `{}`, http.StatusOK, `{"TableNames":[]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, srv.URL, strings.NewReader(c.body))
			req.Header.Set("X-Amz-Target", c.target)
			req.Header.Set("Content-Type", "application/x-amz-json-1.0")
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != c.status || !strings.Contains(string(b), c.want) {
				t.Errorf("%d %s, want %d with %q", res.StatusCode, b, c.status, c.want)
			}
		})
	}
}

func TestLegacyParametersAreRefused(t *testing.T) {
	ctx := context.Background()
	db, tbl := newTable(t)
	_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(tbl), Key: key("p", "a"),
		AttributeUpdates: map[string]types.AttributeValueUpdate{"x": {Action: types.AttributeActionPut, Value: s("1")}}})
	if err == nil || !strings.Contains(err.Error(), "AttributeUpdates") {
		t.Errorf("AttributeUpdates: %v, want a ValidationException naming it", err)
	}
	_, err = db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(tbl),
		KeyConditions: map[string]types.Condition{"PK": {ComparisonOperator: types.ComparisonOperatorEq, AttributeValueList: []types.AttributeValue{s("p")}}}})
	if err == nil || !strings.Contains(err.Error(), "KeyConditions") {
		t.Errorf("KeyConditions: %v, want a ValidationException naming it", err)
	}
}

func TestExpireItems(t *testing.T) {
	ctx := context.Background()
	db, tbl := newTable(t)
	if _, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(tbl),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("ttl"), Enabled: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	for i, ttl := range []string{"100", "2000000000", "abc"} {
		it := with(key("p", fmt.Sprint(i)), "GSI1PK", s("g"), "GSI1SK", s(fmt.Sprint(i)))
		if ttl != "abc" {
			it["ttl"] = n(ttl)
		} else {
			it["ttl"] = s(ttl)
		}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tbl), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	// 100 is far more than five years before "now" (1e9): DynamoDB ignores it.
	if got := db.ExpireItems(timeAt(1_500_000_000)); got != 0 {
		t.Errorf("expired %d, want 0", got)
	}
	if got := db.ExpireItems(timeAt(2_000_000_000)); got != 1 {
		t.Errorf("expired %d, want 1 (the item whose ttl is now)", got)
	}
	out, _ := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(tbl), IndexName: aws.String("GSI1"),
		KeyConditionExpression: aws.String("GSI1PK = :g"), ExpressionAttributeValues: attrs{":g": s("g")}})
	if len(out.Items) != 2 {
		t.Errorf("GSI1 holds %d items after expiry, want 2", len(out.Items))
	}
}

// Errors over the wire carry a request id, as DynamoDB's do.
func TestHandlerSendsRequestIDs(t *testing.T) {
	srv := httptest.NewServer(memdynamo.New().Handler())
	defer srv.Close()
	c := dynamotest.NewClient(srv.URL)
	_, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("nope"), Key: key("p", "a")})
	if err == nil || !strings.Contains(err.Error(), "RequestID: memdynamo-") {
		t.Errorf("GetItem on a missing table = %v, want an error with a memdynamo request id", err)
	}
}
