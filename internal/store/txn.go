package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsflow/ecsflow/internal/model"
)

// maxTransactItems is DynamoDB's limit on the operations of one transaction.
const maxTransactItems = 100

// role says what a transaction item stands for, so a failed condition can be
// mapped to the right error.
type role int

const (
	roleEntity  role = iota // the entity's own item (existence or version)
	roleName                // a name reservation
	roleRef                 // a referenced entity (existence and kind)
	roleRelease             // bookkeeping on something already ours (old name, refCount decrement)
	roleRefBy               // a referenced-by record
	roleLedger              // a ledger entry
)

type txItem struct {
	role role
	tgt  target // for roleRef
	op   types.TransactWriteItem
}

// tx is a transaction under construction.
type tx struct {
	table string
	items []txItem
}

func (t *tx) add(r role, tgt target, op types.TransactWriteItem) {
	t.items = append(t.items, txItem{role: r, tgt: tgt, op: op})
}

func (t *tx) put(r role, item map[string]types.AttributeValue, cond string, names map[string]string, vals map[string]types.AttributeValue) {
	p := &types.Put{TableName: tableName(t.table), Item: item}
	if cond != "" {
		p.ConditionExpression = aws.String(cond)
		p.ExpressionAttributeNames = names
		p.ExpressionAttributeValues = vals
	}
	t.add(r, target{}, types.TransactWriteItem{Put: p})
}

func (t *tx) del(r role, k map[string]types.AttributeValue, cond string, names map[string]string, vals map[string]types.AttributeValue) {
	d := &types.Delete{TableName: tableName(t.table), Key: k}
	if cond != "" {
		d.ConditionExpression = aws.String(cond)
		d.ExpressionAttributeNames = names
		d.ExpressionAttributeValues = vals
	}
	t.add(r, target{}, types.TransactWriteItem{Delete: d})
}

// refCount adds delta to a referenced entity's refCount; an increment is
// conditioned on the target existing with the expected kind, a decrement on
// it existing (so a decrement never creates a stray item).
func (t *tx) refCount(tgt target, delta int64) {
	r := roleRelease
	cond := "attribute_exists(#pk)"
	names := map[string]string{"#pk": attrPK, "#rc": attrRefCount}
	vals := map[string]types.AttributeValue{":d": avN(delta), ":zero": avN(0)}
	if delta > 0 {
		r = roleRef
		cond = "attribute_exists(#pk) AND #kind = :kind"
		names["#kind"] = attrKind
		vals[":kind"] = avS(string(tgt.Kind))
	}
	t.add(r, tgt, types.TransactWriteItem{Update: &types.Update{
		TableName:                 tableName(t.table),
		Key:                       entityKey(tgt.ID),
		UpdateExpression:          aws.String("SET #rc = if_not_exists(#rc, :zero) + :d"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	}})
}

// exists checks that a referenced entity exists with the expected kind,
// without counting the reference (deployments).
func (t *tx) exists(tgt target) {
	t.add(roleRef, tgt, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                 tableName(t.table),
		Key:                       entityKey(tgt.ID),
		ConditionExpression:       aws.String("attribute_exists(#pk) AND #kind = :kind"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#kind": attrKind},
		ExpressionAttributeValues: map[string]types.AttributeValue{":kind": avS(string(tgt.Kind))},
	}})
}

// txFailure is a decoded TransactionCanceledException.
type txFailure struct {
	failed   []txItem // items whose condition failed, in transaction order
	conflict bool     // another transaction or write was in flight on an item
	other    string   // any other cancellation code
}

// run executes the transaction, retrying while DynamoDB reports a
// transaction conflict (nothing was written, so a retry is safe). It returns
// a *txFailure when conditions failed.
func (s *Store) run(ctx context.Context, op string, t *tx) error {
	if len(t.items) > maxTransactItems {
		return fmt.Errorf("%s: the write needs %d operations, more than DynamoDB's %d per transaction (too many distinct references)", op, len(t.items), maxTransactItems)
	}
	ops := make([]types.TransactWriteItem, len(t.items))
	for i, it := range t.items {
		ops[i] = it.op
	}
	in := &dynamodb.TransactWriteItemsInput{TransactItems: ops}
	for attempt := 0; ; attempt++ {
		_, err := s.db.TransactWriteItems(ctx, in)
		if err == nil {
			return nil
		}
		f, ok := decodeCancel(err, t)
		if !ok {
			return fmt.Errorf("%s: %w", op, err)
		}
		if f.conflict && len(f.failed) == 0 && f.other == "" && attempt < s.retries {
			s.log.DebugContext(ctx, "store: transaction conflict, retrying", "op", op, "attempt", attempt+1)
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
			continue
		}
		return f
	}
}

func (f *txFailure) Error() string {
	switch {
	case len(f.failed) > 0:
		return "transaction condition failed"
	case f.conflict:
		return "transaction conflict"
	default:
		return "transaction cancelled: " + f.other
	}
}

// first returns the first failed item of role r.
func (f *txFailure) first(r role) (txItem, bool) {
	for _, it := range f.failed {
		if it.role == r {
			return it, true
		}
	}
	return txItem{}, false
}

// firstRole is the role of the first failed item; DynamoDB reports every
// failed condition while minidyn stops at the first, so the store only
// trusts the first and confirms the rest with reads.
func (f *txFailure) firstRole() (role, bool) {
	if len(f.failed) == 0 {
		return 0, false
	}
	return f.failed[0].role, true
}

func decodeCancel(err error, t *tx) (*txFailure, bool) {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil, false
	}
	f := &txFailure{}
	for i, r := range tce.CancellationReasons {
		switch code := aws.ToString(r.Code); code {
		case "", "None":
		case "ConditionalCheckFailed":
			if i < len(t.items) {
				f.failed = append(f.failed, t.items[i])
			}
		case "TransactionConflict":
			f.conflict = true
		default:
			f.other = code
		}
	}
	if len(tce.CancellationReasons) == 0 {
		f.other = aws.ToString(tce.Message)
	}
	return f, true
}

func backoff(attempt int) time.Duration {
	base := time.Duration(5<<min(attempt, 5)) * time.Millisecond
	return base/2 + rand.N(base/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// missingRefs reads every target (one BatchGetItem per 100) and returns the
// references whose target does not exist with the expected kind.
func (s *Store) missingRefs(ctx context.Context, tgts []target) ([]model.Ref, error) {
	found := map[string]model.Kind{}
	for start := 0; start < len(tgts); start += 100 {
		end := min(start+100, len(tgts))
		keys := make([]map[string]types.AttributeValue, 0, end-start)
		seen := map[string]bool{}
		for _, t := range tgts[start:end] {
			if !seen[t.ID] {
				seen[t.ID] = true
				keys = append(keys, entityKey(t.ID))
			}
		}
		req := map[string]types.KeysAndAttributes{s.table: {
			Keys: keys, ConsistentRead: aws.Bool(true),
			ProjectionExpression:     aws.String("#pk, #kind"),
			ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#kind": attrKind},
		}}
		for len(req) > 0 {
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("read references: %w", err)
			}
			for _, item := range out.Responses[s.table] {
				found[strAttr(item, attrPK)] = model.Kind(strAttr(item, attrKind))
			}
			req = out.UnprocessedKeys
		}
	}
	var missing []model.Ref
	for _, t := range tgts {
		if k, ok := found[t.ID]; !ok || k != t.Kind {
			missing = append(missing, t.refs()...)
		}
	}
	return missing, nil
}

// invalidRefs builds the InvalidReferenceError after a failed reference
// condition: it names every missing reference, read back, or at least the
// one the transaction reported.
func (s *Store) invalidRefs(ctx context.Context, tgts []target, reported target) error {
	missing, err := s.missingRefs(ctx, tgts)
	if err != nil {
		return err
	}
	if len(missing) == 0 {
		missing = reported.refs()
	}
	return &InvalidReferenceError{Refs: missing}
}
