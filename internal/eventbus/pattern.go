// Package eventbus is a local Amazon EventBridge: the event pattern language
// (compiled once, matched fast against raw event JSON), a bus with rules and
// targets that delivers at least once with retries, and the EventBridge API
// over awsJson1_1 so that the aws-sdk-go-v2 eventbridge client works against it.
package eventbus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strings"
	"sync"
	"unicode/utf8"
)

// PatternError is an event pattern that EventBridge would refuse. Its message
// has the shape of the InvalidEventPatternException that AWS returns.
type PatternError struct {
	// Reason is the rule that was broken, e.g. "Empty arrays are not allowed".
	Reason string
	// Line and Column locate the problem in the pattern text (1-based; 0 when
	// unknown).
	Line, Column int
	source       string
}

func (e *PatternError) Error() string {
	if e.Line == 0 {
		return "Event pattern is not valid. Reason: " + e.Reason
	}
	src := e.source
	if len(src) > 500 {
		src = src[:500] + fmt.Sprintf("[truncated %d chars]", len(e.source)-500)
	}
	return fmt.Sprintf("Event pattern is not valid. Reason: %s at [Source: (String)%q; line: %d, column: %d]",
		e.Reason, src, e.Line, e.Column)
}

// Pattern is a compiled event pattern. It is immutable and safe for
// concurrent use.
type Pattern struct {
	source string
	root   *andNode
	trie   *pathNode
	npaths int
	paths  [][]string // by local path id
	// dnf is the pattern with $or distributed out, for the array
	// consistency check (nil when too large).
	dnf [][]*fieldCond
}

// andNode holds conditions that must all be true: every field condition, and
// for every $or group at least one of its branches.
type andNode struct {
	fields []fieldCond
	ors    [][]*andNode
}

// fieldCond is one pattern field: the event value(s) at path must satisfy at
// least one of the matchers.
type fieldCond struct {
	path int
	ms   []matcher
}

type matchKind uint8

const (
	mExactString matchKind = iota + 1
	mExactNumber
	mExactLiteral // true, false, null
	mPrefix
	mPrefixFold
	mSuffix
	mSuffixFold
	mEqualsFold
	mWildcard
	mNumeric
	mCIDR
	mExists
	mAbsent
	mAnythingBut
)

// matcher is one element of a pattern field's value array.
type matcher struct {
	kind matchKind
	s    string    // exact string / literal / prefix / suffix (folded for *Fold)
	n    float64   // exact number
	lit  valueKind // for mExactLiteral
	wc   *wildcard
	rng  numRange
	pfx  netip.Prefix
	not  *exclusion // for mAnythingBut
}

type numRange struct {
	hasLo, loOpen bool
	lo            float64
	hasHi, hiOpen bool
	hi            float64
}

func (r numRange) contains(v float64) bool {
	if r.hasLo {
		if r.loOpen && !(v > r.lo) || !r.loOpen && !(v >= r.lo) {
			return false
		}
	}
	if r.hasHi {
		if r.hiOpen && !(v < r.hi) || !r.hiOpen && !(v <= r.hi) {
			return false
		}
	}
	return true
}

// exclusion is what anything-but leaves out. A value matches anything-but
// when it is present and not excluded.
type exclusion struct {
	strs     map[string]struct{}
	nums     []float64
	folded   map[string]struct{} // equals-ignore-case, lower-cased
	prefixes []string
	suffixes []string
	wcs      []*wildcard
}

func (x *exclusion) excludes(v leaf) bool {
	switch v.kind {
	case kindString:
		if _, ok := x.strs[v.s]; ok {
			return true
		}
		if x.folded != nil {
			if _, ok := x.folded[strings.ToLower(v.s)]; ok {
				return true
			}
		}
		for _, p := range x.prefixes {
			if strings.HasPrefix(v.s, p) {
				return true
			}
		}
		for _, p := range x.suffixes {
			if strings.HasSuffix(v.s, p) {
				return true
			}
		}
		for _, w := range x.wcs {
			if w.match(v.s) {
				return true
			}
		}
	case kindNumber:
		for _, n := range x.nums {
			if v.numOK && v.n == n {
				return true
			}
		}
	}
	return false
}

func (m *matcher) matches(v leaf) bool {
	switch m.kind {
	case mExactString:
		return v.kind == kindString && v.s == m.s
	case mExactNumber:
		return v.kind == kindNumber && (v.s == m.s || v.numOK && v.n == m.n)
	case mExactLiteral:
		return v.kind == m.lit
	case mPrefix:
		return v.kind == kindString && strings.HasPrefix(v.s, m.s)
	case mSuffix:
		return v.kind == kindString && strings.HasSuffix(v.s, m.s)
	case mPrefixFold:
		return v.kind == kindString && hasPrefixFold(v.s, m.s)
	case mSuffixFold:
		return v.kind == kindString && hasSuffixFold(v.s, m.s)
	case mEqualsFold:
		return v.kind == kindString && strings.EqualFold(v.s, m.s)
	case mWildcard:
		return v.kind == kindString && m.wc.match(v.s)
	case mNumeric:
		return v.kind == kindNumber && v.numOK && m.rng.contains(v.n)
	case mCIDR:
		if v.kind != kindString {
			return false
		}
		a, err := netip.ParseAddr(v.s)
		return err == nil && m.pfx.Contains(a.Unmap())
	case mAnythingBut:
		return !m.not.excludes(v)
	}
	return false
}

func hasPrefixFold(s, p string) bool {
	if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
		return true
	}
	if isASCII(s) && isASCII(p) {
		return false
	}
	return strings.HasPrefix(strings.ToLower(s), strings.ToLower(p))
}

func hasSuffixFold(s, p string) bool {
	if len(s) >= len(p) && strings.EqualFold(s[len(s)-len(p):], p) {
		return true
	}
	if isASCII(s) && isASCII(p) {
		return false
	}
	return strings.HasSuffix(strings.ToLower(s), strings.ToLower(p))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// wildcard is a pattern where '*' matches any run of characters; "\*" and
// "\\" are a literal star and backslash.
type wildcard struct {
	parts []string // literal pieces between stars
	lead  bool     // starts with a star
	trail bool     // ends with a star
}

func compileWildcard(p string) (*wildcard, string) {
	w := &wildcard{}
	var cur strings.Builder
	prevStar := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '\\':
			if i+1 >= len(p) || (p[i+1] != '*' && p[i+1] != '\\') {
				return nil, fmt.Sprintf("Invalid escape character at pos %d", i)
			}
			cur.WriteByte(p[i+1])
			i++
			prevStar = false
		case '*':
			if prevStar {
				return nil, fmt.Sprintf("Consecutive wildcard characters at pos %d", i)
			}
			if i == 0 {
				w.lead = true
			} else {
				w.parts = append(w.parts, cur.String())
				cur.Reset()
			}
			prevStar = true
			if i == len(p)-1 {
				w.trail = true
			}
		default:
			cur.WriteByte(c)
			prevStar = false
		}
	}
	if !w.trail {
		w.parts = append(w.parts, cur.String())
	}
	return w, ""
}

func (w *wildcard) match(s string) bool {
	parts := w.parts
	if len(parts) == 0 { // the pattern is "*"
		return true
	}
	if !w.lead {
		if !strings.HasPrefix(s, parts[0]) {
			return false
		}
		s = s[len(parts[0]):]
		parts = parts[1:]
		if len(parts) == 0 {
			return w.trail || s == ""
		}
	}
	last := len(parts) - 1
	for i, p := range parts {
		if i == last && !w.trail {
			return len(s) >= len(p) && strings.HasSuffix(s, p)
		}
		j := strings.Index(s, p)
		if j < 0 {
			return false
		}
		s = s[j+len(p):]
	}
	return true
}

// reservedInOr are the match-type names that may not be field names inside a
// $or branch.
var reservedInOr = map[string]bool{
	"prefix": true, "suffix": true, "equals-ignore-case": true, "wildcard": true,
	"anything-but": true, "numeric": true, "cidr": true, "exists": true,
}

// Compile parses and validates an event pattern.
func Compile(pattern []byte) (*Pattern, error) {
	p := &parser{dec: json.NewDecoder(bytes.NewReader(pattern)), src: pattern}
	p.dec.UseNumber()
	root, err := p.parse()
	if err != nil {
		return nil, err
	}
	pat := &Pattern{source: string(pattern), root: root, trie: newPathNode()}
	pat.assignPaths(root, p.paths)
	pat.dnf = root.expand()
	return pat, nil
}

// MustCompile is Compile for patterns known to be valid; it panics otherwise.
func MustCompile(pattern string) *Pattern {
	p, err := Compile([]byte(pattern))
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the pattern text as given to Compile.
func (p *Pattern) String() string { return p.source }

// assignPaths turns the parser's provisional path indices into trie ids.
func (p *Pattern) assignPaths(n *andNode, paths [][]string) {
	ids := make(map[int]int)
	var walk func(n *andNode)
	walk = func(n *andNode) {
		for i := range n.fields {
			prov := n.fields[i].path
			id, ok := ids[prov]
			if !ok {
				id = p.trie.insert(paths[prov], &p.npaths)
				ids[prov] = id
				if id == len(p.paths) {
					p.paths = append(p.paths, paths[prov])
				}
			}
			n.fields[i].path = id
		}
		for _, g := range n.ors {
			for _, b := range g {
				walk(b)
			}
		}
	}
	walk(n)
}

// matchState is the per-call scratch space for matching.
type matchState struct {
	sc     scanner
	chosen []leaf
	seen   []uint32
	gen    uint32
	cand   []int
}

var statePool = sync.Pool{New: func() any { return new(matchState) }}

func getState(npaths int) *matchState {
	st := statePool.Get().(*matchState)
	if cap(st.sc.vals) < npaths {
		st.sc.vals = make([][]leaf, npaths)
	}
	st.sc.vals = st.sc.vals[:npaths]
	return st
}

func putState(st *matchState) {
	for _, id := range st.sc.touched {
		st.sc.vals[id] = st.sc.vals[id][:0]
	}
	st.sc.touched = st.sc.touched[:0]
	st.sc.data = nil
	statePool.Put(st)
}

func (st *matchState) scan(event []byte, root *pathNode) error {
	st.sc.data = event
	st.sc.pos = 0
	st.sc.depth = 0
	st.sc.stack = st.sc.stack[:0]
	st.sc.arena = st.sc.arena[:0]
	st.sc.arrays = 0
	st.sc.inArray = false
	return st.sc.scanDocument(root)
}

// matches evaluates p against the scanned event. Beyond the per-field test,
// the values that satisfy different fields must not come from different
// elements of the same array of objects (EventBridge does not let a rule
// match using fields of peer array elements).
func (p *Pattern) matches(st *matchState, remap []int) bool {
	vals := st.sc.vals
	if !p.root.eval(vals, remap) {
		return false
	}
	if !st.sc.inArray || p.dnf == nil {
		return true
	}
	for _, branch := range p.dnf {
		st.chosen = st.chosen[:0]
		if st.consistent(branch, remap) {
			return true
		}
	}
	return false
}

// consistent looks for one value per field, all from compatible array
// elements (backtracking over the candidates).
func (st *matchState) consistent(fields []*fieldCond, remap []int) bool {
	if len(fields) == 0 {
		return true
	}
	f := fields[0]
	id := f.path
	if remap != nil {
		id = remap[id]
	}
	vs := st.sc.vals[id]
	if len(vs) == 0 {
		for i := range f.ms {
			if f.ms[i].kind == mAbsent {
				return st.consistent(fields[1:], remap)
			}
		}
		return false
	}
	for vi := range vs {
		v := vs[vi]
		ok := false
		for i := range f.ms {
			m := &f.ms[i]
			if m.kind == mExists || m.kind != mAbsent && m.matches(v) {
				ok = true
				break
			}
		}
		if !ok || !st.compatible(v) {
			continue
		}
		st.chosen = append(st.chosen, v)
		if st.consistent(fields[1:], remap) {
			return true
		}
		st.chosen = st.chosen[:len(st.chosen)-1]
	}
	return false
}

func (st *matchState) compatible(v leaf) bool {
	mine := st.sc.arena[v.memLo:v.memHi]
	if len(mine) == 0 {
		return true
	}
	for _, c := range st.chosen {
		for _, b := range st.sc.arena[c.memLo:c.memHi] {
			for _, a := range mine {
				if a.id == b.id && a.idx != b.idx {
					return false
				}
			}
		}
	}
	return true
}

// maxBranches bounds the $or expansion used for the array-consistency
// check; beyond it the check is skipped.
const maxBranches = 256

// expand lists the AND-only alternatives of n ($or distributed out).
func (n *andNode) expand() [][]*fieldCond {
	base := make([]*fieldCond, len(n.fields))
	for i := range n.fields {
		base[i] = &n.fields[i]
	}
	out := [][]*fieldCond{base}
	for _, g := range n.ors {
		var alts [][]*fieldCond
		for _, b := range g {
			sub := b.expand()
			if sub == nil {
				return nil
			}
			alts = append(alts, sub...)
		}
		var next [][]*fieldCond
		for _, o := range out {
			for _, a := range alts {
				c := make([]*fieldCond, 0, len(o)+len(a))
				next = append(next, append(append(c, o...), a...))
				if len(next) > maxBranches {
					return nil
				}
			}
		}
		out = next
	}
	return out
}

// Match reports whether the event (a JSON object) matches the pattern.
// Malformed JSON never matches.
func (p *Pattern) Match(event []byte) bool {
	st := getState(p.npaths)
	defer putState(st)
	if err := st.scan(event, p.trie); err != nil {
		return false
	}
	return p.matches(st, nil)
}

// eval evaluates the node against the leaves found in an event. remap, when
// non-nil, translates this pattern's path ids to the scanner's.
func (n *andNode) eval(vals [][]leaf, remap []int) bool {
	for i := range n.fields {
		f := &n.fields[i]
		id := f.path
		if remap != nil {
			id = remap[id]
		}
		if !f.eval(vals[id]) {
			return false
		}
	}
	for _, g := range n.ors {
		ok := false
		for _, b := range g {
			if b.eval(vals, remap) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (f *fieldCond) eval(vs []leaf) bool {
	for i := range f.ms {
		m := &f.ms[i]
		switch m.kind {
		case mExists:
			if len(vs) > 0 {
				return true
			}
		case mAbsent:
			if len(vs) == 0 {
				return true
			}
		default:
			for _, v := range vs {
				if m.matches(v) {
					return true
				}
			}
		}
	}
	return false
}

// parser reads a pattern token by token so that errors can name a position.
type parser struct {
	dec   *json.Decoder
	src   []byte
	paths [][]string
}

func (p *parser) fail(reason string) error {
	off := int(p.dec.InputOffset())
	if off > len(p.src) {
		off = len(p.src)
	}
	line, col := 1, 1
	for _, c := range p.src[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &PatternError{Reason: reason, Line: line, Column: col, source: string(p.src)}
}

func (p *parser) token() (json.Token, error) {
	t, err := p.dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &PatternError{Reason: "Unexpected end-of-input"}
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &PatternError{Reason: "Unrecognized token: " + se.Error()}
		}
		return nil, &PatternError{Reason: err.Error()}
	}
	return t, nil
}

func (p *parser) parse() (*andNode, error) {
	t, err := p.token()
	if err != nil {
		return nil, err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, p.fail("Filter is not an object")
	}
	root := &andNode{}
	if err := p.object(root, nil, false); err != nil {
		return nil, err
	}
	// Anything after the pattern object is an error.
	if _, err := p.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, p.fail("Unexpected content after the pattern object")
	}
	return root, nil
}

func extend(prefix []string, key string) []string {
	out := make([]string, len(prefix)+1)
	copy(out, prefix)
	out[len(prefix)] = key
	return out
}

// object reads the members of an object whose '{' was consumed, adding its
// conditions to node. prefix is the field path of the object.
func (p *parser) object(node *andNode, prefix []string, inOr bool) error {
	fields := 0
	for {
		t, err := p.token()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); ok && d == '}' {
			break
		}
		key, _ := t.(string)
		fields++
		if key == "$or" {
			t, err := p.token()
			if err != nil {
				return err
			}
			switch d, _ := t.(json.Delim); d {
			case '[':
				if err := p.orGroup(node, prefix); err != nil {
					return err
				}
				continue
			case '{':
				// A "$or" with an object value is an ordinary field name.
				if err := p.object(node, extend(prefix, key), inOr); err != nil {
					return err
				}
				continue
			default:
				return p.fail(`"$or" must be an object or an array`)
			}
		}
		if inOr && reservedInOr[key] {
			return p.fail(key + " is Ruler reserved fieldName which cannot be used inside $or.")
		}
		t, err = p.token()
		if err != nil {
			return err
		}
		d, _ := t.(json.Delim)
		switch d {
		case '{':
			if err := p.object(node, extend(prefix, key), inOr); err != nil {
				return err
			}
		case '[':
			ms, err := p.values()
			if err != nil {
				return err
			}
			p.addField(node, extend(prefix, key), ms)
		default:
			return p.fail(fmt.Sprintf("%q must be an object or an array", key))
		}
	}
	if fields == 0 {
		return p.fail("Empty objects are not allowed")
	}
	return nil
}

func (p *parser) addField(node *andNode, path []string, ms []matcher) {
	id := -1
	for i, q := range p.paths {
		if equalPath(q, path) {
			id = i
			break
		}
	}
	if id < 0 {
		id = len(p.paths)
		p.paths = append(p.paths, path)
	}
	// A repeated field replaces the earlier one, as with a JSON object.
	for i := range node.fields {
		if node.fields[i].path == id {
			node.fields[i].ms = ms
			return
		}
	}
	node.fields = append(node.fields, fieldCond{path: id, ms: ms})
}

func equalPath(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (p *parser) orGroup(node *andNode, prefix []string) error {
	var group []*andNode
	for {
		t, err := p.token()
		if err != nil {
			return err
		}
		d, _ := t.(json.Delim)
		if d == ']' {
			break
		}
		if d != '{' {
			return p.fail("Only JSON object is allowed in array of $or relationship.")
		}
		b := &andNode{}
		if err := p.object(b, prefix, true); err != nil {
			return err
		}
		group = append(group, b)
	}
	if len(group) < 2 {
		return p.fail("There must have at least 2 Objects in $or relationship.")
	}
	node.ors = append(node.ors, group)
	return nil
}

// values reads a field's value array (after '[').
func (p *parser) values() ([]matcher, error) {
	var ms []matcher
	for {
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		switch v := t.(type) {
		case json.Delim:
			if v == ']' {
				if len(ms) == 0 {
					return nil, p.fail("Empty arrays are not allowed")
				}
				return ms, nil
			}
			if v == '{' {
				m, err := p.matchExpr()
				if err != nil {
					return nil, err
				}
				ms = append(ms, m)
				continue
			}
			return nil, p.fail("Match value must be String, number, true, false, or null")
		case string:
			ms = append(ms, matcher{kind: mExactString, s: v})
		case json.Number:
			m := matcher{kind: mExactNumber, s: v.String()}
			f, err := v.Float64()
			if err != nil && !isRangeErr(err) {
				return nil, p.fail("Match value must be String, number, true, false, or null")
			}
			m.n = f
			ms = append(ms, m)
		case bool:
			if v {
				ms = append(ms, matcher{kind: mExactLiteral, lit: kindTrue})
			} else {
				ms = append(ms, matcher{kind: mExactLiteral, lit: kindFalse})
			}
		case nil:
			ms = append(ms, matcher{kind: mExactLiteral, lit: kindNull})
		}
	}
}

func isRangeErr(err error) bool { return strings.Contains(err.Error(), "value out of range") }

// endObject consumes the '}' closing a match expression.
func (p *parser) endObject(reason string) error {
	t, err := p.token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != '}' {
		return p.fail(reason)
	}
	return nil
}

const oneKey = "Only one key allowed in match expression"

// matchExpr reads a match expression object (after '{').
func (p *parser) matchExpr() (matcher, error) {
	t, err := p.token()
	if err != nil {
		return matcher{}, err
	}
	name, ok := t.(string)
	if !ok {
		return matcher{}, p.fail("Match expression name not found")
	}
	var m matcher
	switch name {
	case "prefix", "suffix":
		m, err = p.affix(name)
	case "equals-ignore-case":
		s, err2 := p.stringValue("equals-ignore-case match pattern must be a string")
		m, err = matcher{kind: mEqualsFold, s: s}, err2
	case "wildcard":
		s, err2 := p.stringValue("wildcard match pattern must be a string")
		if err2 != nil {
			return matcher{}, err2
		}
		wc, reason := compileWildcard(s)
		if wc == nil {
			return matcher{}, p.fail(reason)
		}
		m = matcher{kind: mWildcard, wc: wc}
	case "exists":
		t, err2 := p.token()
		if err2 != nil {
			return matcher{}, err2
		}
		b, ok := t.(bool)
		if !ok {
			return matcher{}, p.fail("exists match pattern must be either true or false.")
		}
		m = matcher{kind: mAbsent}
		if b {
			m.kind = mExists
		}
	case "cidr":
		s, err2 := p.stringValue("cidr match pattern must be a string")
		if err2 != nil {
			return matcher{}, err2
		}
		pfx, perr := netip.ParsePrefix(s)
		if perr != nil {
			return matcher{}, p.fail("Nonstandard IP address: " + s)
		}
		m = matcher{kind: mCIDR, pfx: pfx.Masked()}
	case "numeric":
		t, err2 := p.token()
		if err2 != nil {
			return matcher{}, err2
		}
		if d, ok := t.(json.Delim); !ok || d != '[' {
			return matcher{}, p.fail("Value of numeric must be an array.")
		}
		m, err = p.numeric()
		if err == nil {
			err = p.endObject("Too many elements in numeric expression")
		}
		return m, err
	case "anything-but":
		m, err = p.anythingBut()
		if err == nil {
			err = p.endObject("Too many elements in numeric expression")
		}
		return m, err
	default:
		return matcher{}, p.fail("Unrecognized match type " + name)
	}
	if err != nil {
		return matcher{}, err
	}
	return m, p.endObject(oneKey)
}

func (p *parser) stringValue(reason string) (string, error) {
	t, err := p.token()
	if err != nil {
		return "", err
	}
	s, ok := t.(string)
	if !ok {
		return "", p.fail(reason)
	}
	return s, nil
}

// affix reads the value of prefix or suffix: a string, or
// {"equals-ignore-case": string}.
func (p *parser) affix(name string) (matcher, error) {
	t, err := p.token()
	if err != nil {
		return matcher{}, err
	}
	kind, foldKind := mPrefix, mPrefixFold
	if name == "suffix" {
		kind, foldKind = mSuffix, mSuffixFold
	}
	switch v := t.(type) {
	case string:
		return matcher{kind: kind, s: v}, nil
	case json.Delim:
		if v == '{' {
			t, err := p.token()
			if err != nil {
				return matcher{}, err
			}
			if k, _ := t.(string); k != "equals-ignore-case" {
				return matcher{}, p.fail(fmt.Sprintf("Unsupported %s pattern: %v", name, t))
			}
			s, err := p.stringValue(name + " match pattern must be a string")
			if err != nil {
				return matcher{}, err
			}
			if err := p.endObject(oneKey); err != nil {
				return matcher{}, err
			}
			return matcher{kind: foldKind, s: s}, nil
		}
	}
	return matcher{}, p.fail(name + " match pattern must be a string")
}

func (p *parser) number(reason string) (float64, error) {
	t, err := p.token()
	if err != nil {
		return 0, err
	}
	n, ok := t.(json.Number)
	if !ok {
		return 0, p.fail(reason)
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) {
		return 0, p.fail(reason)
	}
	return f, nil
}

// numeric reads a numeric expression (after '['): "=" n, or a lower bound
// and/or an upper bound.
func (p *parser) numeric() (matcher, error) {
	t, err := p.token()
	if err != nil {
		return matcher{}, err
	}
	op, ok := t.(string)
	if !ok {
		return matcher{}, p.fail(fmt.Sprintf("Invalid member in numeric match: %v", t))
	}
	var r numRange
	end := func() error {
		t, err := p.token()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); !ok || d != ']' {
			return p.fail("Too many elements in numeric expression")
		}
		return nil
	}
	switch op {
	case "=":
		v, err := p.number("Value of equals must be numeric")
		if err != nil {
			return matcher{}, err
		}
		r = numRange{hasLo: true, lo: v, hasHi: true, hi: v}
		return matcher{kind: mNumeric, rng: r}, end()
	case "<", "<=":
		v, err := p.number("Value of " + op + " must be numeric")
		if err != nil {
			return matcher{}, err
		}
		r = numRange{hasHi: true, hi: v, hiOpen: op == "<"}
		return matcher{kind: mNumeric, rng: r}, end()
	case ">", ">=":
		v, err := p.number("Value of " + op + " must be numeric")
		if err != nil {
			return matcher{}, err
		}
		r = numRange{hasLo: true, lo: v, loOpen: op == ">"}
	default:
		return matcher{}, p.fail("Unrecognized numeric range operator: " + op)
	}
	t, err = p.token()
	if err != nil {
		return matcher{}, err
	}
	if d, ok := t.(json.Delim); ok && d == ']' {
		return matcher{kind: mNumeric, rng: r}, nil
	}
	op2, ok := t.(string)
	if !ok {
		return matcher{}, p.fail(fmt.Sprintf("Bad value in numeric range: %v", t))
	}
	if op2 != "<" && op2 != "<=" {
		return matcher{}, p.fail("Bad numeric range operator: " + op2)
	}
	v, err := p.number("Value of " + op2 + " must be numeric")
	if err != nil {
		return matcher{}, err
	}
	r.hasHi, r.hi, r.hiOpen = true, v, op2 == "<"
	if !(r.lo < r.hi) {
		return matcher{}, p.fail("Bottom must be less than top")
	}
	return matcher{kind: mNumeric, rng: r}, end()
}

// anythingBut reads the value of an anything-but expression.
func (p *parser) anythingBut() (matcher, error) {
	x := &exclusion{}
	m := matcher{kind: mAnythingBut, not: x}
	t, err := p.token()
	if err != nil {
		return matcher{}, err
	}
	switch v := t.(type) {
	case string:
		x.strs = map[string]struct{}{v: {}}
		return m, nil
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return matcher{}, p.fail("Value of anything-but must be an array or single string/number value.")
		}
		x.nums = []float64{f}
		return m, nil
	case json.Delim:
		switch v {
		case '[':
			return m, p.anythingButList(x)
		case '{':
			return m, p.anythingButObject(x)
		}
	}
	return matcher{}, p.fail("Value of anything-but must be an array or single string/number value.")
}

func (p *parser) anythingButList(x *exclusion) error {
	hasStr, hasNum := false, false
	for {
		t, err := p.token()
		if err != nil {
			return err
		}
		switch v := t.(type) {
		case string:
			if x.strs == nil {
				x.strs = map[string]struct{}{}
			}
			x.strs[v] = struct{}{}
			hasStr = true
			continue
		case json.Number:
			f, err := v.Float64()
			if err != nil {
				return p.fail("Inside anything but list, start|null|boolean is not supported.")
			}
			x.nums = append(x.nums, f)
			hasNum = true
			continue
		case json.Delim:
			if v == ']' {
				if hasStr == hasNum {
					return p.fail("Inside anything but list, either all values are number or string, mixed type is not supported")
				}
				return nil
			}
		}
		return p.fail("Inside anything but list, start|null|boolean is not supported.")
	}
}

// stringOrList reads a string or a non-empty array of strings.
func (p *parser) stringOrList(reason string) ([]string, error) {
	t, err := p.token()
	if err != nil {
		return nil, err
	}
	if s, ok := t.(string); ok {
		return []string{s}, nil
	}
	if d, ok := t.(json.Delim); !ok || d != '[' {
		return nil, p.fail(reason)
	}
	var out []string
	for {
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		if d, ok := t.(json.Delim); ok && d == ']' {
			if len(out) == 0 {
				return nil, p.fail("Empty arrays are not allowed")
			}
			return out, nil
		}
		s, ok := t.(string)
		if !ok {
			return nil, p.fail(reason)
		}
		out = append(out, s)
	}
}

func (p *parser) anythingButObject(x *exclusion) error {
	t, err := p.token()
	if err != nil {
		return err
	}
	op, ok := t.(string)
	if !ok {
		return p.fail("Anything-But expression name not found")
	}
	switch op {
	case "prefix", "suffix":
		vals, err := p.stringOrList("prefix/suffix match pattern must be a string")
		if err != nil {
			return err
		}
		for _, v := range vals {
			if v == "" {
				return p.fail("Null prefix/suffix not allowed")
			}
		}
		if op == "prefix" {
			x.prefixes = vals
		} else {
			x.suffixes = vals
		}
	case "equals-ignore-case":
		vals, err := p.stringOrList("Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.")
		if err != nil {
			return err
		}
		x.folded = map[string]struct{}{}
		for _, v := range vals {
			x.folded[strings.ToLower(v)] = struct{}{}
		}
	case "wildcard":
		vals, err := p.stringOrList("wildcard match pattern must be a string")
		if err != nil {
			return err
		}
		for _, v := range vals {
			wc, reason := compileWildcard(v)
			if wc == nil {
				return p.fail(reason)
			}
			x.wcs = append(x.wcs, wc)
		}
	default:
		return p.fail("Unsupported anything-but pattern: " + op)
	}
	return p.endObject(oneKey)
}
