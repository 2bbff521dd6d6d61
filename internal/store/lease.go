package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Lease is a named lock with a holder and an expiry, such as the
// per-(cluster, service) deployment lock.
type Lease struct {
	Key, Holder string
	Expires     time.Time
}

// leaseCond holds when the lease is free, ours, or expired.
const leaseCond = "attribute_not_exists(#pk) OR #holder = :holder OR #exp <= :now"

func leaseNames() map[string]string {
	return map[string]string{"#pk": attrPK, "#holder": attrHolder, "#exp": attrExpires}
}

// AcquireLease takes the lease for holder until now+ttl with one
// conditional PutItem: it succeeds when the lease is free, already held by
// holder (a renewal) or expired (a takeover). Otherwise it returns a
// *LeaseHeldError naming the holder. The item carries `ttl` (epoch seconds)
// so DynamoDB removes leases that nobody released.
func (s *Store) AcquireLease(ctx context.Context, key, holder string, ttl time.Duration) (Lease, error) {
	if key == "" || holder == "" || ttl <= 0 {
		return Lease{}, fmt.Errorf("acquire lease: key, holder and a positive ttl are required")
	}
	now := s.clock()
	l := Lease{Key: key, Holder: holder, Expires: now.Add(ttl).Truncate(time.Millisecond)}
	item := map[string]types.AttributeValue{
		attrPK: avS(leasePK(key)), attrSK: avS(skLease),
		attrHolder:  avS(holder),
		attrExpires: avN(l.Expires.UnixMilli()),
		attrTTL:     avN(l.Expires.Add(time.Second - 1).Unix()),
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           tableName(s.table),
		Item:                                item,
		ConditionExpression:                 aws.String(leaseCond),
		ExpressionAttributeNames:            leaseNames(),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":holder": avS(holder), ":now": avN(now.UnixMilli())},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		return Lease{}, fmt.Errorf("acquire lease %s: %w", key, s.leaseErr(ctx, key, err))
	}
	return l, nil
}

// ReleaseLease frees the lease if holder holds it. Releasing a free or
// expired lease is a no-op; releasing one that someone else holds returns a
// *LeaseHeldError.
func (s *Store) ReleaseLease(ctx context.Context, key, holder string) error {
	if key == "" || holder == "" {
		return fmt.Errorf("release lease: key and holder are required")
	}
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                           tableName(s.table),
		Key:                                 map[string]types.AttributeValue{attrPK: avS(leasePK(key)), attrSK: avS(skLease)},
		ConditionExpression:                 aws.String(leaseCond),
		ExpressionAttributeNames:            leaseNames(),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":holder": avS(holder), ":now": avN(s.clock().UnixMilli())},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		return fmt.Errorf("release lease %s: %w", key, s.leaseErr(ctx, key, err))
	}
	return nil
}

// GetLease returns the lease and whether it is held (present and not
// expired). An expired lease is returned with false.
func (s *Store) GetLease(ctx context.Context, key string) (Lease, bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      tableName(s.table),
		Key:            map[string]types.AttributeValue{attrPK: avS(leasePK(key)), attrSK: avS(skLease)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Lease{}, false, fmt.Errorf("get lease %s: %w", key, err)
	}
	if len(out.Item) == 0 {
		return Lease{}, false, nil
	}
	l, err := leaseFrom(key, out.Item)
	if err != nil {
		return Lease{}, false, fmt.Errorf("get lease %s: %w", key, err)
	}
	return l, l.Expires.After(s.clock()), nil
}

func leaseFrom(key string, item map[string]types.AttributeValue) (Lease, error) {
	ms, err := intAttr(item, attrExpires)
	if err != nil {
		return Lease{}, err
	}
	return Lease{Key: key, Holder: strAttr(item, attrHolder), Expires: time.UnixMilli(ms).UTC()}, nil
}

// leaseErr turns a failed lease condition into a *LeaseHeldError, from the
// item the failure returned or, when the backend returns none, a read.
func (s *Store) leaseErr(ctx context.Context, key string, err error) error {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return err
	}
	l := Lease{Key: key}
	if len(ccf.Item) > 0 {
		if got, perr := leaseFrom(key, ccf.Item); perr == nil {
			l = got
		}
	} else if got, _, gerr := s.GetLease(ctx, key); gerr == nil {
		l = got
	}
	return &LeaseHeldError{Key: key, Holder: l.Holder, Expires: l.Expires}
}
