package memdynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// maxItemSize is DynamoDB's item size limit.
const maxItemSize = 400 * 1024

type writeKind int

const (
	wPut writeKind = iota
	wUpdate
	wDelete
	wCheck
)

// writeOp is one validated write (or condition check): everything that can
// be checked without reading the table has been.
type writeOp struct {
	kind    writeKind
	table   string
	key     item // the key attributes (the full item for puts)
	putItem item
	update  *parsed
	cond    *parsed
	env     *exprEnv
	onFail  types.ReturnValuesOnConditionCheckFailure
}

// legacy refuses the pre-expression parameters, which memdynamo does not
// implement.
func legacy(params map[string]bool) error {
	for name, set := range params {
		if set {
			return validationf("memdynamo does not support the legacy parameter %s; use expressions", name)
		}
	}
	return nil
}

func (db *DB) parseOpt(kind exprKind, s *string) (*parsed, error) {
	if s == nil {
		return nil, nil
	}
	return db.exprs.get(kind, *s)
}

func checkItem(it item) error {
	if len(it) == 0 {
		return validationf("1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must not be null")
	}
	for name, v := range it {
		if name == "" {
			return validationf("One or more parameter values are not valid. The attribute name cannot be empty")
		}
		if err := checkValue(v); err != nil {
			return err
		}
	}
	if itemSize(it) > maxItemSize {
		return validationf("Item size has exceeded the maximum allowed size")
	}
	return nil
}

func (db *DB) prepare(kind writeKind, tableName *string, key item, cond, update *string, names map[string]string, vals map[string]types.AttributeValue, onFail types.ReturnValuesOnConditionCheckFailure) (*writeOp, error) {
	op := &writeOp{kind: kind, table: aws.ToString(tableName), onFail: onFail}
	if op.table == "" {
		return nil, validationf("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null")
	}
	switch onFail {
	case "", types.ReturnValuesOnConditionCheckFailureNone, types.ReturnValuesOnConditionCheckFailureAllOld:
	default:
		return nil, validationf("1 validation error detected: Value '%s' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]", onFail)
	}
	if kind == wPut {
		if err := checkItem(key); err != nil {
			return nil, err
		}
		op.putItem = cloneItemIn(key)
	} else {
		if len(key) == 0 {
			return nil, validationf("1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null")
		}
		for _, v := range key {
			if err := checkValue(v); err != nil {
				return nil, err
			}
		}
		op.key = cloneItemIn(key)
	}
	var err error
	if op.cond, err = db.parseOpt(kindCondition, cond); err != nil {
		return nil, err
	}
	if kind == wCheck && op.cond == nil {
		return nil, validationf("1 validation error detected: Value null at 'conditionExpression' failed to satisfy constraint: Member must not be null")
	}
	if kind == wUpdate {
		if update == nil {
			return nil, validationf("memdynamo needs an UpdateExpression (the legacy AttributeUpdates are not supported)")
		}
		if op.update, err = db.parseOpt(kindUpdate, update); err != nil {
			return nil, err
		}
	}
	// Values are not copied here: conditions only read them, and an update
	// copies what it stores.
	if op.env, err = newEnv(names, vals, op.cond, op.update); err != nil {
		return nil, err
	}
	return op, nil
}

// result is what evaluating a writeOp against the table gives.
type result struct {
	t     *table
	h, r  keyv
	old   item
	next  item // nil: the item is (or stays) deleted
	write bool // false for condition checks
	idx   []*entry
	paths []resolved // paths an update changed
}

// errCondition marks a failed condition inside eval; the caller turns it
// into the right exception.
var errCondition = errors.New("condition failed")

// eval runs op against the current state (the caller holds the lock).
func (db *DB) eval(op *writeOp) (*result, error) {
	t, err := db.lookup(&op.table)
	if err != nil {
		return nil, err
	}
	res := &result{t: t}
	if op.kind == wPut {
		res.h, res.r, err = t.primaryKey(op.putItem, "item")
	} else {
		res.h, res.r, err = t.keyOf(op.key)
	}
	if err != nil {
		return nil, err
	}
	res.old = t.get(res.h, res.r)
	if op.cond != nil {
		ok, err := op.env.eval(res.old, op.cond.cond, kindCondition)
		if err != nil {
			return res, err
		}
		if !ok {
			return res, errCondition
		}
	}
	switch op.kind {
	case wCheck:
		return res, nil
	case wDelete:
		res.write = true
		return res, nil
	case wPut:
		res.next = op.putItem
	case wUpdate:
		next, paths, err := op.env.applyUpdate(res.old, op.key, op.update.update, t.keyAttrs())
		if err != nil {
			return res, err
		}
		if itemSize(next) > maxItemSize {
			return res, validationf("Item size to update has exceeded the maximum allowed size")
		}
		res.next, res.paths = next, paths
	}
	res.write = true
	if res.idx, err = t.indexEntries(res.next, res.h, res.r); err != nil {
		return res, err
	}
	return res, nil
}

func (res *result) apply() {
	if res.write {
		res.t.put(res.h, res.r, res.next, res.idx)
	}
}

// single runs one write: eval, then apply, under the write lock.
func (db *DB) single(op *writeOp) (*result, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	res, err := db.eval(op)
	if errors.Is(err, errCondition) {
		return nil, conditionFailed(res.old, op.onFail)
	}
	if err != nil {
		return nil, err
	}
	res.apply()
	return res, nil
}

// PutItem writes a whole item, optionally under a condition.
func (db *DB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	old, err := db.writeWhole(wPut, wholeWrite{in.TableName, in.Item, in.ConditionExpression, in.ExpressionAttributeNames,
		in.ExpressionAttributeValues, in.ReturnValuesOnConditionCheckFailure, in.ReturnValues, in.Expected != nil, in.ConditionalOperator})
	if err != nil {
		return nil, err
	}
	return &dynamodb.PutItemOutput{Attributes: old}, nil
}

// DeleteItem deletes an item, optionally under a condition.
func (db *DB) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	old, err := db.writeWhole(wDelete, wholeWrite{in.TableName, in.Key, in.ConditionExpression, in.ExpressionAttributeNames,
		in.ExpressionAttributeValues, in.ReturnValuesOnConditionCheckFailure, in.ReturnValues, in.Expected != nil, in.ConditionalOperator})
	if err != nil {
		return nil, err
	}
	return &dynamodb.DeleteItemOutput{Attributes: old}, nil
}

// wholeWrite is what PutItem and DeleteItem share: an item (or key), an
// optional condition, and ReturnValues NONE or ALL_OLD.
type wholeWrite struct {
	table        *string
	item         map[string]types.AttributeValue
	condition    *string
	names        map[string]string
	values       map[string]types.AttributeValue
	onFail       types.ReturnValuesOnConditionCheckFailure
	returnValues types.ReturnValue
	expected     bool
	condOp       types.ConditionalOperator
}

// writeWhole runs a put or a delete and returns the old item when ALL_OLD
// asked for it (nil otherwise).
func (db *DB) writeWhole(kind writeKind, w wholeWrite) (map[string]types.AttributeValue, error) {
	if err := legacy(map[string]bool{"Expected": w.expected, "ConditionalOperator": w.condOp != ""}); err != nil {
		return nil, err
	}
	switch w.returnValues {
	case "", types.ReturnValueNone, types.ReturnValueAllOld:
	default:
		return nil, validationf("ReturnValues can only be ALL_OLD or NONE")
	}
	op, err := db.prepare(kind, w.table, w.item, w.condition, nil, w.names, w.values, w.onFail)
	if err != nil {
		return nil, err
	}
	res, err := db.single(op)
	if err != nil {
		return nil, err
	}
	if w.returnValues == types.ReturnValueAllOld && res.old != nil {
		return cloneItem(res.old), nil
	}
	return nil, nil
}

// UpdateItem applies an UpdateExpression to an item (creating it from its
// key when absent), optionally under a condition.
func (db *DB) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := legacy(map[string]bool{"Expected": in.Expected != nil, "ConditionalOperator": in.ConditionalOperator != "", "AttributeUpdates": in.AttributeUpdates != nil}); err != nil {
		return nil, err
	}
	switch in.ReturnValues {
	case "", types.ReturnValueNone, types.ReturnValueAllOld, types.ReturnValueAllNew, types.ReturnValueUpdatedOld, types.ReturnValueUpdatedNew:
	default:
		return nil, validationf("1 validation error detected: Value '%s' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]", in.ReturnValues)
	}
	op, err := db.prepare(wUpdate, in.TableName, in.Key, in.ConditionExpression, in.UpdateExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues, in.ReturnValuesOnConditionCheckFailure)
	if err != nil {
		return nil, err
	}
	res, err := db.single(op)
	if err != nil {
		return nil, err
	}
	out := &dynamodb.UpdateItemOutput{}
	switch in.ReturnValues {
	case types.ReturnValueAllOld:
		out.Attributes = cloneItem(res.old)
	case types.ReturnValueAllNew:
		out.Attributes = cloneItem(res.next)
	case types.ReturnValueUpdatedOld:
		out.Attributes = updatedAttrs(res.old, res.paths)
	case types.ReturnValueUpdatedNew:
		out.Attributes = updatedAttrs(res.next, res.paths)
	}
	if len(out.Attributes) == 0 {
		out.Attributes = nil
	}
	return out, nil
}

// updatedAttrs is what UPDATED_OLD and UPDATED_NEW return, as DynamoDB
// does: each top-level attribute, whole, in which a changed path exists in
// that version of the item.
func updatedAttrs(it item, paths []resolved) item {
	out := item{}
	for _, p := range paths {
		if _, ok := walk(it, p); ok {
			name := p[0].(string)
			out[name] = clone(it[name])
		}
	}
	return out
}

// GetItem reads one item by its key.
func (db *DB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if err := legacy(map[string]bool{"AttributesToGet": in.AttributesToGet != nil}); err != nil {
		return nil, err
	}
	proj, err := db.parseOpt(kindProjection, in.ProjectionExpression)
	if err != nil {
		return nil, err
	}
	env, err := newEnv(in.ExpressionAttributeNames, nil, proj)
	if err != nil {
		return nil, err
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	t, err := db.lookup(in.TableName)
	if err != nil {
		return nil, err
	}
	h, r, err := t.keyOf(in.Key)
	if err != nil {
		return nil, err
	}
	return &dynamodb.GetItemOutput{Item: env.output(t.get(h, r), proj)}, nil
}

// output copies an item for a response, projected when proj is set.
func (e *exprEnv) output(it item, proj *parsed) item {
	if it == nil {
		return nil
	}
	if proj == nil {
		return cloneItem(it)
	}
	paths := make([]resolved, len(proj.proj))
	for i, p := range proj.proj {
		paths[i] = e.resolve(p)
	}
	return project(it, paths)
}

// maxTransactItems is DynamoDB's limit on one transaction's operations.
const maxTransactItems = 100

// TransactWriteItems applies up to 100 writes and condition checks all or
// nothing. Every condition is evaluated before anything is written; when
// any fails, the TransactionCanceledException has one reason per item.
// ClientRequestToken is accepted but not used for idempotency.
func (db *DB) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	n := len(in.TransactItems)
	if n == 0 || n > maxTransactItems {
		return nil, validationf("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to %d and greater than or equal to 1", maxTransactItems)
	}
	ops := make([]*writeOp, n)
	for i, ti := range in.TransactItems {
		var op *writeOp
		var err error
		count := 0
		if p := ti.Put; p != nil {
			count++
			op, err = db.prepare(wPut, p.TableName, p.Item, p.ConditionExpression, nil, p.ExpressionAttributeNames, p.ExpressionAttributeValues, p.ReturnValuesOnConditionCheckFailure)
		}
		if u := ti.Update; u != nil {
			count++
			op, err = db.prepare(wUpdate, u.TableName, u.Key, u.ConditionExpression, u.UpdateExpression, u.ExpressionAttributeNames, u.ExpressionAttributeValues, u.ReturnValuesOnConditionCheckFailure)
		}
		if d := ti.Delete; d != nil {
			count++
			op, err = db.prepare(wDelete, d.TableName, d.Key, d.ConditionExpression, nil, d.ExpressionAttributeNames, d.ExpressionAttributeValues, d.ReturnValuesOnConditionCheckFailure)
		}
		if c := ti.ConditionCheck; c != nil {
			count++
			op, err = db.prepare(wCheck, c.TableName, c.Key, c.ConditionExpression, nil, c.ExpressionAttributeNames, c.ExpressionAttributeValues, c.ReturnValuesOnConditionCheckFailure)
		}
		if count != 1 {
			return nil, validationf("TransactItems can only contain one of Check, Put, Update or Delete")
		}
		if err != nil {
			return nil, err
		}
		ops[i] = op
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	results := make([]*result, n)
	reasons := make([]types.CancellationReason, n)
	failed := false
	seen := map[string]bool{}
	for i, op := range ops {
		res, err := db.eval(op)
		if res != nil {
			k := op.table + "\x00" + string(res.h.t) + res.h.s + "\x00" + string(res.r.t) + res.r.s
			if seen[k] {
				return nil, validationf("Transaction request cannot include multiple operations on one item")
			}
			seen[k] = true
		}
		switch {
		case errors.Is(err, errCondition):
			failed = true
			reasons[i] = types.CancellationReason{Code: aws.String("ConditionalCheckFailed"), Message: aws.String("The conditional request failed")}
			if op.onFail == types.ReturnValuesOnConditionCheckFailureAllOld && res.old != nil {
				reasons[i].Item = cloneItem(res.old)
			}
		case err != nil:
			// An update that cannot apply (e.g. arithmetic on a string) is
			// a ValidationException for the whole request, as DynamoDB
			// Local answers it.
			return nil, err
		default:
			reasons[i] = types.CancellationReason{Code: aws.String("None")}
		}
		results[i] = res
	}
	if failed {
		return nil, transactionCanceled(reasons)
	}
	for _, res := range results {
		res.apply()
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// TransactGetItems reads up to 100 items at one point in time.
func (db *DB) TransactGetItems(_ context.Context, in *dynamodb.TransactGetItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactGetItemsOutput, error) {
	n := len(in.TransactItems)
	if n == 0 || n > maxTransactItems {
		return nil, validationf("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to %d and greater than or equal to 1", maxTransactItems)
	}
	type get struct {
		proj *parsed
		env  *exprEnv
	}
	gets := make([]get, n)
	for i, ti := range in.TransactItems {
		if ti.Get == nil {
			return nil, validationf("1 validation error detected: Value null at 'transactItems.%d.member.get' failed to satisfy constraint: Member must not be null", i+1)
		}
		proj, err := db.parseOpt(kindProjection, ti.Get.ProjectionExpression)
		if err != nil {
			return nil, err
		}
		env, err := newEnv(ti.Get.ExpressionAttributeNames, nil, proj)
		if err != nil {
			return nil, err
		}
		gets[i] = get{proj, env}
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	out := &dynamodb.TransactGetItemsOutput{Responses: make([]types.ItemResponse, n)}
	for i, ti := range in.TransactItems {
		t, err := db.lookup(ti.Get.TableName)
		if err != nil {
			return nil, err
		}
		h, r, err := t.keyOf(ti.Get.Key)
		if err != nil {
			return nil, err
		}
		out.Responses[i] = types.ItemResponse{Item: gets[i].env.output(t.get(h, r), gets[i].proj)}
	}
	return out, nil
}

// BatchGetItem reads up to 100 items from one or more tables. Every key is
// processed: UnprocessedKeys is always empty.
func (db *DB) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	total := 0
	type req struct {
		proj *parsed
		env  *exprEnv
	}
	reqs := map[string]req{}
	for name, ka := range in.RequestItems {
		if err := legacy(map[string]bool{"AttributesToGet": ka.AttributesToGet != nil}); err != nil {
			return nil, err
		}
		if len(ka.Keys) == 0 {
			return nil, validationf("1 validation error detected: Value at 'requestItems.%s.member.keys' failed to satisfy constraint: Member must have length greater than or equal to 1", name)
		}
		total += len(ka.Keys)
		proj, err := db.parseOpt(kindProjection, ka.ProjectionExpression)
		if err != nil {
			return nil, err
		}
		env, err := newEnv(ka.ExpressionAttributeNames, nil, proj)
		if err != nil {
			return nil, err
		}
		reqs[name] = req{proj, env}
	}
	if total == 0 || total > 100 {
		return nil, validationf("Too many items requested for the BatchGetItem call")
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{}, UnprocessedKeys: map[string]types.KeysAndAttributes{}}
	for name, ka := range in.RequestItems {
		t, err := db.lookup(aws.String(name))
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		items := []map[string]types.AttributeValue{}
		for _, k := range ka.Keys {
			h, r, err := t.keyOf(k)
			if err != nil {
				return nil, err
			}
			id := string(h.t) + h.s + "\x00" + string(r.t) + r.s
			if h.t == 'N' || r.t == 'N' {
				id = fmt.Sprint(h.t, h.n, r.t, r.n)
			}
			if seen[id] {
				return nil, validationf("Provided list of item keys contains duplicates")
			}
			seen[id] = true
			if it := t.get(h, r); it != nil {
				items = append(items, reqs[name].env.output(it, reqs[name].proj))
			}
		}
		out.Responses[name] = items
	}
	return out, nil
}

// BatchWriteItem puts and deletes up to 25 items, unconditionally. Every
// request is processed: UnprocessedItems is always empty.
func (db *DB) BatchWriteItem(_ context.Context, in *dynamodb.BatchWriteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	var ops []*writeOp
	for name, reqs := range in.RequestItems {
		for _, w := range reqs {
			var op *writeOp
			var err error
			switch {
			case w.PutRequest != nil && w.DeleteRequest == nil:
				op, err = db.prepare(wPut, aws.String(name), w.PutRequest.Item, nil, nil, nil, nil, "")
			case w.DeleteRequest != nil && w.PutRequest == nil:
				op, err = db.prepare(wDelete, aws.String(name), w.DeleteRequest.Key, nil, nil, nil, nil, "")
			default:
				return nil, validationf("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
			}
			if err != nil {
				return nil, err
			}
			ops = append(ops, op)
		}
	}
	if len(ops) == 0 || len(ops) > 25 {
		return nil, validationf("1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Member must have length less than or equal to 25")
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	results := make([]*result, len(ops))
	seen := map[string]bool{}
	for i, op := range ops {
		res, err := db.eval(op)
		if err != nil {
			return nil, err
		}
		k := op.table + "\x00" + string(res.h.t) + res.h.s + "\x00" + string(res.r.t) + res.r.s
		if seen[k] {
			return nil, validationf("Provided list of item keys contains duplicates")
		}
		seen[k] = true
		results[i] = res
	}
	for _, res := range results {
		res.apply()
	}
	return &dynamodb.BatchWriteItemOutput{UnprocessedItems: map[string][]types.WriteRequest{}}, nil
}
