package eventbus

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// This file holds a small JSON reader specialised for matching: it walks an
// event once and records only the leaf values at paths some pattern names,
// skipping everything else without allocating.

// valueKind is the JSON type of a leaf value in an event.
type valueKind uint8

const (
	kindString valueKind = iota + 1
	kindNumber
	kindTrue
	kindFalse
	kindNull
)

// leaf is one scalar value found in an event. For strings s is the unescaped
// content; for numbers s is the literal text and n its value (numOK reports
// whether the literal parsed as a float64).
type leaf struct {
	kind  valueKind
	numOK bool
	s     string
	n     float64
	// memLo:memHi index the scanner's arena of array positions: the
	// elements of arrays of objects that enclose this value.
	memLo, memHi int32
}

// arrayPos says a value lies in element idx of array instance id.
type arrayPos struct {
	id, idx int32
}

// pathNode is a trie over field names. id >= 0 marks a path that some pattern
// tests; children continue deeper paths.
type pathNode struct {
	children map[string]*pathNode
	id       int
}

func newPathNode() *pathNode { return &pathNode{id: -1} }

// insert adds path below n and returns the id for it, allocating next if new.
func (n *pathNode) insert(path []string, next *int) int {
	cur := n
	for _, k := range path {
		if cur.children == nil {
			cur.children = make(map[string]*pathNode)
		}
		c := cur.children[k]
		if c == nil {
			c = newPathNode()
			cur.children[k] = c
		}
		cur = c
	}
	if cur.id < 0 {
		cur.id = *next
		*next++
	}
	return cur.id
}

// errBadJSON is returned for malformed event JSON.
var errBadJSON = errors.New("event is not valid JSON")

const maxDepth = 256

// scanner reads one JSON document.
type scanner struct {
	data  []byte
	pos   int
	depth int
	vals  [][]leaf
	// touched lists the path ids that received values, so that the
	// per-call buffers can be reset cheaply.
	touched []int
	// stack holds the array elements (of arrays whose elements are objects
	// or arrays) enclosing the current value; arena keeps a copy per leaf.
	stack   []arrayPos
	arena   []arrayPos
	arrays  int32
	inArray bool // some recorded leaf lies inside an array of objects
}

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// scanDocument reads a whole document whose top level must be an object and
// records leaves below root.
func (s *scanner) scanDocument(root *pathNode) error {
	s.ws()
	if s.pos >= len(s.data) || s.data[s.pos] != '{' {
		return errBadJSON
	}
	if err := s.value(root); err != nil {
		return err
	}
	s.ws()
	if s.pos != len(s.data) {
		return errBadJSON
	}
	return nil
}

// value reads one value. node is the trie position of the value (nil when no
// pattern cares about it).
func (s *scanner) value(node *pathNode) error {
	s.ws()
	if s.pos >= len(s.data) {
		return errBadJSON
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(node)
	case c == '[':
		return s.array(node)
	case c == '"':
		str, err := s.str(node != nil && node.id >= 0)
		if err != nil {
			return err
		}
		if node != nil && node.id >= 0 {
			s.add(node.id, leaf{kind: kindString, s: str})
		}
		return nil
	case c == 't':
		return s.lit("true", node, kindTrue)
	case c == 'f':
		return s.lit("false", node, kindFalse)
	case c == 'n':
		return s.lit("null", node, kindNull)
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number(node)
	default:
		return errBadJSON
	}
}

func (s *scanner) add(id int, l leaf) {
	if len(s.stack) > 0 {
		l.memLo = int32(len(s.arena))
		s.arena = append(s.arena, s.stack...)
		l.memHi = int32(len(s.arena))
		s.inArray = true
	}
	if len(s.vals[id]) == 0 {
		s.touched = append(s.touched, id)
	}
	s.vals[id] = append(s.vals[id], l)
}

func (s *scanner) lit(word string, node *pathNode, k valueKind) error {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		return errBadJSON
	}
	s.pos += len(word)
	if node != nil && node.id >= 0 {
		s.add(node.id, leaf{kind: k, s: word})
	}
	return nil
}

func (s *scanner) number(node *pathNode) error {
	start := s.pos
	if s.data[s.pos] == '-' {
		s.pos++
	}
	digits := 0
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
		digits++
	}
	if digits == 0 {
		return errBadJSON
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		d := 0
		for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
			s.pos++
			d++
		}
		if d == 0 {
			return errBadJSON
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		d := 0
		for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
			s.pos++
			d++
		}
		if d == 0 {
			return errBadJSON
		}
	}
	if node != nil && node.id >= 0 {
		text := bytesString(s.data[start:s.pos])
		f, err := strconv.ParseFloat(text, 64)
		s.add(node.id, leaf{kind: kindNumber, s: text, n: f, numOK: err == nil})
	}
	return nil
}

func (s *scanner) object(node *pathNode) error {
	s.depth++
	if s.depth > maxDepth {
		return errBadJSON
	}
	s.pos++ // '{'
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return errBadJSON
		}
		var child *pathNode
		if node != nil && node.children != nil {
			key, err := s.str(true)
			if err != nil {
				return err
			}
			child = node.children[key]
		} else if _, err := s.str(false); err != nil {
			return err
		}
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return errBadJSON
		}
		s.pos++
		if err := s.value(child); err != nil {
			return err
		}
		s.ws()
		if s.pos >= len(s.data) {
			return errBadJSON
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			s.depth--
			return nil
		default:
			return errBadJSON
		}
	}
}

// array reads an array; its elements count as values of the array's own path
// (EventBridge matches a field whose value is an array if any element
// matches), so nested arrays and objects inside arrays are flattened.
func (s *scanner) array(node *pathNode) error {
	s.depth++
	if s.depth > maxDepth {
		return errBadJSON
	}
	s.pos++ // '['
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		s.depth--
		return nil
	}
	s.arrays++
	id := s.arrays
	for idx := int32(0); ; idx++ {
		s.ws()
		nested := node != nil && s.pos < len(s.data) && (s.data[s.pos] == '{' || s.data[s.pos] == '[')
		if nested {
			s.stack = append(s.stack, arrayPos{id: id, idx: idx})
		}
		if err := s.value(node); err != nil {
			return err
		}
		if nested {
			s.stack = s.stack[:len(s.stack)-1]
		}
		s.ws()
		if s.pos >= len(s.data) {
			return errBadJSON
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			s.depth--
			return nil
		default:
			return errBadJSON
		}
	}
}

// str reads a string starting at the opening quote. When want is false the
// content is validated and skipped; when true it is returned, sharing the
// event's bytes unless it holds escapes.
func (s *scanner) str(want bool) (string, error) {
	s.pos++ // opening quote
	start := s.pos
	escaped := false
	for {
		if s.pos >= len(s.data) {
			return "", errBadJSON
		}
		c := s.data[s.pos]
		if c == '"' {
			break
		}
		if c < 0x20 {
			return "", errBadJSON
		}
		if c == '\\' {
			escaped = true
			s.pos++
			if s.pos >= len(s.data) {
				return "", errBadJSON
			}
			switch s.data[s.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos++
			case 'u':
				if len(s.data)-s.pos < 5 {
					return "", errBadJSON
				}
				for _, h := range s.data[s.pos+1 : s.pos+5] {
					if !isHex(h) {
						return "", errBadJSON
					}
				}
				s.pos += 5
			default:
				return "", errBadJSON
			}
			continue
		}
		s.pos++
	}
	raw := s.data[start:s.pos]
	s.pos++ // closing quote
	if !want {
		return "", nil
	}
	if !escaped {
		return bytesString(raw), nil
	}
	return unescape(raw), nil
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// unescape decodes the content of an already validated JSON string.
func unescape(raw []byte) string {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := rune(hex4(raw[i+1 : i+5]))
			i += 4
			if utf16.IsSurrogate(r) && i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				r2 := rune(hex4(raw[i+3 : i+7]))
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			} else if utf16.IsSurrogate(r) {
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out = append(out, raw[i])
		}
	}
	return string(out)
}

func hex4(b []byte) int {
	v := 0
	for _, c := range b {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= int(c - '0')
		case c >= 'a' && c <= 'f':
			v |= int(c-'a') + 10
		default:
			v |= int(c-'A') + 10
		}
	}
	return v
}

// bytesString views b as a string without copying. Callers only use the
// result while the event bytes are unchanged (for the duration of a match).
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// skipValue validates one value at data[pos:] and returns the offset just
// past it. It is used to slice raw sub-documents for input paths.
func skipValue(data []byte, pos int) (start, end int, err error) {
	// node is nil throughout, so no leaves (and no array positions) are kept.
	s := scanner{data: data, pos: pos}
	s.ws()
	start = s.pos
	if err := s.value(nil); err != nil {
		return 0, 0, err
	}
	return start, s.pos, nil
}
