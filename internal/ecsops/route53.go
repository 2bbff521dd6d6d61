package ecsops

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// WeightedRecord is one weighted CNAME of a record name: SetIdentifier
// names the revision (its service name), Value is the revision's own host
// name.
type WeightedRecord struct {
	SetIdentifier string
	Value         string
	Weight        int64
	// TTL is read back by WeightedRecords.
	TTL int64
}

// UpsertWeightedRecords writes the weighted CNAME records of name in one
// change batch (Route 53 applies a batch atomically).
func (c *Clients) UpsertWeightedRecords(ctx context.Context, zoneID, name string, ttl int64, recs []WeightedRecord) error {
	if ttl <= 0 {
		ttl = 60
	}
	changes := make([]r53types.Change, 0, len(recs))
	for _, r := range recs {
		changes = append(changes, r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &r53types.ResourceRecordSet{
			Name: aws.String(name), Type: r53types.RRTypeCname, SetIdentifier: aws.String(r.SetIdentifier),
			Weight: aws.Int64(r.Weight), TTL: aws.Int64(ttl), ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(r.Value)}},
		}})
	}
	_, err := c.Route53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(zoneID),
		ChangeBatch: &r53types.ChangeBatch{Comment: aws.String("ecsflow traffic shift"), Changes: changes}})
	if err != nil {
		return fmt.Errorf("change weighted records of %s: %w", name, err)
	}
	return nil
}

// DeleteWeightedRecord removes one weighted record of name; a missing one
// is not an error.
func (c *Clients) DeleteWeightedRecord(ctx context.Context, zoneID, name, setID string) error {
	recs, err := c.WeightedRecords(ctx, zoneID, name)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.SetIdentifier != setID {
			continue
		}
		_, err := c.Route53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(zoneID),
			ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{Action: r53types.ChangeActionDelete, ResourceRecordSet: &r53types.ResourceRecordSet{
				Name: aws.String(name), Type: r53types.RRTypeCname, SetIdentifier: aws.String(setID), Weight: aws.Int64(r.Weight),
				TTL: aws.Int64(r.TTL), ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(r.Value)}}}}}}})
		if err != nil {
			return fmt.Errorf("delete weighted record %s of %s: %w", setID, name, err)
		}
	}
	return nil
}

// WeightedRecords lists the weighted CNAME records of name.
func (c *Clients) WeightedRecords(ctx context.Context, zoneID, name string) ([]WeightedRecord, error) {
	want := strings.TrimSuffix(strings.ToLower(name), ".") + "."
	in := &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID), StartRecordName: aws.String(name), StartRecordType: r53types.RRTypeCname}
	var out []WeightedRecord
	for {
		page, err := c.Route53.ListResourceRecordSets(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list records of %s: %w", name, err)
		}
		for _, rs := range page.ResourceRecordSets {
			n := strings.TrimSuffix(strings.ToLower(aws.ToString(rs.Name)), ".") + "."
			if n != want {
				return out, nil
			}
			if rs.Type != r53types.RRTypeCname || rs.SetIdentifier == nil || rs.Weight == nil {
				continue
			}
			w := WeightedRecord{SetIdentifier: aws.ToString(rs.SetIdentifier), Weight: aws.ToInt64(rs.Weight), TTL: aws.ToInt64(rs.TTL)}
			if len(rs.ResourceRecords) > 0 {
				w.Value = aws.ToString(rs.ResourceRecords[0].Value)
			}
			out = append(out, w)
		}
		if !page.IsTruncated {
			return out, nil
		}
		in.StartRecordName, in.StartRecordType, in.StartRecordIdentifier = page.NextRecordName, page.NextRecordType, page.NextRecordIdentifier
	}
}

// RecordWeights is the weight of each weighted record of name, by set identifier.
func (c *Clients) RecordWeights(ctx context.Context, zoneID, name string) (map[string]int64, error) {
	recs, err := c.WeightedRecords(ctx, zoneID, name)
	if err != nil {
		return nil, err
	}
	m := make(map[string]int64, len(recs))
	for _, r := range recs {
		m[r.SetIdentifier] = r.Weight
	}
	return m, nil
}
