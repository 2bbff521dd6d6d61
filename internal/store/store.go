package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecsflow/ecsflow/internal/model"
)

// DynamoDB is the subset of *dynamodb.Client the store uses, so the same
// store runs on AWS, on DynamoDB Local, on minidyn's HTTP server and on
// minidyn's in-memory aws-v2 client.
type DynamoDB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	TransactGetItems(ctx context.Context, in *dynamodb.TransactGetItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactGetItemsOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

var _ DynamoDB = (*dynamodb.Client)(nil)

// Errors returned by the store. Detailed errors wrap them, so errors.Is works.
var (
	ErrNotFound         = errors.New("not found")
	ErrConflict         = errors.New("version conflict")
	ErrAlreadyExists    = errors.New("name already exists")
	ErrReferenced       = errors.New("entity is referenced")
	ErrInvalidReference = errors.New("unknown reference")
	ErrLeaseHeld        = errors.New("lease held")
	ErrBadCursor        = errors.New("bad cursor")
)

// ReferencedError says who still points at an entity that was to be deleted.
type ReferencedError struct {
	// By lists the referrers: each Ref is the referring entity's kind and ID
	// and the field of the referrer that holds the reference.
	By []model.Ref
}

func (e *ReferencedError) Error() string {
	parts := make([]string, len(e.By))
	for i, r := range e.By {
		parts[i] = fmt.Sprintf("%s %s (%s)", r.Kind, r.ID, r.Field)
	}
	return "entity is referenced by " + strings.Join(parts, ", ")
}

// Is makes errors.Is(err, ErrReferenced) true.
func (e *ReferencedError) Is(target error) bool { return target == ErrReferenced }

// InvalidReferenceError lists the references that point at no entity of the
// expected kind.
type InvalidReferenceError struct {
	// Refs are the missing targets, each with the field that names it.
	Refs []model.Ref
}

func (e *InvalidReferenceError) Error() string {
	parts := make([]string, len(e.Refs))
	for i, r := range e.Refs {
		parts[i] = fmt.Sprintf("%s: no %s %s", r.Field, r.Kind, r.ID)
	}
	return "unknown reference: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalidReference) true.
func (e *InvalidReferenceError) Is(target error) bool { return target == ErrInvalidReference }

// LeaseHeldError says who holds a lease and until when.
type LeaseHeldError struct {
	Key, Holder string
	Expires     time.Time
}

func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("lease %s held by %s until %s", e.Key, e.Holder, e.Expires.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrLeaseHeld) true.
func (e *LeaseHeldError) Is(target error) bool { return target == ErrLeaseHeld }

// Store is the single-table repository. It is safe for concurrent use.
type Store struct {
	db      DynamoDB
	table   string
	now     func() time.Time
	log     *slog.Logger
	retries int
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock used for timestamps, ledger times and lease expiry.
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// WithLogger sets the logger (default slog.Default()). The store never logs
// item contents, only operations, kinds and IDs.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.log = l
		}
	}
}

// New returns a store over table.
func New(db DynamoDB, table string, opts ...Option) *Store {
	s := &Store{db: db, table: table, now: time.Now, log: slog.Default(), retries: 8}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Table is the table name the store writes to.
func (s *Store) Table() string { return s.table }

// clock returns the store's current time in UTC, without a monotonic reading.
func (s *Store) clock() time.Time { return s.now().UTC().Round(0) }
