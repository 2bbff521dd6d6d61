package route53emu

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type fixture struct {
	r53    *Route53
	clock  *simclock.Manual
	client *route53.Client
}

func newFixture(t testing.TB, delay time.Duration) *fixture {
	t.Helper()
	clock := simclock.NewManual(epoch)
	r := New(Options{Clock: clock, PropagationDelay: delay})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	// The default retryer stays on: the SDK sometimes reports "use of closed
	// network connection" while reading a 200 response after a GC
	// (aws/aws-sdk-go-v2#1825, #2737), which it retries.
	client := route53.New(route53.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	})
	return &fixture{r53: r, clock: clock, client: client}
}

func (f *fixture) zone(t testing.TB, name string) string {
	t.Helper()
	out, err := f.client.CreateHostedZone(context.Background(), &route53.CreateHostedZoneInput{
		Name:            aws.String(name),
		CallerReference: aws.String("ref-" + name),
	})
	if err != nil {
		t.Fatalf("CreateHostedZone: %v", err)
	}
	return aws.ToString(out.HostedZone.Id)
}

func weighted(action r53types.ChangeAction, name, setID string, weight int64, ip string) r53types.Change {
	return r53types.Change{Action: action, ResourceRecordSet: &r53types.ResourceRecordSet{
		Name: aws.String(name), Type: r53types.RRTypeA, SetIdentifier: aws.String(setID), Weight: aws.Int64(weight),
		TTL: aws.Int64(60), ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(ip)}},
	}}
}

func (f *fixture) change(zoneID string, changes ...r53types.Change) (*route53.ChangeResourceRecordSetsOutput, error) {
	return f.client.ChangeResourceRecordSets(context.Background(), &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID),
		ChangeBatch:  &r53types.ChangeBatch{Changes: changes},
	})
}

func (f *fixture) list(t *testing.T, zoneID string) []r53types.ResourceRecordSet {
	t.Helper()
	out, err := f.client.ListResourceRecordSets(context.Background(), &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID)})
	if err != nil {
		t.Fatalf("ListResourceRecordSets: %v", err)
	}
	return out.ResourceRecordSets
}

func TestHostedZoneLifecycle(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	out, err := f.client.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{
		Name: aws.String("Example.COM"), CallerReference: aws.String("r1"),
		HostedZoneConfig: &r53types.HostedZoneConfig{Comment: aws.String("demo")},
	})
	if err != nil {
		t.Fatalf("CreateHostedZone: %v", err)
	}
	id := aws.ToString(out.HostedZone.Id)
	if !strings.HasPrefix(id, "/hostedzone/Z") {
		t.Errorf("Id = %q, want /hostedzone/Z...", id)
	}
	if got := aws.ToString(out.HostedZone.Name); got != "example.com." {
		t.Errorf("Name = %q, want example.com.", got)
	}
	if out.ChangeInfo == nil || out.ChangeInfo.Status != r53types.ChangeStatusPending {
		t.Errorf("ChangeInfo = %+v, want PENDING", out.ChangeInfo)
	}
	if out.DelegationSet == nil || len(out.DelegationSet.NameServers) != 4 {
		t.Errorf("DelegationSet = %+v, want 4 name servers", out.DelegationSet)
	}
	if !strings.HasSuffix(aws.ToString(out.Location), id) {
		t.Errorf("Location = %q, want it to end with %s", aws.ToString(out.Location), id)
	}

	got, err := f.client.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(id)})
	if err != nil {
		t.Fatalf("GetHostedZone: %v", err)
	}
	if aws.ToString(got.HostedZone.Config.Comment) != "demo" || aws.ToInt64(got.HostedZone.ResourceRecordSetCount) != 2 {
		t.Errorf("HostedZone = %+v, want comment demo and 2 records (NS, SOA)", got.HostedZone)
	}

	_, err = f.client.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("other.com"), CallerReference: aws.String("r1")})
	var exists *r53types.HostedZoneAlreadyExists
	if !errors.As(err, &exists) {
		t.Errorf("duplicate caller reference: err = %T %v, want HostedZoneAlreadyExists", err, err)
	}

	f.zone(t, "b.example.org")
	f.zone(t, "a.example.org")
	byName, err := f.client.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{})
	if err != nil {
		t.Fatalf("ListHostedZonesByName: %v", err)
	}
	var names []string
	for _, z := range byName.HostedZones {
		names = append(names, aws.ToString(z.Name))
	}
	if want := "example.com. a.example.org. b.example.org."; strings.Join(names, " ") != want {
		t.Errorf("zones by name = %v, want %s", names, want)
	}
	p := route53.NewListHostedZonesPaginator(f.client, &route53.ListHostedZonesInput{MaxItems: aws.Int32(2)})
	n := 0
	for p.HasMorePages() {
		pg, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListHostedZones: %v", err)
		}
		n += len(pg.HostedZones)
	}
	if n != 3 {
		t.Errorf("paged %d zones, want 3", n)
	}

	_, err = f.client.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String("/hostedzone/ZNOPE")})
	var nsz *r53types.NoSuchHostedZone
	if !errors.As(err, &nsz) {
		t.Fatalf("err = %T %v, want NoSuchHostedZone", err, err)
	}
	if !strings.Contains(nsz.ErrorMessage(), "ZNOPE") {
		t.Errorf("message = %q, want the zone id", nsz.ErrorMessage())
	}

	if _, err := f.change(id, weighted(r53types.ChangeActionCreate, "www.example.com", "x", 1, "10.0.0.1")); err != nil {
		t.Fatalf("change: %v", err)
	}
	_, err = f.client.DeleteHostedZone(ctx, &route53.DeleteHostedZoneInput{Id: aws.String(id)})
	var notEmpty *r53types.HostedZoneNotEmpty
	if !errors.As(err, &notEmpty) {
		t.Errorf("delete non-empty zone: err = %T %v, want HostedZoneNotEmpty", err, err)
	}
}

func TestWeightedRecordsRoundTrip(t *testing.T) {
	f := newFixture(t, 30*time.Second)
	ctx := context.Background()
	zoneID := f.zone(t, "example.com")

	out, err := f.change(zoneID,
		weighted(r53types.ChangeActionCreate, "app.example.com", "blue", 100, "10.0.0.1"),
		weighted(r53types.ChangeActionCreate, "app.example.com", "green", 0, "10.0.0.2"),
		r53types.Change{Action: r53types.ChangeActionCreate, ResourceRecordSet: &r53types.ResourceRecordSet{
			Name: aws.String("api.example.com"), Type: r53types.RRTypeA,
			AliasTarget: &r53types.AliasTarget{DNSName: aws.String("web-1.us-east-1.elb.amazonaws.com"), HostedZoneId: aws.String("Z35SXDOTRQ7X7K"), EvaluateTargetHealth: true},
		}},
		r53types.Change{Action: r53types.ChangeActionCreate, ResourceRecordSet: &r53types.ResourceRecordSet{
			Name: aws.String("*.example.com"), Type: r53types.RRTypeCname, TTL: aws.Int64(300),
			ResourceRecords: []r53types.ResourceRecord{{Value: aws.String("app.example.com")}},
		}},
	)
	if err != nil {
		t.Fatalf("ChangeResourceRecordSets: %v", err)
	}
	changeID := aws.ToString(out.ChangeInfo.Id)
	if out.ChangeInfo.Status != r53types.ChangeStatusPending {
		t.Errorf("status = %s, want PENDING", out.ChangeInfo.Status)
	}
	gc, err := f.client.GetChange(ctx, &route53.GetChangeInput{Id: aws.String(changeID)})
	if err != nil {
		t.Fatalf("GetChange: %v", err)
	}
	if gc.ChangeInfo.Status != r53types.ChangeStatusPending {
		t.Errorf("status before propagation = %s, want PENDING", gc.ChangeInfo.Status)
	}
	f.clock.Advance(30 * time.Second)
	gc, err = f.client.GetChange(ctx, &route53.GetChangeInput{Id: aws.String(changeID)})
	if err != nil {
		t.Fatalf("GetChange: %v", err)
	}
	if gc.ChangeInfo.Status != r53types.ChangeStatusInsync {
		t.Errorf("status after propagation = %s, want INSYNC", gc.ChangeInfo.Status)
	}

	// Route 53 order: labels reversed (com.example, com.example.*,
	// com.example.api, com.example.app), then type, then set identifier.
	type row struct{ name, typ, id string }
	want := []row{
		{"example.com.", "NS", ""}, {"example.com.", "SOA", ""},
		{`\052.example.com.`, "CNAME", ""},
		{"api.example.com.", "A", ""},
		{"app.example.com.", "A", "blue"}, {"app.example.com.", "A", "green"},
	}
	recs := f.list(t, zoneID)
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d: %+v", len(recs), len(want), recs)
	}
	for i, w := range want {
		got := row{aws.ToString(recs[i].Name), string(recs[i].Type), aws.ToString(recs[i].SetIdentifier)}
		if got != w {
			t.Errorf("record %d = %v, want %v", i, got, w)
		}
	}
	if a := recs[3].AliasTarget; a == nil || aws.ToString(a.DNSName) != "web-1.us-east-1.elb.amazonaws.com." || !a.EvaluateTargetHealth || recs[3].TTL != nil {
		t.Errorf("alias record = %+v, want alias to the ELB with no TTL", recs[3])
	}
	if aws.ToInt64(recs[4].Weight) != 100 || aws.ToInt64(recs[5].Weight) != 0 {
		t.Errorf("weights = %d/%d, want 100/0", aws.ToInt64(recs[4].Weight), aws.ToInt64(recs[5].Weight))
	}

	// Shift the weights with UPSERT.
	if _, err := f.change(zoneID,
		weighted(r53types.ChangeActionUpsert, "app.example.com", "blue", 20, "10.0.0.1"),
		weighted(r53types.ChangeActionUpsert, "app.example.com", "green", 80, "10.0.0.2"),
	); err != nil {
		t.Fatalf("UPSERT: %v", err)
	}
	recs = f.list(t, zoneID)
	if aws.ToInt64(recs[4].Weight) != 20 || aws.ToInt64(recs[5].Weight) != 80 {
		t.Errorf("weights after UPSERT = %d/%d, want 20/80", aws.ToInt64(recs[4].Weight), aws.ToInt64(recs[5].Weight))
	}

	// DELETE must match the current values exactly.
	_, err = f.change(zoneID, weighted(r53types.ChangeActionDelete, "app.example.com", "blue", 100, "10.0.0.1"))
	var icb *r53types.InvalidChangeBatch
	if !errors.As(err, &icb) {
		t.Fatalf("stale DELETE: err = %T %v, want InvalidChangeBatch", err, err)
	}
	if len(icb.Messages) != 1 || !strings.Contains(icb.Messages[0], "do not match the current values") {
		t.Errorf("messages = %q, want a values mismatch", icb.Messages)
	}
	if _, err := f.change(zoneID, weighted(r53types.ChangeActionDelete, "app.example.com", "blue", 20, "10.0.0.1")); err != nil {
		t.Fatalf("DELETE: %v", err)
	}
	recs = f.list(t, zoneID)
	if len(recs) != 5 || aws.ToString(recs[4].SetIdentifier) != "green" {
		t.Errorf("after DELETE records = %+v, want green left", recs)
	}

	// Paging one record at a time visits every record in the same order.
	var paged []string
	in := &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID), MaxItems: aws.Int32(1)}
	for i := 0; i < 10; i++ {
		pg, err := f.client.ListResourceRecordSets(ctx, in)
		if err != nil {
			t.Fatalf("ListResourceRecordSets page: %v", err)
		}
		for _, r := range pg.ResourceRecordSets {
			paged = append(paged, aws.ToString(r.Name)+"/"+string(r.Type)+"/"+aws.ToString(r.SetIdentifier))
		}
		if !pg.IsTruncated {
			break
		}
		in.StartRecordName, in.StartRecordType, in.StartRecordIdentifier = pg.NextRecordName, pg.NextRecordType, pg.NextRecordIdentifier
	}
	if want := `example.com./NS/ example.com./SOA/ \052.example.com./CNAME/ api.example.com./A/ app.example.com./A/green`; strings.Join(paged, " ") != want {
		t.Errorf("paged = %v, want %s", paged, want)
	}
}

func TestInvalidChangeBatches(t *testing.T) {
	f := newFixture(t, 0)
	zoneID := f.zone(t, "example.com")
	if _, err := f.change(zoneID, weighted(r53types.ChangeActionCreate, "app.example.com", "blue", 1, "10.0.0.1")); err != nil {
		t.Fatalf("seed: %v", err)
	}
	simple := func(action r53types.ChangeAction, name string, typ r53types.RRType, value string) r53types.Change {
		return r53types.Change{Action: action, ResourceRecordSet: &r53types.ResourceRecordSet{
			Name: aws.String(name), Type: typ, TTL: aws.Int64(60), ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(value)}}}}
	}
	tests := []struct {
		name    string
		changes []r53types.Change
		want    string
	}{
		{"create existing", []r53types.Change{weighted(r53types.ChangeActionCreate, "app.example.com", "blue", 1, "10.0.0.1")}, "but it already exists"},
		{"delete missing", []r53types.Change{simple(r53types.ChangeActionDelete, "nope.example.com", r53types.RRTypeA, "10.0.0.1")}, "but it was not found"},
		{"outside zone", []r53types.Change{simple(r53types.ChangeActionCreate, "www.example.org", r53types.RRTypeA, "10.0.0.1")}, "is not permitted in zone example.com."},
		{"weighted and simple mixed", []r53types.Change{simple(r53types.ChangeActionCreate, "app.example.com", r53types.RRTypeA, "10.0.0.9")}, "conflicting RRSet"},
		{"cname beside A", []r53types.Change{simple(r53types.ChangeActionCreate, "app.example.com", r53types.RRTypeCname, "x.example.net")}, "conflicts with other records"},
		{"bad ipv4", []r53types.Change{simple(r53types.ChangeActionCreate, "ip.example.com", r53types.RRTypeA, "300.1.1.1")}, "ARRDATAIllegalIPv4Address"},
		{"delete apex SOA", []r53types.Change{{Action: r53types.ChangeActionDelete, ResourceRecordSet: &r53types.ResourceRecordSet{Name: aws.String("example.com"), Type: r53types.RRTypeSoa}}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.change(zoneID, tc.changes...)
			if tc.want == "" {
				// Missing TTL and records is a shape problem: InvalidInput.
				var ii *r53types.InvalidInput
				if !errors.As(err, &ii) {
					t.Fatalf("err = %T %v, want InvalidInput", err, err)
				}
				return
			}
			var icb *r53types.InvalidChangeBatch
			if !errors.As(err, &icb) {
				t.Fatalf("err = %T %v, want InvalidChangeBatch", err, err)
			}
			if len(icb.Messages) == 0 || !strings.Contains(strings.Join(icb.Messages, "|"), tc.want) {
				t.Errorf("messages = %q, want one containing %q", icb.Messages, tc.want)
			}
		})
	}
	// A failed batch changes nothing, even its valid parts.
	_, err := f.change(zoneID,
		simple(r53types.ChangeActionCreate, "ok.example.com", r53types.RRTypeA, "10.0.0.3"),
		simple(r53types.ChangeActionDelete, "nope.example.com", r53types.RRTypeA, "10.0.0.1"))
	if err == nil {
		t.Fatalf("batch with a bad change succeeded")
	}
	for _, r := range f.list(t, zoneID) {
		if aws.ToString(r.Name) == "ok.example.com." {
			t.Errorf("record from a failed batch was stored")
		}
	}
	// Shape errors: weight without set identifier.
	_, err = f.change(zoneID, r53types.Change{Action: r53types.ChangeActionCreate, ResourceRecordSet: &r53types.ResourceRecordSet{
		Name: aws.String("w.example.com"), Type: r53types.RRTypeA, Weight: aws.Int64(1), TTL: aws.Int64(1),
		ResourceRecords: []r53types.ResourceRecord{{Value: aws.String("10.0.0.1")}}}})
	var ii *r53types.InvalidInput
	if !errors.As(err, &ii) {
		t.Errorf("weight without SetIdentifier: err = %T %v, want InvalidInput", err, err)
	}
	// Unknown zone.
	_, err = f.change("ZNOPE", simple(r53types.ChangeActionCreate, "x.example.com", r53types.RRTypeA, "10.0.0.1"))
	var nsz *r53types.NoSuchHostedZone
	if !errors.As(err, &nsz) {
		t.Errorf("unknown zone: err = %T %v, want NoSuchHostedZone", err, err)
	}
}

func TestMalformedRequests(t *testing.T) {
	r := New(Options{Clock: simclock.NewManual(epoch)})
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantCode                 string
	}{
		{"bad xml", http.MethodPost, "/2013-04-01/hostedzone", "<CreateHostedZoneRequest><Name>", 400, "InvalidInput"},
		{"empty body", http.MethodPost, "/2013-04-01/hostedzone", "", 400, "InvalidInput"},
		{"unknown path", http.MethodGet, "/2013-04-01/nothing", "", 404, "UnknownOperation"},
		{"bad maxitems", http.MethodGet, "/2013-04-01/hostedzone?maxitems=x", "", 400, "InvalidInput"},
		{"no such change", http.MethodGet, "/2013-04-01/change/C1", "", 404, "NoSuchChange"},
		{"too large", http.MethodPost, "/2013-04-01/hostedzone", strings.Repeat("a", maxBodyBytes+1), 400, "InvalidInput"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rr := httptest.NewRecorder()
			r.ServeHTTP(rr, httptest.NewRequest(tc.method, tc.path, bytes.NewBufferString(tc.body)))
			if rr.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", rr.Code, tc.wantStatus)
			}
			if !strings.Contains(rr.Body.String(), "<Code>"+tc.wantCode+"</Code>") {
				t.Errorf("body = %s, want code %s", rr.Body.String(), tc.wantCode)
			}
		})
	}
}

func TestChangeWaiterAndByNameStart(t *testing.T) {
	f := newFixture(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	zoneID := f.zone(t, "example.com")
	out, err := f.change(zoneID, weighted(r53types.ChangeActionUpsert, "app.example.com", "blue", 10, "10.0.0.1"))
	if err != nil {
		t.Fatalf("change: %v", err)
	}
	// With no propagation delay the first GetChange is INSYNC, so the SDK
	// waiter returns without sleeping.
	start := time.Now()
	if err := route53.NewResourceRecordSetsChangedWaiter(f.client).Wait(ctx, &route53.GetChangeInput{Id: out.ChangeInfo.Id}, time.Minute); err != nil {
		t.Fatalf("ResourceRecordSetsChangedWaiter: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("waiter took %v, want an immediate INSYNC", d)
	}
	f.zone(t, "a.example.net")
	f.zone(t, "z.example.net")
	byName, err := f.client.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String("example.net"), MaxItems: aws.Int32(1)})
	if err != nil {
		t.Fatalf("ListHostedZonesByName: %v", err)
	}
	if len(byName.HostedZones) != 1 || aws.ToString(byName.HostedZones[0].Name) != "a.example.net." {
		t.Fatalf("first zone from example.net = %+v, want a.example.net.", byName.HostedZones)
	}
	if !byName.IsTruncated || aws.ToString(byName.NextDNSName) != "z.example.net." || byName.NextHostedZoneId == nil {
		t.Errorf("truncation = %v next %q %q, want z.example.net. next", byName.IsTruncated, aws.ToString(byName.NextDNSName), aws.ToString(byName.NextHostedZoneId))
	}
	snap := f.r53.Snapshot().(Snapshot)
	if len(snap.HostedZones) != 3 || len(snap.HostedZones[0].Records) != 3 {
		t.Errorf("snapshot = %+v, want 3 zones and 3 records in the first", snap)
	}
}
