package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Page asks for one page of a listing. Limit 0 means 50; at most 100.
// Cursor is the opaque value a previous page returned ("" for the first).
type Page struct {
	Limit  int32
	Cursor string
}

// Page size bounds.
const (
	DefaultLimit = 50
	MaxLimit     = 100
)

func (p Page) limit() int32 {
	switch {
	case p.Limit <= 0:
		return DefaultLimit
	case p.Limit > MaxLimit:
		return MaxLimit
	}
	return p.Limit
}

// query is one key-condition listing: a partition of the table or of a GSI.
type query struct {
	index          string // "" for the table
	pkAttr, skAttr string
	pk             string
	skPrefix       string // optional begins_with on the sort key
	forward        bool
	filter         string // optional FilterExpression over #f0.. / :f0..
	filterNames    map[string]string
	filterValues   map[string]types.AttributeValue
}

func (q query) input(table string, limit int32, start map[string]types.AttributeValue) *dynamodb.QueryInput {
	names := map[string]string{"#pk": q.pkAttr}
	vals := map[string]types.AttributeValue{":pk": avS(q.pk)}
	cond := "#pk = :pk"
	if q.skPrefix != "" {
		names["#sk"] = q.skAttr
		vals[":pre"] = avS(q.skPrefix)
		cond += " AND begins_with(#sk, :pre)"
	}
	in := &dynamodb.QueryInput{
		TableName:                 tableName(table),
		KeyConditionExpression:    aws.String(cond),
		ScanIndexForward:          aws.Bool(q.forward),
		ExclusiveStartKey:         start,
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	}
	if limit > 0 {
		in.Limit = aws.Int32(limit)
	}
	if q.index != "" {
		in.IndexName = aws.String(q.index)
	} else {
		in.ConsistentRead = aws.Bool(true)
	}
	if q.filter != "" {
		in.FilterExpression = aws.String(q.filter)
		for k, v := range q.filterNames {
			names[k] = v
		}
		for k, v := range q.filterValues {
			vals[k] = v
		}
	}
	return in
}

// page runs one Query for one page.
func (s *Store) page(ctx context.Context, q query, p Page) ([]map[string]types.AttributeValue, string, error) {
	start, err := q.decodeCursor(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	out, err := s.db.Query(ctx, q.input(s.table, p.limit(), start))
	if err != nil {
		return nil, "", fmt.Errorf("query: %w", err)
	}
	next, err := q.encodeCursor(out.LastEvaluatedKey)
	if err != nil {
		return nil, "", err
	}
	return out.Items, next, nil
}

// maxFillQueries bounds the Queries one filtered page may cost.
const maxFillQueries = 5

// fill returns one page of a filtered listing: DynamoDB applies Limit
// before the filter, so it keeps querying (at most maxFillQueries times)
// until the page is full or the listing ends. When it cuts a page short of
// the last evaluated key, the cursor is the key of the last item returned
// (items carry their table and index keys: projection ALL).
func (s *Store) fill(ctx context.Context, q query, p Page) ([]map[string]types.AttributeValue, string, error) {
	start, err := q.decodeCursor(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := int(p.limit())
	var items []map[string]types.AttributeValue
	for i := 0; ; i++ {
		out, err := s.db.Query(ctx, q.input(s.table, int32(limit), start))
		if err != nil {
			return nil, "", fmt.Errorf("query: %w", err)
		}
		items = append(items, out.Items...)
		if len(items) == limit {
			next, err := q.encodeCursor(out.LastEvaluatedKey)
			return items, next, err
		}
		if len(items) > limit {
			items = items[:limit]
			last := items[limit-1]
			key := map[string]types.AttributeValue{}
			for _, a := range []string{attrPK, attrSK, q.pkAttr, q.skAttr} {
				if v, ok := last[a]; ok {
					key[a] = v
				}
			}
			next, err := q.encodeCursor(key)
			return items, next, err
		}
		if len(out.LastEvaluatedKey) == 0 || i+1 >= maxFillQueries {
			next, err := q.encodeCursor(out.LastEvaluatedKey)
			return items, next, err
		}
		start = out.LastEvaluatedKey
	}
}

// all runs the Query to its end.
func (s *Store) all(ctx context.Context, q query) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	var start map[string]types.AttributeValue
	for {
		out, err := s.db.Query(ctx, q.input(s.table, 0, start))
		if err != nil {
			return nil, fmt.Errorf("query: %w", err)
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			return items, nil
		}
		start = out.LastEvaluatedKey
	}
}

// A cursor is base64url(JSON of the LastEvaluatedKey) "." base64url(check),
// where check is a truncated SHA-256 over the listing it belongs to and the
// key. It is opaque to clients, and an edited, truncated or foreign cursor
// (from another listing) is refused with ErrBadCursor before any request.
// The check guards against mistakes and casual edits, not against someone
// who reads this code: the key is validated field by field as well, and a
// valid key only ever reads the partition the caller asked for.

func (q query) scope() string {
	return q.index + "\x00" + q.pk + "\x00" + q.skPrefix
}

func (q query) check(payload []byte) string {
	h := sha256.New()
	h.Write([]byte("ecsflow-cursor-v1\x00"))
	h.Write([]byte(q.scope()))
	h.Write([]byte{0})
	h.Write(payload)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

// allowed reports whether an attribute may appear in this listing's key.
func (q query) allowed(name string) bool {
	switch name {
	case attrPK, attrSK, q.pkAttr, q.skAttr:
		return true
	}
	return false
}

func (q query) encodeCursor(last map[string]types.AttributeValue) (string, error) {
	if len(last) == 0 {
		return "", nil
	}
	plain := make(map[string]string, len(last))
	for k, v := range last {
		sv, ok := v.(*types.AttributeValueMemberS)
		if !ok || !q.allowed(k) {
			return "", fmt.Errorf("encode cursor: unexpected key attribute %s", k)
		}
		plain[k] = sv.Value
	}
	payload, err := json.Marshal(plain) // map keys are sorted: stable bytes
	if err != nil {
		return "", fmt.Errorf("encode cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(payload) + "." + q.check(payload), nil
}

func (q query) decodeCursor(c string) (map[string]types.AttributeValue, error) {
	if c == "" {
		return nil, nil
	}
	body, sum, found := strings.Cut(c, ".")
	if !found || len(c) > 4096 {
		return nil, fmt.Errorf("%w: malformed", ErrBadCursor)
	}
	payload, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed", ErrBadCursor)
	}
	if q.check(payload) != sum {
		return nil, fmt.Errorf("%w: not a cursor of this listing", ErrBadCursor)
	}
	var plain map[string]string
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&plain); err != nil {
		return nil, fmt.Errorf("%w: malformed", ErrBadCursor)
	}
	if plain[q.pkAttr] != q.pk || plain[attrPK] == "" || plain[attrSK] == "" || plain[q.skAttr] == "" {
		return nil, fmt.Errorf("%w: not a cursor of this listing", ErrBadCursor)
	}
	start := make(map[string]types.AttributeValue, len(plain))
	for k, v := range plain {
		if !q.allowed(k) {
			return nil, fmt.Errorf("%w: unexpected attribute", ErrBadCursor)
		}
		start[k] = avS(v)
	}
	return start, nil
}
