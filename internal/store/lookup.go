package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsflow/ecsflow/internal/model"
)

// DeploymentFilter selects deployments. ServiceID and EnvironmentID together
// use GSI1; otherwise AppID is required and the app's deployments are read
// from GSI2, with the other fields applied as a filter.
type DeploymentFilter struct {
	AppID, ServiceID, EnvironmentID string
	Status                          model.Status
	// OldestFirst reverses the order (for a queue of QUEUED deployments).
	OldestFirst bool
}

// ErrBadFilter is returned by ListDeployments when the filter names neither
// an application nor a service and an environment.
var ErrBadFilter = errors.New("deployment filter needs an application, or a service and an environment")

// ListDeployments returns a page of deployments, newest first (oldest
// first with OldestFirst). Without a filter beyond the key it costs one
// Query. With one (status, or a lone service or environment), it queries
// until the page is full, at most five times, so a page can still hold
// fewer than Limit items while more follow: keep paging while next != "".
func (s *Store) ListDeployments(ctx context.Context, f DeploymentFilter, p Page) ([]*model.Deployment, string, error) {
	var q query
	var conds []string
	fnames := map[string]string{}
	fvals := map[string]types.AttributeValue{}
	addFilter := func(attr, v string) {
		i := len(conds)
		nm, vl := fmt.Sprintf("#f%d", i), fmt.Sprintf(":f%d", i)
		fnames[nm], fvals[vl] = attr, avS(v)
		conds = append(conds, nm+" = "+vl)
	}
	switch {
	case f.ServiceID != "" && f.EnvironmentID != "":
		q = query{index: index1, pkAttr: attrGSI1PK, skAttr: attrGSI1SK, pk: deploymentsPK(f.ServiceID, f.EnvironmentID)}
		if f.AppID != "" {
			addFilter(attrApp, f.AppID)
		}
	case f.AppID != "":
		q = query{index: index2, pkAttr: attrGSI2PK, skAttr: attrGSI2SK, pk: listPK(model.KindDeployment, f.AppID)}
		if f.ServiceID != "" {
			addFilter(attrService, f.ServiceID)
		}
		if f.EnvironmentID != "" {
			addFilter(attrEnv, f.EnvironmentID)
		}
	default:
		return nil, "", fmt.Errorf("list deployments: %w", ErrBadFilter)
	}
	if f.Status != "" {
		addFilter(attrStatus, string(f.Status))
	}
	q.forward = f.OldestFirst
	if len(conds) > 0 {
		q.filter, q.filterNames, q.filterValues = strings.Join(conds, " AND "), fnames, fvals
	}
	page := s.page
	if q.filter != "" {
		page = s.fill
	}
	items, next, err := page(ctx, q, p)
	if err != nil {
		return nil, "", fmt.Errorf("list deployments: %w", err)
	}
	out := make([]*model.Deployment, 0, len(items))
	for _, it := range items {
		e, err := decodeEntity(it)
		if err != nil {
			return nil, "", fmt.Errorf("list deployments: %w", err)
		}
		d, ok := e.(*model.Deployment)
		if !ok {
			return nil, "", fmt.Errorf("list deployments: item %s is a %s", e.GetMeta().ID, e.Kind())
		}
		out = append(out, d)
	}
	return out, next, nil
}

// FindTriggers returns every trigger on a repository of an artifact server
// (GSI1, all pages), oldest first.
func (s *Store) FindTriggers(ctx context.Context, artifactServerID, repository string) ([]*model.Trigger, error) {
	if artifactServerID == "" || repository == "" {
		return nil, nil
	}
	items, err := s.all(ctx, query{index: index1, pkAttr: attrGSI1PK, skAttr: attrGSI1SK,
		pk: triggersPK(artifactServerID, repository), forward: true})
	if err != nil {
		return nil, fmt.Errorf("find triggers: %w", err)
	}
	out := make([]*model.Trigger, 0, len(items))
	for _, it := range items {
		e, err := decodeEntity(it)
		if err != nil {
			return nil, fmt.Errorf("find triggers: %w", err)
		}
		t, ok := e.(*model.Trigger)
		if !ok {
			return nil, fmt.Errorf("find triggers: item %s is a %s", e.GetMeta().ID, e.Kind())
		}
		out = append(out, t)
	}
	return out, nil
}

// MaxLedgerBatch is the most entries one AppendLedger call writes (one
// transaction, so a batch is all or nothing).
const MaxLedgerBatch = maxTransactItems

// AppendLedger adds entries to a deployment's ledger. The store assigns
// each a Seq from a counter on the deployment item (one UpdateItem), sets
// DeploymentID, and At to now when zero, then writes them in one
// TransactWriteItems. The deployment must exist. Seq only ever increases;
// a failed write can leave a gap in it.
func (s *Store) AppendLedger(ctx context.Context, deploymentID string, entries ...model.LedgerEntry) error {
	if len(entries) == 0 {
		return nil
	}
	if len(entries) > MaxLedgerBatch {
		return fmt.Errorf("append ledger: %d entries, at most %d per call", len(entries), MaxLedgerBatch)
	}
	if k, ok := model.KindOfID(deploymentID); !ok || k != model.KindDeployment {
		return fmt.Errorf("append ledger: %w: no deployment %q", ErrNotFound, deploymentID)
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 tableName(s.table),
		Key:                       entityKey(deploymentID),
		UpdateExpression:          aws.String("SET #seq = if_not_exists(#seq, :zero) + :n"),
		ConditionExpression:       aws.String("attribute_exists(#pk) AND #kind = :kind"),
		ExpressionAttributeNames:  map[string]string{"#seq": attrSeq, "#pk": attrPK, "#kind": attrKind},
		ExpressionAttributeValues: map[string]types.AttributeValue{":zero": avN(0), ":n": avN(int64(len(entries))), ":kind": avS(string(model.KindDeployment))},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return fmt.Errorf("append ledger: %w: no deployment %s", ErrNotFound, deploymentID)
		}
		return fmt.Errorf("append ledger: %w", err)
	}
	high, err := intAttr(out.Attributes, attrSeq)
	if err != nil {
		return fmt.Errorf("append ledger: %w", err)
	}
	now := s.clock()
	t := &tx{table: s.table}
	for i, e := range entries {
		e.DeploymentID = deploymentID
		e.Seq = high - int64(len(entries)) + int64(i) + 1
		if e.At.IsZero() {
			e.At = now
		}
		e.At = e.At.UTC().Round(0)
		doc, err := marshalDoc(e)
		if err != nil {
			return fmt.Errorf("append ledger: encode entry: %w", err)
		}
		item := key(deploymentID, ledgerSK(e.At, e.Seq))
		item[attrDoc] = doc
		t.put(roleLedger, item, "attribute_not_exists(#pk)", map[string]string{"#pk": attrPK}, nil)
	}
	if err := s.run(ctx, "append ledger", t); err != nil {
		return fmt.Errorf("append ledger: %w", err)
	}
	return nil
}

// Ledger returns a page of a deployment's ledger, ordered by (At, Seq).
func (s *Store) Ledger(ctx context.Context, deploymentID string, p Page) ([]model.LedgerEntry, string, error) {
	items, next, err := s.page(ctx, query{pkAttr: attrPK, skAttr: attrSK, pk: deploymentID,
		skPrefix: prefLedg, forward: true}, p)
	if err != nil {
		return nil, "", fmt.Errorf("ledger: %w", err)
	}
	out := make([]model.LedgerEntry, len(items))
	for i, it := range items {
		if err := attributevalue.UnmarshalWithOptions(it[attrDoc], &out[i], decOpts); err != nil {
			return nil, "", fmt.Errorf("ledger: decode entry: %w", err)
		}
	}
	return out, next, nil
}
