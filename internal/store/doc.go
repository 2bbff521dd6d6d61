// Package store is ecsflow's single-table DynamoDB repository: entities,
// names, references, deployments, triggers, the deployment ledger and
// leases.
//
// # Table
//
// One table: partition key PK (S), sort key SK (S); GSI1 (GSI1PK, GSI1SK)
// and GSI2 (GSI2PK, GSI2SK), both S/S with projection ALL; TTL attribute
// `ttl` (epoch seconds). CreateTableInput is the definition; CDK provisions
// the same and enables TTL on `ttl`.
//
// # Items
//
//	item             PK                          SK                    other attributes
//	entity           <id> (e.g. svc-0190…)       #E                    kind, app, version, refCount, doc (the entity as a map,
//	                                                                   json field names), GSI2PK/GSI2SK, GSI1PK/GSI1SK (deployments,
//	                                                                   triggers), status/svc/env (deployments), ledgerSeq (deployments)
//	name reservation N#<kind>#<appId>#<name>     #N                    owner (the entity id)
//	referenced-by    <referenced id>             R#<referrer id>       byKind, byId, fields (the referrer's fields that hold the id)
//	ledger entry     <deployment id>             L#<at, ns, UTC>#<seq> doc (model.LedgerEntry)
//	lease            LEASE#<key>                 #L                    holder, expiresMs, ttl
//
// Entity IDs are UUIDv7 with a kind prefix (model.NewID), so they sort by
// creation time; the sort keys of both GSIs are entity IDs.
//
// # Access patterns
//
//   - Entity by id (Get, and the read before Update/Delete): GetItem
//     PK=<id>, SK=#E, strongly consistent. The kind is checked against the
//     item's `kind`.
//   - List by kind and application (List): Query GSI2, GSI2PK =
//     "L#<kind>#<appId>" (appId "" for account-level kinds: applications,
//     artifact servers, cloud providers), ascending GSI2SK (oldest first;
//     deployments descending). One Query per page.
//   - Name uniqueness: the name reservation item, Put with
//     attribute_not_exists(PK) in the same transaction as the entity. Names
//     are unique per kind and application (per account for account-level
//     kinds; an infrastructure definition's name is scoped by its
//     environment, which model.EntityName already encodes). A rename deletes
//     the old reservation and puts the new one in the update's transaction.
//   - Reference counts: every entity item carries refCount, the number of
//     distinct entities that reference it (model.Entity.References, grouped
//     by target). Create/Update add `refCount = refCount + 1` on each new
//     target, conditioned on the target existing with the expected kind, and
//     -1 on each dropped target. Delete is conditioned on refCount = 0.
//     Deployments are history: their references are checked with
//     ConditionChecks, never counted.
//   - Referenced-by records, written and deleted in the same transactions as
//     the counts: Query PK=<id>, begins_with(SK, "R#") names the referrers
//     in a ReferencedError (only on the error path).
//   - Deployments by service and environment, newest first
//     (ListDeployments): Query GSI1, GSI1PK = "D#<serviceId>#<envId>",
//     descending GSI1SK (ascending with OldestFirst, for a queue). By
//     application: Query GSI2 "L#Deployment#<appId>",
//     descending. Status (and a lone service or environment) is a
//     FilterExpression, so such a page may hold fewer than Limit items.
//   - Triggers by artifact server and repository (FindTriggers): Query GSI1,
//     GSI1PK = "T#<artifactServerId>#<repository>", every page.
//   - Ledger (AppendLedger, Ledger): UpdateItem `ledgerSeq = ledgerSeq + n`
//     on the deployment item (conditioned on it existing) reserves the
//     sequence numbers, then one TransactWriteItems puts the entries. Query
//     PK=<deploymentId>, begins_with(SK, "L#"), ascending: ordered by (At,
//     Seq).
//   - Leases (AcquireLease, ReleaseLease, GetLease): PutItem/DeleteItem on
//     LEASE#<key> conditioned on `attribute_not_exists(PK) OR holder = :me OR
//     expiresMs <= :now`; `ttl` lets DynamoDB reap abandoned leases.
//
// # Consistency
//
// Every write that touches more than one item is one TransactWriteItems, so
// nothing is ever half written. Optimistic concurrency: Update and Delete
// condition the entity on `version = :expected`; a stale write returns
// ErrConflict. When a transaction is cancelled, its CancellationReasons are
// decoded item by item to tell a version conflict (ErrConflict) from a taken
// name (ErrAlreadyExists) or a missing reference (InvalidReferenceError,
// completed by one BatchGetItem so that every missing reference is named;
// minidyn reports only the first failed condition). TransactionConflict
// cancellations (another transaction on the same item) are retried with
// backoff, since nothing was written.
//
// GSI queries are eventually consistent on AWS (strongly consistent on
// DynamoDB Local and minidyn): a listing may miss a write made a moment
// before. Get is strongly consistent.
//
// Cursors are opaque: base64url of the LastEvaluatedKey plus a check bound
// to the listing; anything else is refused with ErrBadCursor.
//
// Deleting a deployment leaves its ledger entries (history; there may be
// more than one transaction can delete).
//
// Stored documents omit empty maps and lists (an empty list reads back as
// nil): minidyn's HTTP server loses the type of empty M and L values.
//
// The store never logs item contents, and the model holds secrets only as
// ARNs.
//
// More item layouts, each documented at the top of its file:
//   - waits.go: task tokens of waiting deployments (steady state, verify,
//     approval, lease queue, watch), by deployment, by (cluster, service)
//     on GSI1 and by alarm;
//   - claims.go: event claims that make trigger deliveries idempotent;
//   - artifacts.go: tags seen per Docker registry repository and the
//     collector's status.
package store
