package memdynamo

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// maxPageBytes is DynamoDB's 1 MB limit on the data one Query or Scan
// evaluates.
const maxPageBytes = 1 << 20

// view is what a Query or Scan reads: the table, or one of its indexes.
type view struct {
	t    *table
	g    *index // nil for the table itself
	hash keyDef
	rng  keyDef
	tree func() treeIter
}

type treeIter interface {
	Ascend(pivot *entry, iter func(*entry) bool)
	Descend(pivot *entry, iter func(*entry) bool)
	Scan(iter func(*entry) bool)
}

func (db *DB) view(tableName, indexName *string, consistent *bool) (*view, error) {
	t, err := db.lookup(tableName)
	if err != nil {
		return nil, err
	}
	v := &view{t: t, hash: t.hash, rng: t.rng}
	if indexName == nil {
		v.tree = func() treeIter { return t.tree }
		return v, nil
	}
	g := t.index(*indexName)
	if g == nil {
		return nil, validationf("The table does not have the specified index: %s", *indexName)
	}
	if aws.ToBool(consistent) {
		return nil, validationf("Consistent reads are not supported on global secondary indexes")
	}
	v.g, v.hash, v.rng = g, g.hash, g.rng
	v.tree = func() treeIter { return g.tree }
	return v, nil
}

// visible is the part of an item the view holds (its projection).
func (v *view) visible(it item) item {
	if v.g == nil || v.g.proj == types.ProjectionTypeAll {
		return it
	}
	keep := map[string]bool{v.t.hash.name: true, v.t.rng.name: true, v.g.hash.name: true, v.g.rng.name: true}
	if v.g.proj == types.ProjectionTypeInclude {
		for _, a := range v.g.include {
			keep[a] = true
		}
	}
	out := item{}
	for k, val := range it {
		if keep[k] {
			out[k] = val
		}
	}
	return out
}

// checkProjected refuses a ProjectionExpression that asks an index for
// attributes it does not project, as DynamoDB does.
func (v *view) checkProjected(e *exprEnv, proj *parsed) error {
	if proj == nil || v.g == nil || v.g.proj == types.ProjectionTypeAll {
		return nil
	}
	probe := item{}
	for _, p := range proj.proj {
		probe[e.attr(p[0])] = nil
	}
	var missing []string
	for name := range probe {
		if _, ok := v.visible(item{name: nil})[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return validationf("One or more parameter values were invalid: Global secondary index %s does not project [%s]", v.g.name, strings.Join(missing, ", "))
}

// lastKey is the LastEvaluatedKey of e: the table's key plus the index's.
func (v *view) lastKey(e *entry) item {
	out := item{}
	for _, k := range []keyDef{v.t.hash, v.t.rng, v.hash, v.rng} {
		if k.name != "" {
			out[k.name] = clone(e.it[k.name])
		}
	}
	return out
}

// startEntry turns an ExclusiveStartKey into the tree position it names.
func (v *view) startEntry(esk item) (*entry, error) {
	bad := func() error {
		return validationf("The provided starting key is invalid: The provided key element does not match the schema")
	}
	want := map[string]bool{}
	for _, k := range []keyDef{v.t.hash, v.t.rng, v.hash, v.rng} {
		if k.name != "" {
			want[k.name] = true
		}
	}
	if len(esk) != len(want) {
		return nil, bad()
	}
	e := &entry{}
	var err error
	if e.th, e.tr, err = v.t.primaryKey(esk, "item"); err != nil {
		return nil, bad()
	}
	if v.g == nil {
		e.h, e.r = e.th, e.tr
		return e, nil
	}
	if e.h, err = keyValue(esk, v.hash, "item"); err != nil {
		return nil, bad()
	}
	e.r = keyMin
	if v.rng.name != "" {
		if e.r, err = keyValue(esk, v.rng, "item"); err != nil {
			return nil, bad()
		}
	}
	return e, nil
}

// keyCond is an analysed KeyConditionExpression.
type keyCond struct {
	hash      keyv
	lo, hi    keyv // bounds of the sort key (keyMin/keyMax: open)
	loX, hiX  bool // exclusive bounds
	prefix    string
	hasPrefix bool
}

func (e *exprEnv) keyCondition(v *view, c *cond) (*keyCond, error) {
	var parts []*cond
	switch {
	case c.kind == cAnd && c.kids[0].kind != cAnd && c.kids[0].kind != cOr && c.kids[1].kind != cAnd && c.kids[1].kind != cOr:
		parts = c.kids
	case c.kind == cAnd, c.kind == cOr, c.kind == cNot:
		return nil, validationf("Invalid operator used in KeyConditionExpression: %s", map[condKind]string{cAnd: "AND", cOr: "OR", cNot: "NOT"}[c.kind])
	default:
		parts = []*cond{c}
	}
	kc := &keyCond{lo: keyMin, hi: keyMax}
	gotHash, gotRange := false, false
	value := func(o *operand, k keyDef) (keyv, error) {
		if o.kind != opVal {
			return keyv{}, validationf("Invalid KeyConditionExpression: The key condition must compare a key attribute with a value")
		}
		kv, ok := toKey(e.vals[o.val])
		if !ok || kv.t != k.typ {
			return keyv{}, validationf("One or more parameter values were invalid: Condition parameter type does not match schema type")
		}
		return kv, nil
	}
	for _, p := range parts {
		if len(p.ops) == 0 || p.ops[0].kind != opPath || len(p.ops[0].path) != 1 {
			return nil, validationf("Invalid KeyConditionExpression: the condition must name a key attribute on its left")
		}
		name := e.attr(p.ops[0].path[0])
		switch {
		case name == v.hash.name && !gotHash:
			if p.kind != cCmp || p.op != "=" {
				return nil, validationf("Query key condition not supported")
			}
			kv, err := value(p.ops[1], v.hash)
			if err != nil {
				return nil, err
			}
			kc.hash, gotHash = kv, true
		case name == v.rng.name && v.rng.name != "" && !gotRange:
			gotRange = true
			switch {
			case p.kind == cCmp && p.op != "<>":
				kv, err := value(p.ops[1], v.rng)
				if err != nil {
					return nil, err
				}
				switch p.op {
				case "=":
					kc.lo, kc.hi = kv, kv
				case "<":
					kc.hi, kc.hiX = kv, true
				case "<=":
					kc.hi = kv
				case ">":
					kc.lo, kc.loX = kv, true
				case ">=":
					kc.lo = kv
				}
			case p.kind == cBetween:
				lo, err := value(p.ops[1], v.rng)
				if err != nil {
					return nil, err
				}
				hi, err := value(p.ops[2], v.rng)
				if err != nil {
					return nil, err
				}
				if cmpKey(lo, hi) > 0 {
					return nil, validationf("Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound")
				}
				kc.lo, kc.hi = lo, hi
			case p.kind == cFunc && p.op == "begins_with":
				kv, err := value(p.ops[1], v.rng)
				if err != nil {
					return nil, err
				}
				if kv.t == 'N' {
					return nil, validationf("Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N")
				}
				kc.prefix, kc.hasPrefix = kv.s, true
				kc.lo = kv
				if succ, ok := successor(kv.s); ok {
					kc.hi, kc.hiX = keyv{t: kv.t, s: succ}, true
				}
			default:
				return nil, validationf("Query key condition not supported")
			}
		default:
			return nil, validationf("Query condition missed key schema element: %s", v.hash.name)
		}
	}
	if !gotHash {
		return nil, validationf("Query condition missed key schema element: %s", v.hash.name)
	}
	return kc, nil
}

// successor is the smallest byte string greater than every string with
// prefix p; ok is false when there is none (p empty or all 0xff).
func successor(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

func (kc *keyCond) inRange(r keyv) (before, inside bool) {
	if c := cmpKey(r, kc.lo); c < 0 || c == 0 && kc.loX {
		return true, false
	}
	if c := cmpKey(r, kc.hi); c > 0 || c == 0 && kc.hiX {
		return false, false
	}
	if kc.hasPrefix && !strings.HasPrefix(r.s, kc.prefix) {
		return false, false
	}
	return false, true
}

// page collects one page from an iteration: the filter, Limit and 1 MB.
type page struct {
	env     *exprEnv
	v       *view
	filter  *parsed
	proj    *parsed
	count   bool
	limit   int
	items   []map[string]types.AttributeValue
	matched int
	scanned int
	bytes   int
	last    *entry
	err     error
}

// take evaluates one entry; it returns false to stop the iteration.
func (p *page) take(e *entry) bool {
	it := p.v.visible(e.it)
	p.scanned++
	p.bytes += itemSize(it)
	p.last = e
	keep := true
	if p.filter != nil {
		ok, err := p.env.eval(it, p.filter.cond, kindFilter)
		if err != nil {
			p.err = err
			return false
		}
		keep = ok
	}
	if keep {
		p.matched++
		if !p.count {
			p.items = append(p.items, p.env.output(it, p.proj))
		}
	}
	if p.limit > 0 && p.scanned >= p.limit || p.bytes >= maxPageBytes {
		return false
	}
	p.last = nil // not cut short (yet)
	return true
}

func selectMode(sel types.Select, proj *string, index bool) (count bool, err error) {
	switch sel {
	case "", types.SelectAllAttributes:
		if proj != nil && sel != "" {
			return false, validationf("Cannot specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES")
		}
	case types.SelectCount:
		if proj != nil {
			return false, validationf("Cannot specify the ProjectionExpression when choosing to get COUNT")
		}
		return true, nil
	case types.SelectSpecificAttributes:
		if proj == nil {
			return false, validationf("Must specify the ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES")
		}
	case types.SelectAllProjectedAttributes:
		if !index {
			return false, validationf("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")
		}
	default:
		return false, validationf("1 validation error detected: Value '%s' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]", sel)
	}
	return false, nil
}

// Query reads one partition of the table or of an index, in sort key
// order (ScanIndexForward false: descending), with the key condition's
// bounds, ExclusiveStartKey, Limit (items evaluated, before the filter),
// FilterExpression, ProjectionExpression and Select COUNT.
// LastEvaluatedKey is set when Limit or 1 MB cut the page.
func (db *DB) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if err := legacy(map[string]bool{"KeyConditions": in.KeyConditions != nil, "QueryFilter": in.QueryFilter != nil,
		"AttributesToGet": in.AttributesToGet != nil, "ConditionalOperator": in.ConditionalOperator != ""}); err != nil {
		return nil, err
	}
	if in.KeyConditionExpression == nil {
		return nil, validationf("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
	}
	if in.Limit != nil && *in.Limit < 1 {
		return nil, validationf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", *in.Limit)
	}
	count, err := selectMode(in.Select, in.ProjectionExpression, in.IndexName != nil)
	if err != nil {
		return nil, err
	}
	key, err := db.exprs.get(kindKey, *in.KeyConditionExpression)
	if err != nil {
		return nil, err
	}
	filter, err := db.parseOpt(kindFilter, in.FilterExpression)
	if err != nil {
		return nil, err
	}
	proj, err := db.parseOpt(kindProjection, in.ProjectionExpression)
	if err != nil {
		return nil, err
	}
	env, err := newEnv(in.ExpressionAttributeNames, in.ExpressionAttributeValues, key, filter, proj)
	if err != nil {
		return nil, err
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	v, err := db.view(in.TableName, in.IndexName, in.ConsistentRead)
	if err != nil {
		return nil, err
	}
	kc, err := env.keyCondition(v, key.cond)
	if err != nil {
		return nil, err
	}
	if err := v.checkProjected(env, proj); err != nil {
		return nil, err
	}
	if filter != nil {
		if err := checkFilterKeys(env, v, filter.cond); err != nil {
			return nil, err
		}
	}
	var start *entry
	if in.ExclusiveStartKey != nil {
		if start, err = v.startEntry(in.ExclusiveStartKey); err != nil {
			return nil, err
		}
		if cmpKey(start.h, kc.hash) != 0 {
			return nil, validationf("The provided starting key is outside query boundaries based on provided conditions")
		}
	}
	pg := &page{env: env, v: v, filter: filter, proj: proj, count: count, limit: int(aws.ToInt32(in.Limit)), items: []map[string]types.AttributeValue{}}
	tree := v.tree()
	visit := func(forward bool) func(e *entry) bool {
		return func(e *entry) bool {
			if cmpKey(e.h, kc.hash) != 0 {
				return false
			}
			if start != nil {
				if forward && !entryLess(start, e) || !forward && !entryLess(e, start) {
					return true
				}
			}
			before, inside := kc.inRange(e.r)
			if !inside {
				if forward && before || !forward && !before {
					return true // not reached the range yet
				}
				return false
			}
			return pg.take(e)
		}
	}
	if aws.ToBool(in.ScanIndexForward) || in.ScanIndexForward == nil {
		pivot := &entry{h: kc.hash, r: kc.lo, th: keyMin, tr: keyMin}
		if start != nil {
			pivot = start
		}
		tree.Ascend(pivot, visit(true))
	} else {
		pivot := &entry{h: kc.hash, r: kc.hi, th: keyMax, tr: keyMax}
		if start != nil {
			pivot = start
		}
		tree.Descend(pivot, visit(false))
	}
	if pg.err != nil {
		return nil, pg.err
	}
	out := &dynamodb.QueryOutput{Count: int32(pg.matched), ScannedCount: int32(pg.scanned)}
	if !count {
		out.Items = pg.items
	}
	if pg.last != nil {
		out.LastEvaluatedKey = v.lastKey(pg.last)
	}
	return out, nil
}

// checkFilterKeys refuses a filter on a key attribute of the query, as
// DynamoDB does.
func checkFilterKeys(e *exprEnv, v *view, c *cond) error {
	var err error
	var walkCond func(c *cond)
	var walkOp func(o *operand)
	walkOp = func(o *operand) {
		if o.kind == opPath || o.kind == opSize {
			name := e.attr(o.path[0])
			if name == v.hash.name || name == v.rng.name && v.rng.name != "" {
				err = validationf("Filter Expression can only contain non-primary key attributes: Primary key attribute: %s", name)
			}
		}
		for _, a := range o.args {
			walkOp(a)
		}
	}
	walkCond = func(c *cond) {
		for _, k := range c.kids {
			walkCond(k)
		}
		for _, o := range c.ops {
			walkOp(o)
		}
	}
	walkCond(c)
	return err
}

// Scan reads a whole table or index in key order (one segment only), with
// ExclusiveStartKey, Limit, FilterExpression, ProjectionExpression and
// Select COUNT.
func (db *DB) Scan(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	if err := legacy(map[string]bool{"ScanFilter": in.ScanFilter != nil, "AttributesToGet": in.AttributesToGet != nil,
		"ConditionalOperator": in.ConditionalOperator != "", "Segment": in.Segment != nil && aws.ToInt32(in.TotalSegments) > 1}); err != nil {
		return nil, err
	}
	if in.Limit != nil && *in.Limit < 1 {
		return nil, validationf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", *in.Limit)
	}
	count, err := selectMode(in.Select, in.ProjectionExpression, in.IndexName != nil)
	if err != nil {
		return nil, err
	}
	filter, err := db.parseOpt(kindFilter, in.FilterExpression)
	if err != nil {
		return nil, err
	}
	proj, err := db.parseOpt(kindProjection, in.ProjectionExpression)
	if err != nil {
		return nil, err
	}
	env, err := newEnv(in.ExpressionAttributeNames, in.ExpressionAttributeValues, filter, proj)
	if err != nil {
		return nil, err
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	v, err := db.view(in.TableName, in.IndexName, in.ConsistentRead)
	if err != nil {
		return nil, err
	}
	if err := v.checkProjected(env, proj); err != nil {
		return nil, err
	}
	pg := &page{env: env, v: v, filter: filter, proj: proj, count: count, limit: int(aws.ToInt32(in.Limit)), items: []map[string]types.AttributeValue{}}
	if in.ExclusiveStartKey != nil {
		start, err := v.startEntry(in.ExclusiveStartKey)
		if err != nil {
			return nil, err
		}
		v.tree().Ascend(start, func(e *entry) bool {
			if !entryLess(start, e) {
				return true
			}
			return pg.take(e)
		})
	} else {
		v.tree().Scan(pg.take)
	}
	if pg.err != nil {
		return nil, pg.err
	}
	out := &dynamodb.ScanOutput{Count: int32(pg.matched), ScannedCount: int32(pg.scanned)}
	if !count {
		out.Items = pg.items
	}
	if pg.last != nil {
		out.LastEvaluatedKey = v.lastKey(pg.last)
	}
	return out, nil
}
