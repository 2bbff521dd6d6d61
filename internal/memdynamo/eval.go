package memdynamo

import (
	"bytes"
	"math/big"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// exprEnv is one request's expressions with their placeholder maps.
type exprEnv struct {
	names map[string]string
	vals  map[string]types.AttributeValue
}

// uses reports whether one of exprs uses the placeholder ph.
func uses(exprs []*parsed, ph string) bool {
	for _, p := range exprs {
		if p != nil && (slices.Contains(p.names, ph) || slices.Contains(p.vals, ph)) {
			return true
		}
	}
	return false
}

// newEnv validates the placeholder maps of a request whose expressions are
// exprs (nil entries are absent expressions): every placeholder used is
// defined, every one defined is used, and every value is valid.
func newEnv(names map[string]string, vals map[string]types.AttributeValue, exprs ...*parsed) (*exprEnv, error) {
	e := &exprEnv{names: names, vals: vals}
	if names != nil && len(names) == 0 {
		return nil, validationf("ExpressionAttributeNames must not be empty")
	}
	if vals != nil && len(vals) == 0 {
		return nil, validationf("ExpressionAttributeValues must not be empty")
	}
	anyExpr := false
	for _, p := range exprs {
		if p == nil {
			continue
		}
		anyExpr = true
		for _, n := range p.names {
			if _, ok := names[n]; !ok {
				return nil, validationf("Value provided in ExpressionAttributeNames unused in expressions: An expression attribute name used in the document path is not defined; attribute name: %s", n)
			}
		}
		for _, v := range p.vals {
			if _, ok := vals[v]; !ok {
				return nil, validationf("Invalid expression: An expression attribute value used in expression is not defined; attribute value: %s", v)
			}
		}
	}
	if !anyExpr && len(names) > 0 {
		return nil, validationf("ExpressionAttributeNames can only be specified when using expressions")
	}
	if !anyExpr && len(vals) > 0 {
		return nil, validationf("ExpressionAttributeValues can only be specified when using expressions")
	}
	var unusedN, unusedV []string
	for n := range names {
		if !uses(exprs, n) {
			unusedN = append(unusedN, n)
		}
	}
	for v, av := range vals {
		if !uses(exprs, v) {
			unusedV = append(unusedV, v)
		}
		if err := checkValue(av); err != nil {
			return nil, validationf("ExpressionAttributeValues contains invalid value: %s for key %s", err.(interface{ ErrorMessage() string }).ErrorMessage(), v)
		}
	}
	if len(unusedN) > 0 {
		slices.Sort(unusedN)
		return nil, validationf("Value provided in ExpressionAttributeNames unused in expressions: keys: {%s}", strings.Join(unusedN, ", "))
	}
	if len(unusedV) > 0 {
		slices.Sort(unusedV)
		return nil, validationf("Value provided in ExpressionAttributeValues unused in expressions: keys: {%s}", strings.Join(unusedV, ", "))
	}
	return e, nil
}

// attr resolves a path element's attribute or map key name.
func (e *exprEnv) attr(el pathElem) string {
	if el.ph {
		return e.names[el.name]
	}
	return el.name
}

// get reads the value at path in it; ok is false when it is absent.
func (e *exprEnv) get(it item, path docPath) (types.AttributeValue, bool) {
	var cur types.AttributeValue = &types.AttributeValueMemberM{Value: it}
	for _, el := range path {
		switch x := cur.(type) {
		case *types.AttributeValueMemberM:
			if el.isIdx {
				return nil, false
			}
			v, ok := x.Value[e.attr(el)]
			if !ok {
				return nil, false
			}
			cur = v
		case *types.AttributeValueMemberL:
			if !el.isIdx || el.idx >= len(x.Value) {
				return nil, false
			}
			cur = x.Value[el.idx]
		default:
			return nil, false
		}
	}
	return cur, true
}

// operand evaluates o against it; ok is false when it refers to an absent
// attribute.
func (e *exprEnv) operand(it item, o *operand, kind exprKind) (types.AttributeValue, bool, error) {
	switch o.kind {
	case opVal:
		return e.vals[o.val], true, nil
	case opPath:
		v, ok := e.get(it, o.path)
		return v, ok, nil
	case opSize:
		v, ok := e.get(it, o.path)
		if !ok {
			return nil, false, nil
		}
		var n int
		switch x := v.(type) {
		case *types.AttributeValueMemberS:
			n = utf8.RuneCountInString(x.Value)
		case *types.AttributeValueMemberB:
			n = len(x.Value)
		case *types.AttributeValueMemberM:
			n = len(x.Value)
		case *types.AttributeValueMemberL:
			n = len(x.Value)
		case *types.AttributeValueMemberSS, *types.AttributeValueMemberNS, *types.AttributeValueMemberBS:
			n = len(setElems(v))
		default:
			return nil, false, validationf("Invalid %s: Incorrect operand type for operator or function; operator or function: size, operand type: %s", kind, typeName(v))
		}
		return &types.AttributeValueMemberN{Value: big.NewInt(int64(n)).String()}, true, nil
	case opIfNotExists:
		if v, ok := e.get(it, o.path); ok {
			return v, true, nil
		}
		return e.operand(it, o.args[0], kind)
	case opListAppend:
		a, b, err := e.bothOperands(it, o, kind)
		if err != nil {
			return nil, false, err
		}
		la, ok1 := a.(*types.AttributeValueMemberL)
		lb, ok2 := b.(*types.AttributeValueMemberL)
		if !ok1 || !ok2 {
			return nil, false, validationf("Invalid %s: Incorrect operand type for operator or function; operator or function: list_append, operand type: %s", kind, typeName(pick(ok1, b, a)))
		}
		l := append(append(make([]types.AttributeValue, 0, len(la.Value)+len(lb.Value)), la.Value...), lb.Value...)
		return &types.AttributeValueMemberL{Value: l}, true, nil
	case opPlus, opMinus:
		a, b, err := e.bothOperands(it, o, kind)
		if err != nil {
			return nil, false, err
		}
		na, ok1 := a.(*types.AttributeValueMemberN)
		nb, ok2 := b.(*types.AttributeValueMemberN)
		if !ok1 || !ok2 {
			op := "+"
			if o.kind == opMinus {
				op = "-"
			}
			return nil, false, validationf("An operand in the update expression has an incorrect data type; operator: %s, operand type: %s", op, typeName(pick(ok1, b, a)))
		}
		ra, err := parseNumber(na.Value)
		if err != nil {
			return nil, false, err
		}
		rb, err := parseNumber(nb.Value)
		if err != nil {
			return nil, false, err
		}
		r := new(big.Rat)
		if o.kind == opPlus {
			r.Add(ra, rb)
		} else {
			r.Sub(ra, rb)
		}
		s := formatNumber(r)
		if _, err := parseNumber(s); err != nil {
			return nil, false, validationf("Number overflow. Attempting to store a number with magnitude larger than supported range")
		}
		return &types.AttributeValueMemberN{Value: s}, true, nil
	}
	return nil, false, validationf("Invalid %s: unsupported operand", kind)
}

// pick returns b when firstOK, else a: the operand whose type is wrong.
func pick(firstOK bool, b, a types.AttributeValue) types.AttributeValue {
	if firstOK {
		return b
	}
	return a
}

var typeNames = map[string]bool{"S": true, "N": true, "B": true, "BOOL": true, "NULL": true, "M": true, "L": true, "SS": true, "NS": true, "BS": true}

// eval evaluates a condition against it (nil or empty: no item).
func (e *exprEnv) eval(it item, c *cond, kind exprKind) (bool, error) {
	switch c.kind {
	case cAnd, cOr:
		l, err := e.eval(it, c.kids[0], kind)
		if err != nil {
			return false, err
		}
		if c.kind == cAnd && !l {
			return false, e.check(it, c.kids[1], kind)
		}
		if c.kind == cOr && l {
			return true, e.check(it, c.kids[1], kind)
		}
		return e.eval(it, c.kids[1], kind)
	case cNot:
		v, err := e.eval(it, c.kids[0], kind)
		return !v, err
	case cCmp:
		a, oka, err := e.operand(it, c.ops[0], kind)
		if err != nil {
			return false, err
		}
		b, okb, err := e.operand(it, c.ops[1], kind)
		if err != nil {
			return false, err
		}
		if !oka || !okb {
			return c.op == "<>", nil
		}
		switch c.op {
		case "=":
			return equal(a, b), nil
		case "<>":
			return !equal(a, b), nil
		}
		r, ok := compareScalars(a, b)
		if !ok {
			return false, nil
		}
		switch c.op {
		case "<":
			return r < 0, nil
		case "<=":
			return r <= 0, nil
		case ">":
			return r > 0, nil
		default:
			return r >= 0, nil
		}
	case cBetween:
		vals := make([]types.AttributeValue, 3)
		present := true
		for i, o := range c.ops {
			v, ok, err := e.operand(it, o, kind)
			if err != nil {
				return false, err
			}
			vals[i], present = v, present && ok
		}
		if vals[1] != nil && vals[2] != nil {
			if r, ok := compareScalars(vals[1], vals[2]); ok && r > 0 {
				return false, validationf("Invalid %s: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: %s, upper bound operand: AttributeValue: %s", kind, describe(vals[1]), describe(vals[2]))
			}
		}
		if !present {
			return false, nil
		}
		lo, ok1 := compareScalars(vals[0], vals[1])
		hi, ok2 := compareScalars(vals[0], vals[2])
		return ok1 && ok2 && lo >= 0 && hi <= 0, nil
	case cIn:
		a, ok, err := e.operand(it, c.ops[0], kind)
		if err != nil || !ok {
			return false, err
		}
		for _, o := range c.ops[1:] {
			b, okb, err := e.operand(it, o, kind)
			if err != nil {
				return false, err
			}
			if okb && equal(a, b) {
				return true, nil
			}
		}
		return false, nil
	case cFunc:
		return e.fn(it, c, kind)
	}
	return false, validationf("Invalid %s: unsupported condition", kind)
}

// check evaluates a condition only for its errors (a short-circuited side
// still has its operands validated, as DynamoDB does).
func (e *exprEnv) check(it item, c *cond, kind exprKind) error {
	_, err := e.eval(it, c, kind)
	return err
}

func (e *exprEnv) fn(it item, c *cond, kind exprKind) (bool, error) {
	switch c.op {
	case "attribute_exists", "attribute_not_exists":
		_, ok := e.get(it, c.ops[0].path)
		return ok == (c.op == "attribute_exists"), nil
	case "attribute_type":
		t, _, err := e.operand(it, c.ops[1], kind)
		if err != nil {
			return false, err
		}
		s, ok := t.(*types.AttributeValueMemberS)
		if !ok || !typeNames[s.Value] {
			return false, validationf("Invalid %s: Invalid attribute type name found; type: %s, valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }", kind, describe(t))
		}
		v, ok := e.get(it, c.ops[0].path)
		return ok && typeName(v) == s.Value, nil
	case "begins_with":
		a, oka, err := e.operand(it, c.ops[0], kind)
		if err != nil {
			return false, err
		}
		b, okb, err := e.operand(it, c.ops[1], kind)
		if err != nil {
			return false, err
		}
		if okb && c.ops[1].kind == opVal {
			if _, isS := b.(*types.AttributeValueMemberS); !isS {
				if _, isB := b.(*types.AttributeValueMemberB); !isB {
					return false, validationf("Invalid %s: Incorrect operand type for operator or function; operator or function: begins_with, operand type: %s", kind, typeName(b))
				}
			}
		}
		if !oka || !okb {
			return false, nil
		}
		switch x := a.(type) {
		case *types.AttributeValueMemberS:
			y, ok := b.(*types.AttributeValueMemberS)
			return ok && strings.HasPrefix(x.Value, y.Value), nil
		case *types.AttributeValueMemberB:
			y, ok := b.(*types.AttributeValueMemberB)
			return ok && bytes.HasPrefix(x.Value, y.Value), nil
		}
		return false, nil
	case "contains":
		a, oka, err := e.operand(it, c.ops[0], kind)
		if err != nil {
			return false, err
		}
		b, okb, err := e.operand(it, c.ops[1], kind)
		if err != nil || !oka || !okb {
			return false, err
		}
		switch x := a.(type) {
		case *types.AttributeValueMemberS:
			y, ok := b.(*types.AttributeValueMemberS)
			return ok && strings.Contains(x.Value, y.Value), nil
		case *types.AttributeValueMemberB:
			y, ok := b.(*types.AttributeValueMemberB)
			return ok && bytes.Contains(x.Value, y.Value), nil
		case *types.AttributeValueMemberSS, *types.AttributeValueMemberNS, *types.AttributeValueMemberBS:
			return setHas(setElems(a), b), nil
		case *types.AttributeValueMemberL:
			return slices.ContainsFunc(x.Value, func(v types.AttributeValue) bool { return equal(v, b) }), nil
		}
		return false, nil
	}
	return false, validationf("Invalid %s: Invalid function name; function: %s", kind, c.op)
}

// resolved is a path with its names looked up: strings for attribute and
// map keys, ints for list indexes.
type resolved []any

func (e *exprEnv) resolve(p docPath) resolved {
	out := make(resolved, len(p))
	for i, el := range p {
		if el.isIdx {
			out[i] = el.idx
		} else {
			out[i] = e.attr(el)
		}
	}
	return out
}

func (r resolved) String() string {
	parts := make([]string, len(r))
	for i, x := range r {
		if n, ok := x.(int); ok {
			parts[i] = "[" + big.NewInt(int64(n)).String() + "]"
		} else {
			parts[i] = x.(string)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// overlaps reports whether one path is a prefix of the other.
func overlaps(a, b resolved) bool {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var errBadPath = validationf("The document path provided in the update expression is invalid for update")

// setPath writes v at path in it (a private clone). The parent of a nested
// path must exist; an index past a list's end appends.
func setPath(it item, path resolved, v types.AttributeValue) error {
	if len(path) == 1 {
		it[path[0].(string)] = v
		return nil
	}
	parent, ok := walk(it, path[:len(path)-1])
	if !ok {
		return errBadPath
	}
	switch x := parent.(type) {
	case *types.AttributeValueMemberM:
		k, ok := path[len(path)-1].(string)
		if !ok {
			return errBadPath
		}
		x.Value[k] = v
	case *types.AttributeValueMemberL:
		i, ok := path[len(path)-1].(int)
		if !ok {
			return errBadPath
		}
		if i >= len(x.Value) {
			x.Value = append(x.Value, v)
		} else {
			x.Value[i] = v
		}
	default:
		return errBadPath
	}
	return nil
}

// ownPath replaces the containers (maps and lists) on the way to path's
// parent with shallow copies, so that setPath and removePath can change
// them without touching a version of the item someone else holds.
func ownPath(it item, path resolved) {
	if len(path) < 2 {
		return
	}
	var parent types.AttributeValue = &types.AttributeValueMemberM{Value: it}
	for _, el := range path[:len(path)-1] {
		var cur types.AttributeValue
		switch p := parent.(type) {
		case *types.AttributeValueMemberM:
			k, ok := el.(string)
			if !ok {
				return
			}
			if cur, ok = p.Value[k]; !ok {
				return
			}
			cur = shallow(cur)
			p.Value[k] = cur
		case *types.AttributeValueMemberL:
			i, ok := el.(int)
			if !ok || i >= len(p.Value) {
				return
			}
			cur = shallow(p.Value[i])
			p.Value[i] = cur
		default:
			return
		}
		parent = cur
	}
}

// shallow copies a map or list container (not its elements).
func shallow(v types.AttributeValue) types.AttributeValue {
	switch x := v.(type) {
	case *types.AttributeValueMemberM:
		m := make(item, len(x.Value))
		for k, e := range x.Value {
			m[k] = e
		}
		return &types.AttributeValueMemberM{Value: m}
	case *types.AttributeValueMemberL:
		return &types.AttributeValueMemberL{Value: append([]types.AttributeValue(nil), x.Value...)}
	}
	return v
}

// removePath deletes the value at path; an absent leaf is no error.
func removePath(it item, path resolved) error {
	if len(path) == 1 {
		delete(it, path[0].(string))
		return nil
	}
	parent, ok := walk(it, path[:len(path)-1])
	if !ok {
		return errBadPath
	}
	switch x := parent.(type) {
	case *types.AttributeValueMemberM:
		if k, ok := path[len(path)-1].(string); ok {
			delete(x.Value, k)
			return nil
		}
	case *types.AttributeValueMemberL:
		if i, ok := path[len(path)-1].(int); ok {
			if i < len(x.Value) {
				x.Value = append(x.Value[:i:i], x.Value[i+1:]...)
			}
			return nil
		}
	}
	return errBadPath
}

func walk(it item, path resolved) (types.AttributeValue, bool) {
	var cur types.AttributeValue = &types.AttributeValueMemberM{Value: it}
	for _, el := range path {
		switch x := cur.(type) {
		case *types.AttributeValueMemberM:
			k, ok := el.(string)
			if !ok {
				return nil, false
			}
			if cur, ok = x.Value[k]; !ok {
				return nil, false
			}
		case *types.AttributeValueMemberL:
			i, ok := el.(int)
			if !ok || i >= len(x.Value) {
				return nil, false
			}
			cur = x.Value[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// applyUpdate returns the item u makes of old (nil: no item yet, the key
// only), without touching old, and the paths it changed. keyAttrs may not
// be changed.
func (e *exprEnv) applyUpdate(old, key item, u *updateExpr, keyAttrs []string) (item, []resolved, error) {
	base := old
	if base == nil {
		base = key
	}
	// Values are computed from the item as it was, like DynamoDB does.
	setVals := make([]types.AttributeValue, len(u.set))
	for i, a := range u.set {
		v, ok, err := e.operand(base, a.val, kindUpdate)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return nil, nil, validationf("The provided expression refers to an attribute that does not exist in the item")
		}
		setVals[i] = v
	}
	var paths []resolved
	addPath := func(p docPath) (resolved, error) {
		r := e.resolve(p)
		if slices.Contains(keyAttrs, r[0].(string)) {
			return nil, validationf("One or more parameter values were invalid: Cannot update attribute %s. This attribute is part of the key", r[0])
		}
		for _, q := range paths {
			if overlaps(q, r) {
				return nil, validationf("Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: %s, path two: %s", q, r)
			}
		}
		paths = append(paths, r)
		return r, nil
	}
	// Stored items are immutable, so the new version shares every value it
	// does not change: a shallow copy of the top level, and fresh copies of
	// the containers on the way to a nested path (ownPath).
	next := make(item, len(base)+len(u.set))
	for k, v := range base {
		next[k] = v
	}
	for i, a := range u.set {
		r, err := addPath(a.path)
		if err != nil {
			return nil, nil, err
		}
		ownPath(next, r)
		if err := setPath(next, r, cloneIn(setVals[i])); err != nil {
			return nil, nil, err
		}
	}
	var removes []resolved
	for _, p := range u.remove {
		r, err := addPath(p)
		if err != nil {
			return nil, nil, err
		}
		removes = append(removes, r)
	}
	// Later list indexes first, so that earlier ones still point where the
	// expression meant.
	slices.SortStableFunc(removes, func(a, b resolved) int {
		ia, oka := a[len(a)-1].(int)
		ib, okb := b[len(b)-1].(int)
		if oka && okb {
			return ib - ia
		}
		return 0
	})
	for _, r := range removes {
		ownPath(next, r)
		if err := removePath(next, r); err != nil {
			return nil, nil, err
		}
	}
	for _, a := range u.add {
		r, err := addPath(a.path)
		if err != nil {
			return nil, nil, err
		}
		ownPath(next, r)
		v := e.vals[a.val.val]
		cur, exists := walk(next, r)
		var out types.AttributeValue
		switch x := v.(type) {
		case *types.AttributeValueMemberN:
			if !exists {
				out = cloneIn(x)
				break
			}
			c, ok := cur.(*types.AttributeValueMemberN)
			if !ok {
				return nil, nil, validationf("An operand in the update expression has an incorrect data type")
			}
			ra, err := parseNumber(c.Value)
			if err != nil {
				return nil, nil, err
			}
			rb, _ := parseNumber(x.Value)
			out = &types.AttributeValueMemberN{Value: formatNumber(new(big.Rat).Add(ra, rb))}
		case *types.AttributeValueMemberSS, *types.AttributeValueMemberNS, *types.AttributeValueMemberBS:
			if !exists {
				out = cloneIn(x)
				break
			}
			if typeName(cur) != typeName(v) {
				return nil, nil, validationf("An operand in the update expression has an incorrect data type")
			}
			elems := setElems(cur)
			for _, m := range setElems(v) {
				if !setHas(elems, m) {
					elems = append(elems, m)
				}
			}
			out = cloneIn(makeSet(typeName(v), elems))
		default:
			return nil, nil, validationf("Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: %s", typeName(v))
		}
		if err := setPath(next, r, out); err != nil {
			return nil, nil, err
		}
	}
	for _, a := range u.del {
		r, err := addPath(a.path)
		if err != nil {
			return nil, nil, err
		}
		v := e.vals[a.val.val]
		switch v.(type) {
		case *types.AttributeValueMemberSS, *types.AttributeValueMemberNS, *types.AttributeValueMemberBS:
		default:
			return nil, nil, validationf("Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: %s", typeName(v))
		}
		ownPath(next, r)
		cur, exists := walk(next, r)
		if !exists {
			continue
		}
		if typeName(cur) != typeName(v) {
			return nil, nil, validationf("An operand in the update expression has an incorrect data type")
		}
		del := setElems(v)
		var keep []types.AttributeValue
		for _, m := range setElems(cur) {
			if !setHas(del, m) {
				keep = append(keep, m)
			}
		}
		if len(keep) == 0 {
			if err := removePath(next, r); err != nil {
				return nil, nil, err
			}
			continue
		}
		if err := setPath(next, r, cloneIn(makeSet(typeName(v), keep))); err != nil {
			return nil, nil, err
		}
	}
	return next, paths, nil
}

// project returns the parts of it named by paths (a fresh copy).
func project(it item, paths []resolved) item {
	if it == nil {
		return nil
	}
	out := item{}
	for _, p := range paths {
		v, ok := walk(it, p)
		if !ok {
			continue
		}
		insertProjected(out, p, clone(v))
	}
	return out
}

func insertProjected(dst item, p resolved, v types.AttributeValue) {
	if len(p) == 1 {
		dst[p[0].(string)] = v
		return
	}
	var cur types.AttributeValue
	k := p[0].(string)
	cur, ok := dst[k]
	if !ok {
		cur = container(p[1])
		dst[k] = cur
	}
	for i := 1; i < len(p); i++ {
		last := i == len(p)-1
		switch x := cur.(type) {
		case *types.AttributeValueMemberM:
			name, _ := p[i].(string)
			if last {
				x.Value[name] = v
				return
			}
			nxt, ok := x.Value[name]
			if !ok {
				nxt = container(p[i+1])
				x.Value[name] = nxt
			}
			cur = nxt
		case *types.AttributeValueMemberL:
			// Projected list elements keep their order, compacted.
			if last {
				x.Value = append(x.Value, v)
				return
			}
			nxt := container(p[i+1])
			x.Value = append(x.Value, nxt)
			cur = nxt
		default:
			return
		}
	}
}

func container(el any) types.AttributeValue {
	if _, ok := el.(int); ok {
		return &types.AttributeValueMemberL{}
	}
	return &types.AttributeValueMemberM{Value: item{}}
}

// bothOperands evaluates a binary operation's two operands; both must exist
// in the item.
func (e *exprEnv) bothOperands(it item, o *operand, kind exprKind) (types.AttributeValue, types.AttributeValue, error) {
	a, oka, err := e.operand(it, o.args[0], kind)
	if err != nil {
		return nil, nil, err
	}
	b, okb, err := e.operand(it, o.args[1], kind)
	if err != nil {
		return nil, nil, err
	}
	if !oka || !okb {
		return nil, nil, validationf("The provided expression refers to an attribute that does not exist in the item")
	}
	return a, b, nil
}
