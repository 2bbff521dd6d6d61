package route53emu

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// FuzzChangeBatchXML feeds arbitrary bodies to CreateHostedZone and
// ChangeResourceRecordSets. Every answer must be XML: a response document for
// 2xx, an ErrorResponse or InvalidChangeBatch otherwise; nothing may panic.
func FuzzChangeBatchXML(f *testing.F) {
	seeds := []string{
		`<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Changes><Change><Action>CREATE</Action><ResourceRecordSet><Name>a.example.com</Name><Type>A</Type><SetIdentifier>x</SetIdentifier><Weight>5</Weight><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>10.0.0.1</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`,
		`<ChangeResourceRecordSetsRequest><ChangeBatch><Changes><Change><Action>UPSERT</Action><ResourceRecordSet><Name>\052.example.com</Name><Type>A</Type><AliasTarget><HostedZoneId>Z1</HostedZoneId><DNSName>x.</DNSName><EvaluateTargetHealth>true</EvaluateTargetHealth></AliasTarget></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`,
		`<ChangeResourceRecordSetsRequest><ChangeBatch><Changes><Change><Action>DELETE</Action><ResourceRecordSet><Name>example.com</Name><Type>SOA</Type><TTL>-1</TTL></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`,
		`<CreateHostedZoneRequest><Name>example.net</Name><CallerReference>r</CallerReference></CreateHostedZoneRequest>`,
		`<a><b>`, ``, `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`,
	}
	for _, s := range seeds {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, body string, rrset bool) {
		r := New(Options{Clock: simclock.NewManual(epoch)})
		rr := httptest.NewRecorder()
		r.ServeHTTP(rr, httptest.NewRequest(http.MethodPost, "/2013-04-01/hostedzone", bytes.NewBufferString(
			`<CreateHostedZoneRequest><Name>example.com</Name><CallerReference>seed</CallerReference></CreateHostedZoneRequest>`)))
		if rr.Code != http.StatusCreated {
			t.Fatalf("seed zone: %d %s", rr.Code, rr.Body.String())
		}
		var id string
		for k := range r.zones {
			id = k
		}
		path := "/2013-04-01/hostedzone"
		if rrset {
			path += "/" + id + "/rrset/"
		}
		rr = httptest.NewRecorder()
		r.ServeHTTP(rr, httptest.NewRequest(http.MethodPost, path, bytes.NewBufferString(body)))
		var root struct{ XMLName xml.Name }
		if err := xml.NewDecoder(bytes.NewReader(rr.Body.Bytes())).Decode(&root); err != nil {
			t.Fatalf("response is not XML (%v): %s", err, rr.Body.String())
		}
		isErr := root.XMLName.Local == "ErrorResponse" || root.XMLName.Local == "InvalidChangeBatch"
		if (rr.Code < 300) == isErr {
			t.Fatalf("status %d with root %s: %s", rr.Code, root.XMLName.Local, rr.Body.String())
		}
		// Listing must still work whatever happened.
		rr = httptest.NewRecorder()
		r.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/2013-04-01/hostedzone/"+id+"/rrset", nil))
		if rr.Code != http.StatusOK {
			t.Fatalf("list after fuzz input: %d %s", rr.Code, rr.Body.String())
		}
	})
}
