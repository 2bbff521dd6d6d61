package store

// Waits: the task tokens of Step Functions tasks that wait for something
// outside the state machine (ECS reaching steady state, an alarm during a
// bake, a manual approval, a lease).
//
// # Items
//
//	item        PK                    SK                          other attributes
//	wait        <deployment id>       W#<token hash>              doc (the Wait), ttl,
//	                                                              GSI1PK = W#<cluster>#<service> (when both are set),
//	                                                              GSI1SK = <created, ns, UTC>#<deployment id>#<token hash>
//	alarm link  WA#<alarm name>       W#<deployment id>#<hash>    doc (the Wait), ttl
//
// <token hash> is the first 32 hex digits of the token's SHA-256 (a Step
// Functions token can be 1 KiB, too long to repeat in keys); the token
// itself is only in doc. Cluster and service are stored as names: an ARN
// (arn:aws:ecs:…:cluster/NAME, …:service/CLUSTER/NAME) is reduced to its
// name, so a wait stored with names is found from an event that carries
// ARNs. Names are not scoped by account or region.
//
// # Access patterns
//
//   - PutWait: one PutItem, or one TransactWriteItems with the alarm links
//     (at most MaxWaitAlarms). Putting the same token again overwrites it.
//   - WaitsForDeployment: Query PK=<deployment id>, begins_with(SK, "W#"),
//     strongly consistent.
//   - WaitsForService: Query GSI1, GSI1PK = W#<cluster>#<service>,
//     ascending (oldest first: the lease queue resumes the oldest). GSI
//     reads are eventually consistent on AWS.
//   - WaitsForAlarm: Query PK=WA#<alarm name>, begins_with(SK, "W#"),
//     strongly consistent.
//   - DeleteWait: GetItem of the wait (to learn its alarm links), then one
//     TransactWriteItems deleting the wait and its links (DeleteItem when it
//     has none). Deleting a wait that is gone is not an error.
//
// Expired waits (Expires <= now) are never returned: DynamoDB's TTL
// deletes them eventually (within days), not at the second.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsflow/ecsflow/internal/model"
)

// Kinds of Wait.
const (
	WaitSteady   = "STEADY"
	WaitVerify   = "VERIFY"
	WaitApproval = "APPROVAL"
	WaitLease    = "LEASE"
	// WaitWatch has no task behind it: it keeps routing a service's ECS
	// events to a deployment's ledger for a while after its steady-state
	// wait ended (stopped-task reasons arrive after the failure they
	// cause). Its token is WatchToken(deploymentID).
	WaitWatch = "WATCH"
)

// WatchToken is the token of a deployment's WATCH wait (one per
// deployment and service; putting it again extends it).
func WatchToken(deploymentID string) string { return "watch:" + deploymentID }

// MaxWaitAlarms bounds the alarms of one wait (one transaction writes the
// wait and a link per alarm).
const MaxWaitAlarms = 50

// maxTokenLen is Step Functions' limit on a task token.
const maxTokenLen = 2048

const (
	prefWait      = "W#"
	prefWaitAlarm = "WA#"
)

// ErrInvalidWait is wrapped by the error PutWait returns for a malformed Wait.
var ErrInvalidWait = errors.New("invalid wait")

// Wait is a Step Functions task token that an outside event completes.
type Wait struct {
	Token        string `json:"token"`
	DeploymentID string `json:"deploymentId"`
	// Cluster and Service name the ECS service whose events concern the
	// wait (for LEASE: the lease key's parts). ARNs are reduced to names.
	Cluster string `json:"cluster,omitempty"`
	Service string `json:"service,omitempty"`
	// Kind is WaitSteady, WaitVerify, WaitApproval, WaitLease or WaitWatch.
	Kind string `json:"kind"`
	// Alarms (VERIFY) are the CloudWatch alarms whose ALARM state fails it.
	Alarms []string `json:"alarms,omitempty"`
	// Approvers (APPROVAL, optional) are who may approve or reject: the
	// workflow's approval approvers. Empty: anyone allowed by the API.
	Approvers []string `json:"approvers,omitempty"`
	// ECSDeployment (STEADY, optional) is the ECS deployment (ecs-svc/…)
	// the wait is for: deployment state changes of the service's other ECS
	// deployments (a circuit breaker failing the deployment a rollback
	// replaced) are progress for it, not its outcome. Empty: any.
	ECSDeployment string `json:"ecsDeploymentId,omitempty"`
	// Expires is when the wait is no longer of use (the task's timeout);
	// it is also written as `ttl`.
	Expires time.Time `json:"expires"`
	// Created is set by PutWait when zero; waits of a service are listed
	// oldest first.
	Created time.Time `json:"created"`
}

// ClusterName reduces a cluster ARN (arn:aws:ecs:R:A:cluster/NAME) to its
// name; a name is returned as is.
func ClusterName(s string) string {
	if i := strings.Index(s, ":cluster/"); i >= 0 && strings.HasPrefix(s, "arn:") {
		return s[i+len(":cluster/"):]
	}
	return s
}

// ServiceName reduces a service ARN (…:service/CLUSTER/NAME, or the old
// …:service/NAME) to its name; a name is returned as is.
func ServiceName(s string) string {
	if i := strings.Index(s, ":service/"); i >= 0 && strings.HasPrefix(s, "arn:") {
		rest := s[i+len(":service/"):]
		if j := strings.LastIndexByte(rest, '/'); j >= 0 {
			return rest[j+1:]
		}
		return rest
	}
	return s
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:16])
}

func waitServicePK(cluster, service string) string {
	return prefWait + ClusterName(cluster) + "#" + ServiceName(service)
}

func (w Wait) validate() error {
	var probs []string
	switch {
	case w.Token == "":
		probs = append(probs, "token is required")
	case len(w.Token) > maxTokenLen:
		probs = append(probs, fmt.Sprintf("token is %d bytes, at most %d", len(w.Token), maxTokenLen))
	}
	if k, ok := model.KindOfID(w.DeploymentID); !ok || k != model.KindDeployment {
		probs = append(probs, fmt.Sprintf("deploymentId %q is not a deployment id", w.DeploymentID))
	}
	switch w.Kind {
	case WaitSteady, WaitVerify, WaitLease, WaitWatch:
		if w.Cluster == "" || w.Service == "" {
			probs = append(probs, fmt.Sprintf("a %s wait needs cluster and service", w.Kind))
		}
	case WaitApproval:
	default:
		probs = append(probs, fmt.Sprintf("kind %q: want STEADY, VERIFY, APPROVAL, LEASE or WATCH", w.Kind))
	}
	if len(w.Alarms) > MaxWaitAlarms {
		probs = append(probs, fmt.Sprintf("%d alarms, at most %d", len(w.Alarms), MaxWaitAlarms))
	}
	seen := map[string]bool{}
	for i, a := range w.Alarms {
		switch {
		case a == "":
			probs = append(probs, fmt.Sprintf("alarms[%d] is empty", i))
		case seen[a]:
			probs = append(probs, fmt.Sprintf("alarms[%d] %q is repeated", i, a))
		}
		seen[a] = true
	}
	if w.Expires.IsZero() {
		probs = append(probs, "expires is required")
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidWait, strings.Join(probs, "; "))
	}
	return nil
}

func waitDoc(w Wait) (types.AttributeValue, error) {
	doc, err := marshalDoc(w)
	if err != nil {
		return nil, fmt.Errorf("encode wait: %w", err)
	}
	return doc, nil
}

// PutWait stores w (overwriting a wait with the same token), with a link
// per alarm, all in one write.
func (s *Store) PutWait(ctx context.Context, w Wait) error {
	w.Cluster, w.Service = ClusterName(w.Cluster), ServiceName(w.Service)
	if err := w.validate(); err != nil {
		return fmt.Errorf("put wait: %w", err)
	}
	if w.Created.IsZero() {
		w.Created = s.clock()
	}
	w.Created, w.Expires = w.Created.UTC().Round(0), w.Expires.UTC().Round(0)
	doc, err := waitDoc(w)
	if err != nil {
		return fmt.Errorf("put wait: %w", err)
	}
	h := tokenHash(w.Token)
	ttl := avN(w.Expires.Add(time.Second - 1).Unix())
	item := key(w.DeploymentID, prefWait+h)
	item[attrDoc], item[attrTTL] = doc, ttl
	if w.Cluster != "" && w.Service != "" {
		item[attrGSI1PK] = avS(waitServicePK(w.Cluster, w.Service))
		item[attrGSI1SK] = avS(w.Created.Format("2006-01-02T15:04:05.000000000Z") + "#" + w.DeploymentID + "#" + h)
	}
	if len(w.Alarms) == 0 {
		if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: tableName(s.table), Item: item}); err != nil {
			return fmt.Errorf("put wait: %w", err)
		}
		return nil
	}
	t := &tx{table: s.table}
	t.put(roleRelease, item, "", nil, nil)
	for _, a := range w.Alarms {
		link := key(prefWaitAlarm+a, prefWait+w.DeploymentID+"#"+h)
		link[attrDoc], link[attrTTL] = doc, ttl
		t.put(roleRelease, link, "", nil, nil)
	}
	if err := s.run(ctx, "put wait", t); err != nil {
		return fmt.Errorf("put wait: %w", err)
	}
	return nil
}

// WaitsForDeployment returns the live waits of a deployment.
func (s *Store) WaitsForDeployment(ctx context.Context, deploymentID string) ([]Wait, error) {
	if deploymentID == "" {
		return nil, fmt.Errorf("waits for deployment: %w: empty deployment id", ErrInvalidWait)
	}
	return s.waits(ctx, "waits for deployment", query{pkAttr: attrPK, skAttr: attrSK, pk: deploymentID, skPrefix: prefWait, forward: true})
}

// WaitsForService returns the live waits on an ECS service (names or
// ARNs), oldest first.
func (s *Store) WaitsForService(ctx context.Context, cluster, service string) ([]Wait, error) {
	if cluster == "" || service == "" {
		return nil, fmt.Errorf("waits for service: %w: cluster and service are required", ErrInvalidWait)
	}
	return s.waits(ctx, "waits for service", query{index: index1, pkAttr: attrGSI1PK, skAttr: attrGSI1SK,
		pk: waitServicePK(cluster, service), forward: true})
}

// WaitsForAlarm returns the live waits that an alarm's ALARM state fails.
func (s *Store) WaitsForAlarm(ctx context.Context, alarmName string) ([]Wait, error) {
	if alarmName == "" {
		return nil, fmt.Errorf("waits for alarm: %w: empty alarm name", ErrInvalidWait)
	}
	return s.waits(ctx, "waits for alarm", query{pkAttr: attrPK, skAttr: attrSK, pk: prefWaitAlarm + alarmName, skPrefix: prefWait, forward: true})
}

func (s *Store) waits(ctx context.Context, op string, q query) ([]Wait, error) {
	items, err := s.all(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	now := s.clock()
	out := make([]Wait, 0, len(items))
	for _, it := range items {
		var w Wait
		if err := attributevalue.UnmarshalWithOptions(it[attrDoc], &w, decOpts); err != nil {
			return nil, fmt.Errorf("%s: decode wait: %w", op, err)
		}
		if !w.Expires.After(now) {
			continue
		}
		out = append(out, w)
	}
	return out, nil
}

// DeleteWait removes the wait with w's token and deployment, and its alarm
// links (those stored with it and those named in w). A wait that is gone is
// not an error.
func (s *Store) DeleteWait(ctx context.Context, w Wait) error {
	if w.Token == "" || w.DeploymentID == "" {
		return fmt.Errorf("delete wait: %w: token and deployment id are required", ErrInvalidWait)
	}
	h := tokenHash(w.Token)
	k := key(w.DeploymentID, prefWait+h)
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: tableName(s.table), Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return fmt.Errorf("delete wait: %w", err)
	}
	alarms := map[string]bool{}
	for _, a := range w.Alarms {
		alarms[a] = true
	}
	if len(out.Item) > 0 {
		var stored Wait
		if err := attributevalue.UnmarshalWithOptions(out.Item[attrDoc], &stored, decOpts); err != nil {
			return fmt.Errorf("delete wait: decode wait: %w", err)
		}
		for _, a := range stored.Alarms {
			alarms[a] = true
		}
	}
	if len(alarms) == 0 {
		if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: tableName(s.table), Key: k}); err != nil {
			return fmt.Errorf("delete wait: %w", err)
		}
		return nil
	}
	t := &tx{table: s.table}
	t.del(roleRelease, k, "", nil, nil)
	for a := range alarms {
		if len(t.items) == maxTransactItems {
			break
		}
		t.del(roleRelease, key(prefWaitAlarm+a, prefWait+w.DeploymentID+"#"+h), "", nil, nil)
	}
	if err := s.run(ctx, "delete wait", t); err != nil {
		return fmt.Errorf("delete wait: %w", err)
	}
	return nil
}
