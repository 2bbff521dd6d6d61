package memdynamo

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// This file parses the expression languages of DynamoDB: condition (and
// filter) expressions, key condition expressions, update expressions and
// projection expressions. Each distinct expression is parsed once (see
// exprCache); placeholders (#name, :value) are resolved when a request is
// evaluated.

// exprKind names the request parameter an expression came from; it is the
// prefix of DynamoDB's error messages ("Invalid ConditionExpression: ...").
type exprKind string

const (
	kindCondition  exprKind = "ConditionExpression"
	kindFilter     exprKind = "FilterExpression"
	kindKey        exprKind = "KeyConditionExpression"
	kindUpdate     exprKind = "UpdateExpression"
	kindProjection exprKind = "ProjectionExpression"
)

// --- lexer

type tokKind int

const (
	tEOF   tokKind = iota
	tIdent         // attribute name, keyword or function name
	tName          // #placeholder
	tValue         // :placeholder
	tInt           // list index
	tPunct         // ( ) [ ] , . = <> < <= > >= + -
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func lex(kind exprKind, s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' || c == ':':
			j := i + 1
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			if j == i+1 {
				return nil, syntaxErr(kind, string(c), s[i:])
			}
			k := tName
			if c == ':' {
				k = tValue
			}
			out = append(out, token{k, s[i:j], i})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			out = append(out, token{tInt, s[i:j], i})
			i = j
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			out = append(out, token{tIdent, s[i:j], i})
			i = j
		case c == '<' || c == '>':
			if i+1 < len(s) && (s[i+1] == '=' || c == '<' && s[i+1] == '>') {
				out = append(out, token{tPunct, s[i : i+2], i})
				i += 2
				continue
			}
			out = append(out, token{tPunct, s[i : i+1], i})
			i++
		case strings.IndexByte("()[],.=+-", c) >= 0:
			out = append(out, token{tPunct, s[i : i+1], i})
			i++
		default:
			return nil, validationf("Invalid %s: Invalid character encountered; character: %q", kind, string(c))
		}
	}
	return append(out, token{tEOF, "", len(s)}), nil
}

func syntaxErr(kind exprKind, tok, near string) error {
	if len(near) > 20 {
		near = near[:20]
	}
	if tok == "" {
		tok = "<EOF>"
	}
	return validationf("Invalid %s: Syntax error; token: %q, near: %q", kind, tok, near)
}

// --- AST

// pathElem is one step of a document path: an attribute or map key (raw or
// #placeholder) or a list index.
type pathElem struct {
	name  string
	ph    bool // name is a #placeholder
	idx   int
	isIdx bool
}

type docPath []pathElem

type opKind int

const (
	opPath opKind = iota
	opVal
	opSize
	opIfNotExists
	opListAppend
	opPlus
	opMinus
)

type operand struct {
	kind opKind
	path docPath
	val  string // :placeholder for opVal
	args []*operand
}

type condKind int

const (
	cAnd condKind = iota
	cOr
	cNot
	cCmp     // op is = <> < <= > >=
	cBetween // ops: value, low, high
	cIn      // ops: value, candidates...
	cFunc    // op is the function name
)

type cond struct {
	kind condKind
	op   string
	kids []*cond
	ops  []*operand
}

// updateExpr is a parsed UpdateExpression.
type updateExpr struct {
	set    []setAction
	remove []docPath
	add    []setAction
	del    []setAction
}

type setAction struct {
	path docPath
	val  *operand
}

// parsed is one parsed expression with the placeholders it uses.
type parsed struct {
	cond   *cond
	update *updateExpr
	proj   []docPath
	names  []string // #placeholders used
	vals   []string // :placeholders used
}

// --- parser

type parser struct {
	kind  exprKind
	src   string
	toks  []token
	pos   int
	names map[string]bool
	vals  map[string]bool
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) errAt(t token) error { return syntaxErr(p.kind, t.text, p.src[t.pos:]) }

func (p *parser) isKeyword(word string) bool {
	t := p.peek()
	return t.kind == tIdent && strings.EqualFold(t.text, word)
}

func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tPunct && t.text == s
}

func (p *parser) expectPunct(s string) error {
	if !p.isPunct(s) {
		return p.errAt(p.peek())
	}
	p.next()
	return nil
}

// reserved are the words of the expression grammar itself; like the
// reserved words (reserved.go), they are refused as raw attribute names.
var reserved = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "BETWEEN": true, "IN": true,
	"SET": true, "REMOVE": true, "ADD": true, "DELETE": true, "SIZE": true,
}

// checkName refuses a raw attribute name that is a reserved word.
func (p *parser) checkName(name string) error {
	if up := strings.ToUpper(name); reserved[up] || reservedWords[up] {
		return validationf("Invalid %s: Attribute name is a reserved keyword; reserved keyword: %s", p.kind, name)
	}
	return nil
}

func (p *parser) path() (docPath, error) {
	var out docPath
	t := p.next()
	switch {
	case t.kind == tName:
		p.names[t.text] = true
		out = append(out, pathElem{name: t.text, ph: true})
	case t.kind == tIdent && !(t.text[0] >= '0' && t.text[0] <= '9'):
		if err := p.checkName(t.text); err != nil {
			return nil, err
		}
		out = append(out, pathElem{name: t.text})
	default:
		return nil, p.errAt(t)
	}
	for {
		switch {
		case p.isPunct("."):
			p.next()
			t := p.next()
			switch {
			case t.kind == tName:
				p.names[t.text] = true
				out = append(out, pathElem{name: t.text, ph: true})
			case t.kind == tIdent:
				if err := p.checkName(t.text); err != nil {
					return nil, err
				}
				out = append(out, pathElem{name: t.text})
			default:
				return nil, p.errAt(t)
			}
		case p.isPunct("["):
			p.next()
			t := p.next()
			if t.kind != tInt {
				return nil, p.errAt(t)
			}
			n, err := strconv.Atoi(t.text)
			if err != nil || n > 1<<20 {
				return nil, validationf("Invalid %s: List index is out of range; index: %s", p.kind, t.text)
			}
			if err := p.expectPunct("]"); err != nil {
				return nil, err
			}
			out = append(out, pathElem{idx: n, isIdx: true})
		default:
			return out, nil
		}
	}
}

// Functions, and where each may appear.
var (
	condFuncs = map[string]int{"attribute_exists": 1, "attribute_not_exists": 1, "attribute_type": 2, "begins_with": 2, "contains": 2}
)

// operand parses a condition operand (path, :value or size(path)), or, in
// update expressions, if_not_exists and list_append.
func (p *parser) operand(update bool) (*operand, error) {
	t := p.peek()
	switch t.kind {
	case tValue:
		p.next()
		p.vals[t.text] = true
		return &operand{kind: opVal, val: t.text}, nil
	case tIdent:
		if p.toks[p.pos+1].kind == tPunct && p.toks[p.pos+1].text == "(" {
			return p.funcOperand(update)
		}
	}
	path, err := p.path()
	if err != nil {
		return nil, err
	}
	return &operand{kind: opPath, path: path}, nil
}

func (p *parser) funcOperand(update bool) (*operand, error) {
	t := p.next()
	p.next() // (
	var o *operand
	switch t.text {
	case "size":
		if update {
			return nil, validationf("Invalid %s: The function is not allowed in an update expression; function: size", p.kind)
		}
		path, err := p.path()
		if err != nil {
			return nil, err
		}
		o = &operand{kind: opSize, path: path}
	case "if_not_exists", "list_append":
		if !update {
			return nil, validationf("Invalid %s: The function is not allowed in a condition expression; function: %s", p.kind, t.text)
		}
		a, err := p.operand(true)
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(","); err != nil {
			return nil, err
		}
		b, err := p.operand(true)
		if err != nil {
			return nil, err
		}
		if t.text == "if_not_exists" {
			if a.kind != opPath {
				return nil, validationf("Invalid %s: Operator or function requires a document path; operator or function: if_not_exists", p.kind)
			}
			o = &operand{kind: opIfNotExists, path: a.path, args: []*operand{b}}
		} else {
			o = &operand{kind: opListAppend, args: []*operand{a, b}}
		}
	default:
		if _, ok := condFuncs[t.text]; ok {
			return nil, validationf("Invalid %s: The function is not allowed to be used this way in an expression; function: %s", p.kind, t.text)
		}
		return nil, validationf("Invalid %s: Invalid function name; function: %s", p.kind, t.text)
	}
	if err := p.expectPunct(")"); err != nil {
		return nil, err
	}
	return o, nil
}

func (p *parser) orCond() (*cond, error) {
	left, err := p.andCond()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("OR") {
		p.next()
		right, err := p.andCond()
		if err != nil {
			return nil, err
		}
		left = &cond{kind: cOr, kids: []*cond{left, right}}
	}
	return left, nil
}

func (p *parser) andCond() (*cond, error) {
	left, err := p.notCond()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("AND") {
		p.next()
		right, err := p.notCond()
		if err != nil {
			return nil, err
		}
		left = &cond{kind: cAnd, kids: []*cond{left, right}}
	}
	return left, nil
}

func (p *parser) notCond() (*cond, error) {
	if p.isKeyword("NOT") {
		p.next()
		c, err := p.notCond()
		if err != nil {
			return nil, err
		}
		return &cond{kind: cNot, kids: []*cond{c}}, nil
	}
	return p.primaryCond()
}

func (p *parser) primaryCond() (*cond, error) {
	if p.isPunct("(") {
		p.next()
		c, err := p.orCond()
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		return c, nil
	}
	t := p.peek()
	if t.kind == tIdent && p.toks[p.pos+1].kind == tPunct && p.toks[p.pos+1].text == "(" {
		if n, ok := condFuncs[t.text]; ok {
			p.next()
			p.next()
			c := &cond{kind: cFunc, op: t.text}
			for i := range n {
				if i > 0 {
					if err := p.expectPunct(","); err != nil {
						return nil, err
					}
				}
				o, err := p.operand(false)
				if err != nil {
					return nil, err
				}
				c.ops = append(c.ops, o)
			}
			if err := p.expectPunct(")"); err != nil {
				return nil, err
			}
			switch t.text {
			case "attribute_exists", "attribute_not_exists", "attribute_type":
				if c.ops[0].kind != opPath {
					return nil, validationf("Invalid %s: Operator or function requires a document path; operator or function: %s", p.kind, t.text)
				}
			}
			return c, nil
		}
	}
	left, err := p.operand(false)
	if err != nil {
		return nil, err
	}
	t = p.peek()
	switch {
	case t.kind == tPunct && (t.text == "=" || t.text == "<>" || t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">="):
		p.next()
		right, err := p.operand(false)
		if err != nil {
			return nil, err
		}
		return &cond{kind: cCmp, op: t.text, ops: []*operand{left, right}}, nil
	case p.isKeyword("BETWEEN"):
		p.next()
		lo, err := p.operand(false)
		if err != nil {
			return nil, err
		}
		if !p.isKeyword("AND") {
			return nil, p.errAt(p.peek())
		}
		p.next()
		hi, err := p.operand(false)
		if err != nil {
			return nil, err
		}
		return &cond{kind: cBetween, ops: []*operand{left, lo, hi}}, nil
	case p.isKeyword("IN"):
		p.next()
		if err := p.expectPunct("("); err != nil {
			return nil, err
		}
		c := &cond{kind: cIn, ops: []*operand{left}}
		for {
			o, err := p.operand(false)
			if err != nil {
				return nil, err
			}
			c.ops = append(c.ops, o)
			if p.isPunct(",") {
				p.next()
				continue
			}
			break
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		if len(c.ops) > 101 {
			return nil, validationf("Invalid %s: The IN operator is provided with too many operands; number of operands: %d", p.kind, len(c.ops)-1)
		}
		return c, nil
	}
	return nil, p.errAt(t)
}

func (p *parser) updateValue() (*operand, error) {
	a, err := p.operand(true)
	if err != nil {
		return nil, err
	}
	if p.isPunct("+") || p.isPunct("-") {
		op := p.next().text
		b, err := p.operand(true)
		if err != nil {
			return nil, err
		}
		k := opPlus
		if op == "-" {
			k = opMinus
		}
		return &operand{kind: k, args: []*operand{a, b}}, nil
	}
	return a, nil
}

func (p *parser) update() (*updateExpr, error) {
	u := &updateExpr{}
	seen := map[string]bool{}
	for p.peek().kind != tEOF {
		t := p.next()
		word := strings.ToUpper(t.text)
		if t.kind != tIdent || (word != "SET" && word != "REMOVE" && word != "ADD" && word != "DELETE") {
			return nil, p.errAt(t)
		}
		if seen[word] {
			return nil, validationf("Invalid %s: The \"%s\" section can only be used once in an update expression;", p.kind, word)
		}
		seen[word] = true
		for {
			path, err := p.path()
			if err != nil {
				return nil, err
			}
			switch word {
			case "SET":
				if err := p.expectPunct("="); err != nil {
					return nil, err
				}
				v, err := p.updateValue()
				if err != nil {
					return nil, err
				}
				u.set = append(u.set, setAction{path, v})
			case "REMOVE":
				u.remove = append(u.remove, path)
			default: // ADD, DELETE: path :value
				t := p.next()
				if t.kind != tValue {
					return nil, p.errAt(t)
				}
				p.vals[t.text] = true
				a := setAction{path, &operand{kind: opVal, val: t.text}}
				if word == "ADD" {
					u.add = append(u.add, a)
				} else {
					u.del = append(u.del, a)
				}
			}
			if !p.isPunct(",") {
				break
			}
			p.next()
		}
	}
	if len(seen) == 0 {
		return nil, syntaxErr(p.kind, "", "")
	}
	return u, nil
}

// maxExprLen is DynamoDB's limit on an expression string (4 KB); it also
// bounds the parser's recursion.
const maxExprLen = 4096

func parse(kind exprKind, src string) (*parsed, error) {
	if strings.TrimSpace(src) == "" {
		return nil, validationf("Invalid %s: The expression can not be empty;", kind)
	}
	if len(src) > maxExprLen {
		return nil, validationf("Invalid %s: Expression size has exceeded the maximum allowed size; expression size: %d", kind, len(src))
	}
	toks, err := lex(kind, src)
	if err != nil {
		return nil, err
	}
	p := &parser{kind: kind, src: src, toks: toks, names: map[string]bool{}, vals: map[string]bool{}}
	out := &parsed{}
	switch kind {
	case kindUpdate:
		out.update, err = p.update()
	case kindProjection:
		for {
			var path docPath
			path, err = p.path()
			if err != nil {
				break
			}
			out.proj = append(out.proj, path)
			if !p.isPunct(",") {
				break
			}
			p.next()
		}
	default:
		out.cond, err = p.orCond()
	}
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t)
	}
	for n := range p.names {
		out.names = append(out.names, n)
	}
	for v := range p.vals {
		out.vals = append(out.vals, v)
	}
	return out, nil
}

// exprCache keeps parsed expressions by kind and text.
type exprCache struct {
	mu sync.Mutex
	m  map[string]*parsed
}

const exprCacheMax = 4096

func (c *exprCache) get(kind exprKind, src string) (*parsed, error) {
	key := string(kind) + "\x00" + src
	c.mu.Lock()
	p, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := parse(kind, src)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= exprCacheMax {
		c.m = make(map[string]*parsed, 64)
	}
	c.m[key] = p
	c.mu.Unlock()
	return p, nil
}

// String renders a path for error messages.
func (d docPath) String() string {
	var b strings.Builder
	for i, e := range d {
		switch {
		case e.isIdx:
			fmt.Fprintf(&b, "[%d]", e.idx)
		case i > 0:
			b.WriteString("." + e.name)
		default:
			b.WriteString(e.name)
		}
	}
	return b.String()
}
