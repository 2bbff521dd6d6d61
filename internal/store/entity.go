package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsflow/ecsflow/internal/model"
)

// checkEntity rejects what no write may store: a nil entity, an ID of
// another kind, an invalid entity, and references that cannot be right
// whatever the table holds (an ID of the wrong kind, the entity itself).
func checkEntity(e model.Entity) error {
	if e == nil || isNil(e) || e.GetMeta() == nil {
		return errors.New("no entity")
	}
	if _, ok := model.New(e.Kind()); !ok {
		return fmt.Errorf("unknown kind %q", e.Kind())
	}
	if id := e.GetMeta().ID; id != "" {
		if k, ok := model.KindOfID(id); !ok || k != e.Kind() {
			return fmt.Errorf("id %q is not a %s id", id, e.Kind())
		}
	}
	if err := e.Validate(); err != nil {
		return err
	}
	var bad []model.Ref
	for _, r := range e.References() {
		k, ok := model.KindOfID(r.ID)
		if !ok || k != r.Kind || r.ID == e.GetMeta().ID {
			bad = append(bad, r)
		}
	}
	if len(bad) > 0 {
		return &InvalidReferenceError{Refs: bad}
	}
	if n := len(groupRefs(e.References())); n > MaxReferences {
		return &model.ValidationError{Fields: []model.FieldError{{Field: "references",
			Message: fmt.Sprintf("refers to %d distinct entities, at most %d", n, MaxReferences)}}}
	}
	return nil
}

// MaxReferences is the most distinct entities one entity may reference: a
// create writes the entity, its name and two items per referenced entity
// in one transaction of at most 100 operations.
const MaxReferences = (maxTransactItems - 2) / 2

// isNil reports a typed nil pointer inside the interface (GetMeta on it
// would panic).
func isNil(e model.Entity) bool {
	v := reflect.ValueOf(e)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// counted reports whether an entity's references are counted (and so
// protect their targets from deletion). A deployment is history: its
// references are checked when written, not counted.
func counted(e model.Entity) bool { return e.Kind() != model.KindDeployment }

// Create assigns the ID (if empty), Version 1 and the timestamps, and writes
// the entity, its name reservation and a refCount increment on every entity
// it references, in one TransactWriteItems. On error e is left unchanged.
func (s *Store) Create(ctx context.Context, e model.Entity) error {
	if err := checkEntity(e); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	m := e.GetMeta()
	saved := *m
	if m.ID == "" {
		m.ID = model.NewID(e.Kind())
	}
	now := s.clock()
	m.Version, m.CreatedAt, m.UpdatedAt = 1, now, now
	if err := s.create(ctx, e); err != nil {
		*m = saved
		return fmt.Errorf("create %s: %w", e.Kind(), err)
	}
	return nil
}

func (s *Store) create(ctx context.Context, e model.Entity) error {
	item, err := entityItem(e)
	if err != nil {
		return err
	}
	id := e.GetMeta().ID
	item[attrRefCount] = avN(0)
	t := &tx{table: s.table}
	pkAbsent := "attribute_not_exists(#pk)"
	pkName := map[string]string{"#pk": attrPK}
	t.put(roleEntity, item, pkAbsent, pkName, nil)
	if nk := nameKey(e); nk != "" {
		ni := key(nk, skName)
		ni[attrOwner] = avS(id)
		t.put(roleName, ni, pkAbsent, pkName, nil)
	}
	tgts := groupRefs(e.References())
	for _, tg := range tgts {
		if counted(e) {
			t.refCount(tg, 1)
			t.put(roleRefBy, refByItem(e, tg), "", nil, nil)
		} else {
			t.exists(tg)
		}
	}
	err = s.run(ctx, "create", t)
	var f *txFailure
	if !errors.As(err, &f) {
		return err
	}
	switch r, _ := f.firstRole(); {
	case len(f.failed) == 0:
		return fmt.Errorf("%w: %v", ErrConflict, f)
	case r == roleEntity:
		return fmt.Errorf("%w: id %s is taken", ErrAlreadyExists, id)
	case r == roleName:
		return fmt.Errorf("%w: a %s named %q exists", ErrAlreadyExists, e.Kind(), e.EntityName())
	case r == roleRef:
		it, _ := f.first(roleRef)
		return s.invalidRefs(ctx, tgts, it.tgt)
	default:
		return fmt.Errorf("unexpected condition failure: %v", f)
	}
}

// getItem reads an entity's item with a strongly consistent GetItem.
func (s *Store) getItem(ctx context.Context, kind model.Kind, id string) (map[string]types.AttributeValue, error) {
	if k, ok := model.KindOfID(id); !ok || k != kind {
		return nil, fmt.Errorf("%w: no %s %q", ErrNotFound, kind, id)
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: tableName(s.table), Key: entityKey(id), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	if len(out.Item) == 0 || strAttr(out.Item, attrKind) != string(kind) {
		return nil, fmt.Errorf("%w: no %s %s", ErrNotFound, kind, id)
	}
	return out.Item, nil
}

// Get returns the entity (a fresh *model.Service and so on) with one
// strongly consistent GetItem.
func (s *Store) Get(ctx context.Context, kind model.Kind, id string) (model.Entity, error) {
	item, err := s.getItem(ctx, kind, id)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", kind, err)
	}
	e, err := decodeEntity(item)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", kind, err)
	}
	return e, nil
}

// Get is the typed Store.Get; the kind comes from the ID.
func Get[T model.Entity](ctx context.Context, s *Store, id string) (T, error) {
	var zero T
	k, ok := model.KindOfID(id)
	if !ok {
		return zero, fmt.Errorf("get: %w: %q is not an entity id", ErrNotFound, id)
	}
	e, err := s.Get(ctx, k, id)
	if err != nil {
		return zero, err
	}
	t, ok := e.(T)
	if !ok {
		return zero, fmt.Errorf("get: %w: %s is a %s", ErrNotFound, id, k)
	}
	return t, nil
}

// Update writes e if the stored version equals e's Version, then sets e's
// Version to the next one and UpdatedAt to now. A rename moves the name
// reservation and changed references move refCounts, in the same
// transaction. It costs one GetItem (the stored references) and one
// TransactWriteItems. On error e is left unchanged.
func (s *Store) Update(ctx context.Context, e model.Entity) error {
	if err := checkEntity(e); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	m := e.GetMeta()
	if m.ID == "" {
		return fmt.Errorf("update %s: %w: no id", e.Kind(), ErrNotFound)
	}
	saved := *m
	if err := s.update(ctx, e); err != nil {
		*m = saved
		return fmt.Errorf("update %s %s: %w", e.Kind(), saved.ID, err)
	}
	return nil
}

func (s *Store) update(ctx context.Context, e model.Entity) error {
	m := e.GetMeta()
	expected := m.Version
	item, err := s.getItem(ctx, e.Kind(), m.ID)
	if err != nil {
		return err
	}
	old, err := decodeEntity(item)
	if err != nil {
		return err
	}
	if old.GetMeta().Version != expected {
		return fmt.Errorf("%w: stored version is %d, not %d", ErrConflict, old.GetMeta().Version, expected)
	}
	m.Version, m.CreatedAt, m.UpdatedAt = expected+1, old.GetMeta().CreatedAt, s.clock()

	newItem, err := entityItem(e)
	if err != nil {
		return err
	}
	t := &tx{table: s.table}
	// The entity: every attribute but the keys, refCount and ledgerSeq.
	names := map[string]string{"#v": attrVersion}
	vals := map[string]types.AttributeValue{":expected": avN(expected)}
	set, remove := "", ""
	i := 0
	for k, v := range newItem {
		if k == attrPK || k == attrSK {
			continue
		}
		nm, vl := fmt.Sprintf("#a%d", i), fmt.Sprintf(":a%d", i)
		i++
		names[nm], vals[vl] = k, v
		set += ", " + nm + " = " + vl
	}
	for k := range indexAttrs(old) {
		if _, ok := newItem[k]; !ok {
			nm := fmt.Sprintf("#a%d", i)
			i++
			names[nm] = k
			remove += ", " + nm
		}
	}
	expr := "SET " + set[2:]
	if remove != "" {
		expr += " REMOVE " + remove[2:]
	}
	t.add(roleEntity, target{}, types.TransactWriteItem{Update: &types.Update{
		TableName: tableName(s.table), Key: entityKey(m.ID),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("#v = :expected"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	}})
	// The name reservation.
	if oldName, newName := nameKey(old), nameKey(e); oldName != newName {
		if oldName != "" {
			t.del(roleRelease, key(oldName, skName), "", nil, nil)
		}
		if newName != "" {
			ni := key(newName, skName)
			ni[attrOwner] = avS(m.ID)
			t.put(roleName, ni, "attribute_not_exists(#pk)", map[string]string{"#pk": attrPK}, nil)
		}
	}
	// References: decrement the dropped, increment the added, rewrite the changed.
	oldT, newT := groupRefs(old.References()), groupRefs(e.References())
	oldBy := map[string]target{}
	for _, tg := range oldT {
		oldBy[tg.ID] = tg
	}
	newBy := map[string]bool{}
	var added []target
	for _, tg := range newT {
		newBy[tg.ID] = true
		prev, had := oldBy[tg.ID]
		switch {
		case !counted(e):
			if !had {
				t.exists(tg)
				added = append(added, tg)
			}
		case !had:
			t.refCount(tg, 1)
			t.put(roleRefBy, refByItem(e, tg), "", nil, nil)
			added = append(added, tg)
		case !sameFields(prev.Fields, tg.Fields):
			t.put(roleRefBy, refByItem(e, tg), "", nil, nil)
		}
	}
	if counted(e) {
		for _, tg := range oldT {
			if !newBy[tg.ID] {
				t.refCount(tg, -1)
				t.del(roleRefBy, key(tg.ID, refSK(m.ID)), "", nil, nil)
			}
		}
	}
	err = s.run(ctx, "update", t)
	var f *txFailure
	if !errors.As(err, &f) {
		return err
	}
	switch r, _ := f.firstRole(); {
	case len(f.failed) == 0:
		return fmt.Errorf("%w: %v", ErrConflict, f)
	case r == roleEntity:
		return fmt.Errorf("%w: the entity changed since version %d was read", ErrConflict, expected)
	case r == roleName:
		return fmt.Errorf("%w: a %s named %q exists", ErrAlreadyExists, e.Kind(), e.EntityName())
	case r == roleRef:
		it, _ := f.first(roleRef)
		return s.invalidRefs(ctx, added, it.tgt)
	default:
		return fmt.Errorf("unexpected condition failure (stored references out of step): %v", f)
	}
}

// Delete removes the entity if nothing references it and, when
// expectedVersion > 0, if its version matches. It releases its name and
// decrements the refCounts it holds, in one transaction (after one GetItem
// that reads what it holds).
func (s *Store) Delete(ctx context.Context, kind model.Kind, id string, expectedVersion int64) error {
	for attempt := 0; ; attempt++ {
		retry, err := s.delete(ctx, kind, id, expectedVersion)
		if err == nil {
			return nil
		}
		if !retry || attempt >= s.retries {
			return fmt.Errorf("delete %s %s: %w", kind, id, err)
		}
	}
}

func (s *Store) delete(ctx context.Context, kind model.Kind, id string, expectedVersion int64) (retry bool, err error) {
	item, err := s.getItem(ctx, kind, id)
	if err != nil {
		return false, err
	}
	e, err := decodeEntity(item)
	if err != nil {
		return false, err
	}
	version := e.GetMeta().Version
	if expectedVersion > 0 && version != expectedVersion {
		return false, fmt.Errorf("%w: stored version is %d, not %d", ErrConflict, version, expectedVersion)
	}
	rc, err := intAttr(item, attrRefCount)
	if err != nil {
		return false, err
	}
	if rc > 0 {
		return false, s.referencedError(ctx, id)
	}
	t := &tx{table: s.table}
	t.del(roleEntity, entityKey(id), "#v = :v AND (attribute_not_exists(#rc) OR #rc = :zero)",
		map[string]string{"#v": attrVersion, "#rc": attrRefCount},
		map[string]types.AttributeValue{":v": avN(version), ":zero": avN(0)})
	if nk := nameKey(e); nk != "" {
		t.del(roleRelease, key(nk, skName), "", nil, nil)
	}
	if counted(e) {
		for _, tg := range groupRefs(e.References()) {
			t.refCount(tg, -1)
			t.del(roleRefBy, key(tg.ID, refSK(id)), "", nil, nil)
		}
	}
	err = s.run(ctx, "delete", t)
	var f *txFailure
	if !errors.As(err, &f) {
		return false, err
	}
	if len(f.failed) == 0 {
		return false, fmt.Errorf("%w: %v", ErrConflict, f)
	}
	if r, _ := f.firstRole(); r != roleEntity {
		return false, fmt.Errorf("unexpected condition failure (stored references out of step): %v", f)
	}
	// The entity changed, became referenced or vanished since it was read:
	// read it again, which decides between the errors.
	return true, fmt.Errorf("%w: the entity changed while being deleted", ErrConflict)
}

// referencedError names who references id, from the referenced-by records.
func (s *Store) referencedError(ctx context.Context, id string) error {
	var by []model.Ref
	var start map[string]types.AttributeValue
	for {
		out, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 tableName(s.table),
			KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :pre)"),
			ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrSK},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(id), ":pre": avS(prefRef)},
			ConsistentRead:            aws.Bool(true),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return fmt.Errorf("read referrers: %w", err)
		}
		for _, it := range out.Items {
			kind, byID := model.Kind(strAttr(it, attrByKind)), strAttr(it, attrByID)
			fl, _ := it[attrFields].(*types.AttributeValueMemberL)
			if fl == nil {
				by = append(by, model.Ref{Kind: kind, ID: byID})
				continue
			}
			for _, f := range fl.Value {
				fs, _ := f.(*types.AttributeValueMemberS)
				if fs != nil {
					by = append(by, model.Ref{Kind: kind, ID: byID, Field: fs.Value})
				}
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	return &ReferencedError{By: by}
}

// List returns a page of the entities of a kind: app-scoped kinds by appID,
// account-level kinds (applications, artifact servers, cloud providers)
// with appID "" (an appID given for them is ignored). Entities come oldest
// first (IDs are time-ordered); deployments newest first.
func (s *Store) List(ctx context.Context, kind model.Kind, appID string, p Page) ([]model.Entity, string, error) {
	if _, ok := model.New(kind); !ok {
		return nil, "", fmt.Errorf("list: unknown kind %q", kind)
	}
	if accountLevel(kind) {
		appID = ""
	}
	q := query{index: index2, pkAttr: attrGSI2PK, skAttr: attrGSI2SK, pk: listPK(kind, appID),
		forward: kind != model.KindDeployment}
	items, next, err := s.page(ctx, q, p)
	if err != nil {
		return nil, "", fmt.Errorf("list %s: %w", kind, err)
	}
	out := make([]model.Entity, 0, len(items))
	for _, it := range items {
		e, err := decodeEntity(it)
		if err != nil {
			return nil, "", fmt.Errorf("list %s: %w", kind, err)
		}
		out = append(out, e)
	}
	return out, next, nil
}
