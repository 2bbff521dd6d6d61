package route53emu

import (
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strings"
)

var recordTypes = map[string]bool{
	"A": true, "AAAA": true, "CAA": true, "CNAME": true, "DS": true, "HTTPS": true, "MX": true, "NAPTR": true,
	"NS": true, "PTR": true, "SOA": true, "SPF": true, "SRV": true, "SSHFP": true, "SVCB": true, "TLSA": true, "TXT": true,
}

func describeKey(k recordKey) string {
	if k.setID != "" {
		return fmt.Sprintf("[name='%s', type='%s', set-identifier='%s']", wireName(k.name), k.typ, k.setID)
	}
	return fmt.Sprintf("[name='%s', type='%s']", wireName(k.name), k.typ)
}

func changeContext(action string, k recordKey) string {
	id := "null"
	if k.setID != "" {
		id = k.setID
	}
	return fmt.Sprintf("[Action=%s, Name=%s, Type=%s, SetIdentifier=%s]", action, wireName(k.name), k.typ, id)
}

// normalizeChange checks one change's shape (InvalidInput problems) and
// returns the record set as it will be stored.
func normalizeChange(c changeXML) (recordKey, *recordSet, *apiError) {
	rs := c.ResourceRecordSet
	switch c.Action {
	case "CREATE", "DELETE", "UPSERT":
	default:
		return recordKey{}, nil, invalidInput("Invalid request: Action must be one of CREATE, DELETE or UPSERT, got %q", c.Action)
	}
	if rs.Name == "" || rs.Type == "" {
		return recordKey{}, nil, invalidInput("Invalid request: Name and Type are required in every ResourceRecordSet")
	}
	k := recordKey{name: normName(rs.Name), typ: rs.Type, setID: rs.SetIdentifier}
	ctx := changeContext(c.Action, k)
	if !validName(k.name) {
		return k, nil, invalidInput("Invalid request: %q is not a valid DNS name in Change with %s", rs.Name, ctx)
	}
	if !recordTypes[k.typ] {
		return k, nil, invalidInput("Invalid request: record type %q is not valid in Change with %s", rs.Type, ctx)
	}
	if rs.Region != "" || rs.Failover != "" || rs.MultiValueAnswer != nil || rs.GeoLocation != nil {
		return k, nil, invalidInput("Invalid request: this emulator supports simple and weighted routing only, in Change with %s", ctx)
	}
	if len(k.setID) > 128 {
		return k, nil, invalidInput("Invalid request: SetIdentifier is longer than 128 characters in Change with %s", ctx)
	}
	if rs.Weight != nil && k.setID == "" {
		return k, nil, invalidInput("Invalid request: Missing field 'SetIdentifier' in Change with %s", ctx)
	}
	if k.setID != "" && rs.Weight == nil {
		return k, nil, invalidInput("Invalid request: Expected exactly one of [Weight, Region, Failover, GeoLocation, MultiValueAnswer, GeoProximityLocation, or CidrRoutingConfig], but found none in Change with %s", ctx)
	}
	if rs.Weight != nil && (*rs.Weight < 0 || *rs.Weight > 255) {
		return k, nil, invalidInput("Invalid request: Weight must be between 0 and 255 in Change with %s", ctx)
	}
	out := &recordSet{Name: k.name, Type: k.typ, SetIdentifier: k.setID, Weight: rs.Weight, HealthCheckId: rs.HealthCheckId}
	if rs.AliasTarget != nil {
		if rs.TTL != nil || len(rs.ResourceRecords) > 0 {
			return k, nil, invalidInput("Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found more than one in Change with %s", ctx)
		}
		if rs.AliasTarget.DNSName == "" || rs.AliasTarget.HostedZoneId == "" {
			return k, nil, invalidInput("Invalid request: AliasTarget requires DNSName and HostedZoneId in Change with %s", ctx)
		}
		out.AliasTarget = &aliasTarget{
			HostedZoneId:         bareID(rs.AliasTarget.HostedZoneId),
			DNSName:              normName(rs.AliasTarget.DNSName),
			EvaluateTargetHealth: rs.AliasTarget.EvaluateTargetHealth,
		}
		return k, out, nil
	}
	if rs.TTL == nil || len(rs.ResourceRecords) == 0 {
		return k, nil, invalidInput("Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with %s", ctx)
	}
	if *rs.TTL < 0 || *rs.TTL > 2147483647 {
		return k, nil, invalidInput("Invalid request: TTL must be between 0 and 2147483647 in Change with %s", ctx)
	}
	ttl := *rs.TTL
	out.TTL = &ttl
	for _, rr := range rs.ResourceRecords {
		if rr.Value == "" || len(rr.Value) > 4000 {
			return k, nil, invalidInput("Invalid request: a resource record value must have 1 to 4000 characters in Change with %s", ctx)
		}
		out.ResourceRecords = append(out.ResourceRecords, resourceRecord{Value: rr.Value})
	}
	return k, out, nil
}

// valueProblems checks record values the way Route 53 does for common types.
func valueProblems(rs *recordSet) []string {
	var msgs []string
	for _, rr := range rs.ResourceRecords {
		switch rs.Type {
		case "A":
			if a, err := netip.ParseAddr(rr.Value); err != nil || !a.Is4() {
				msgs = append(msgs, fmt.Sprintf("[Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address) encountered with '%s'']", rr.Value))
			}
		case "AAAA":
			if a, err := netip.ParseAddr(rr.Value); err != nil || !a.Is6() {
				msgs = append(msgs, fmt.Sprintf("[Invalid Resource Record: 'FATAL problem: AAAARRDATAIllegalIPv6Address (Value is not a valid IPv6 address) encountered with '%s'']", rr.Value))
			}
		}
	}
	if rs.Type == "CNAME" && len(rs.ResourceRecords) > 1 {
		msgs = append(msgs, fmt.Sprintf("[RRSet of type CNAME with DNS name %s has more than one resource record]", wireName(rs.Name)))
	}
	return msgs
}

func sameRecord(a, b *recordSet) bool {
	if (a.Weight == nil) != (b.Weight == nil) || (a.Weight != nil && *a.Weight != *b.Weight) {
		return false
	}
	if (a.TTL == nil) != (b.TTL == nil) || (a.TTL != nil && *a.TTL != *b.TTL) {
		return false
	}
	if (a.AliasTarget == nil) != (b.AliasTarget == nil) || (a.AliasTarget != nil && *a.AliasTarget != *b.AliasTarget) {
		return false
	}
	if len(a.ResourceRecords) != len(b.ResourceRecords) {
		return false
	}
	av := make([]string, 0, len(a.ResourceRecords))
	bv := make([]string, 0, len(b.ResourceRecords))
	for i := range a.ResourceRecords {
		av = append(av, a.ResourceRecords[i].Value)
		bv = append(bv, b.ResourceRecords[i].Value)
	}
	sort.Strings(av)
	sort.Strings(bv)
	for i := range av {
		if av[i] != bv[i] {
			return false
		}
	}
	return a.HealthCheckId == b.HealthCheckId
}

type changeResponse struct {
	ChangeInfo changeInfo
}

func (r *Route53) changeResourceRecordSets(zoneID string, body []byte) (any, *apiError) {
	zoneID = bareID(zoneID)
	var in changeBatchRequest
	if aerr := decodeXML(body, &in); aerr != nil {
		return nil, aerr
	}
	changes := in.ChangeBatch.Changes
	if len(changes) == 0 {
		return nil, invalidInput("Invalid request: the ChangeBatch must contain at least one change")
	}
	if len(changes) > maxChanges {
		return nil, invalidInput("Invalid request: the ChangeBatch contains more than %d changes", maxChanges)
	}
	type norm struct {
		action string
		key    recordKey
		rs     *recordSet
	}
	ns := make([]norm, 0, len(changes))
	for _, c := range changes {
		k, rs, aerr := normalizeChange(c)
		if aerr != nil {
			return nil, aerr
		}
		ns = append(ns, norm{c.Action, k, rs})
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	z, ok := r.zones[zoneID]
	if !ok {
		return nil, noSuchZone(zoneID)
	}
	work := make(map[recordKey]*recordSet, len(z.records)+len(ns))
	for k, v := range z.records {
		work[k] = v
	}
	var msgs []string
	for _, c := range ns {
		k := c.key
		if !inZone(k.name, z.name) {
			msgs = append(msgs, fmt.Sprintf("RRSet with DNS name %s is not permitted in zone %s", wireName(k.name), wireName(z.name)))
			continue
		}
		msgs = append(msgs, valueProblems(c.rs)...)
		apex := k.name == z.name && (k.typ == "NS" || k.typ == "SOA") && k.setID == ""
		cur, exists := work[k]
		switch c.action {
		case "CREATE":
			if exists {
				msgs = append(msgs, fmt.Sprintf("Tried to create resource record set %s but it already exists", describeKey(k)))
				continue
			}
			work[k] = c.rs
		case "UPSERT":
			work[k] = c.rs
		case "DELETE":
			if !exists {
				msgs = append(msgs, fmt.Sprintf("Tried to delete resource record set %s but it was not found", describeKey(k)))
				continue
			}
			if apex {
				msgs = append(msgs, fmt.Sprintf("A HostedZone must contain at least one %s record for the zone itself.", k.typ))
				continue
			}
			if !sameRecord(cur, c.rs) {
				msgs = append(msgs, fmt.Sprintf("Tried to delete resource record set %s but the values provided do not match the current values", describeKey(k)))
				continue
			}
			delete(work, k)
		}
		if c.action == "DELETE" {
			continue
		}
		// Conflicts with what is at the same name.
		for ok2 := range work {
			if ok2.name != k.name || ok2 == k {
				continue
			}
			if ok2.typ == k.typ && (ok2.setID == "") != (k.setID == "") {
				msgs = append(msgs, fmt.Sprintf("RRSet of type %s with DNS name %s is not permitted because a conflicting RRSet of type %s with the same DNS name already exists in zone %s.", k.typ, wireName(k.name), k.typ, wireName(z.name)))
				break
			}
			if (k.typ == "CNAME") != (ok2.typ == "CNAME") {
				msgs = append(msgs, fmt.Sprintf("RRSet of type CNAME with DNS name %s is not permitted as it conflicts with other records with the same DNS name in zone %s.", wireName(k.name), wireName(z.name)))
				break
			}
		}
	}
	// Aliases into this zone must point at a record that exists.
	for _, c := range ns {
		if c.action == "DELETE" || c.rs.AliasTarget == nil || c.rs.AliasTarget.HostedZoneId != z.id {
			continue
		}
		t := c.rs.AliasTarget.DNSName
		if !inZone(t, z.name) {
			msgs = append(msgs, fmt.Sprintf("Tried to create an alias that targets %s, type %s in zone %s, but the alias target name does not lie within the target zone", wireName(t), c.key.typ, z.id))
			continue
		}
		found := false
		for k2 := range work {
			if k2.name == t && k2.typ == c.key.typ {
				found = true
				break
			}
		}
		if !found {
			msgs = append(msgs, fmt.Sprintf("Tried to create an alias that targets %s, type %s in zone %s, but that target was not found", wireName(t), c.key.typ, z.id))
		}
	}
	if len(msgs) > 0 {
		return nil, &apiError{status: http.StatusBadRequest, code: "InvalidChangeBatch", message: strings.Join(msgs, "; "), messages: msgs}
	}
	z.records = work
	return changeResponse{ChangeInfo: r.newChangeLocked(in.ChangeBatch.Comment)}, nil
}

type listRecordsResponse struct {
	ResourceRecordSets   []recordSet `xml:"ResourceRecordSets>ResourceRecordSet"`
	IsTruncated          bool
	NextRecordName       string `xml:",omitempty"`
	NextRecordType       string `xml:",omitempty"`
	NextRecordIdentifier string `xml:",omitempty"`
	MaxItems             int
}

func (r *Route53) listResourceRecordSets(zoneID string, req *http.Request) (any, *apiError) {
	zoneID = bareID(zoneID)
	q := req.URL.Query()
	max, aerr := parseMaxItems(q.Get("maxitems"), 300, 300)
	if aerr != nil {
		return nil, aerr
	}
	startName, startType, startID := q.Get("name"), q.Get("type"), q.Get("identifier")
	if startType != "" && startName == "" {
		return nil, invalidInput("The input is not valid: type requires name")
	}
	if startID != "" && startType == "" {
		return nil, invalidInput("The input is not valid: identifier requires name and type")
	}
	if startType != "" && !recordTypes[startType] {
		return nil, invalidInput("The input is not valid: record type %q is not valid", startType)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	z, ok := r.zones[zoneID]
	if !ok {
		return nil, noSuchZone(zoneID)
	}
	keys := make([]recordKey, 0, len(z.records))
	for k := range z.records {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return compareKeys(keys[i], keys[j]) < 0 })
	start := 0
	if startName != "" {
		from := recordKey{name: normName(startName), typ: startType, setID: startID}
		start = sort.Search(len(keys), func(i int) bool { return compareKeys(keys[i], from) >= 0 })
	}
	out := listRecordsResponse{ResourceRecordSets: []recordSet{}, MaxItems: max}
	for i := start; i < len(keys); i++ {
		k := keys[i]
		if len(out.ResourceRecordSets) == max {
			out.IsTruncated = true
			out.NextRecordName = wireName(k.name)
			out.NextRecordType = k.typ
			out.NextRecordIdentifier = k.setID
			break
		}
		rs := *z.records[k]
		rs.Name = wireName(rs.Name)
		out.ResourceRecordSets = append(out.ResourceRecordSets, rs)
	}
	return out, nil
}

// ---- snapshot -----------------------------------------------------------------

// Snapshot is the JSON form of the Route 53 state.
type Snapshot struct {
	HostedZones []SnapshotZone `json:"hostedZones"`
}

// SnapshotZone is one hosted zone in a Snapshot.
type SnapshotZone struct {
	ID      string           `json:"id"`
	Name    string           `json:"name"`
	Private bool             `json:"private"`
	Records []SnapshotRecord `json:"records"`
}

// SnapshotRecord is one record set in a Snapshot.
type SnapshotRecord struct {
	Name          string   `json:"name"`
	Type          string   `json:"type"`
	SetIdentifier string   `json:"setIdentifier,omitempty"`
	Weight        *int64   `json:"weight,omitempty"`
	TTL           *int64   `json:"ttl,omitempty"`
	Values        []string `json:"values,omitempty"`
	AliasDNSName  string   `json:"aliasDnsName,omitempty"`
	AliasZoneID   string   `json:"aliasHostedZoneId,omitempty"`
}

// Snapshot returns the state as a JSON-marshalable value.
func (r *Route53) Snapshot() any {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Snapshot{HostedZones: []SnapshotZone{}}
	for _, id := range r.order {
		z := r.zones[id]
		sz := SnapshotZone{ID: z.id, Name: z.name, Private: z.private, Records: []SnapshotRecord{}}
		keys := make([]recordKey, 0, len(z.records))
		for k := range z.records {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return compareKeys(keys[i], keys[j]) < 0 })
		for _, k := range keys {
			rs := z.records[k]
			sr := SnapshotRecord{Name: rs.Name, Type: rs.Type, SetIdentifier: rs.SetIdentifier, Weight: rs.Weight, TTL: rs.TTL}
			for _, v := range rs.ResourceRecords {
				sr.Values = append(sr.Values, v.Value)
			}
			if rs.AliasTarget != nil {
				sr.AliasDNSName, sr.AliasZoneID = rs.AliasTarget.DNSName, rs.AliasTarget.HostedZoneId
			}
			sz.Records = append(sz.Records, sr)
		}
		s.HostedZones = append(s.HostedZones, sz)
	}
	return s
}
