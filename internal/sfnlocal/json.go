package sfnlocal

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// object is a JSON object that keeps its keys in order, as Step Functions
// does: outputs come back with the key order of the input or template.
// Values are never modified in place once built; setters are used only while
// constructing a fresh object.
type object struct {
	keys []string
	m    map[string]any
}

func newObject(n int) *object {
	return &object{keys: make([]string, 0, n), m: make(map[string]any, n)}
}

// objectOf builds an object from key/value pairs, in order.
func objectOf(kv ...any) *object {
	o := newObject(len(kv) / 2)
	for i := 0; i+1 < len(kv); i += 2 {
		o.set(kv[i].(string), kv[i+1])
	}
	return o
}

func (o *object) get(k string) (any, bool) {
	v, ok := o.m[k]
	return v, ok
}

// set adds or replaces k; a new key goes last.
func (o *object) set(k string, v any) {
	if _, ok := o.m[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.m[k] = v
}

func (o *object) len() int { return len(o.keys) }

func (o *object) clone() *object {
	c := &object{keys: slices.Clone(o.keys), m: make(map[string]any, len(o.m)+1)}
	for k, v := range o.m {
		c.m[k] = v
	}
	return c
}

// MarshalJSON keeps key order.
func (o *object) MarshalJSON() ([]byte, error) { return appendJSON(nil, o), nil }

// decodeJSON decodes one JSON value: objects become *object, numbers
// json.Number.
func decodeJSON(b []byte) (any, error) {
	d := &decoder{src: b}
	d.skipSpace()
	v, err := d.value(0)
	if err != nil {
		return nil, fmt.Errorf("decode json: %w", err)
	}
	d.skipSpace()
	if d.pos != len(d.src) {
		return nil, fmt.Errorf("decode json: unexpected data after the value at offset %d", d.pos)
	}
	return v, nil
}

func decodeJSONString(s string) (any, error) { return decodeJSON([]byte(s)) }

const maxJSONDepth = 10000

type decoder struct {
	src []byte
	pos int
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.src) {
		switch d.src[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) errorf(format string, a ...any) error {
	return fmt.Errorf("offset %d: %s", d.pos, fmt.Sprintf(format, a...))
}

func (d *decoder) value(depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, d.errorf("nesting too deep")
	}
	if d.pos >= len(d.src) {
		return nil, d.errorf("unexpected end of input")
	}
	switch c := d.src[d.pos]; {
	case c == '{':
		d.pos++
		o := newObject(4)
		d.skipSpace()
		if d.pos < len(d.src) && d.src[d.pos] == '}' {
			d.pos++
			return o, nil
		}
		for {
			d.skipSpace()
			if d.pos >= len(d.src) || d.src[d.pos] != '"' {
				return nil, d.errorf("expected a string key")
			}
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			d.skipSpace()
			if d.pos >= len(d.src) || d.src[d.pos] != ':' {
				return nil, d.errorf("expected ':'")
			}
			d.pos++
			d.skipSpace()
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			o.set(k, v)
			d.skipSpace()
			if d.pos >= len(d.src) {
				return nil, d.errorf("unterminated object")
			}
			if d.src[d.pos] == '}' {
				d.pos++
				return o, nil
			}
			if d.src[d.pos] != ',' {
				return nil, d.errorf("expected ',' or '}'")
			}
			d.pos++
		}
	case c == '[':
		d.pos++
		a := []any{}
		d.skipSpace()
		if d.pos < len(d.src) && d.src[d.pos] == ']' {
			d.pos++
			return a, nil
		}
		for {
			d.skipSpace()
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			d.skipSpace()
			if d.pos >= len(d.src) {
				return nil, d.errorf("unterminated array")
			}
			if d.src[d.pos] == ']' {
				d.pos++
				return a, nil
			}
			if d.src[d.pos] != ',' {
				return nil, d.errorf("expected ',' or ']'")
			}
			d.pos++
		}
	case c == '"':
		return d.str()
	case c == 't':
		return d.literal("true", true)
	case c == 'f':
		return d.literal("false", false)
	case c == 'n':
		return d.literal("null", nil)
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return nil, d.errorf("unexpected character %q", d.src[d.pos])
}

func (d *decoder) literal(word string, v any) (any, error) {
	if !strings.HasPrefix(string(d.src[d.pos:min(d.pos+len(word), len(d.src))]), word) {
		return nil, d.errorf("invalid literal")
	}
	d.pos += len(word)
	return v, nil
}

func (d *decoder) number() (any, error) {
	start := d.pos
	if d.src[d.pos] == '-' {
		d.pos++
	}
	digits := func() int {
		n := 0
		for d.pos < len(d.src) && d.src[d.pos] >= '0' && d.src[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	intStart := d.pos
	if digits() == 0 {
		return nil, d.errorf("invalid number")
	}
	if d.src[intStart] == '0' && d.pos-intStart > 1 {
		return nil, d.errorf("invalid number: leading zero")
	}
	if d.pos < len(d.src) && d.src[d.pos] == '.' {
		d.pos++
		if digits() == 0 {
			return nil, d.errorf("invalid number")
		}
	}
	if d.pos < len(d.src) && (d.src[d.pos] == 'e' || d.src[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.src) && (d.src[d.pos] == '+' || d.src[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return nil, d.errorf("invalid number")
		}
	}
	return json.Number(d.src[start:d.pos]), nil
}

// str decodes a JSON string starting at the opening quote.
func (d *decoder) str() (string, error) {
	d.pos++ // opening quote
	start := d.pos
	// fast path: no escapes
	for d.pos < len(d.src) {
		c := d.src[d.pos]
		if c == '"' {
			s := string(d.src[start:d.pos])
			d.pos++
			if !utf8.ValidString(s) {
				return strings.ToValidUTF8(s, "\uFFFD"), nil
			}
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", d.errorf("control character in string")
		}
		d.pos++
	}
	var b strings.Builder
	b.Write(d.src[start:d.pos])
	for d.pos < len(d.src) {
		c := d.src[d.pos]
		switch {
		case c == '"':
			d.pos++
			return strings.ToValidUTF8(b.String(), "\uFFFD"), nil
		case c < 0x20:
			return "", d.errorf("control character in string")
		case c == '\\':
			if d.pos+1 >= len(d.src) {
				return "", d.errorf("unterminated escape")
			}
			e := d.src[d.pos+1]
			d.pos += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, err := d.hex4()
				if err != nil {
					return "", err
				}
				if r >= 0xD800 && r < 0xDC00 && d.pos+1 < len(d.src) && d.src[d.pos] == '\\' && d.src[d.pos+1] == 'u' {
					save := d.pos
					d.pos += 2
					r2, err := d.hex4()
					if err == nil && r2 >= 0xDC00 && r2 < 0xE000 {
						r = (r-0xD800)<<10 + (r2 - 0xDC00) + 0x10000
					} else {
						d.pos = save
						r = utf8.RuneError
					}
				} else if r >= 0xD800 && r < 0xE000 {
					r = utf8.RuneError
				}
				b.WriteRune(r)
			default:
				return "", d.errorf("invalid escape \\%c", e)
			}
		default:
			b.WriteByte(c)
			d.pos++
		}
	}
	return "", d.errorf("unterminated string")
}

func (d *decoder) hex4() (rune, error) {
	if d.pos+4 > len(d.src) {
		return 0, d.errorf("short \\u escape")
	}
	n, err := strconv.ParseUint(string(d.src[d.pos:d.pos+4]), 16, 32)
	if err != nil {
		return 0, d.errorf("bad \\u escape")
	}
	d.pos += 4
	return rune(n), nil
}

// encodeJSON encodes compactly, keeping object key order and without HTML
// escaping.
func encodeJSON(v any) string { return string(appendJSON(nil, v)) }

func appendJSON(b []byte, v any) []byte {
	switch t := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, t)
	case string:
		return appendString(b, t)
	case json.Number:
		if t == "" {
			return append(b, '0')
		}
		return append(b, t...)
	case *object:
		b = append(b, '{')
		for i, k := range t.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendJSON(b, t.m[k])
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, x := range t {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, x)
		}
		return append(b, ']')
	case map[string]any:
		keys := sortedMapKeys(t)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendJSON(b, t[k])
		}
		return append(b, '}')
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, t, 'g', -1, 64)
	case int:
		return strconv.AppendInt(b, int64(t), 10)
	case int64:
		return strconv.AppendInt(b, t, 10)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

const hexDigits = "0123456789abcdef"

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func sortedMapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case *object, map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number, float64, int, int64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// jsonEqual is deep JSON equality: numbers by value, objects regardless of
// key order.
func jsonEqual(a, b any) bool {
	if m, ok := a.(map[string]any); ok {
		a = objectFromMap(m)
	}
	if m, ok := b.(map[string]any); ok {
		b = objectFromMap(m)
	}
	switch x := a.(type) {
	case *object:
		y, ok := b.(*object)
		if !ok || x.len() != y.len() {
			return false
		}
		for k, v := range x.m {
			w, ok := y.m[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	if fa, ok := toFloat(a); ok {
		fb, ok := toFloat(b)
		return ok && fa == fb
	}
	return false
}

func objectFromMap(m map[string]any) *object {
	o := newObject(len(m))
	for _, k := range sortedMapKeys(m) {
		o.set(k, m[k])
	}
	return o
}
