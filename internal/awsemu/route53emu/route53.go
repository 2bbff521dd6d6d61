// Package route53emu emulates Amazon Route 53 hosted zones and record sets
// over the restXml wire protocol, as the real aws-sdk-go-v2 route53 client
// speaks it: CreateHostedZone, GetHostedZone, ListHostedZones(ByName),
// DeleteHostedZone, ChangeResourceRecordSets (simple and weighted records,
// alias targets), ListResourceRecordSets and GetChange.
package route53emu

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// Namespace is the XML namespace of Route 53 requests and responses.
const Namespace = "https://route53.amazonaws.com/doc/2013-04-01/"

const (
	pathPrefix   = "/2013-04-01/"
	maxBodyBytes = 1 << 20
	maxChanges   = 1000
)

// Options configures a Route53.
type Options struct {
	Clock     simclock.Clock // nil means real time
	AccountID string         // default "123456789012"
	// PropagationDelay is how long a change stays PENDING before GetChange
	// reports INSYNC. Zero (the default) means INSYNC at the next GetChange.
	PropagationDelay time.Duration
}

// Route53 is the emulated Route 53 service. It is safe for concurrent use.
type Route53 struct {
	clock     simclock.Clock
	accountID string
	delay     time.Duration

	mu      sync.Mutex
	seq     uint64
	zones   map[string]*zone // by bare id
	order   []string         // zone ids in creation order
	changes map[string]*change
}

var _ http.Handler = (*Route53)(nil)

type realClock struct{}

func (realClock) Now() time.Time { return time.Now().UTC() }

// New returns an empty Route 53.
func New(opts Options) *Route53 {
	if opts.AccountID == "" {
		opts.AccountID = "123456789012"
	}
	return &Route53{
		clock:     opts.Clock,
		accountID: opts.AccountID,
		delay:     opts.PropagationDelay,
		zones:     map[string]*zone{},
		changes:   map[string]*change{},
	}
}

func (r *Route53) now() time.Time {
	if r.clock == nil {
		return realClock{}.Now()
	}
	return r.clock.Now()
}

type zone struct {
	id          string
	name        string // normalised, with a trailing dot
	callerRef   string
	comment     string
	private     bool
	nameServers []string
	records     map[recordKey]*recordSet
}

type recordKey struct {
	name, typ, setID string
}

type change struct {
	id        string
	submitted time.Time
	comment   string
}

// ---- wire shapes --------------------------------------------------------------

type resourceRecord struct {
	Value string
}

type aliasTarget struct {
	HostedZoneId         string
	DNSName              string
	EvaluateTargetHealth bool
}

type recordSet struct {
	Name             string
	Type             string
	SetIdentifier    string           `xml:",omitempty"`
	Weight           *int64           `xml:",omitempty"`
	Region           string           `xml:",omitempty"`
	Failover         string           `xml:",omitempty"`
	MultiValueAnswer *bool            `xml:",omitempty"`
	GeoLocation      *struct{}        `xml:",omitempty"`
	TTL              *int64           `xml:",omitempty"`
	ResourceRecords  []resourceRecord `xml:"ResourceRecords>ResourceRecord"`
	AliasTarget      *aliasTarget     `xml:",omitempty"`
	HealthCheckId    string           `xml:",omitempty"`
}

type changeXML struct {
	Action            string
	ResourceRecordSet recordSet
}

type changeBatchRequest struct {
	XMLName     xml.Name `xml:"ChangeResourceRecordSetsRequest"`
	ChangeBatch struct {
		Comment string
		Changes []changeXML `xml:"Changes>Change"`
	}
}

type createHostedZoneRequest struct {
	XMLName          xml.Name `xml:"CreateHostedZoneRequest"`
	Name             string
	CallerReference  string
	HostedZoneConfig *struct {
		Comment     string
		PrivateZone bool
	}
	VPC *struct {
		VPCRegion string
		VPCId     string
	}
	DelegationSetId string
}

type hostedZoneConfig struct {
	Comment     string `xml:",omitempty"`
	PrivateZone bool
}

type hostedZoneXML struct {
	Id                     string
	Name                   string
	CallerReference        string
	Config                 hostedZoneConfig
	ResourceRecordSetCount int64
}

type changeInfo struct {
	Id          string
	Status      string
	SubmittedAt string
	Comment     string `xml:",omitempty"`
}

type delegationSet struct {
	NameServers []string `xml:"NameServers>NameServer"`
}

// ---- errors ----------------------------------------------------------------

type apiError struct {
	status   int
	code     string
	message  string
	messages []string // InvalidChangeBatch messages
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func invalidInput(format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, "InvalidInput", format, args...)
}

func noSuchZone(id string) *apiError {
	return errf(http.StatusNotFound, "NoSuchHostedZone", "No hosted zone found with ID: %s", id)
}

// WriteError writes a restXml ErrorResponse.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	reqID := newRequestID()
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	buf.WriteString(`<ErrorResponse xmlns="` + Namespace + `"><Error><Type>` + typ + `</Type><Code>`)
	_ = xml.EscapeText(&buf, []byte(code))
	buf.WriteString(`</Code><Message>`)
	_ = xml.EscapeText(&buf, []byte(message))
	buf.WriteString(`</Message></Error><RequestId>` + reqID + `</RequestId></ErrorResponse>`)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", reqID)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeInvalidChangeBatch writes the InvalidChangeBatch document Route 53
// sends for rejected change batches: one Message per problem.
func writeInvalidChangeBatch(w http.ResponseWriter, messages []string) {
	reqID := newRequestID()
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	buf.WriteString(`<InvalidChangeBatch xmlns="` + Namespace + `"><Messages>`)
	for _, m := range messages {
		buf.WriteString("<Message>")
		_ = xml.EscapeText(&buf, []byte(m))
		buf.WriteString("</Message>")
	}
	buf.WriteString(`</Messages><RequestId>` + reqID + `</RequestId></InvalidChangeBatch>`)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", reqID)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(buf.Bytes())
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	if e.code == "InvalidChangeBatch" && len(e.messages) > 0 {
		writeInvalidChangeBatch(w, e.messages)
		return
	}
	WriteError(w, e.status, e.code, e.message)
}

func writeXML(w http.ResponseWriter, status int, root string, v any) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	start := xml.StartElement{Name: xml.Name{Local: root}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: Namespace}}}
	if err := enc.EncodeElement(v, start); err != nil {
		WriteError(w, http.StatusInternalServerError, "InternalFailure", fmt.Sprintf("encode %s: %v", root, err))
		return
	}
	if err := enc.Flush(); err != nil {
		WriteError(w, http.StatusInternalServerError, "InternalFailure", fmt.Sprintf("encode %s: %v", root, err))
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", newRequestID())
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// ---- routing ------------------------------------------------------------------

// ServeHTTP handles one restXml request under /2013-04-01/.
func (r *Route53) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	path := req.URL.Path
	if !strings.HasPrefix(path, pathPrefix) {
		WriteError(w, http.StatusNotFound, "UnknownOperation", "no Route 53 operation at "+path)
		return
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(path, pathPrefix), "/"), "/")
	var (
		status int
		root   string
		out    any
		aerr   *apiError
	)
	m := req.Method
	switch {
	case len(parts) == 1 && parts[0] == "hostedzone" && m == http.MethodPost:
		var body []byte
		body, aerr = readBody(w, req)
		if aerr == nil {
			status, root = http.StatusCreated, "CreateHostedZoneResponse"
			var loc string
			out, loc, aerr = r.createHostedZone(body)
			if aerr == nil {
				w.Header().Set("Location", "https://route53.amazonaws.com/2013-04-01"+loc)
			}
		}
	case len(parts) == 1 && parts[0] == "hostedzone" && m == http.MethodGet:
		status, root = http.StatusOK, "ListHostedZonesResponse"
		out, aerr = r.listHostedZones(req)
	case len(parts) == 1 && parts[0] == "hostedzonesbyname" && m == http.MethodGet:
		status, root = http.StatusOK, "ListHostedZonesByNameResponse"
		out, aerr = r.listHostedZonesByName(req)
	case len(parts) == 1 && parts[0] == "hostedzonecount" && m == http.MethodGet:
		r.mu.Lock()
		n := len(r.zones)
		r.mu.Unlock()
		status, root = http.StatusOK, "GetHostedZoneCountResponse"
		out = struct{ HostedZoneCount int }{n}
	case len(parts) == 2 && parts[0] == "hostedzone" && m == http.MethodGet:
		status, root = http.StatusOK, "GetHostedZoneResponse"
		out, aerr = r.getHostedZone(parts[1])
	case len(parts) == 2 && parts[0] == "hostedzone" && m == http.MethodDelete:
		status, root = http.StatusOK, "DeleteHostedZoneResponse"
		out, aerr = r.deleteHostedZone(parts[1])
	case len(parts) == 3 && parts[0] == "hostedzone" && parts[2] == "rrset" && m == http.MethodPost:
		var body []byte
		body, aerr = readBody(w, req)
		if aerr == nil {
			status, root = http.StatusOK, "ChangeResourceRecordSetsResponse"
			out, aerr = r.changeResourceRecordSets(parts[1], body)
		}
	case len(parts) == 3 && parts[0] == "hostedzone" && parts[2] == "rrset" && m == http.MethodGet:
		status, root = http.StatusOK, "ListResourceRecordSetsResponse"
		out, aerr = r.listResourceRecordSets(parts[1], req)
	case len(parts) == 2 && parts[0] == "change" && m == http.MethodGet:
		status, root = http.StatusOK, "GetChangeResponse"
		out, aerr = r.getChange(parts[1])
	default:
		aerr = errf(http.StatusNotFound, "UnknownOperation", "no Route 53 operation for %s %s", m, path)
	}
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	writeXML(w, status, root, out)
}

func readBody(w http.ResponseWriter, req *http.Request) ([]byte, *apiError) {
	if req.Body == nil {
		return nil, invalidInput("a request body is required")
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, invalidInput("request body exceeds %d bytes", maxBodyBytes)
		}
		return nil, invalidInput("read request body: %v", err)
	}
	return b, nil
}

func decodeXML(body []byte, v any) *apiError {
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = true
	if err := dec.Decode(v); err != nil {
		return invalidInput("Could not parse the request body as XML: %v", err)
	}
	return nil
}

// bareID strips the "/hostedzone/" or "/change/" prefix an id may carry.
func bareID(id string) string {
	if i := strings.LastIndex(id, "/"); i >= 0 {
		return id[i+1:]
	}
	return id
}

// ---- names ---------------------------------------------------------------

// normName lowercases a DNS name, adds the trailing dot and turns Route 53's
// octal escapes (\052 for '*') back into characters.
func normName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if strings.Contains(s, `\`) {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if s[i] == '\\' && i+4 <= len(s) && isOctal(s[i+1:i+4]) {
				v := (s[i+1]-'0')*64 + (s[i+2]-'0')*8 + (s[i+3] - '0')
				b.WriteByte(v)
				i += 3
				continue
			}
			b.WriteByte(s[i])
		}
		s = b.String()
	}
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

func isOctal(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < '0' || s[i] > '7' {
			return false
		}
	}
	return s[0] <= '3'
}

// wireName escapes a stored name as Route 53 returns it ('*' as \052).
func wireName(s string) string {
	if !strings.ContainsAny(s, "*") {
		return s
	}
	return strings.ReplaceAll(s, "*", `\052`)
}

func validName(s string) bool {
	if s == "." {
		return true
	}
	if len(s) > 255 || !strings.HasSuffix(s, ".") {
		return false
	}
	for _, l := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if c <= ' ' || c >= 0x7f {
				return false
			}
		}
	}
	return true
}

func inZone(name, zoneName string) bool {
	return name == zoneName || strings.HasSuffix(name, "."+zoneName)
}

// compareNames orders DNS names as Route 53 lists them: by labels reversed
// (com.example.www), label by label.
func compareNames(a, b string) int {
	la := strings.Split(strings.TrimSuffix(a, "."), ".")
	lb := strings.Split(strings.TrimSuffix(b, "."), ".")
	for i, j := len(la)-1, len(lb)-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
		if c := strings.Compare(la[i], lb[j]); c != 0 {
			return c
		}
	}
	return len(la) - len(lb)
}

func compareKeys(a, b recordKey) int {
	if c := compareNames(a.name, b.name); c != 0 {
		return c
	}
	if c := strings.Compare(a.typ, b.typ); c != 0 {
		return c
	}
	return strings.Compare(a.setID, b.setID)
}

// ---- ids ----------------------------------------------------------------

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func (r *Route53) newID(prefix string) string {
	r.seq++
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%s/%d", prefix, r.accountID, r.seq)
	v := h.Sum64()
	var b strings.Builder
	b.WriteString(prefix)
	for i := 0; i < 20; i++ {
		b.WriteByte(idAlphabet[v%uint64(len(idAlphabet))])
		v /= uint64(len(idAlphabet))
		if v == 0 {
			v = h.Sum64() + uint64(i+1)*0x9e3779b97f4a7c15
		}
	}
	return b.String()
}

func (r *Route53) newChangeLocked(comment string) changeInfo {
	c := &change{id: r.newID("C"), submitted: r.now(), comment: comment}
	r.changes[c.id] = c
	return changeInfo{Id: "/change/" + c.id, Status: "PENDING", SubmittedAt: timestamp(c.submitted), Comment: comment}
}

// ---- hosted zones -------------------------------------------------------------

func (z *zone) xml() hostedZoneXML {
	return hostedZoneXML{
		Id:                     "/hostedzone/" + z.id,
		Name:                   wireName(z.name),
		CallerReference:        z.callerRef,
		Config:                 hostedZoneConfig{Comment: z.comment, PrivateZone: z.private},
		ResourceRecordSetCount: int64(len(z.records)),
	}
}

type createHostedZoneResponse struct {
	HostedZone    hostedZoneXML
	ChangeInfo    changeInfo
	DelegationSet *delegationSet `xml:",omitempty"`
	VPC           *struct {
		VPCRegion string
		VPCId     string
	} `xml:",omitempty"`
}

func (r *Route53) createHostedZone(body []byte) (any, string, *apiError) {
	var in createHostedZoneRequest
	if aerr := decodeXML(body, &in); aerr != nil {
		return nil, "", aerr
	}
	if in.Name == "" {
		return nil, "", invalidInput("Name is required")
	}
	if in.CallerReference == "" || len(in.CallerReference) > 128 {
		return nil, "", invalidInput("CallerReference is required and must be at most 128 characters")
	}
	name := normName(in.Name)
	if !validName(name) || name == "." {
		return nil, "", errf(http.StatusBadRequest, "InvalidDomainName", "%s is reserved by AWS or is not a valid domain name", in.Name)
	}
	private := in.VPC != nil && in.VPC.VPCId != ""
	if in.HostedZoneConfig != nil && in.HostedZoneConfig.PrivateZone && !private {
		return nil, "", invalidInput("A private hosted zone requires a VPC")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, z := range r.zones {
		if z.callerRef == in.CallerReference {
			return nil, "", errf(http.StatusConflict, "HostedZoneAlreadyExists", "A hosted zone has already been created with the specified caller reference.")
		}
	}
	z := &zone{id: r.newID("Z"), name: name, callerRef: in.CallerReference, private: private, records: map[recordKey]*recordSet{}}
	if in.HostedZoneConfig != nil {
		z.comment = in.HostedZoneConfig.Comment
	}
	n := r.seq
	z.nameServers = []string{
		fmt.Sprintf("ns-%d.awsdns-%02d.com.", n%2048, n%64),
		fmt.Sprintf("ns-%d.awsdns-%02d.net.", (n+512)%2048, (n+16)%64),
		fmt.Sprintf("ns-%d.awsdns-%02d.org.", (n+1024)%2048, (n+32)%64),
		fmt.Sprintf("ns-%d.awsdns-%02d.co.uk.", (n+1536)%2048, (n+48)%64),
	}
	ttlNS, ttlSOA := int64(172800), int64(900)
	var ns []resourceRecord
	for _, s := range z.nameServers {
		ns = append(ns, resourceRecord{Value: s})
	}
	z.records[recordKey{name, "NS", ""}] = &recordSet{Name: name, Type: "NS", TTL: &ttlNS, ResourceRecords: ns}
	z.records[recordKey{name, "SOA", ""}] = &recordSet{Name: name, Type: "SOA", TTL: &ttlSOA, ResourceRecords: []resourceRecord{{
		Value: z.nameServers[0] + " awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"}}}
	r.zones[z.id] = z
	r.order = append(r.order, z.id)
	out := createHostedZoneResponse{HostedZone: z.xml(), ChangeInfo: r.newChangeLocked("")}
	if private {
		out.VPC = in.VPC
	} else {
		out.DelegationSet = &delegationSet{NameServers: trimDots(z.nameServers)}
	}
	return out, "/hostedzone/" + z.id, nil
}

func trimDots(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.TrimSuffix(s, ".")
	}
	return out
}

type getHostedZoneResponse struct {
	HostedZone    hostedZoneXML
	DelegationSet *delegationSet `xml:",omitempty"`
}

func (r *Route53) getHostedZone(id string) (any, *apiError) {
	id = bareID(id)
	r.mu.Lock()
	defer r.mu.Unlock()
	z, ok := r.zones[id]
	if !ok {
		return nil, noSuchZone(id)
	}
	out := getHostedZoneResponse{HostedZone: z.xml()}
	if !z.private {
		out.DelegationSet = &delegationSet{NameServers: trimDots(z.nameServers)}
	}
	return out, nil
}

func (r *Route53) deleteHostedZone(id string) (any, *apiError) {
	id = bareID(id)
	r.mu.Lock()
	defer r.mu.Unlock()
	z, ok := r.zones[id]
	if !ok {
		return nil, noSuchZone(id)
	}
	for k := range z.records {
		if !(k.name == z.name && (k.typ == "NS" || k.typ == "SOA")) {
			return nil, errf(http.StatusBadRequest, "HostedZoneNotEmpty", "The specified hosted zone contains non-required resource record sets and so cannot be deleted.")
		}
	}
	delete(r.zones, id)
	for i, x := range r.order {
		if x == id {
			r.order = append(r.order[:i:i], r.order[i+1:]...)
			break
		}
	}
	return struct{ ChangeInfo changeInfo }{r.newChangeLocked("")}, nil
}

func parseMaxItems(s string, def, hi int) (int, *apiError) {
	if s == "" {
		return def, nil
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' || n > 1e6 {
			return 0, invalidInput("maxitems must be a positive integer, got %q", s)
		}
		n = n*10 + int(c-'0')
	}
	if n < 1 {
		return 0, invalidInput("maxitems must be a positive integer, got %q", s)
	}
	if n > hi {
		n = hi
	}
	return n, nil
}

type listHostedZonesResponse struct {
	HostedZones []hostedZoneXML `xml:"HostedZones>HostedZone"`
	Marker      string
	IsTruncated bool
	NextMarker  string `xml:",omitempty"`
	MaxItems    int
}

func (r *Route53) listHostedZones(req *http.Request) (any, *apiError) {
	q := req.URL.Query()
	max, aerr := parseMaxItems(q.Get("maxitems"), 100, 100)
	if aerr != nil {
		return nil, aerr
	}
	marker := q.Get("marker")
	r.mu.Lock()
	defer r.mu.Unlock()
	start := 0
	if marker != "" {
		start = -1
		for i, id := range r.order {
			if id == marker {
				start = i
			}
		}
		if start < 0 {
			return nil, invalidInput("The marker %q is not valid", marker)
		}
	}
	out := listHostedZonesResponse{HostedZones: []hostedZoneXML{}, Marker: marker, MaxItems: max}
	for i := start; i < len(r.order); i++ {
		if len(out.HostedZones) == max {
			out.IsTruncated = true
			out.NextMarker = r.order[i]
			break
		}
		out.HostedZones = append(out.HostedZones, r.zones[r.order[i]].xml())
	}
	return out, nil
}

type listHostedZonesByNameResponse struct {
	HostedZones      []hostedZoneXML `xml:"HostedZones>HostedZone"`
	DNSName          string          `xml:",omitempty"`
	HostedZoneId     string          `xml:",omitempty"`
	IsTruncated      bool
	NextDNSName      string `xml:",omitempty"`
	NextHostedZoneId string `xml:",omitempty"`
	MaxItems         int
}

func (r *Route53) listHostedZonesByName(req *http.Request) (any, *apiError) {
	q := req.URL.Query()
	max, aerr := parseMaxItems(q.Get("maxitems"), 100, 100)
	if aerr != nil {
		return nil, aerr
	}
	dnsName := q.Get("dnsname")
	startID := bareID(q.Get("hostedzoneid"))
	if startID != "" && dnsName == "" {
		return nil, invalidInput("hostedzoneid requires dnsname")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	zs := make([]*zone, 0, len(r.zones))
	for _, id := range r.order {
		zs = append(zs, r.zones[id])
	}
	sort.SliceStable(zs, func(i, j int) bool {
		if c := compareNames(zs[i].name, zs[j].name); c != 0 {
			return c < 0
		}
		return zs[i].id < zs[j].id
	})
	out := listHostedZonesByNameResponse{HostedZones: []hostedZoneXML{}, MaxItems: max}
	if dnsName != "" {
		out.DNSName = dnsName
		out.HostedZoneId = startID
	}
	start := normName(dnsName)
	for _, z := range zs {
		if dnsName != "" {
			c := compareNames(z.name, start)
			if c < 0 || (c == 0 && startID != "" && z.id < startID) {
				continue
			}
		}
		if len(out.HostedZones) == max {
			out.IsTruncated = true
			out.NextDNSName = z.name
			out.NextHostedZoneId = z.id
			break
		}
		out.HostedZones = append(out.HostedZones, z.xml())
	}
	return out, nil
}

// ---- changes ---------------------------------------------------------------

func (r *Route53) getChange(id string) (any, *apiError) {
	id = bareID(id)
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.changes[id]
	if !ok {
		return nil, errf(http.StatusNotFound, "NoSuchChange", "A change with the specified change ID does not exist: %s", id)
	}
	status := "PENDING"
	if !r.now().Before(c.submitted.Add(r.delay)) {
		status = "INSYNC"
	}
	return struct{ ChangeInfo changeInfo }{changeInfo{Id: "/change/" + c.id, Status: status, SubmittedAt: timestamp(c.submitted), Comment: c.comment}}, nil
}
