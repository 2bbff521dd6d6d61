package memdynamo

import (
	"bytes"
	"cmp"
	"fmt"
	"math/big"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// item is one stored item. Stored items are never modified in place: a
// write builds a new map, so an old version can be handed out (copied) at
// any time.
type item = map[string]types.AttributeValue

// clone deep-copies an attribute value, so that callers never alias the
// database's state. nil stays nil.
func clone(v types.AttributeValue) types.AttributeValue {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return &types.AttributeValueMemberS{Value: x.Value}
	case *types.AttributeValueMemberN:
		return &types.AttributeValueMemberN{Value: x.Value}
	case *types.AttributeValueMemberB:
		return &types.AttributeValueMemberB{Value: bytes.Clone(x.Value)}
	case *types.AttributeValueMemberBOOL:
		return &types.AttributeValueMemberBOOL{Value: x.Value}
	case *types.AttributeValueMemberNULL:
		return &types.AttributeValueMemberNULL{Value: x.Value}
	case *types.AttributeValueMemberM:
		return &types.AttributeValueMemberM{Value: cloneItem(x.Value)}
	case *types.AttributeValueMemberL:
		l := make([]types.AttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = clone(e)
		}
		return &types.AttributeValueMemberL{Value: l}
	case *types.AttributeValueMemberSS:
		return &types.AttributeValueMemberSS{Value: append([]string(nil), x.Value...)}
	case *types.AttributeValueMemberNS:
		return &types.AttributeValueMemberNS{Value: append([]string(nil), x.Value...)}
	case *types.AttributeValueMemberBS:
		bs := make([][]byte, len(x.Value))
		for i, b := range x.Value {
			bs[i] = bytes.Clone(b)
		}
		return &types.AttributeValueMemberBS{Value: bs}
	}
	return v
}

// cloneItem deep-copies an item; nil stays nil. The copies of the common
// value types come from one slab per type (counted first), so a copy costs
// a few allocations rather than one per value.
func cloneItem(m item) item {
	if m == nil {
		return nil
	}
	var n leafCount
	for _, v := range m {
		n.add(v)
	}
	c := slabs{
		s: make([]types.AttributeValueMemberS, 0, n.s),
		n: make([]types.AttributeValueMemberN, 0, n.n),
		m: make([]types.AttributeValueMemberM, 0, n.m),
	}
	out := make(item, len(m))
	for k, v := range m {
		out[k] = c.clone(v)
	}
	return out
}

type leafCount struct{ s, n, m int }

func (c *leafCount) add(v types.AttributeValue) {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		c.s++
	case *types.AttributeValueMemberN:
		c.n++
	case *types.AttributeValueMemberM:
		c.m++
		for _, e := range x.Value {
			c.add(e)
		}
	case *types.AttributeValueMemberL:
		for _, e := range x.Value {
			c.add(e)
		}
	}
}

// slabs hand out value structs from preallocated slices (appends within
// capacity never move them, so the pointers stay valid).
type slabs struct {
	s []types.AttributeValueMemberS
	n []types.AttributeValueMemberN
	m []types.AttributeValueMemberM
}

func (c *slabs) clone(v types.AttributeValue) types.AttributeValue {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		c.s = append(c.s, types.AttributeValueMemberS{Value: x.Value})
		return &c.s[len(c.s)-1]
	case *types.AttributeValueMemberN:
		c.n = append(c.n, types.AttributeValueMemberN{Value: x.Value})
		return &c.n[len(c.n)-1]
	case *types.AttributeValueMemberM:
		m := make(item, len(x.Value))
		for k, e := range x.Value {
			m[k] = c.clone(e)
		}
		c.m = append(c.m, types.AttributeValueMemberM{Value: m})
		return &c.m[len(c.m)-1]
	case *types.AttributeValueMemberL:
		l := make([]types.AttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = c.clone(e)
		}
		return &types.AttributeValueMemberL{Value: l}
	}
	return clone(v)
}

// typeName is the DynamoDB type descriptor of v ("S", "N", "M", ...).
func typeName(v types.AttributeValue) string {
	switch v.(type) {
	case *types.AttributeValueMemberS:
		return "S"
	case *types.AttributeValueMemberN:
		return "N"
	case *types.AttributeValueMemberB:
		return "B"
	case *types.AttributeValueMemberBOOL:
		return "BOOL"
	case *types.AttributeValueMemberNULL:
		return "NULL"
	case *types.AttributeValueMemberM:
		return "M"
	case *types.AttributeValueMemberL:
		return "L"
	case *types.AttributeValueMemberSS:
		return "SS"
	case *types.AttributeValueMemberNS:
		return "NS"
	case *types.AttributeValueMemberBS:
		return "BS"
	}
	return ""
}

// checkNumber validates a DynamoDB number without allocating: optional
// sign, digits with an optional decimal point, optional exponent, at most
// 38 significant digits, magnitude from 1E-130 to below 1E+126; no spaces,
// as DynamoDB refuses them. (Bounding the exponent here also keeps
// big.Rat from being asked for 10^999999999.)
func checkNumber(s string) error {
	bad := func() error { return validationf("A value provided cannot be converted into a number") }
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits, firstSig, lastSig, pointAt := 0, -1, -1, -1
	for ; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			if c != '0' {
				if firstSig < 0 {
					firstSig = digits
				}
				lastSig = digits
			}
			digits++
			continue
		}
		if c == '.' && pointAt < 0 {
			pointAt = digits
			continue
		}
		break
	}
	if digits == 0 {
		return bad()
	}
	if pointAt < 0 {
		pointAt = digits
	}
	exp := 0
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return bad()
		}
		i++
		neg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			neg = s[i] == '-'
			i++
		}
		if i == len(s) {
			return bad()
		}
		for ; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return bad()
			}
			if exp < 1_000_000 {
				exp = exp*10 + int(c-'0')
			}
		}
		if neg {
			exp = -exp
		}
	}
	if firstSig < 0 {
		return nil // zero
	}
	if lastSig-firstSig+1 > 38 {
		return validationf("Attempting to store more than 38 significant digits in a Number")
	}
	// The decimal exponent of the first significant digit.
	switch e10 := pointAt - firstSig - 1 + exp; {
	case e10 > 125:
		return validationf("Number overflow. Attempting to store a number with magnitude larger than supported range")
	case e10 < -130:
		return validationf("Number underflow. Attempting to store a number with magnitude smaller than supported range")
	}
	return nil
}

// canonicalNumber is the form DynamoDB stores and returns a (valid)
// number in: no sign '+', no leading or trailing zeros, no exponent
// ("+1E+2" is "100", "-0.50" is "-0.5", ".5" is "0.5").
func canonicalNumber(s string) string {
	plain := len(s) > 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '-' && i == 0 && len(s) > 1) {
			plain = false
			break
		}
	}
	if plain {
		d := strings.TrimPrefix(s, "-")
		if d == "0" || d[0] != '0' {
			if s == "-0" {
				return "0"
			}
			return s
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return s
	}
	return formatNumber(r)
}

// canonical rewrites, in place, every number in v (which the caller owns)
// into its canonical form.
func canonical(v types.AttributeValue) {
	switch x := v.(type) {
	case *types.AttributeValueMemberN:
		x.Value = canonicalNumber(x.Value)
	case *types.AttributeValueMemberNS:
		for i, e := range x.Value {
			x.Value[i] = canonicalNumber(e)
		}
	case *types.AttributeValueMemberM:
		for _, e := range x.Value {
			canonical(e)
		}
	case *types.AttributeValueMemberL:
		for _, e := range x.Value {
			canonical(e)
		}
	}
}

// cloneIn copies a value a request brings in, in canonical form.
func cloneIn(v types.AttributeValue) types.AttributeValue {
	c := clone(v)
	canonical(c)
	return c
}

// cloneItemIn copies an item a request brings in, in canonical form.
func cloneItemIn(m item) item {
	out := cloneItem(m)
	for _, v := range out {
		canonical(v)
	}
	return out
}

// parseNumber parses a DynamoDB number (at most 38 significant digits).
func parseNumber(s string) (*big.Rat, error) {
	if err := checkNumber(s); err != nil {
		return nil, err
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, validationf("A value provided cannot be converted into a number")
	}
	return r, nil
}

// formatNumber writes r as DynamoDB returns a computed number: an integer
// or a plain decimal without trailing zeros.
func formatNumber(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	s := r.FloatString(170) // 1E-130 with 38 significant digits needs 168
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// keyv is the value of a key attribute (S, N or B), ordered the way
// DynamoDB orders sort keys: numbers numerically, strings and binaries
// byte-wise. t is 0 for "below everything" and 0xff for "above everything"
// (range bounds).
type keyv struct {
	t byte
	s string
	n *big.Rat
}

var (
	keyMin = keyv{t: 0}
	keyMax = keyv{t: 0xff}
)

func rank(t byte) int {
	switch t {
	case 0:
		return 0
	case 0xff:
		return 2
	}
	return 1
}

func cmpKey(a, b keyv) int {
	if ra, rb := rank(a.t), rank(b.t); ra != rb || ra != 1 {
		return cmp.Compare(ra, rb)
	}
	if a.t != b.t {
		return cmp.Compare(a.t, b.t)
	}
	if a.t == 'N' {
		return a.n.Cmp(b.n)
	}
	return strings.Compare(a.s, b.s)
}

// toKey converts a key attribute's value; ok is false when v is not a
// scalar key type.
func toKey(v types.AttributeValue) (keyv, bool) {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return keyv{t: 'S', s: x.Value}, true
	case *types.AttributeValueMemberB:
		return keyv{t: 'B', s: string(x.Value)}, true
	case *types.AttributeValueMemberN:
		r, err := parseNumber(x.Value)
		if err != nil {
			return keyv{}, false
		}
		return keyv{t: 'N', s: x.Value, n: r}, true
	}
	return keyv{}, false
}

// compareScalars orders two values of the same scalar type (S, N, B); ok
// is false when they are not comparable.
func compareScalars(a, b types.AttributeValue) (int, bool) {
	ka, oka := toKey(a)
	kb, okb := toKey(b)
	if !oka || !okb || ka.t != kb.t {
		return 0, false
	}
	return cmpKey(ka, kb), true
}

// equal is DynamoDB's equality: same type and value; numbers compare
// numerically, sets ignore order.
func equal(a, b types.AttributeValue) bool {
	switch x := a.(type) {
	case *types.AttributeValueMemberS, *types.AttributeValueMemberN, *types.AttributeValueMemberB:
		c, ok := compareScalars(a, b)
		return ok && c == 0
	case *types.AttributeValueMemberBOOL:
		y, ok := b.(*types.AttributeValueMemberBOOL)
		return ok && x.Value == y.Value
	case *types.AttributeValueMemberNULL:
		_, ok := b.(*types.AttributeValueMemberNULL)
		return ok
	case *types.AttributeValueMemberM:
		y, ok := b.(*types.AttributeValueMemberM)
		if !ok || len(x.Value) != len(y.Value) {
			return false
		}
		for k, v := range x.Value {
			w, ok := y.Value[k]
			if !ok || !equal(v, w) {
				return false
			}
		}
		return true
	case *types.AttributeValueMemberL:
		y, ok := b.(*types.AttributeValueMemberL)
		if !ok || len(x.Value) != len(y.Value) {
			return false
		}
		for i := range x.Value {
			if !equal(x.Value[i], y.Value[i]) {
				return false
			}
		}
		return true
	case *types.AttributeValueMemberSS, *types.AttributeValueMemberNS, *types.AttributeValueMemberBS:
		if typeName(a) != typeName(b) {
			return false
		}
		ea, eb := setElems(a), setElems(b)
		if len(ea) != len(eb) {
			return false
		}
		for _, e := range ea {
			if !setHas(eb, e) {
				return false
			}
		}
		return true
	}
	return false
}

// setElems returns a set's members as scalar values.
func setElems(v types.AttributeValue) []types.AttributeValue {
	var out []types.AttributeValue
	switch x := v.(type) {
	case *types.AttributeValueMemberSS:
		for _, s := range x.Value {
			out = append(out, &types.AttributeValueMemberS{Value: s})
		}
	case *types.AttributeValueMemberNS:
		for _, s := range x.Value {
			out = append(out, &types.AttributeValueMemberN{Value: s})
		}
	case *types.AttributeValueMemberBS:
		for _, b := range x.Value {
			out = append(out, &types.AttributeValueMemberB{Value: b})
		}
	}
	return out
}

func setHas(elems []types.AttributeValue, e types.AttributeValue) bool {
	for _, x := range elems {
		if equal(x, e) {
			return true
		}
	}
	return false
}

// makeSet builds a set of the given type ("SS", "NS", "BS") from members.
func makeSet(typ string, elems []types.AttributeValue) types.AttributeValue {
	switch typ {
	case "SS":
		s := make([]string, len(elems))
		for i, e := range elems {
			s[i] = e.(*types.AttributeValueMemberS).Value
		}
		return &types.AttributeValueMemberSS{Value: s}
	case "NS":
		s := make([]string, len(elems))
		for i, e := range elems {
			s[i] = e.(*types.AttributeValueMemberN).Value
		}
		return &types.AttributeValueMemberNS{Value: s}
	default:
		s := make([][]byte, len(elems))
		for i, e := range elems {
			s[i] = e.(*types.AttributeValueMemberB).Value
		}
		return &types.AttributeValueMemberBS{Value: s}
	}
}

// checkValue validates a value written to the table: numbers parse, sets
// are non-empty without duplicates, nothing is nil.
func checkValue(v types.AttributeValue) error { return checkNested(v, 0) }

// maxNesting is DynamoDB's limit of 32 levels, the item itself being the
// first: a top-level attribute's value holds at most 31 nested maps and
// lists (checked against DynamoDB Local).
const maxNesting = 31

func checkNested(v types.AttributeValue, depth int) error {
	switch x := v.(type) {
	case nil:
		return validationf("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
	case *types.AttributeValueMemberN:
		return checkNumber(x.Value)
	case *types.AttributeValueMemberM:
		if depth >= maxNesting {
			return validationf("Nesting Levels have exceeded supported limits")
		}
		for _, e := range x.Value {
			if err := checkNested(e, depth+1); err != nil {
				return err
			}
		}
	case *types.AttributeValueMemberL:
		if depth >= maxNesting {
			return validationf("Nesting Levels have exceeded supported limits")
		}
		for _, e := range x.Value {
			if err := checkNested(e, depth+1); err != nil {
				return err
			}
		}
	case *types.AttributeValueMemberNULL:
		if !x.Value {
			return validationf("One or more parameter values were invalid: Null attribute value types must have the value of true")
		}
	case *types.AttributeValueMemberSS, *types.AttributeValueMemberNS, *types.AttributeValueMemberBS:
		elems := setElems(v)
		if len(elems) == 0 {
			return validationf("One or more parameter values were invalid: An number set  may not be empty")
		}
		for i, e := range elems {
			if err := checkValue(e); err != nil {
				return err
			}
			for _, f := range elems[:i] {
				if equal(e, f) {
					return validationf("One or more parameter values were invalid: Input collection %s contains duplicates.", describe(v))
				}
			}
		}
	case *types.AttributeValueMemberS, *types.AttributeValueMemberB, *types.AttributeValueMemberBOOL:
	default:
		return validationf("Supplied AttributeValue has an unsupported type %T", v)
	}
	return nil
}

// describe renders a value briefly for error messages.
func describe(v types.AttributeValue) string {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return fmt.Sprintf("{S: %s}", x.Value)
	case *types.AttributeValueMemberN:
		return fmt.Sprintf("{N: %s}", x.Value)
	case *types.AttributeValueMemberSS:
		return fmt.Sprintf("%v", x.Value)
	case *types.AttributeValueMemberNS:
		return fmt.Sprintf("%v", x.Value)
	}
	return typeName(v)
}

// itemSize approximates DynamoDB's item size: names plus values.
func itemSize(m item) int {
	n := 0
	for k, v := range m {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return len(x.Value)
	case *types.AttributeValueMemberN:
		return (len(x.Value)+1)/2 + 1
	case *types.AttributeValueMemberB:
		return len(x.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberM:
		return 3 + itemSize(x.Value) + len(x.Value)
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range x.Value {
			n += 1 + valueSize(e)
		}
		return n
	default:
		n := 0
		for _, e := range setElems(v) {
			n += valueSize(e)
		}
		return n
	}
}
