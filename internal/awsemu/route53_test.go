package awsemu

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// TestRoute53WeightedRecordsThroughTheEmulator checks that restXml requests
// reach Route 53 through the shared endpoint and weighted records round-trip.
func TestRoute53WeightedRecordsThroughTheEmulator(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := h.ctx()
	c := route53.NewFromConfig(h.cfg)
	hz, err := c.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("example.com"), CallerReference: aws.String("ref-1")})
	if err != nil {
		t.Fatalf("CreateHostedZone: %v", err)
	}
	rr := func(id string, w int64, target string) r53types.Change {
		return r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &r53types.ResourceRecordSet{
			Name: aws.String("api.example.com"), Type: r53types.RRTypeCname, SetIdentifier: aws.String(id), Weight: aws.Int64(w), TTL: aws.Int64(30),
			ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(target)}},
		}}
	}
	if _, err := c.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: hz.HostedZone.Id, ChangeBatch: &r53types.ChangeBatch{
		Changes: []r53types.Change{rr("blue", 90, "blue.example.com"), rr("green", 10, "green.example.com")},
	}}); err != nil {
		t.Fatalf("ChangeResourceRecordSets: %v", err)
	}
	out, err := c.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: hz.HostedZone.Id})
	if err != nil {
		t.Fatalf("ListResourceRecordSets: %v", err)
	}
	got := map[string]int64{}
	for _, r := range out.ResourceRecordSets {
		if r.SetIdentifier != nil {
			got[aws.ToString(r.SetIdentifier)] = aws.ToInt64(r.Weight)
		}
	}
	if len(got) != 2 || got["blue"] != 90 || got["green"] != 10 {
		t.Fatalf("weighted records = %v", got)
	}
}
