package memdynamo

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/tidwall/btree"
)

// DB is an in-memory DynamoDB: tables with a key schema and global
// secondary indexes, kept in ordered B-trees. It is safe for concurrent
// use: one RWMutex, reads in parallel, writes (and transactions) one at a
// time. Items are copied on the way in and on the way out.
type DB struct {
	mu     sync.RWMutex
	tables map[string]*table
	exprs  exprCache
	path   string // snapshot file ("" for none)
	now    func() time.Time
	gen    uint64     // bumped by every change (under mu)
	saved  uint64     // gen of the last snapshot written or read
	syncMu sync.Mutex // one Sync at a time
}

// New returns an empty database that lives only in memory.
func New() *DB {
	return &DB{tables: map[string]*table{}, now: time.Now}
}

// keyDef is one key attribute: its name and scalar type ('S', 'N', 'B').
type keyDef struct {
	name string
	typ  byte
}

// entry is one item in a table's tree, or its projection's place in an
// index tree: h, r are the tree's own keys (the table's, or the index's),
// th, tr the table's (equal to h, r in the table's tree).
type entry struct {
	h, r, th, tr keyv
	it           item
}

func entryLess(a, b *entry) bool {
	if c := cmpKey(a.h, b.h); c != 0 {
		return c < 0
	}
	if c := cmpKey(a.r, b.r); c != 0 {
		return c < 0
	}
	if c := cmpKey(a.th, b.th); c != 0 {
		return c < 0
	}
	return cmpKey(a.tr, b.tr) < 0
}

func newTree() *btree.BTreeG[*entry] {
	return btree.NewBTreeGOptions(entryLess, btree.Options{NoLocks: true, Degree: 32})
}

type index struct {
	name    string
	hash    keyDef
	rng     keyDef // name "" when the index has no sort key
	proj    types.ProjectionType
	include []string
	tree    *btree.BTreeG[*entry]
}

type table struct {
	name     string
	hash     keyDef
	rng      keyDef // name "" when the table has no sort key
	attrDefs []types.AttributeDefinition
	billing  types.BillingMode
	created  time.Time
	tree     *btree.BTreeG[*entry]
	gsis     []*index
	ttlAttr  string
	ttlOn    bool
	gen      *uint64 // the database's change counter
}

func (t *table) index(name string) *index {
	for _, g := range t.gsis {
		if g.name == name {
			return g
		}
	}
	return nil
}

// keyAttrs are the table's key attribute names.
func (t *table) keyAttrs() []string {
	if t.rng.name == "" {
		return []string{t.hash.name}
	}
	return []string{t.hash.name, t.rng.name}
}

func (db *DB) lookup(name *string) (*table, error) {
	if name == nil || *name == "" {
		return nil, validationf("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null")
	}
	t, ok := db.tables[*name]
	if !ok {
		return nil, tableNotFound(*name)
	}
	return t, nil
}

// keyValue reads and checks one key attribute of it.
func keyValue(it item, k keyDef, what string) (keyv, error) {
	v, ok := it[k.name]
	if !ok {
		return keyv{}, validationf("One or more parameter values were invalid: Missing the key %s in the %s", k.name, what)
	}
	kv, ok := toKey(v)
	if !ok || kv.t != k.typ {
		return keyv{}, validationf("One or more parameter values were invalid: Type mismatch for key %s expected: %c actual: %s", k.name, k.typ, typeName(v))
	}
	if kv.t != 'N' && kv.s == "" {
		return keyv{}, validationf("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty %s value. Key: %s", map[byte]string{'S': "string", 'B': "binary"}[kv.t], k.name)
	}
	return kv, nil
}

// primaryKey reads the table's key from a full item (what = "item").
func (t *table) primaryKey(it item, what string) (h, r keyv, err error) {
	if h, err = keyValue(it, t.hash, what); err != nil {
		return
	}
	if t.rng.name != "" {
		r, err = keyValue(it, t.rng, what)
	}
	return
}

// keyOf reads a request's Key: exactly the table's key attributes.
func (t *table) keyOf(key item) (h, r keyv, err error) {
	if len(key) != len(t.keyAttrs()) {
		return h, r, validationf("The provided key element does not match the schema")
	}
	h, r, err = t.primaryKey(key, "item")
	if err != nil {
		return h, r, validationf("The provided key element does not match the schema")
	}
	return h, r, nil
}

func (t *table) get(h, r keyv) item {
	e, ok := t.tree.Get(&entry{h: h, r: r, th: h, tr: r})
	if !ok {
		return nil
	}
	return e.it
}

// indexEntries computes the index entries of it; an index key of the
// wrong type or an empty one is a ValidationException.
func (t *table) indexEntries(it item, h, r keyv) ([]*entry, error) {
	if len(t.gsis) == 0 {
		return nil, nil
	}
	out := make([]*entry, len(t.gsis))
	for i, g := range t.gsis {
		e, err := g.entryOf(it, h, r)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

func (g *index) keyOf(it item, k keyDef) (keyv, bool, error) {
	v, ok := it[k.name]
	if !ok {
		return keyv{}, false, nil
	}
	kv, ok := toKey(v)
	if !ok || kv.t != k.typ {
		return keyv{}, false, validationf("One or more parameter values were invalid: Type mismatch for Index Key %s Expected: %c Actual: %s IndexName: %s", k.name, k.typ, typeName(v), g.name)
	}
	if kv.t != 'N' && kv.s == "" {
		return keyv{}, false, validationf("One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: %s, IndexKey: %s", g.name, k.name)
	}
	return kv, true, nil
}

// entryOf is it's entry in the index, nil when the item lacks a key
// attribute of the index (sparse index).
func (g *index) entryOf(it item, h, r keyv) (*entry, error) {
	gh, okh, err := g.keyOf(it, g.hash)
	if err != nil {
		return nil, err
	}
	gr, okr := keyMin, true
	if g.rng.name != "" {
		gr, okr, err = g.keyOf(it, g.rng)
		if err != nil {
			return nil, err
		}
	}
	if !okh || !okr {
		return nil, nil
	}
	return &entry{h: gh, r: gr, th: h, tr: r, it: it}, nil
}

// put replaces (or, with it nil, deletes) the item at (h, r), keeping the
// indexes in step. idx are it's index entries (from indexEntries).
func (t *table) put(h, r keyv, it item, idx []*entry) {
	if old := t.get(h, r); old != nil {
		for _, g := range t.gsis {
			if e, _ := g.entryOf(old, h, r); e != nil {
				g.tree.Delete(e)
			}
		}
		if it == nil {
			t.tree.Delete(&entry{h: h, r: r, th: h, tr: r})
		}
	}
	*t.gen++
	if it == nil {
		return
	}
	t.tree.Set(&entry{h: h, r: r, th: h, tr: r, it: it})
	for i, e := range idx {
		if e != nil {
			e.it = it
			t.gsis[i].tree.Set(e)
		}
	}
}

// --- table management

func scalarType(t types.ScalarAttributeType) (byte, bool) {
	switch t {
	case types.ScalarAttributeTypeS:
		return 'S', true
	case types.ScalarAttributeTypeN:
		return 'N', true
	case types.ScalarAttributeTypeB:
		return 'B', true
	}
	return 0, false
}

func keySchema(ks []types.KeySchemaElement, defs map[string]byte, what string) (h, r keyDef, err error) {
	if len(ks) == 0 || len(ks) > 2 {
		return h, r, validationf("1 validation error detected: Value at '%s.keySchema' failed to satisfy constraint: Member must have length less than or equal to 2", what)
	}
	for i, k := range ks {
		name := aws.ToString(k.AttributeName)
		typ, ok := defs[name]
		if !ok {
			return h, r, validationf("One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: %v", name, keysOf(defs))
		}
		switch {
		case i == 0 && k.KeyType == types.KeyTypeHash:
			h = keyDef{name, typ}
		case i == 1 && k.KeyType == types.KeyTypeRange:
			r = keyDef{name, typ}
		default:
			return h, r, validationf("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
		}
	}
	return h, r, nil
}

func keysOf(m map[string]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// CreateTable creates a table with its global secondary indexes (local
// secondary indexes, streams and SSE settings are refused).
func (db *DB) CreateTable(_ context.Context, in *dynamodb.CreateTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	if in == nil || aws.ToString(in.TableName) == "" {
		return nil, validationf("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null")
	}
	if len(in.LocalSecondaryIndexes) > 0 {
		return nil, validationf("memdynamo does not support LocalSecondaryIndexes")
	}
	defs := map[string]byte{}
	for _, d := range in.AttributeDefinitions {
		typ, ok := scalarType(d.AttributeType)
		if !ok {
			return nil, validationf("1 validation error detected: Value '%s' at 'attributeDefinitions.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]", d.AttributeType)
		}
		defs[aws.ToString(d.AttributeName)] = typ
	}
	t := &table{name: *in.TableName, attrDefs: cloneAttrDefs(in.AttributeDefinitions), billing: in.BillingMode, created: db.now().UTC(), tree: newTree()}
	if t.billing == "" {
		t.billing = types.BillingModeProvisioned
	}
	var err error
	if t.hash, t.rng, err = keySchema(in.KeySchema, defs, "createTableInput"); err != nil {
		return nil, err
	}
	used := map[string]bool{t.hash.name: true, t.rng.name: true}
	for _, g := range in.GlobalSecondaryIndexes {
		name := aws.ToString(g.IndexName)
		if name == "" || t.index(name) != nil {
			return nil, validationf("One or more parameter values were invalid: Duplicate index name: %s", name)
		}
		ix := &index{name: name, tree: newTree(), proj: types.ProjectionTypeAll}
		if ix.hash, ix.rng, err = keySchema(g.KeySchema, defs, "globalSecondaryIndexes.member"); err != nil {
			return nil, err
		}
		if g.Projection != nil && g.Projection.ProjectionType != "" {
			ix.proj = g.Projection.ProjectionType
			ix.include = append([]string(nil), g.Projection.NonKeyAttributes...)
		}
		switch ix.proj {
		case types.ProjectionTypeAll, types.ProjectionTypeKeysOnly, types.ProjectionTypeInclude:
		default:
			return nil, validationf("Unknown ProjectionType: %s", ix.proj)
		}
		used[ix.hash.name], used[ix.rng.name] = true, true
		t.gsis = append(t.gsis, ix)
	}
	for name := range defs {
		if !used[name] {
			return nil, validationf("One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions")
		}
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if _, ok := db.tables[t.name]; ok {
		return nil, &types.ResourceInUseException{Message: aws.String("Cannot create preexisting table: " + t.name)}
	}
	t.gen = &db.gen
	db.gen++
	db.tables[t.name] = t
	return &dynamodb.CreateTableOutput{TableDescription: t.describe()}, nil
}

func cloneAttrDefs(in []types.AttributeDefinition) []types.AttributeDefinition {
	out := make([]types.AttributeDefinition, len(in))
	for i, d := range in {
		out[i] = types.AttributeDefinition{AttributeName: aws.String(aws.ToString(d.AttributeName)), AttributeType: d.AttributeType}
	}
	return out
}

func schemaOf(h, r keyDef) []types.KeySchemaElement {
	out := []types.KeySchemaElement{{AttributeName: aws.String(h.name), KeyType: types.KeyTypeHash}}
	if r.name != "" {
		out = append(out, types.KeySchemaElement{AttributeName: aws.String(r.name), KeyType: types.KeyTypeRange})
	}
	return out
}

func (t *table) describe() *types.TableDescription {
	arn := "arn:aws:dynamodb:us-east-1:000000000000:table/" + t.name
	d := &types.TableDescription{
		TableName:            aws.String(t.name),
		TableArn:             aws.String(arn),
		TableStatus:          types.TableStatusActive,
		KeySchema:            schemaOf(t.hash, t.rng),
		AttributeDefinitions: cloneAttrDefs(t.attrDefs),
		CreationDateTime:     aws.Time(t.created),
		ItemCount:            aws.Int64(int64(t.tree.Len())),
		TableSizeBytes:       aws.Int64(0),
		BillingModeSummary:   &types.BillingModeSummary{BillingMode: t.billing},
		ProvisionedThroughput: &types.ProvisionedThroughputDescription{
			ReadCapacityUnits: aws.Int64(0), WriteCapacityUnits: aws.Int64(0),
		},
	}
	for _, g := range t.gsis {
		p := &types.Projection{ProjectionType: g.proj}
		if len(g.include) > 0 {
			p.NonKeyAttributes = append([]string(nil), g.include...)
		}
		d.GlobalSecondaryIndexes = append(d.GlobalSecondaryIndexes, types.GlobalSecondaryIndexDescription{
			IndexName:   aws.String(g.name),
			IndexArn:    aws.String(arn + "/index/" + g.name),
			IndexStatus: types.IndexStatusActive,
			KeySchema:   schemaOf(g.hash, g.rng),
			Projection:  p,
			ItemCount:   aws.Int64(int64(g.tree.Len())),
			ProvisionedThroughput: &types.ProvisionedThroughputDescription{
				ReadCapacityUnits: aws.Int64(0), WriteCapacityUnits: aws.Int64(0),
			},
		})
	}
	return d
}

// DescribeTable describes a table; it is always ACTIVE.
func (db *DB) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	t, err := db.lookup(in.TableName)
	if err != nil {
		return nil, err
	}
	return &dynamodb.DescribeTableOutput{Table: t.describe()}, nil
}

// DeleteTable drops a table and its items.
func (db *DB) DeleteTable(_ context.Context, in *dynamodb.DeleteTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	t, err := db.lookup(in.TableName)
	if err != nil {
		return nil, err
	}
	delete(db.tables, t.name)
	db.gen++
	d := t.describe()
	d.TableStatus = types.TableStatusDeleting
	return &dynamodb.DeleteTableOutput{TableDescription: d}, nil
}

// ListTables lists table names in order, a page at a time.
func (db *DB) ListTables(_ context.Context, in *dynamodb.ListTablesInput, _ ...func(*dynamodb.Options)) (*dynamodb.ListTablesOutput, error) {
	db.mu.RLock()
	names := make([]string, 0, len(db.tables))
	for n := range db.tables {
		names = append(names, n)
	}
	db.mu.RUnlock()
	slices.Sort(names)
	limit := 100
	if in != nil && in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 100 {
			return nil, validationf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 100", *in.Limit)
		}
		limit = int(*in.Limit)
	}
	start := 0
	if in != nil && in.ExclusiveStartTableName != nil {
		start = sort.SearchStrings(names, *in.ExclusiveStartTableName)
		if start < len(names) && names[start] == *in.ExclusiveStartTableName {
			start++
		}
	}
	out := &dynamodb.ListTablesOutput{TableNames: []string{}}
	for i := start; i < len(names) && len(out.TableNames) < limit; i++ {
		out.TableNames = append(out.TableNames, names[i])
	}
	if n := len(out.TableNames); n == limit && start+n < len(names) {
		out.LastEvaluatedTableName = aws.String(out.TableNames[n-1])
	}
	return out, nil
}

// UpdateTimeToLive records the table's TTL attribute. Expired items are
// removed by ExpireItems (DynamoDB removes them within days; nothing may
// rely on either).
func (db *DB) UpdateTimeToLive(_ context.Context, in *dynamodb.UpdateTimeToLiveInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error) {
	if in.TimeToLiveSpecification == nil || aws.ToString(in.TimeToLiveSpecification.AttributeName) == "" || in.TimeToLiveSpecification.Enabled == nil {
		return nil, validationf("1 validation error detected: Value null at 'timeToLiveSpecification' failed to satisfy constraint: Member must not be null")
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	t, err := db.lookup(in.TableName)
	if err != nil {
		return nil, err
	}
	spec := in.TimeToLiveSpecification
	if *spec.Enabled == t.ttlOn {
		if t.ttlOn {
			return nil, validationf("TimeToLive is already enabled")
		}
		return nil, validationf("TimeToLive is already disabled")
	}
	t.ttlOn, t.ttlAttr = *spec.Enabled, *spec.AttributeName
	db.gen++
	return &dynamodb.UpdateTimeToLiveOutput{TimeToLiveSpecification: &types.TimeToLiveSpecification{
		AttributeName: aws.String(t.ttlAttr), Enabled: aws.Bool(t.ttlOn),
	}}, nil
}

// DescribeTimeToLive says whether TTL is on, and on which attribute.
func (db *DB) DescribeTimeToLive(_ context.Context, in *dynamodb.DescribeTimeToLiveInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	t, err := db.lookup(in.TableName)
	if err != nil {
		return nil, err
	}
	d := &types.TimeToLiveDescription{TimeToLiveStatus: types.TimeToLiveStatusDisabled}
	if t.ttlOn {
		d = &types.TimeToLiveDescription{TimeToLiveStatus: types.TimeToLiveStatusEnabled, AttributeName: aws.String(t.ttlAttr)}
	}
	return &dynamodb.DescribeTimeToLiveOutput{TimeToLiveDescription: d}, nil
}

// ExpireItems deletes the items whose TTL attribute (a number, epoch
// seconds) is at or before now, in every table with TTL enabled, and
// returns how many it deleted.
func (db *DB) ExpireItems(now time.Time) int {
	db.mu.Lock()
	defer db.mu.Unlock()
	n := 0
	for _, t := range db.tables {
		if !t.ttlOn {
			continue
		}
		var dead []*entry
		t.tree.Scan(func(e *entry) bool {
			if v, ok := e.it[t.ttlAttr].(*types.AttributeValueMemberN); ok {
				if r, err := parseNumber(v.Value); err == nil {
					f, _ := r.Float64()
					// Like DynamoDB, ignore values more than five years in the past.
					if f <= float64(now.Unix()) && f > float64(now.AddDate(-5, 0, 0).Unix()) {
						dead = append(dead, e)
					}
				}
			}
			return true
		})
		for _, e := range dead {
			t.put(e.h, e.r, nil, nil)
		}
		n += len(dead)
	}
	return n
}

// String names the tables, for debugging.
func (db *DB) String() string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	var parts []string
	for n, t := range db.tables {
		parts = append(parts, fmt.Sprintf("%s(%d items)", n, t.tree.Len()))
	}
	slices.Sort(parts)
	return "memdynamo[" + strings.Join(parts, ", ") + "]"
}
