package store

import (
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsflow/ecsflow/internal/model"
)

// Attribute names of the table (see doc.go for the key layout).
const (
	attrPK       = "PK"
	attrSK       = "SK"
	attrGSI1PK   = "GSI1PK"
	attrGSI1SK   = "GSI1SK"
	attrGSI2PK   = "GSI2PK"
	attrGSI2SK   = "GSI2SK"
	attrKind     = "kind"
	attrApp      = "app"
	attrVersion  = "version"
	attrRefCount = "refCount"
	attrDoc      = "doc"
	attrOwner    = "owner"
	attrStatus   = "status"
	attrService  = "svc"
	attrEnv      = "env"
	attrSeq      = "ledgerSeq"
	attrByKind   = "byKind"
	attrByID     = "byId"
	attrFields   = "fields"
	attrHolder   = "holder"
	attrExpires  = "expiresMs"
	attrTTL      = "ttl"

	index1 = "GSI1"
	index2 = "GSI2"

	skEntity = "#E"
	skName   = "#N"
	skLease  = "#L"
	prefRef  = "R#"
	prefLedg = "L#"
)

func avS(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func avN(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: avS(pk), attrSK: avS(sk)}
}

func entityKey(id string) map[string]types.AttributeValue { return key(id, skEntity) }

// nameKey is the partition key of the item that reserves a name in its
// scope: per kind and application ("" for account-level kinds; an
// infrastructure's EntityName already carries its environment).
func nameKey(e model.Entity) string {
	if e.EntityName() == "" {
		return ""
	}
	return "N#" + string(e.Kind()) + "#" + e.AppID() + "#" + e.EntityName()
}

// listPK is GSI2's partition for the entities of a kind in an application.
func listPK(k model.Kind, appID string) string { return "L#" + string(k) + "#" + appID }

// deploymentsPK is GSI1's partition for the deployments of a service to an environment.
func deploymentsPK(serviceID, envID string) string { return "D#" + serviceID + "#" + envID }

// triggersPK is GSI1's partition for the triggers of a repository on an artifact server.
func triggersPK(serverID, repository string) string { return "T#" + serverID + "#" + repository }

func leasePK(k string) string { return "LEASE#" + k }

// ledgerSK orders ledger entries by time, then sequence. Fixed-width fields
// keep the lexical order equal to the (At, Seq) order.
func ledgerSK(at time.Time, seq int64) string {
	return prefLedg + at.UTC().Format("2006-01-02T15:04:05.000000000Z") + "#" + fmt.Sprintf("%020d", seq)
}

func refSK(referrerID string) string { return prefRef + referrerID }

// accountLevel reports whether k is listed per account rather than per application.
func accountLevel(k model.Kind) bool {
	switch k {
	case model.KindApplication, model.KindArtifactServer, model.KindCloudProvider:
		return true
	}
	return false
}

func encOpts(o *attributevalue.EncoderOptions) {
	o.TagKey = "json"
	o.OmitEmptyTime = true
}

func decOpts(o *attributevalue.DecoderOptions) { o.TagKey = "json" }

// marshalDoc encodes v (with its json tags) as a map attribute, without
// empty maps and lists: they decode to the same Go value as an absent
// attribute, and minidyn's HTTP server drops their type on the wire.
func marshalDoc(v any) (types.AttributeValue, error) {
	av, err := attributevalue.MarshalWithOptions(v, encOpts)
	if err != nil {
		return nil, err
	}
	return prune(av), nil
}

func empty(av types.AttributeValue) bool {
	switch v := av.(type) {
	case *types.AttributeValueMemberM:
		return len(v.Value) == 0
	case *types.AttributeValueMemberL:
		return len(v.Value) == 0
	}
	return false
}

func prune(av types.AttributeValue) types.AttributeValue {
	switch v := av.(type) {
	case *types.AttributeValueMemberM:
		for k, x := range v.Value {
			x = prune(x)
			if empty(x) {
				delete(v.Value, k)
				continue
			}
			v.Value[k] = x
		}
	case *types.AttributeValueMemberL:
		for i, x := range v.Value {
			x = prune(x)
			if empty(x) {
				x = &types.AttributeValueMemberNULL{Value: true}
			}
			v.Value[i] = x
		}
	}
	return av
}

// entityItem is the full item of an entity (refCount and ledgerSeq are
// maintained separately and never written here).
func entityItem(e model.Entity) (map[string]types.AttributeValue, error) {
	doc, err := marshalDoc(e)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", e.Kind(), err)
	}
	m := e.GetMeta()
	item := entityKey(m.ID)
	item[attrKind] = avS(string(e.Kind()))
	item[attrApp] = avS(e.AppID())
	item[attrVersion] = avN(m.Version)
	item[attrDoc] = doc
	for k, v := range indexAttrs(e) {
		item[k] = v
	}
	return item, nil
}

// indexAttrs are the GSI keys and filter attributes an entity carries.
func indexAttrs(e model.Entity) map[string]types.AttributeValue {
	id := e.GetMeta().ID
	out := map[string]types.AttributeValue{
		attrGSI2PK: avS(listPK(e.Kind(), e.AppID())),
		attrGSI2SK: avS(id),
	}
	switch v := e.(type) {
	case *model.Deployment:
		out[attrStatus] = avS(string(v.Status))
		out[attrService] = avS(v.ServiceID)
		out[attrEnv] = avS(v.EnvironmentID)
		if v.ServiceID != "" && v.EnvironmentID != "" {
			out[attrGSI1PK] = avS(deploymentsPK(v.ServiceID, v.EnvironmentID))
			out[attrGSI1SK] = avS(id)
		}
	case *model.Trigger:
		if v.ArtifactServerID != "" && v.Repository != "" {
			out[attrGSI1PK] = avS(triggersPK(v.ArtifactServerID, v.Repository))
			out[attrGSI1SK] = avS(id)
		}
	}
	return out
}

// decodeEntity turns an entity item into a fresh typed entity.
func decodeEntity(item map[string]types.AttributeValue) (model.Entity, error) {
	kindAV, ok := item[attrKind].(*types.AttributeValueMemberS)
	if !ok {
		return nil, fmt.Errorf("decode item: no kind")
	}
	e, ok := model.New(model.Kind(kindAV.Value))
	if !ok {
		return nil, fmt.Errorf("decode item: unknown kind %q", kindAV.Value)
	}
	if err := attributevalue.UnmarshalWithOptions(item[attrDoc], e, decOpts); err != nil {
		return nil, fmt.Errorf("decode %s: %w", kindAV.Value, err)
	}
	v, err := intAttr(item, attrVersion)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", kindAV.Value, err)
	}
	e.GetMeta().Version = v
	return e, nil
}

func intAttr(item map[string]types.AttributeValue, name string) (int64, error) {
	av, ok := item[name]
	if !ok {
		return 0, nil
	}
	nv, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("attribute %s is not a number", name)
	}
	v, err := strconv.ParseInt(nv.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("attribute %s: %w", name, err)
	}
	return v, nil
}

func strAttr(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// target is one distinct entity that another references, with every field
// of the referrer that points at it.
type target struct {
	Kind   model.Kind
	ID     string
	Fields []string
}

// groupRefs merges references to the same entity, in first-seen order, so a
// transaction touches each target once (DynamoDB forbids two operations on
// one item in a transaction).
func groupRefs(refs []model.Ref) []target {
	var out []target
	idx := map[string]int{}
	for _, r := range refs {
		if i, ok := idx[r.ID]; ok {
			out[i].Fields = append(out[i].Fields, r.Field)
			continue
		}
		idx[r.ID] = len(out)
		out = append(out, target{Kind: r.Kind, ID: r.ID, Fields: []string{r.Field}})
	}
	return out
}

func (t target) refs() []model.Ref {
	out := make([]model.Ref, len(t.Fields))
	for i, f := range t.Fields {
		out[i] = model.Ref{Kind: t.Kind, ID: t.ID, Field: f}
	}
	return out
}

func sameFields(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// refByItem records that referrer points at target through fields; the
// store reads these to name referrers in ReferencedError.
func refByItem(referrer model.Entity, t target) map[string]types.AttributeValue {
	item := key(t.ID, refSK(referrer.GetMeta().ID))
	item[attrByKind] = avS(string(referrer.Kind()))
	item[attrByID] = avS(referrer.GetMeta().ID)
	fields := make([]types.AttributeValue, len(t.Fields))
	for i, f := range t.Fields {
		fields[i] = avS(f)
	}
	item[attrFields] = &types.AttributeValueMemberL{Value: fields}
	return item
}

func tableName(t string) *string { return aws.String(t) }
