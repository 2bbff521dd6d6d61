package localstack

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// sdkTable saves and loads a whole table through the DynamoDB API (Scan,
// BatchWriteItem), so it works with any DynamoDB-compatible server. The
// file is {"format": "ecsflow-dynamodb-table", "version": 1, "table": ...,
// "items": [...]}, each item in DynamoDB's JSON ({"pk": {"S": "..."}, ...}).
type sdkTable struct {
	db    *dynamodb.Client
	table string
}

var _ tableDB = (*sdkTable)(nil)

const (
	tableDumpFormat  = "ecsflow-dynamodb-table"
	tableDumpVersion = 1
)

type tableDump struct {
	Format  string            `json:"format"`
	Version int               `json:"version"`
	Table   string            `json:"table"`
	Items   []json.RawMessage `json:"items"`
}

// Save writes every item of the table.
func (t *sdkTable) Save(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriter(w)
	head, _ := json.Marshal(struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
		Table   string `json:"table"`
	}{tableDumpFormat, tableDumpVersion, t.table})
	bw.Write(head[:len(head)-1])
	bw.WriteString(`,"items":[`)
	first := true
	p := dynamodb.NewScanPaginator(t.db, &dynamodb.ScanInput{TableName: aws.String(t.table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("scan table %s: %w", t.table, err)
		}
		for _, it := range out.Items {
			b, err := json.Marshal(avMap(it))
			if err != nil {
				return fmt.Errorf("encode an item of %s: %w", t.table, err)
			}
			if !first {
				bw.WriteByte(',')
			}
			first = false
			bw.Write(b)
		}
	}
	bw.WriteString("]}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write table %s: %w", t.table, err)
	}
	return nil
}

// Load puts every item of a saved table into the table.
func (t *sdkTable) Load(ctx context.Context, r io.Reader) error {
	var d tableDump
	if err := json.NewDecoder(r).Decode(&d); err != nil {
		return fmt.Errorf("read saved table: %w", err)
	}
	if d.Format != tableDumpFormat || d.Version != tableDumpVersion {
		return fmt.Errorf("saved table: format %q version %d, this build reads %q version %d", d.Format, d.Version, tableDumpFormat, tableDumpVersion)
	}
	items := make([]map[string]types.AttributeValue, 0, len(d.Items))
	for i, raw := range d.Items {
		it, err := decodeItem(raw)
		if err != nil {
			return fmt.Errorf("saved table: item %d: %w", i, err)
		}
		items = append(items, it)
	}
	for start := 0; start < len(items); start += 25 {
		var reqs []types.WriteRequest
		for _, it := range items[start:min(start+25, len(items))] {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
		}
		pending := map[string][]types.WriteRequest{t.table: reqs}
		for attempt := 0; len(pending[t.table]) > 0; attempt++ {
			if attempt == 10 {
				return fmt.Errorf("load table %s: %d items left unprocessed", t.table, len(pending[t.table]))
			}
			out, err := t.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				return fmt.Errorf("load table %s: %w", t.table, err)
			}
			pending = out.UnprocessedItems
			if len(pending[t.table]) > 0 {
				time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
			}
		}
	}
	return nil
}

// avMap and av turn attribute values into DynamoDB's JSON.
func avMap(m map[string]types.AttributeValue) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = av(v)
	}
	return out
}

func av(v types.AttributeValue) any {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return map[string]string{"S": v.Value}
	case *types.AttributeValueMemberN:
		return map[string]string{"N": v.Value}
	case *types.AttributeValueMemberB:
		return map[string][]byte{"B": v.Value}
	case *types.AttributeValueMemberBOOL:
		return map[string]bool{"BOOL": v.Value}
	case *types.AttributeValueMemberNULL:
		return map[string]bool{"NULL": true}
	case *types.AttributeValueMemberSS:
		return map[string][]string{"SS": v.Value}
	case *types.AttributeValueMemberNS:
		return map[string][]string{"NS": v.Value}
	case *types.AttributeValueMemberBS:
		return map[string][][]byte{"BS": v.Value}
	case *types.AttributeValueMemberL:
		l := make([]any, len(v.Value))
		for i, e := range v.Value {
			l[i] = av(e)
		}
		return map[string]any{"L": l}
	case *types.AttributeValueMemberM:
		return map[string]any{"M": avMap(v.Value)}
	}
	return map[string]bool{"NULL": true}
}

func decodeItem(raw json.RawMessage) (map[string]types.AttributeValue, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("not an item: %w", err)
	}
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		a, err := decodeAV(v, 0)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = a
	}
	return out, nil
}

func decodeAV(raw json.RawMessage, depth int) (types.AttributeValue, error) {
	if depth > 32 {
		return nil, errors.New("nested too deeply")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || len(m) != 1 {
		return nil, errors.New("want an object with one type key")
	}
	for typ, v := range m {
		var err error
		switch typ {
		case "S":
			var s string
			err = json.Unmarshal(v, &s)
			return &types.AttributeValueMemberS{Value: s}, err
		case "N":
			var s string
			err = json.Unmarshal(v, &s)
			return &types.AttributeValueMemberN{Value: s}, err
		case "B":
			var b []byte
			err = json.Unmarshal(v, &b)
			return &types.AttributeValueMemberB{Value: b}, err
		case "BOOL":
			var b bool
			err = json.Unmarshal(v, &b)
			return &types.AttributeValueMemberBOOL{Value: b}, err
		case "NULL":
			return &types.AttributeValueMemberNULL{Value: true}, nil
		case "SS", "NS":
			var ss []string
			if err = json.Unmarshal(v, &ss); err != nil {
				return nil, err
			}
			if typ == "SS" {
				return &types.AttributeValueMemberSS{Value: ss}, nil
			}
			return &types.AttributeValueMemberNS{Value: ss}, nil
		case "BS":
			var bs [][]byte
			err = json.Unmarshal(v, &bs)
			return &types.AttributeValueMemberBS{Value: bs}, err
		case "L":
			var l []json.RawMessage
			if err = json.Unmarshal(v, &l); err != nil {
				return nil, err
			}
			out := make([]types.AttributeValue, len(l))
			for i, e := range l {
				if out[i], err = decodeAV(e, depth+1); err != nil {
					return nil, err
				}
			}
			return &types.AttributeValueMemberL{Value: out}, nil
		case "M":
			var mm map[string]json.RawMessage
			if err = json.Unmarshal(v, &mm); err != nil {
				return nil, err
			}
			out := make(map[string]types.AttributeValue, len(mm))
			for k, e := range mm {
				if out[k], err = decodeAV(e, depth+1); err != nil {
					return nil, err
				}
			}
			return &types.AttributeValueMemberM{Value: out}, nil
		default:
			return nil, fmt.Errorf("unknown type %q", typ)
		}
	}
	return nil, errors.New("empty attribute value")
}
