package memdynamo_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// dump renders an item deterministically (sorted keys, sets sorted).
func dump(m map[string]types.AttributeValue) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("{")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		q, _ := json.Marshal(k)
		b.Write(q)
		b.WriteString(":")
		b.WriteString(dumpAV(m[k]))
	}
	b.WriteString("}")
	return b.String()
}

func dumpAV(v types.AttributeValue) string {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		q, _ := json.Marshal(x.Value)
		return "S" + string(q)
	case *types.AttributeValueMemberN:
		return "N" + x.Value
	case *types.AttributeValueMemberB:
		return fmt.Sprintf("B%x", x.Value)
	case *types.AttributeValueMemberBOOL:
		return fmt.Sprintf("BOOL%v", x.Value)
	case *types.AttributeValueMemberNULL:
		return "NULL"
	case *types.AttributeValueMemberM:
		return "M" + dump(x.Value)
	case *types.AttributeValueMemberL:
		parts := make([]string, len(x.Value))
		for i, e := range x.Value {
			parts[i] = dumpAV(e)
		}
		return "L[" + strings.Join(parts, ",") + "]"
	case *types.AttributeValueMemberSS:
		s := append([]string(nil), x.Value...)
		sort.Strings(s)
		return fmt.Sprintf("SS%q", s)
	case *types.AttributeValueMemberNS:
		s := append([]string(nil), x.Value...)
		sort.Strings(s)
		return fmt.Sprintf("NS%v", s)
	case nil:
		return "nil"
	}
	return fmt.Sprintf("%T", v)
}

func timeAt(sec int64) time.Time { return time.Unix(sec, 0) }
