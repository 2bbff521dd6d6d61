// Package memdynamo is an in-memory DynamoDB for ecsflow's embedded store
// (`ecsflow local`, tests and benchmarks): the operations and semantics
// internal/store relies on, in process (*DB implements store.DynamoDB) and
// over DynamoDB's JSON 1.0 wire protocol (DB.Handler), so that the real
// aws-sdk-go-v2 client pointed at it works unchanged.
//
// # What it implements
//
//   - Tables with a hash key and an optional range key (S, N or B), and
//     global secondary indexes (sparse; projections ALL, KEYS_ONLY,
//     INCLUDE), maintained on every write. Local secondary indexes,
//     streams, capacity and the 1 MB/400 KB limits beyond a size estimate
//     are not modelled.
//   - GetItem, PutItem, UpdateItem, DeleteItem, Query, Scan (one segment),
//     TransactWriteItems, TransactGetItems, BatchGetItem, BatchWriteItem,
//     CreateTable, DescribeTable, DeleteTable, ListTables,
//     UpdateTimeToLive, DescribeTimeToLive.
//   - Expressions: condition and filter expressions (= <> < <= > >=,
//     BETWEEN, IN, AND, OR, NOT, parentheses, attribute_exists,
//     attribute_not_exists, attribute_type, begins_with, contains, size),
//     key conditions (hash = :v, and on the sort key = < <= > >= BETWEEN
//     begins_with), update expressions (SET with + and -, if_not_exists,
//     list_append; REMOVE; ADD; DELETE; nested document paths and list
//     indexes) and projection expressions. Placeholders must be defined
//     and used, as DynamoDB requires. Each distinct expression is parsed
//     once.
//   - ReturnValues (ALL_OLD, ALL_NEW, UPDATED_OLD, UPDATED_NEW) and
//     ReturnValuesOnConditionCheckFailure, the SDK's typed errors
//     (ConditionalCheckFailedException, TransactionCanceledException with
//     a reason per item, ResourceNotFoundException,
//     ResourceInUseException) and ValidationException as a
//     smithy.GenericAPIError.
//
// Anything else — legacy parameters (Expected, AttributeUpdates,
// KeyConditions, QueryFilter, AttributesToGet...), parallel scans,
// unknown functions or syntax — is refused with a ValidationException
// naming it, never answered wrongly. DynamoDB's 572 reserved words
// (reserved.go, each checked against DynamoDB Local) are refused as raw
// attribute names, as DynamoDB refuses them.
//
// # How it is built
//
// Each table and each index is one B-tree (github.com/tidwall/btree)
// ordered by (hash, range, table hash, table range), so a Query is a
// range scan of one partition, in either direction, and a GSI query costs
// the same as a table query. Stored items are immutable: a write builds
// the new version (an update clones the old one), so nothing a caller
// holds aliases the database, and items are copied on the way in and
// out. One RWMutex: reads share it, writes and transactions hold it
// alone. A transaction evaluates every condition and builds every new
// item first, then applies them all, so a cancelled transaction changes
// nothing and nothing is ever copied wholesale.
//
// Persistence: Open(path) loads a snapshot file and Sync/Close write it
// atomically; see persist.go for the format.
package memdynamo
