package store

// Claims: at-most-once processing of at-least-once deliveries (EventBridge
// events, collected registry tags). A claim is taken with one conditional
// write before the work and marked done after it.
//
// # Items
//
//	item   PK             SK   other attributes
//	claim  CLAIM#<key>    #C   value (S, opaque, e.g. the deployment id the work creates),
//	                           leaseMs (N, epoch ms: an unfinished claim is in flight until then),
//	                           done (BOOL, once the work is finished), ttl (epoch s)
//
// # Access patterns
//
//   - ClaimEvent / ClaimEventValue: one UpdateItem on CLAIM#<key>,
//     conditioned on `attribute_not_exists(PK) OR (attribute_not_exists(done)
//     AND leaseMs <= :now)`: the first delivery claims the key; a duplicate
//     fails the condition (no write) while the claim is in flight or done;
//     a delivery after the in-flight lease of an unfinished claim expired
//     (the worker crashed or released it) takes it over. `value` is set with
//     if_not_exists, so a takeover gets back the value of the first claim
//     (the same deployment id, so the work is redone, never duplicated).
//   - CompleteClaim: UpdateItem SET done, conditioned on the item existing.
//   - ReleaseClaim: UpdateItem SET leaseMs = 0 on an unfinished claim, so
//     the next delivery takes it over at once (its value is kept).
//   - GetClaim: GetItem, strongly consistent.
//
// `ttl` lets DynamoDB remove claims after the deduplication window; until
// it does (TTL deletes within days, not at the second) an expired claim
// still deduplicates, which errs on the side of never starting twice.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const (
	prefClaim     = "CLAIM#"
	skClaim       = "#C"
	attrClaimVal  = "value"
	attrClaimDone = "done"
	attrLeaseMs   = "leaseMs"
)

// ClaimLease is the longest a claim stays in flight before another delivery
// may take it over: the longest a Lambda function runs.
const ClaimLease = 15 * time.Minute

// MaxClaimKey is the longest claim key accepted, in bytes.
const MaxClaimKey = 1024

// ErrInvalidClaim is returned for an empty or oversized key or a
// non-positive ttl.
var ErrInvalidClaim = errors.New("invalid claim")

// Claim is a stored claim.
type Claim struct {
	Key   string
	Value string
	Done  bool
	// Lease is when an unfinished claim stops being in flight.
	Lease time.Time
}

func claimKey(k string) map[string]types.AttributeValue { return key(prefClaim+k, skClaim) }

func checkClaim(k string, ttl time.Duration) error {
	if k == "" || len(k) > MaxClaimKey {
		return fmt.Errorf("%w: key must be 1 to %d bytes", ErrInvalidClaim, MaxClaimKey)
	}
	if ttl <= 0 {
		return fmt.Errorf("%w: ttl must be positive", ErrInvalidClaim)
	}
	return nil
}

// ClaimEvent claims key for ttl (the deduplication window). It answers true
// when this caller now holds the claim: the key was never claimed, or an
// earlier claim was neither completed nor renewed within its in-flight lease
// (the smaller of ttl and ClaimLease). It answers false for a duplicate.
func (s *Store) ClaimEvent(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ok, _, err := s.ClaimEventValue(ctx, key, "", ttl)
	return ok, err
}

// ClaimEventValue is ClaimEvent that also stores value with a new claim and
// returns the stored value when claimed: on a takeover, the value of the
// first claim, not value.
func (s *Store) ClaimEventValue(ctx context.Context, key, value string, ttl time.Duration) (claimed bool, stored string, err error) {
	if err := checkClaim(key, ttl); err != nil {
		return false, "", fmt.Errorf("claim event: %w", err)
	}
	now := s.clock()
	lease := min(ttl, ClaimLease)
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           tableName(s.table),
		Key:                 claimKey(key),
		UpdateExpression:    aws.String("SET #val = if_not_exists(#val, :val), #lease = :lease, #ttl = :ttl"),
		ConditionExpression: aws.String("attribute_not_exists(#pk) OR (attribute_not_exists(#done) AND #lease <= :now)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#val": attrClaimVal, "#lease": attrLeaseMs,
			"#ttl": attrTTL, "#done": attrClaimDone},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":val":   avS(value),
			":lease": avN(now.Add(lease).UnixMilli()),
			":ttl":   avN(now.Add(ttl).Add(time.Second - 1).Unix()),
			":now":   avN(now.UnixMilli()),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("claim event %s: %w", key, err)
	}
	return true, strAttr(out.Attributes, attrClaimVal), nil
}

// CompleteClaim marks a claim done: it deduplicates until its ttl and is
// never taken over. Completing a claim that does not exist is an error
// wrapping ErrNotFound.
func (s *Store) CompleteClaim(ctx context.Context, key string) error {
	return s.updateClaim(ctx, "complete claim", key, "SET #done = :t", "attribute_exists(#pk)",
		map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}},
		map[string]string{"#done": attrClaimDone, "#pk": attrPK})
}

// ReleaseClaim ends the in-flight lease of an unfinished claim so that the
// next delivery takes it over (with the same value). Releasing a done or
// missing claim is a no-op.
func (s *Store) ReleaseClaim(ctx context.Context, key string) error {
	err := s.updateClaim(ctx, "release claim", key, "SET #lease = :zero", "attribute_exists(#pk) AND attribute_not_exists(#done)",
		map[string]types.AttributeValue{":zero": avN(0)},
		map[string]string{"#lease": attrLeaseMs, "#pk": attrPK, "#done": attrClaimDone})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

func (s *Store) updateClaim(ctx context.Context, op, key, update, cond string, vals map[string]types.AttributeValue, names map[string]string) error {
	if err := checkClaim(key, time.Second); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 tableName(s.table),
		Key:                       claimKey(key),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("%s %s: %w", op, key, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, key, err)
	}
	return nil
}

// GetClaim reads a claim; the bool is false when there is none.
func (s *Store) GetClaim(ctx context.Context, key string) (Claim, bool, error) {
	if err := checkClaim(key, time.Second); err != nil {
		return Claim{}, false, fmt.Errorf("get claim: %w", err)
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: tableName(s.table), Key: claimKey(key), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Claim{}, false, fmt.Errorf("get claim %s: %w", key, err)
	}
	if len(out.Item) == 0 {
		return Claim{}, false, nil
	}
	ms, err := intAttr(out.Item, attrLeaseMs)
	if err != nil {
		return Claim{}, false, fmt.Errorf("get claim %s: %w", key, err)
	}
	c := Claim{Key: key, Value: strAttr(out.Item, attrClaimVal), Lease: time.UnixMilli(ms).UTC()}
	if b, ok := out.Item[attrClaimDone].(*types.AttributeValueMemberBOOL); ok {
		c.Done = b.Value
	}
	return c, true, nil
}
