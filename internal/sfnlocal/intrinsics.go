package sfnlocal

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// intrinsic is a parsed call such as States.Format('x {}', $.a).
type intrinsic struct {
	name string
	args []intrinsicArg
}

type argKind uint8

const (
	argString argKind = iota
	argNumber
	argBool
	argNull
	argPath
	argCall
)

type intrinsicArg struct {
	kind argKind
	str  string // unescaped string literal
	raw  string // string literal as written (escapes kept), for Format
	num  json.Number
	b    bool
	path *jsonPath
	call *intrinsic
}

type intrinsicSpec struct {
	minArgs, maxArgs int
}

var intrinsicSpecs = map[string]intrinsicSpec{
	"States.Format":         {1, -1},
	"States.StringToJson":   {1, 1},
	"States.JsonToString":   {1, 1},
	"States.Array":          {0, -1},
	"States.ArrayPartition": {2, 2},
	"States.ArrayContains":  {2, 2},
	"States.ArrayRange":     {3, 3},
	"States.ArrayGetItem":   {2, 2},
	"States.ArrayLength":    {1, 1},
	"States.ArrayUnique":    {1, 1},
	"States.Base64Encode":   {1, 1},
	"States.Base64Decode":   {1, 1},
	"States.Hash":           {2, 2},
	"States.JsonMerge":      {3, 3},
	"States.MathRandom":     {2, 3},
	"States.MathAdd":        {2, 2},
	"States.StringSplit":    {2, 2},
	"States.UUID":           {0, 0},
}

// intrinsicError is a malformed intrinsic at load time.
type intrinsicError struct {
	expr string
	msg  string
}

func (e *intrinsicError) Error() string {
	return fmt.Sprintf("invalid intrinsic function %q: %s", e.expr, e.msg)
}

func isIntrinsic(s string) bool { return strings.HasPrefix(s, "States.") }

// parseIntrinsic parses a whole expression like "States.Array($.a, 1)".
func parseIntrinsic(expr string) (*intrinsic, error) {
	p := &intrinsicParser{src: expr}
	call, err := p.call()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.src) {
		return nil, &intrinsicError{expr, fmt.Sprintf("unexpected text at offset %d", p.pos)}
	}
	return call, nil
}

type intrinsicParser struct {
	src string
	pos int
}

func (p *intrinsicParser) fail(msg string) error { return &intrinsicError{p.src, msg} }

func (p *intrinsicParser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

func (p *intrinsicParser) call() (*intrinsic, error) {
	p.skipSpace()
	start := p.pos
	for p.pos < len(p.src) && p.src[p.pos] != '(' {
		c := p.src[p.pos]
		if !(c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return nil, p.fail(fmt.Sprintf("unexpected %q in function name", c))
		}
		p.pos++
	}
	name := p.src[start:p.pos]
	spec, ok := intrinsicSpecs[name]
	if !ok {
		return nil, p.fail(fmt.Sprintf("unknown function %q", name))
	}
	if p.pos >= len(p.src) {
		return nil, p.fail("missing '('")
	}
	p.pos++ // (
	call := &intrinsic{name: name}
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ')' {
		p.pos++
	} else {
		for {
			arg, err := p.arg()
			if err != nil {
				return nil, err
			}
			call.args = append(call.args, arg)
			p.skipSpace()
			if p.pos >= len(p.src) {
				return nil, p.fail("missing ')'")
			}
			if p.src[p.pos] == ')' {
				p.pos++
				break
			}
			if p.src[p.pos] != ',' {
				return nil, p.fail(fmt.Sprintf("expected ',' or ')' at offset %d", p.pos))
			}
			p.pos++
		}
	}
	if len(call.args) < spec.minArgs || spec.maxArgs >= 0 && len(call.args) > spec.maxArgs {
		return nil, p.fail(fmt.Sprintf("%s takes %s arguments, got %d", name, argRange(spec), len(call.args)))
	}
	return call, nil
}

func argRange(s intrinsicSpec) string {
	switch {
	case s.maxArgs < 0:
		return fmt.Sprintf("at least %d", s.minArgs)
	case s.minArgs == s.maxArgs:
		return strconv.Itoa(s.minArgs)
	}
	return fmt.Sprintf("%d to %d", s.minArgs, s.maxArgs)
}

func (p *intrinsicParser) arg() (intrinsicArg, error) {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return intrinsicArg{}, p.fail("missing argument")
	}
	c := p.src[p.pos]
	switch {
	case c == '\'':
		p.pos++
		var val, raw strings.Builder
		for p.pos < len(p.src) {
			c := p.src[p.pos]
			if c == '\\' {
				if p.pos+1 >= len(p.src) {
					return intrinsicArg{}, p.fail("dangling escape")
				}
				n := p.src[p.pos+1]
				if n != '\'' && n != '{' && n != '}' && n != '\\' {
					return intrinsicArg{}, p.fail(fmt.Sprintf("invalid escape \\%c", n))
				}
				val.WriteByte(n)
				raw.WriteByte('\\')
				raw.WriteByte(n)
				p.pos += 2
				continue
			}
			if c == '\'' {
				p.pos++
				return intrinsicArg{kind: argString, str: val.String(), raw: raw.String()}, nil
			}
			val.WriteByte(c)
			raw.WriteByte(c)
			p.pos++
		}
		return intrinsicArg{}, p.fail("unterminated string")
	case c == '$':
		start := p.pos
		depth := 0
		var quote byte
		for p.pos < len(p.src) {
			c := p.src[p.pos]
			if quote != 0 {
				if c == '\\' {
					p.pos++
				} else if c == quote {
					quote = 0
				}
				p.pos++
				continue
			}
			if c == '\'' || c == '"' {
				quote = c
			} else if c == '[' || c == '(' {
				depth++
			} else if c == ']' || c == ')' {
				if depth == 0 {
					break
				}
				depth--
			} else if (c == ',' || c == ' ') && depth == 0 {
				break
			}
			p.pos++
		}
		raw := p.src[start:p.pos]
		jp, err := parsePath(raw, false)
		if err != nil {
			return intrinsicArg{}, p.fail(err.Error())
		}
		return intrinsicArg{kind: argPath, path: jp}, nil
	case c == '-' || c >= '0' && c <= '9':
		start := p.pos
		p.pos++
		for p.pos < len(p.src) && strings.IndexByte("0123456789.eE+-", p.src[p.pos]) >= 0 {
			p.pos++
		}
		lit := p.src[start:p.pos]
		if _, err := strconv.ParseFloat(lit, 64); err != nil {
			return intrinsicArg{}, p.fail(fmt.Sprintf("bad number %q", lit))
		}
		return intrinsicArg{kind: argNumber, num: json.Number(lit)}, nil
	case strings.HasPrefix(p.src[p.pos:], "States."):
		call, err := p.call()
		if err != nil {
			return intrinsicArg{}, err
		}
		return intrinsicArg{kind: argCall, call: call}, nil
	case strings.HasPrefix(p.src[p.pos:], "true"):
		p.pos += 4
		return intrinsicArg{kind: argBool, b: true}, nil
	case strings.HasPrefix(p.src[p.pos:], "false"):
		p.pos += 5
		return intrinsicArg{kind: argBool}, nil
	case strings.HasPrefix(p.src[p.pos:], "null"):
		p.pos += 4
		return intrinsicArg{kind: argNull}, nil
	}
	return intrinsicArg{}, p.fail(fmt.Sprintf("unexpected %q at offset %d", c, p.pos))
}

// evalEnv is what paths resolve against: the state's effective input and
// the context object (built lazily).
type evalEnv struct {
	input  any
	ctxObj func() any
}

func (e *evalEnv) resolve(p *jsonPath) (any, bool) {
	if p.context {
		if e.ctxObj == nil {
			return nil, false
		}
		return p.get(e.ctxObj())
	}
	return p.get(e.input)
}

// eval runs the intrinsic. Errors are States.Runtime failures.
func (c *intrinsic) eval(env *evalEnv) (any, error) {
	args := make([]any, len(c.args))
	for i, a := range c.args {
		switch a.kind {
		case argString:
			args[i] = a.str
		case argNumber:
			args[i] = a.num
		case argBool:
			args[i] = a.b
		case argNull:
			args[i] = nil
		case argPath:
			v, ok := env.resolve(a.path)
			if !ok {
				return nil, fmt.Errorf("%s: the JsonPath argument %q could not be found in the input", c.name, a.path.raw)
			}
			args[i] = v
		case argCall:
			v, err := a.call.eval(env)
			if err != nil {
				return nil, err
			}
			args[i] = v
		}
	}
	fail := func(format string, a ...any) (any, error) {
		return nil, fmt.Errorf("%s: %s", c.name, fmt.Sprintf(format, a...))
	}
	switch c.name {
	case "States.Format":
		if c.args[0].kind != argString {
			return fail("the first argument must be a string literal")
		}
		return formatIntrinsic(c.name, c.args[0].raw, args[1:])
	case "States.StringToJson":
		s, ok := args[0].(string)
		if !ok {
			return fail("argument must be a string, got %s", jsonTypeName(args[0]))
		}
		v, err := decodeJSONString(s)
		if err != nil {
			return fail("argument is not valid JSON: %v", err)
		}
		return v, nil
	case "States.JsonToString":
		if c.args[0].kind != argPath {
			return fail("argument must be a path")
		}
		return encodeJSON(args[0]), nil
	case "States.Array":
		out := make([]any, len(args))
		copy(out, args)
		return out, nil
	case "States.ArrayPartition":
		arr, ok := args[0].([]any)
		if !ok {
			return fail("first argument must be an array")
		}
		n, ok := intArg(args[1])
		if !ok || n <= 0 {
			return fail("chunk size must be a positive integer")
		}
		out := []any{}
		for i := 0; i < len(arr); i += n {
			out = append(out, append([]any{}, arr[i:min(i+n, len(arr))]...))
		}
		return out, nil
	case "States.ArrayContains":
		arr, ok := args[0].([]any)
		if !ok {
			return fail("first argument must be an array")
		}
		for _, x := range arr {
			if jsonEqual(x, args[1]) {
				return true, nil
			}
		}
		return false, nil
	case "States.ArrayRange":
		start, ok1 := intArg(args[0])
		end, ok2 := intArg(args[1])
		step, ok3 := intArg(args[2])
		if !ok1 || !ok2 || !ok3 {
			return fail("arguments must be integers")
		}
		if step == 0 {
			return fail("step must not be 0")
		}
		out := []any{}
		for i := start; step > 0 && i <= end || step < 0 && i >= end; i += step {
			if len(out) == 1000 {
				return fail("the result may have at most 1000 items")
			}
			out = append(out, json.Number(strconv.Itoa(i)))
		}
		return out, nil
	case "States.ArrayGetItem":
		arr, ok := args[0].([]any)
		if !ok {
			return fail("first argument must be an array")
		}
		i, ok := intArg(args[1])
		if !ok || i < 0 || i >= len(arr) {
			return fail("index %v is out of bounds for an array of length %d", args[1], len(arr))
		}
		return arr[i], nil
	case "States.ArrayLength":
		arr, ok := args[0].([]any)
		if !ok {
			return fail("argument must be an array")
		}
		return json.Number(strconv.Itoa(len(arr))), nil
	case "States.ArrayUnique":
		arr, ok := args[0].([]any)
		if !ok {
			return fail("argument must be an array")
		}
		out := []any{}
	next:
		for _, x := range arr {
			for _, y := range out {
				if jsonEqual(x, y) {
					continue next
				}
			}
			out = append(out, x)
		}
		return out, nil
	case "States.Base64Encode":
		s, ok := args[0].(string)
		if !ok {
			return fail("argument must be a string")
		}
		if len(s) > 10000 {
			return fail("input may be at most 10000 characters")
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "States.Base64Decode":
		s, ok := args[0].(string)
		if !ok {
			return fail("argument must be a string")
		}
		if len(s) > 10000 {
			return fail("input may be at most 10000 characters")
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return fail("argument is not valid base64: %v", err)
		}
		return string(b), nil
	case "States.Hash":
		s, ok := args[0].(string)
		if !ok {
			return fail("data must be a string")
		}
		alg, _ := args[1].(string)
		var h hash.Hash
		switch alg {
		case "MD5":
			h = md5.New()
		case "SHA-1":
			h = sha1.New()
		case "SHA-256":
			h = sha256.New()
		case "SHA-384":
			h = sha512.New384()
		case "SHA-512":
			h = sha512.New()
		default:
			return fail("unsupported algorithm %q (want MD5, SHA-1, SHA-256, SHA-384 or SHA-512)", alg)
		}
		h.Write([]byte(s))
		return hex.EncodeToString(h.Sum(nil)), nil
	case "States.JsonMerge":
		a, ok1 := args[0].(*object)
		b, ok2 := args[1].(*object)
		if !ok1 || !ok2 {
			return fail("the first two arguments must be objects")
		}
		deep, ok := args[2].(bool)
		if !ok {
			return fail("the third argument must be a boolean")
		}
		if deep {
			return fail("deep merge is not supported; pass false")
		}
		out := a.clone()
		for _, k := range b.keys {
			out.set(k, b.m[k])
		}
		return out, nil
	case "States.MathRandom":
		lo, ok1 := intArg(args[0])
		hi, ok2 := intArg(args[1])
		if !ok1 || !ok2 {
			return fail("start and end must be integers")
		}
		if hi <= lo {
			return fail("end must be greater than start")
		}
		var r *rand.Rand
		if len(args) == 3 {
			seed, ok := intArg(args[2])
			if !ok {
				return fail("seed must be an integer")
			}
			r = rand.New(rand.NewPCG(uint64(seed), 0x5eed))
		} else {
			r = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		}
		span := uint64(hi) - uint64(lo) // exact for hi > lo, even across the sign
		return json.Number(strconv.FormatInt(int64(uint64(lo)+r.Uint64N(span)), 10)), nil
	case "States.MathAdd":
		a, ok1 := intArg(args[0])
		b, ok2 := intArg(args[1])
		if !ok1 || !ok2 {
			return fail("arguments must be integers")
		}
		if a < math.MinInt32 || a > math.MaxInt32 || b < math.MinInt32 || b > math.MaxInt32 {
			return fail("arguments must fit in a 32-bit integer")
		}
		return json.Number(strconv.Itoa(a + b)), nil
	case "States.StringSplit":
		s, ok1 := args[0].(string)
		d, ok2 := args[1].(string)
		if !ok1 || !ok2 {
			return fail("arguments must be strings")
		}
		parts := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(d, r) })
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case "States.UUID":
		return uuid.NewString(), nil
	}
	return fail("unknown function")
}

// intArg accepts a JSON number with an integral value.
func intArg(v any) (int, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	if i, err := n.Int64(); err == nil {
		return int(i), true
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int(f), true
}

func formatIntrinsic(name, tmpl string, args []any) (any, error) {
	var b strings.Builder
	used := 0
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c == '\\' && i+1 < len(tmpl) {
			i++
			b.WriteByte(tmpl[i])
			continue
		}
		if c == '{' && i+1 < len(tmpl) && tmpl[i+1] == '}' {
			if used >= len(args) {
				return nil, fmt.Errorf("%s: the template has more placeholders than arguments (%d)", name, len(args))
			}
			switch v := args[used].(type) {
			case string:
				b.WriteString(v)
			case json.Number:
				b.WriteString(v.String())
			case bool:
				b.WriteString(strconv.FormatBool(v))
			case nil:
				b.WriteString("null")
			default:
				return nil, fmt.Errorf("%s: argument %d is a %s; only strings, numbers, booleans and null can be formatted", name, used+1, jsonTypeName(v))
			}
			used++
			i++
			continue
		}
		b.WriteByte(c)
	}
	if used != len(args) {
		return nil, fmt.Errorf("%s: the template has %d placeholders but %d arguments were given", name, used, len(args))
	}
	return b.String(), nil
}
