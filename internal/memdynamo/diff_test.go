package memdynamo_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/ecsflow/ecsflow/internal/store"
	"github.com/ecsflow/ecsflow/internal/store/dynamotest"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

type (
	av    = types.AttributeValue
	attrs = map[string]types.AttributeValue
)

func key(pk, sk string) attrs { return attrs{"PK": s(pk), "SK": s(sk)} }

func with(base attrs, kv ...any) attrs {
	out := attrs{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1].(av)
	}
	return out
}

func m(kv ...any) av { return &types.AttributeValueMemberM{Value: with(nil, kv...)} }
func l(vs ...av) av  { return &types.AttributeValueMemberL{Value: vs} }
func ss(vs ...string) av {
	return &types.AttributeValueMemberSS{Value: vs}
}
func ns(vs ...string) av { return &types.AttributeValueMemberNS{Value: vs} }

// nest is a value of depth maps and lists, alternating, around a string.
func nest(depth int) av {
	var v av = s("core")
	for i := range depth {
		if i%2 == 0 {
			v = m("k", v)
		} else {
			v = l(v)
		}
	}
	return v
}

// outcome renders a result or an error so that backends can be compared:
// error codes (and cancellation reasons) rather than messages.
func outcome(out any, err error) string {
	if err != nil {
		var tce *types.TransactionCanceledException
		if errors.As(err, &tce) {
			parts := []string{}
			for _, r := range tce.CancellationReasons {
				p := aws.ToString(r.Code)
				if r.Item != nil {
					p += dump(r.Item)
				}
				parts = append(parts, p)
			}
			return "TransactionCanceled[" + strings.Join(parts, " ") + "]"
		}
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return "ConditionalCheckFailed" + dump(ccf.Item)
		}
		var api smithy.APIError
		if errors.As(err, &api) {
			if testing.Verbose() {
				fmt.Println("   ", api.ErrorCode(), api.ErrorMessage())
			}
			return api.ErrorCode()
		}
		return "error: " + err.Error()
	}
	switch o := out.(type) {
	case *dynamodb.GetItemOutput:
		return "item " + dump(o.Item)
	case *dynamodb.PutItemOutput:
		return "put " + dump(o.Attributes)
	case *dynamodb.UpdateItemOutput:
		return "update " + dump(o.Attributes)
	case *dynamodb.DeleteItemOutput:
		return "delete " + dump(o.Attributes)
	case *dynamodb.QueryOutput:
		items := make([]string, len(o.Items))
		for i, it := range o.Items {
			items[i] = dump(it)
		}
		return fmt.Sprintf("query count=%d scanned=%d items=%v last=%s", o.Count, o.ScannedCount, items, dump(o.LastEvaluatedKey))
	case *dynamodb.BatchGetItemOutput:
		var items []string
		for _, its := range o.Responses {
			for _, it := range its {
				items = append(items, dump(it))
			}
		}
		sort.Strings(items)
		return fmt.Sprintf("batch %v unprocessed=%d", items, len(o.UnprocessedKeys))
	case *dynamodb.TransactGetItemsOutput:
		items := make([]string, len(o.Responses))
		for i, r := range o.Responses {
			items[i] = dump(r.Item)
		}
		return fmt.Sprintf("tget %v", items)
	case *dynamodb.TransactWriteItemsOutput:
		return "twrite ok"
	}
	return fmt.Sprintf("%T", out)
}

type step struct {
	name string
	do   func(ctx context.Context, db store.DynamoDB, tbl string) (any, error)
}

func put(it attrs) func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
	return func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tbl), Item: it})
	}
}

func get(k attrs) func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
	return func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tbl), Key: k, ConsistentRead: aws.Bool(true)})
	}
}

func upd(k attrs, expr, cond string, names map[string]string, vals attrs, ret types.ReturnValue) func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
	return func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		in := &dynamodb.UpdateItemInput{TableName: aws.String(tbl), Key: k, UpdateExpression: aws.String(expr),
			ExpressionAttributeNames: names, ExpressionAttributeValues: vals, ReturnValues: ret}
		if cond != "" {
			in.ConditionExpression = aws.String(cond)
		}
		return db.UpdateItem(ctx, in)
	}
}

func query(in dynamodb.QueryInput) func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
	return func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		in.TableName = aws.String(tbl)
		return db.Query(ctx, &in)
	}
}

var names = map[string]string{"#pk": "PK", "#sk": "SK"}

func pkq(pk string) attrs { return attrs{":pk": s(pk)} }

// steps is one scenario, run in order on a fresh store table on every
// backend; each step's outcome must be the same everywhere.
var steps = []step{
	{"put a", put(with(key("p", "a"), "n", n("1"), "s", s("x"), "doc", m("k", s("v"), "list", l(n("1"), n("2"))), "tags", ss("t1", "t2")))},
	{"put b", put(with(key("p", "b"), "n", n("5"), "GSI1PK", s("g"), "GSI1SK", s("2")))},
	{"put c", put(with(key("p", "c"), "n", n("10"), "GSI1PK", s("g"), "GSI1SK", s("1")))},
	{"put d other partition", put(with(key("q", "a"), "n", n("7")))},
	{"put ab", put(with(key("p", "ab"), "n", n("3")))},
	{"get a", get(key("p", "a"))},
	{"get missing", get(key("p", "zzz"))},
	{"get key too long", get(with(key("p", "a"), "x", s("1")))},
	{"get key wrong type", get(attrs{"PK": n("1"), "SK": s("a")})},
	{"get projection", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tbl), Key: key("p", "a"),
			ProjectionExpression: aws.String("#d.k, #d.#l[1], tags, absentattr"), ExpressionAttributeNames: map[string]string{"#d": "doc", "#l": "list"}})
	}},
	{"get projection reserved word", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tbl), Key: key("p", "a"), ProjectionExpression: aws.String("s, Status")})
	}},
	{"update nested reserved word", upd(key("p", "a"), "SET doc.ttl = :v", "", nil, attrs{":v": s("1")}, "")},
	{"get missing table", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tbl + "-nope"), Key: key("p", "a")})
	}},
	{"put empty key", put(key("", "a"))},
	{"put number with spaces", put(with(key("p", "num"), "n", n(" 1 ")))},
	{"put number forms", put(with(key("p", "num"), "a", n("-0.50"), "b", n("+1E+2"), "c", n(".5"), "d", n("5."), "e", n("00012"), "f", ns("1", "2.50")))},
	{"get numbers", get(key("p", "num"))},
	{"put number set duplicates", put(with(key("p", "num2"), "f", ns("1", "1.0")))},
	{"put bad numbers", put(with(key("p", "num"), "a", n("1e")))},
	{"put 31 levels", put(with(key("p", "deep"), "a", nest(31)))},
	{"put 32 levels", put(with(key("p", "deep2"), "a", nest(32)))},
	{"put number overflow", put(with(key("p", "num3"), "a", n("1E+126")))},
	{"put number underflow", put(with(key("p", "num3"), "a", n("1E-131")))},
	{"put huge exponent", put(with(key("p", "num3"), "a", n("1e999999999")))},
	{"put number extremes", put(with(key("p", "num3"), "a", n("9.9999999999999999999999999999999999999E+125"), "b", n("-1.2345E-130"), "c", n("0E+999"), "d", n("-0")))},
	{"get number extremes", get(key("p", "num3"))},
	{"put 39 digits", put(with(key("p", "num"), "a", n("123456789012345678901234567890123456789")))},
	{"put 38 digits and zeros", put(with(key("p", "num"), "a", n("12345678901234567890123456789012345678000")))},
	{"put missing sk", put(attrs{"PK": s("p")})},
	{"put gsi key wrong type", put(with(key("p", "bad"), "GSI1PK", n("1"), "GSI1SK", s("1")))},
	{"put condition fails with old", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tbl), Item: key("p", "b"),
			ConditionExpression: aws.String("attribute_not_exists(#pk)"), ExpressionAttributeNames: map[string]string{"#pk": "PK"},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	}},
	{"put return old", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tbl), Item: with(key("p", "ab"), "n", n("4")), ReturnValues: types.ReturnValueAllOld})
	}},
	{"update arithmetic", upd(key("p", "a"), "SET n = n + :one, #new = if_not_exists(#new, :zero) - :one", "", map[string]string{"#new": "fresh"}, attrs{":one": n("1"), ":zero": n("0")}, types.ReturnValueUpdatedNew)},
	{"update decimal", upd(key("p", "a"), "SET f = :a + :b", "", nil, attrs{":a": n("0.1"), ":b": n("0.2")}, types.ReturnValueUpdatedNew)},
	{"update list_append and nested", upd(key("p", "a"), "SET doc.#l = list_append(doc.#l, :more), doc.k2 = :v", "", map[string]string{"#l": "list"}, attrs{":more": l(n("3")), ":v": s("w")}, types.ReturnValueAllNew)},
	{"update list index set and remove", upd(key("p", "a"), "SET doc.#l[0] = :x REMOVE doc.#l[2], doc.k", "", map[string]string{"#l": "list"}, attrs{":x": s("first")}, types.ReturnValueAllNew)},
	{"update append past end", upd(key("p", "a"), "SET doc.#l[9] = :x", "", map[string]string{"#l": "list"}, attrs{":x": s("last")}, types.ReturnValueUpdatedNew)},
	{"update add and delete sets", upd(key("p", "a"), "ADD tags :more, cnt :two DELETE tags :gone", "", nil, attrs{":more": ss("t3"), ":two": n("2"), ":gone": ss("t1")}, types.ReturnValueUpdatedOld)},
	{"update delete whole set", upd(key("p", "a"), "DELETE tags :all", "", nil, attrs{":all": ss("t2", "t3")}, types.ReturnValueAllNew)},
	{"update nested missing parent", upd(key("p", "a"), "SET nope.x = :v", "", nil, attrs{":v": s("1")}, "")},
	{"update key attribute", upd(key("p", "a"), "SET SK = :v", "", nil, attrs{":v": s("1")}, "")},
	{"update overlapping paths", upd(key("p", "a"), "SET doc.k2 = :v REMOVE doc", "", nil, attrs{":v": s("1")}, "")},
	{"update arithmetic on missing", upd(key("p", "a"), "SET n = nothing + :v", "", nil, attrs{":v": n("1")}, "")},
	{"update arithmetic on string", upd(key("p", "a"), "SET n = s + :v", "", nil, attrs{":v": n("1")}, "")},
	{"update creates item", upd(key("p", "new"), "SET #c = if_not_exists(#c, :z) + :d", "", map[string]string{"#c": "count"}, attrs{":z": n("0"), ":d": n("2")}, types.ReturnValueAllNew)},
	{"update condition on missing item fails", upd(key("p", "none"), "SET v = :v", "attribute_exists(PK)", nil, attrs{":v": s("1")}, "")},
	{"update unused name", upd(key("p", "a"), "SET v = :v", "", map[string]string{"#x": "x"}, attrs{":v": s("1")}, "")},
	{"update unused value", upd(key("p", "a"), "SET v = :v", "", nil, attrs{":v": s("1"), ":w": s("2")}, "")},
	{"update undefined value", upd(key("p", "a"), "SET v = :nope", "", nil, attrs{":v": s("1")}, "")},
	{"update syntax error", upd(key("p", "a"), "SET v = = :v", "", nil, attrs{":v": s("1")}, "")},
	{"update unknown function", upd(key("p", "a"), "SET v = frob(:v)", "", nil, attrs{":v": s("1")}, "")},
	{"update size not allowed", upd(key("p", "a"), "SET v = size(s)", "", nil, nil, "")},
	{"update set twice", upd(key("p", "a"), "SET v = :v SET w = :v", "", nil, attrs{":v": s("1")}, "")},
	{"condition ne on missing attribute", upd(key("p", "b"), "SET v = :v", "nothing <> :v", nil, attrs{":v": s("1")}, types.ReturnValueUpdatedNew)},
	{"condition lt on missing attribute", upd(key("p", "b"), "SET v = :v", "nothing < :v", nil, attrs{":v": s("1")}, "")},
	{"condition type mismatch lt", upd(key("p", "b"), "SET v = :v", "n < :v", nil, attrs{":v": s("1")}, "")},
	{"condition complex", upd(key("p", "b"), "SET w = :v", "(n BETWEEN :lo AND :hi AND NOT attribute_exists(zz)) OR begins_with(s, :v)", nil, attrs{":v": s("1"), ":lo": n("1"), ":hi": n("9")}, types.ReturnValueAllNew)},
	{"condition in and contains", upd(key("p", "a"), "SET w = :v", "n IN (:a, :b) AND contains(s, :x) AND size(s) = :one AND attribute_type(s, :t)", nil, attrs{":v": s("1"), ":a": n("2"), ":b": n("3"), ":x": s("x"), ":one": n("1"), ":t": s("S")}, types.ReturnValueUpdatedNew)},
	{"condition between reversed", upd(key("p", "b"), "SET w = :v", "n BETWEEN :hi AND :lo", nil, attrs{":v": s("1"), ":lo": n("1"), ":hi": n("9")}, "")},
	{"condition bad attribute_type", upd(key("p", "b"), "SET w = :v", "attribute_type(n, :v)", nil, attrs{":v": s("XX")}, "")},
	{"query partition", query(dynamodb.QueryInput{KeyConditionExpression: aws.String("#pk = :pk"), ExpressionAttributeNames: map[string]string{"#pk": "PK"}, ExpressionAttributeValues: pkq("p"), ProjectionExpression: aws.String("#pk, SK")})},
	{"query begins_with desc", query(dynamodb.QueryInput{KeyConditionExpression: aws.String("#pk = :pk AND begins_with(#sk, :a)"), ExpressionAttributeNames: names, ExpressionAttributeValues: with(pkq("p"), ":a", s("a")), ScanIndexForward: aws.Bool(false), ProjectionExpression: aws.String("SK")})},
	{"query between", query(dynamodb.QueryInput{KeyConditionExpression: aws.String("SK BETWEEN :a AND :b AND PK = :pk"), ExpressionAttributeValues: with(pkq("p"), ":a", s("ab"), ":b", s("c")), ProjectionExpression: aws.String("SK")})},
	{"query gt desc limit", query(dynamodb.QueryInput{KeyConditionExpression: aws.String("PK = :pk AND SK > :a"), ExpressionAttributeValues: with(pkq("p"), ":a", s("a")), ScanIndexForward: aws.Bool(false), Limit: aws.Int32(2), ProjectionExpression: aws.String("SK")})},
	{"query limit exactly all", query(dynamodb.QueryInput{KeyConditionExpression: aws.String("PK = :pk"), ExpressionAttributeValues: pkq("q"), Limit: aws.Int32(1), ProjectionExpression: aws.String("SK")})},
	{"query start key", query(dynamodb.QueryInput{KeyConditionExpression: aws.String("PK = :pk AND SK <= :z"), ExpressionAttributeValues: with(pkq("p"), ":z", s("c")), ExclusiveStartKey: key("p", "ab"), ProjectionExpression: aws.String("SK")})},
	{"query filter", query(dynamodb.QueryInput{KeyConditionExpression: aws.String("PK = :pk"), FilterExpression: aws.String("n >= :five"), ExpressionAttributeValues: with(pkq("p"), ":five", n("5")), Limit: aws.Int32(3), ProjectionExpression: aws.String("SK, n")})},
	{"query count", query(dynamodb.QueryInput{KeyConditionExpression: aws.String("PK = :pk"), ExpressionAttributeValues: pkq("p"), Select: types.SelectCount})},
	{"query gsi", query(dynamodb.QueryInput{IndexName: aws.String("GSI1"), KeyConditionExpression: aws.String("GSI1PK = :g"), ExpressionAttributeValues: attrs{":g": s("g")}})},
	{"query gsi start key", query(dynamodb.QueryInput{IndexName: aws.String("GSI1"), KeyConditionExpression: aws.String("GSI1PK = :g"), ExpressionAttributeValues: attrs{":g": s("g")}, Limit: aws.Int32(1), ExclusiveStartKey: attrs{"PK": s("p"), "SK": s("c"), "GSI1PK": s("g"), "GSI1SK": s("1")}})},
	{"query gsi consistent", query(dynamodb.QueryInput{IndexName: aws.String("GSI1"), KeyConditionExpression: aws.String("GSI1PK = :g"), ExpressionAttributeValues: attrs{":g": s("g")}, ConsistentRead: aws.Bool(true)})},
	{"query unknown index", query(dynamodb.QueryInput{IndexName: aws.String("NOPE"), KeyConditionExpression: aws.String("GSI1PK = :g"), ExpressionAttributeValues: attrs{":g": s("g")}})},
	{"query without hash", query(dynamodb.QueryInput{KeyConditionExpression: aws.String("SK = :g"), ExpressionAttributeValues: attrs{":g": s("g")}})},
	{"query or", query(dynamodb.QueryInput{KeyConditionExpression: aws.String("PK = :g OR SK = :g"), ExpressionAttributeValues: attrs{":g": s("g")}})},
	{"query hash range", query(dynamodb.QueryInput{KeyConditionExpression: aws.String("PK > :g"), ExpressionAttributeValues: attrs{":g": s("g")}})},
	{"query filter on key", query(dynamodb.QueryInput{KeyConditionExpression: aws.String("PK = :pk"), FilterExpression: aws.String("SK = :pk"), ExpressionAttributeValues: pkq("p")})},
	{"query wrong value type", query(dynamodb.QueryInput{KeyConditionExpression: aws.String("PK = :pk"), ExpressionAttributeValues: attrs{":pk": n("1")}})},
	{"delete with condition", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(tbl), Key: key("p", "c"),
			ConditionExpression: aws.String("n = :ten"), ExpressionAttributeValues: attrs{":ten": n("10.0")}, ReturnValues: types.ReturnValueAllOld})
	}},
	{"gsi after delete", query(dynamodb.QueryInput{IndexName: aws.String("GSI1"), KeyConditionExpression: aws.String("GSI1PK = :g"), ExpressionAttributeValues: attrs{":g": s("g")}, ProjectionExpression: aws.String("PK, SK")})},
	{"move in gsi", upd(key("p", "b"), "SET GSI1SK = :s REMOVE w", "", nil, attrs{":s": s("0")}, types.ReturnValueUpdatedOld)},
	{"leave gsi", upd(key("p", "ab"), "SET GSI1PK = :g", "", nil, attrs{":g": s("g")}, types.ReturnValueNone)},
	{"gsi after moves", query(dynamodb.QueryInput{IndexName: aws.String("GSI1"), KeyConditionExpression: aws.String("GSI1PK = :g"), ExpressionAttributeValues: attrs{":g": s("g")}, ProjectionExpression: aws.String("PK, SK, GSI1SK")})},
	{"put empty string and containers", put(with(key("e", "1"), "s", s(""), "l", l(), "m", m(), "n", n("1")))},
	{"get empty string and containers", get(key("e", "1"))},
	{"put empty set", put(with(key("e", "2"), "ss", ss()))},
	{"put empty attribute name", put(with(key("e", "3"), "", s("x")))},
	{"put return all new", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tbl), Item: key("e", "4"), ReturnValues: types.ReturnValueAllNew})
	}},
	{"update updated_old nested and remove", upd(key("e", "1"), "SET m.a = :v, l[0] = :v REMOVE s", "", nil, attrs{":v": n("2")}, types.ReturnValueUpdatedOld)},
	{"update updated_new nested", upd(key("e", "1"), "SET m.b = :v, n = n + :v", "", nil, attrs{":v": n("3")}, types.ReturnValueUpdatedNew)},
	{"update all_new after", upd(key("e", "1"), "SET z = :v", "", nil, attrs{":v": s("z")}, types.ReturnValueAllNew)},
	{"update list index on a map", upd(key("e", "1"), "SET m[0] = :v", "", nil, attrs{":v": s("x")}, "")},
	{"update add to a string", upd(key("e", "1"), "ADD z :v", "", nil, attrs{":v": n("1")}, "")},
	{"update add a string", upd(key("e", "1"), "ADD n :v", "", nil, attrs{":v": s("1")}, "")},
	{"update remove key", upd(key("e", "1"), "REMOVE PK", "", nil, nil, "")},
	{"update delete wrong set type", upd(key("e", "1"), "DELETE n :v", "", nil, attrs{":v": ss("a")}, "")},
	{"update delete from missing", upd(key("e", "1"), "DELETE nothing :v", "", nil, attrs{":v": ss("a")}, types.ReturnValueAllNew)},
	{"update creates with condition", upd(key("e", "9"), "SET v = :v", "attribute_not_exists(PK)", nil, attrs{":v": n("1")}, types.ReturnValueAllNew)},
	{"update empty names map", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(tbl), Key: key("e", "9"), UpdateExpression: aws.String("SET v = :v"),
			ExpressionAttributeValues: attrs{":v": n("2")}, ExpressionAttributeNames: map[string]string{}})
	}},
	{"condition size missing and contains list", upd(key("e", "1"), "SET w = :v", "size(nothing) > :zero OR contains(l, :two)", nil, attrs{":v": s("1"), ":zero": n("0"), ":two": n("2")}, types.ReturnValueUpdatedNew)},
	{"condition in mismatched types", upd(key("e", "1"), "SET w = :v", "n IN (:s)", nil, attrs{":v": s("1"), ":s": s("5")}, "")},
	{"condition compare maps", upd(key("e", "1"), "SET w = :v", "m = :m", nil, attrs{":v": s("2"), ":m": m("a", n("2"), "b", n("3"))}, types.ReturnValueUpdatedNew)},
	{"condition begins_with number", upd(key("e", "1"), "SET w = :v", "begins_with(n, :n)", nil, attrs{":v": s("2"), ":n": n("1")}, "")},
	{"projection list index out of range", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tbl), Key: key("e", "1"), ProjectionExpression: aws.String("l[5], m.nothing, n")})
	}},
	{"query begins_with on hash", query(dynamodb.QueryInput{KeyConditionExpression: aws.String("begins_with(PK, :p)"), ExpressionAttributeValues: attrs{":p": s("p")}})},
	{"query filter limit", query(dynamodb.QueryInput{KeyConditionExpression: aws.String("PK = :pk"), FilterExpression: aws.String("attribute_exists(GSI1PK)"), ExpressionAttributeValues: pkq("p"), Limit: aws.Int32(2), ProjectionExpression: aws.String("SK")})},
	{"query count with filter", query(dynamodb.QueryInput{KeyConditionExpression: aws.String("PK = :pk"), FilterExpression: aws.String("n > :one"), ExpressionAttributeValues: with(pkq("p"), ":one", n("1")), Select: types.SelectCount})},
	{"query start key of another partition", query(dynamodb.QueryInput{KeyConditionExpression: aws.String("PK = :pk"), ExpressionAttributeValues: pkq("p"), ExclusiveStartKey: key("q", "a")})},
	{"query start key missing sk", query(dynamodb.QueryInput{KeyConditionExpression: aws.String("PK = :pk"), ExpressionAttributeValues: pkq("p"), ExclusiveStartKey: attrs{"PK": s("p")}})},
	{"query select count and projection", query(dynamodb.QueryInput{KeyConditionExpression: aws.String("PK = :pk"), ExpressionAttributeValues: pkq("p"), Select: types.SelectCount, ProjectionExpression: aws.String("SK")})},
	{"query missing table", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(tbl + "-nope"), KeyConditionExpression: aws.String("PK = :pk"), ExpressionAttributeValues: pkq("p")})
	}},
	{"transaction validation error at evaluation", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{TableName: aws.String(tbl), Key: key("e", "1"), UpdateExpression: aws.String("SET z = z + :one"), ExpressionAttributeValues: attrs{":one": n("1")}}},
			{Put: &types.Put{TableName: aws.String(tbl), Item: key("e", "5")}},
		}})
	}},
	{"transaction missing table", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(tbl + "-nope"), Item: key("e", "5")}},
		}})
	}},
	{"transaction bad key", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(tbl), Item: key("e", "6")}},
			{Delete: &types.Delete{TableName: aws.String(tbl), Key: attrs{"PK": s("x")}}},
		}})
	}},
	{"nothing from failed transactions", get(key("e", "5"))},
	{"batch get missing table", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{tbl + "-nope": {Keys: []map[string]types.AttributeValue{key("p", "a")}}}})
	}},
	{"transaction cancelled", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(tbl), Item: with(key("t", "1"), "v", s("x"))}},
			{ConditionCheck: &types.ConditionCheck{TableName: aws.String(tbl), Key: key("p", "b"), ConditionExpression: aws.String("n = :n"),
				ExpressionAttributeValues: attrs{":n": n("6")}, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
			{Update: &types.Update{TableName: aws.String(tbl), Key: key("p", "a"), UpdateExpression: aws.String("SET n = :n"), ConditionExpression: aws.String("attribute_not_exists(PK)"),
				ExpressionAttributeValues: attrs{":n": n("6")}}},
			{Delete: &types.Delete{TableName: aws.String(tbl), Key: key("q", "a")}},
		}})
	}},
	{"nothing written by cancelled transaction", get(key("t", "1"))},
	{"transaction same item twice", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(tbl), Item: key("t", "1")}},
			{Delete: &types.Delete{TableName: aws.String(tbl), Key: key("t", "1")}},
		}})
	}},
	{"transaction ok", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(tbl), Item: with(key("t", "1"), "GSI2PK", s("h"), "GSI2SK", s("1")), ConditionExpression: aws.String("attribute_not_exists(PK)")}},
			{Update: &types.Update{TableName: aws.String(tbl), Key: key("p", "b"), UpdateExpression: aws.String("SET n = n + :one"), ExpressionAttributeValues: attrs{":one": n("1")}}},
			{Delete: &types.Delete{TableName: aws.String(tbl), Key: key("q", "a")}},
			{ConditionCheck: &types.ConditionCheck{TableName: aws.String(tbl), Key: key("p", "a"), ConditionExpression: aws.String("attribute_exists(PK)")}},
		}})
	}},
	{"transact get", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
			{Get: &types.Get{TableName: aws.String(tbl), Key: key("t", "1")}},
			{Get: &types.Get{TableName: aws.String(tbl), Key: key("q", "a")}},
			{Get: &types.Get{TableName: aws.String(tbl), Key: key("p", "b"), ProjectionExpression: aws.String("n")}},
		}})
	}},
	{"batch get", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{tbl: {
			Keys: []map[string]types.AttributeValue{key("p", "a"), key("p", "b"), key("nope", "x")}, ProjectionExpression: aws.String("#pk, n"), ExpressionAttributeNames: map[string]string{"#pk": "PK"}}}})
	}},
	{"batch get duplicate keys", func(ctx context.Context, db store.DynamoDB, tbl string) (any, error) {
		return db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{tbl: {
			Keys: []map[string]types.AttributeValue{key("p", "a"), key("p", "a")}}}})
	}},
}

func TestSameAnswersAsDynamoDBLocal(t *testing.T) {
	ctx := context.Background()
	results := map[string][]string{}
	for _, b := range dynamotest.Backends(t) {
		if b.Name == dynamotest.Minidyn {
			continue // it panics on several of these
		}
		tbl := dynamotest.Table(t, b)
		for _, st := range steps {
			out, err := st.do(ctx, b.DB, tbl)
			results[b.Name] = append(results[b.Name], outcome(out, err))
		}
	}
	ref := results[dynamotest.DynamoDBLocal]
	for _, name := range []string{dynamotest.Memdynamo, dynamotest.MemdynamoHTTP} {
		for i, st := range steps {
			if got, want := results[name][i], ref[i]; got != want {
				t.Errorf("%s: step %q:\n got %s\nwant %s (DynamoDB Local)", name, st.name, got, want)
			}
		}
	}
}
