package sfnlocal

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// This file holds a small, strict JSONPath implementation. ASL (JSONPath
// mode) needs three things general JSONPath libraries do not give together:
// Reference Paths (a restricted subset that must name exactly one node), a
// Set operation that creates missing intermediate objects (ResultPath), and a
// clear split between definite paths (one value or "not found") and
// indefinite ones (always a list). Values are the output of encoding/json
// decodeJSON: *object, []any, string, json.Number, bool and nil.

type segKind uint8

const (
	segName      segKind = iota // .name or ['name']
	segIndex                    // [3] or [-1]
	segWildcard                 // .* or [*]
	segUnionName                // ['a','b']
	segUnionIdx                 // [0,2]
	segSlice                    // [start:end]
	segDeepName                 // ..name
	segDeepAll                  // ..*
	segFilter                   // [?(@.x op v)]
)

type segment struct {
	kind   segKind
	name   string
	index  int
	names  []string
	idxs   []int
	start  *int
	end    *int
	filter *filterExpr
}

// jsonPath is a compiled ASL path. context is true for "$$" paths.
type jsonPath struct {
	raw      string
	context  bool
	segs     []segment
	definite bool
}

// pathError is a syntax error in a path.
type pathError struct {
	path string
	msg  string
}

func (e *pathError) Error() string { return fmt.Sprintf("invalid JSONPath %q: %s", e.path, e.msg) }

// parsePath compiles a Path. With reference set, only single-node
// references ($.a.b, $['a'], $[0]) are accepted, as ASL requires for
// ResultPath, ItemsPath, Choice Variable and friends.
func parsePath(raw string, reference bool) (*jsonPath, error) {
	p := &jsonPath{raw: raw, definite: true}
	s := raw
	switch {
	case strings.HasPrefix(s, "$$"):
		p.context = true
		s = s[2:]
	case strings.HasPrefix(s, "$"):
		s = s[1:]
	default:
		return nil, &pathError{raw, "must start with '$'"}
	}
	for len(s) > 0 {
		var seg segment
		var err error
		switch {
		case strings.HasPrefix(s, ".."):
			if reference {
				return nil, &pathError{raw, "'..' is not allowed in a reference path"}
			}
			s = s[2:]
			if strings.HasPrefix(s, "*") {
				seg = segment{kind: segDeepAll}
				s = s[1:]
			} else {
				var name string
				name, s = scanName(s)
				if name == "" {
					return nil, &pathError{raw, "'..' must be followed by a name or '*'"}
				}
				seg = segment{kind: segDeepName, name: name}
			}
		case s[0] == '.':
			s = s[1:]
			if strings.HasPrefix(s, "*") {
				if reference {
					return nil, &pathError{raw, "'*' is not allowed in a reference path"}
				}
				seg = segment{kind: segWildcard}
				s = s[1:]
			} else {
				var name string
				name, s = scanName(s)
				if name == "" {
					return nil, &pathError{raw, "empty name after '.'"}
				}
				seg = segment{kind: segName, name: name}
			}
		case s[0] == '[':
			seg, s, err = parseBracket(raw, s, reference)
			if err != nil {
				return nil, err
			}
		default:
			return nil, &pathError{raw, fmt.Sprintf("unexpected character %q", s[0])}
		}
		if seg.kind != segName && seg.kind != segIndex {
			p.definite = false
		}
		p.segs = append(p.segs, seg)
	}
	return p, nil
}

func scanName(s string) (string, string) {
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '.' || c == '[' || c == ']' || c == '(' || c == ')' || c == '\'' || c == '"' ||
			c == '*' || c == ',' || c == '?' || c == '@' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			break
		}
		i++
	}
	return s[:i], s[i:]
}

func parseBracket(raw, s string, reference bool) (segment, string, error) {
	s = s[1:]
	s = strings.TrimLeft(s, " ")
	if s == "" {
		return segment{}, "", &pathError{raw, "unterminated '['"}
	}
	switch {
	case s[0] == '\'' || s[0] == '"':
		var names []string
		for {
			name, rest, err := scanQuoted(raw, s)
			if err != nil {
				return segment{}, "", err
			}
			names = append(names, name)
			s = strings.TrimLeft(rest, " ")
			if s == "" {
				return segment{}, "", &pathError{raw, "unterminated '['"}
			}
			if s[0] == ']' {
				s = s[1:]
				break
			}
			if s[0] != ',' {
				return segment{}, "", &pathError{raw, fmt.Sprintf("unexpected %q in brackets", s[0])}
			}
			if reference {
				return segment{}, "", &pathError{raw, "',' is not allowed in a reference path"}
			}
			s = strings.TrimLeft(s[1:], " ")
		}
		if len(names) == 1 {
			return segment{kind: segName, name: names[0]}, s, nil
		}
		return segment{kind: segUnionName, names: names}, s, nil
	case s[0] == '*':
		if reference {
			return segment{}, "", &pathError{raw, "'*' is not allowed in a reference path"}
		}
		s = strings.TrimLeft(s[1:], " ")
		if !strings.HasPrefix(s, "]") {
			return segment{}, "", &pathError{raw, "expected ']' after '*'"}
		}
		return segment{kind: segWildcard}, s[1:], nil
	case s[0] == '?':
		if reference {
			return segment{}, "", &pathError{raw, "'?' is not allowed in a reference path"}
		}
		end := matchFilterEnd(s)
		if end < 0 {
			return segment{}, "", &pathError{raw, "unterminated filter expression"}
		}
		body := s[1:end]
		f, err := parseFilter(raw, body)
		if err != nil {
			return segment{}, "", err
		}
		rest := strings.TrimLeft(s[end:], " ")
		if !strings.HasPrefix(rest, "]") {
			return segment{}, "", &pathError{raw, "expected ']' after filter"}
		}
		return segment{kind: segFilter, filter: f}, rest[1:], nil
	}
	close := strings.IndexByte(s, ']')
	if close < 0 {
		return segment{}, "", &pathError{raw, "unterminated '['"}
	}
	body, rest := strings.TrimSpace(s[:close]), s[close+1:]
	if strings.Contains(body, ":") {
		if reference {
			return segment{}, "", &pathError{raw, "':' is not allowed in a reference path"}
		}
		parts := strings.Split(body, ":")
		if len(parts) != 2 {
			return segment{}, "", &pathError{raw, "slices take the form [start:end]"}
		}
		seg := segment{kind: segSlice}
		for i, part := range parts {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			n, err := strconv.Atoi(part)
			if err != nil {
				return segment{}, "", &pathError{raw, fmt.Sprintf("bad slice bound %q", part)}
			}
			if i == 0 {
				seg.start = &n
			} else {
				seg.end = &n
			}
		}
		return seg, rest, nil
	}
	parts := strings.Split(body, ",")
	if len(parts) > 1 && reference {
		return segment{}, "", &pathError{raw, "',' is not allowed in a reference path"}
	}
	var idxs []int
	for _, part := range parts {
		part = strings.TrimSpace(part)
		n, err := strconv.Atoi(part)
		if err != nil {
			return segment{}, "", &pathError{raw, fmt.Sprintf("bad array index %q", part)}
		}
		if reference && n < 0 {
			return segment{}, "", &pathError{raw, "negative index is not allowed in a reference path"}
		}
		idxs = append(idxs, n)
	}
	if len(idxs) == 1 {
		return segment{kind: segIndex, index: idxs[0]}, rest, nil
	}
	return segment{kind: segUnionIdx, idxs: idxs}, rest, nil
}

func scanQuoted(raw, s string) (string, string, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			i++
			b.WriteByte(s[i])
			continue
		}
		if c == q {
			return b.String(), s[i+1:], nil
		}
		b.WriteByte(c)
	}
	return "", "", &pathError{raw, "unterminated quoted name"}
}

// matchFilterEnd returns the index just past the ')' closing "?(".
func matchFilterEnd(s string) int {
	if len(s) < 2 || s[1] != '(' {
		return -1
	}
	depth := 0
	var quote byte
	for i := 1; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '\'', '"':
			quote = c
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// filterExpr is "@.path", or "@.path OP literal".
type filterExpr struct {
	left  *jsonPath
	op    string
	right any
}

func parseFilter(raw, body string) (*filterExpr, error) {
	// body is "(...)"
	inner := strings.TrimSpace(body[1 : len(body)-1])
	if !strings.HasPrefix(inner, "@") {
		return nil, &pathError{raw, "filter must start with '@'"}
	}
	ops := []string{"==", "!=", "<=", ">=", "<", ">"}
	opAt, op := -1, ""
	var quote byte
	for i := 0; i < len(inner) && opAt < 0; i++ {
		c := inner[i]
		if quote != 0 {
			if c == quote {
				quote = 0
			}
			continue
		}
		if c == '\'' || c == '"' {
			quote = c
			continue
		}
		for _, o := range ops {
			if strings.HasPrefix(inner[i:], o) {
				opAt, op = i, o
				break
			}
		}
	}
	lhs := inner
	if opAt >= 0 {
		lhs = strings.TrimSpace(inner[:opAt])
	}
	lp, err := parsePath("$"+lhs[1:], false)
	if err != nil {
		return nil, &pathError{raw, "bad filter path: " + err.Error()}
	}
	f := &filterExpr{left: lp, op: op}
	if opAt >= 0 {
		lit := strings.TrimSpace(inner[opAt+len(op):])
		if lit == "" {
			return nil, &pathError{raw, "filter comparison needs a value"}
		}
		if lit[0] == '\'' {
			v, rest, err := scanQuoted(raw, lit)
			if err != nil || strings.TrimSpace(rest) != "" {
				return nil, &pathError{raw, "bad filter string literal"}
			}
			f.right = v
		} else {
			v, err := decodeJSON([]byte(lit))
			if err != nil {
				return nil, &pathError{raw, fmt.Sprintf("bad filter literal %q", lit)}
			}
			f.right = v
		}
	}
	return f, nil
}

func (f *filterExpr) match(v any) bool {
	got, ok := f.left.get(v)
	if f.op == "" {
		return ok
	}
	if !ok {
		return false
	}
	switch f.op {
	case "==":
		return jsonEqual(got, f.right)
	case "!=":
		return !jsonEqual(got, f.right)
	}
	if a, ok := toFloat(got); ok {
		if b, ok := toFloat(f.right); ok {
			switch f.op {
			case "<":
				return a < b
			case "<=":
				return a <= b
			case ">":
				return a > b
			case ">=":
				return a >= b
			}
		}
		return false
	}
	if a, ok := got.(string); ok {
		if b, ok := f.right.(string); ok {
			switch f.op {
			case "<":
				return a < b
			case "<=":
				return a <= b
			case ">":
				return a > b
			case ">=":
				return a >= b
			}
		}
	}
	return false
}

// get resolves a definite path; ok is false when any step is missing. For an
// indefinite path it returns every match as a []any (possibly empty) and ok.
func (p *jsonPath) get(root any) (any, bool) {
	if p.definite {
		cur := root
		for i := range p.segs {
			next, ok := stepDefinite(cur, &p.segs[i])
			if !ok {
				return nil, false
			}
			cur = next
		}
		return cur, true
	}
	cur := []any{root}
	for i := range p.segs {
		var next []any
		for _, v := range cur {
			next = stepAll(v, &p.segs[i], next)
		}
		cur = next
	}
	if cur == nil {
		cur = []any{}
	}
	return cur, true
}

func stepDefinite(v any, seg *segment) (any, bool) {
	switch seg.kind {
	case segName:
		o, ok := v.(*object)
		if !ok {
			return nil, false
		}
		return o.get(seg.name)
	case segIndex:
		a, ok := v.([]any)
		if !ok {
			return nil, false
		}
		i := seg.index
		if i < 0 {
			i += len(a)
		}
		if i < 0 || i >= len(a) {
			return nil, false
		}
		return a[i], true
	}
	return nil, false
}

func stepAll(v any, seg *segment, out []any) []any {
	switch seg.kind {
	case segName, segIndex:
		if x, ok := stepDefinite(v, seg); ok {
			out = append(out, x)
		}
	case segWildcard:
		switch t := v.(type) {
		case *object:
			for _, k := range t.keys {
				out = append(out, t.m[k])
			}
		case []any:
			out = append(out, t...)
		}
	case segUnionName:
		if o, ok := v.(*object); ok {
			for _, n := range seg.names {
				if x, ok := o.get(n); ok {
					out = append(out, x)
				}
			}
		}
	case segUnionIdx:
		if a, ok := v.([]any); ok {
			for _, i := range seg.idxs {
				if i < 0 {
					i += len(a)
				}
				if i >= 0 && i < len(a) {
					out = append(out, a[i])
				}
			}
		}
	case segSlice:
		if a, ok := v.([]any); ok {
			start, end := 0, len(a)
			if seg.start != nil {
				start = *seg.start
				if start < 0 {
					start += len(a)
				}
			}
			if seg.end != nil {
				end = *seg.end
				if end < 0 {
					end += len(a)
				}
			}
			start = max(start, 0)
			end = min(end, len(a))
			for i := start; i < end; i++ {
				out = append(out, a[i])
			}
		}
	case segDeepName, segDeepAll:
		out = deepCollect(v, seg, out)
	case segFilter:
		switch t := v.(type) {
		case []any:
			for _, x := range t {
				if seg.filter.match(x) {
					out = append(out, x)
				}
			}
		case *object:
			for _, k := range t.keys {
				if seg.filter.match(t.m[k]) {
					out = append(out, t.m[k])
				}
			}
		}
	}
	return out
}

func deepCollect(v any, seg *segment, out []any) []any {
	// Like Jayway JsonPath: matches on this node first, then each child.
	switch t := v.(type) {
	case *object:
		if seg.kind == segDeepAll {
			for _, k := range t.keys {
				out = append(out, t.m[k])
			}
		} else if x, ok := t.get(seg.name); ok {
			out = append(out, x)
		}
		for _, k := range t.keys {
			out = deepCollect(t.m[k], seg, out)
		}
	case []any:
		if seg.kind == segDeepAll {
			out = append(out, t...)
		}
		for _, x := range t {
			out = deepCollect(x, seg, out)
		}
	}
	return out
}

var errPathNotObject = errors.New("path step is not an object")

// set returns a copy of root with value placed at the reference path p,
// creating missing objects along the way. root itself is not modified.
func (p *jsonPath) set(root, value any) (any, error) {
	if len(p.segs) == 0 {
		return value, nil
	}
	return setAt(root, p.segs, value)
}

func setAt(cur any, segs []segment, value any) (any, error) {
	seg := segs[0]
	switch seg.kind {
	case segName:
		var m *object
		switch t := cur.(type) {
		case *object:
			m = t.clone()
		case nil:
			m = newObject(1)
		default:
			return nil, fmt.Errorf("cannot set field %q on a %s: %w", seg.name, jsonTypeName(cur), errPathNotObject)
		}
		if len(segs) == 1 {
			m.set(seg.name, value)
			return m, nil
		}
		prev, _ := m.get(seg.name)
		child, err := setAt(prev, segs[1:], value)
		if err != nil {
			return nil, err
		}
		m.set(seg.name, child)
		return m, nil
	case segIndex:
		a, ok := cur.([]any)
		if !ok || seg.index < 0 || seg.index >= len(a) {
			return nil, fmt.Errorf("cannot set index %d: %w", seg.index, errPathNotObject)
		}
		b := append([]any(nil), a...)
		if len(segs) == 1 {
			b[seg.index] = value
			return b, nil
		}
		child, err := setAt(b[seg.index], segs[1:], value)
		if err != nil {
			return nil, err
		}
		b[seg.index] = child
		return b, nil
	}
	return nil, fmt.Errorf("path is not a reference path: %w", errPathNotObject)
}

func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	case float64:
		return t, true
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	}
	return 0, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// bracketed renders a path the way Step Functions quotes it in errors:
// $['a']['b'][0].
func (p *jsonPath) bracketed() string {
	if !p.definite {
		return p.raw
	}
	var b strings.Builder
	if p.context {
		b.WriteString("$$")
	} else {
		b.WriteString("$")
	}
	for _, s := range p.segs {
		if s.kind == segIndex {
			fmt.Fprintf(&b, "[%d]", s.index)
		} else {
			fmt.Fprintf(&b, "['%s']", s.name)
		}
	}
	return b.String()
}
