package eventbus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// This file implements what a target does to an event before delivery:
// Input (constant), InputPath (a JSONPath into the event) and
// InputTransformer (InputPathsMap + InputTemplate with <placeholders>).

// pathStep is one step of a JSONPath: a member name, an array index, or a
// wildcard over members or elements.
type pathStep struct {
	key     string
	index   int
	isIndex bool
	wild    bool
}

// parseJSONPath accepts the subset EventBridge documents: $, dot notation,
// ['quoted'] names, [n] indices and * wildcards.
func parseJSONPath(p string) ([]pathStep, error) {
	if !strings.HasPrefix(p, "$") {
		return nil, fmt.Errorf("json path %q must start with $", p)
	}
	var steps []pathStep
	i := 1
	for i < len(p) {
		switch p[i] {
		case '.':
			i++
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			name := p[i:j]
			if name == "" {
				return nil, fmt.Errorf("json path %q has an empty member name", p)
			}
			if name == "*" {
				steps = append(steps, pathStep{wild: true})
			} else {
				steps = append(steps, pathStep{key: name})
			}
			i = j
		case '[':
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("json path %q has an unclosed [", p)
			}
			inner := p[i+1 : i+end]
			i += end + 1
			switch {
			case inner == "*":
				steps = append(steps, pathStep{wild: true})
			case len(inner) >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner[len(inner)-1] == inner[0]:
				steps = append(steps, pathStep{key: inner[1 : len(inner)-1]})
			default:
				n, err := strconv.Atoi(inner)
				if err != nil || n < 0 {
					return nil, fmt.Errorf("json path %q has a bad index [%s]", p, inner)
				}
				steps = append(steps, pathStep{index: n, isIndex: true})
			}
		default:
			return nil, fmt.Errorf("json path %q: unexpected %q at %d", p, p[i], i)
		}
	}
	return steps, nil
}

func hasWildcard(steps []pathStep) bool {
	for _, s := range steps {
		if s.wild {
			return true
		}
	}
	return false
}

// evalPath returns the raw JSON that steps select in doc. With a wildcard the
// result is an array of every selected value. found is false when nothing is
// selected.
func evalPath(doc []byte, steps []pathStep) (raw []byte, found bool) {
	var out [][]byte
	collect(doc, steps, &out)
	if hasWildcard(steps) {
		if len(out) == 0 {
			return nil, false
		}
		return append(append([]byte("["), bytes.Join(out, []byte(","))...), ']'), true
	}
	if len(out) == 0 {
		return nil, false
	}
	return out[0], true
}

func collect(doc []byte, steps []pathStep, out *[][]byte) {
	start, end, err := skipValue(doc, 0)
	if err != nil {
		return
	}
	doc = doc[start:end]
	if len(steps) == 0 {
		*out = append(*out, doc)
		return
	}
	st := steps[0]
	switch {
	case st.wild:
		eachChild(doc, func(_ string, _ int, v []byte) bool {
			collect(v, steps[1:], out)
			return true
		})
	case st.isIndex:
		eachChild(doc, func(key string, idx int, v []byte) bool {
			if idx == st.index && key == "" && doc[0] == '[' {
				collect(v, steps[1:], out)
				return false
			}
			return true
		})
	default:
		if doc[0] != '{' {
			return
		}
		var hit []byte
		eachChild(doc, func(key string, _ int, v []byte) bool {
			if key == st.key {
				hit = v // the last duplicate wins, as in encoding/json
			}
			return true
		})
		if hit != nil {
			collect(hit, steps[1:], out)
		}
	}
}

// eachChild calls fn for each member of an object (key set) or element of an
// array (idx set) in doc, which must be a valid object or array.
func eachChild(doc []byte, fn func(key string, idx int, v []byte) bool) {
	if len(doc) == 0 || (doc[0] != '{' && doc[0] != '[') {
		return
	}
	obj := doc[0] == '{'
	s := scanner{data: doc, pos: 1}
	for i := 0; ; i++ {
		s.ws()
		if s.pos >= len(doc) || doc[s.pos] == '}' || doc[s.pos] == ']' {
			return
		}
		key := ""
		if obj {
			k, err := s.str(true)
			if err != nil {
				return
			}
			key = k
			s.ws()
			s.pos++ // ':'
		}
		start, end, err := skipValue(doc, s.pos)
		if err != nil {
			return
		}
		if !fn(key, i, doc[start:end]) {
			return
		}
		s.pos = end
		s.ws()
		if s.pos < len(doc) && doc[s.pos] == ',' {
			s.pos++
		}
	}
}

// transformer is a compiled InputTransformer.
type transformer struct {
	paths    map[string][]pathStep
	template string
}

// predefined placeholders that EventBridge fills in itself.
const (
	varRuleARN       = "aws.events.rule-arn"
	varRuleName      = "aws.events.rule-name"
	varIngestionTime = "aws.events.event.ingestion-time"
	varEvent         = "aws.events.event"
	varEventJSON     = "aws.events.event.json"
)

func newTransformer(it *InputTransformer) (*transformer, error) {
	if it.InputTemplate == "" {
		return nil, fmt.Errorf("InputTemplate is required")
	}
	if len(it.InputPathsMap) > 100 {
		return nil, fmt.Errorf("InputPathsMap has %d entries, the limit is 100", len(it.InputPathsMap))
	}
	t := &transformer{paths: make(map[string][]pathStep), template: it.InputTemplate}
	for k, p := range it.InputPathsMap {
		if strings.HasPrefix(strings.ToLower(k), "aws.") {
			return nil, fmt.Errorf("InputPathsMap key %q is reserved: keys cannot start with \"aws.\"", k)
		}
		steps, err := parseJSONPath(p)
		if err != nil {
			return nil, fmt.Errorf("InputPathsMap %q: %w", k, err)
		}
		t.paths[k] = steps
	}
	return t, nil
}

// deliveryContext is what the predefined placeholders refer to.
type deliveryContext struct {
	ruleARN, ruleName, ingestionTime string
	event                            []byte // the full event envelope
}

// render fills the template. In a JSON template (one that starts with {, [
// or "), a placeholder inside a JSON string receives the value's text (a
// string's content, or another value's JSON text) escaped for the string;
// outside a string it receives the raw JSON value. A path that selects
// nothing gives an empty string inside quotes and null outside. Any other
// template is plain text: strings go in unquoted, other values as JSON text.
func (t *transformer) render(dc deliveryContext) []byte {
	var out bytes.Buffer
	tpl := t.template
	if trimmed := strings.TrimSpace(tpl); trimmed == "" || !strings.ContainsRune("{[\"", rune(trimmed[0])) {
		return t.renderPlain(dc)
	}
	inStr, esc := false, false
	for i := 0; i < len(tpl); i++ {
		c := tpl[i]
		if inStr {
			if esc {
				esc = false
				out.WriteByte(c)
				continue
			}
			if c == '\\' {
				esc = true
				out.WriteByte(c)
				continue
			}
		}
		if c == '"' {
			inStr = !inStr
			out.WriteByte(c)
			continue
		}
		if c == '<' {
			if end := strings.IndexByte(tpl[i+1:], '>'); end > 0 {
				name := tpl[i+1 : i+1+end]
				if raw, known, found := t.lookup(name, dc); known {
					writeValue(&out, raw, found, inStr)
					i += end + 1
					continue
				}
			}
		}
		out.WriteByte(c)
	}
	return out.Bytes()
}

func (t *transformer) renderPlain(dc deliveryContext) []byte {
	var out bytes.Buffer
	tpl := t.template
	for i := 0; i < len(tpl); i++ {
		if tpl[i] == '<' {
			if end := strings.IndexByte(tpl[i+1:], '>'); end > 0 {
				if raw, known, found := t.lookup(tpl[i+1:i+1+end], dc); known {
					var str string
					switch {
					case !found:
					case raw[0] == '"' && json.Unmarshal(raw, &str) == nil:
						out.WriteString(str)
					default:
						out.Write(raw)
					}
					i += end + 1
					continue
				}
			}
		}
		out.WriteByte(tpl[i])
	}
	return out.Bytes()
}

// lookup resolves a placeholder name. known is false for names that are
// neither predefined nor in InputPathsMap (the text is then kept as is).
func (t *transformer) lookup(name string, dc deliveryContext) (raw []byte, known, found bool) {
	switch name {
	case varRuleARN:
		return quoteJSON(dc.ruleARN), true, true
	case varRuleName:
		return quoteJSON(dc.ruleName), true, true
	case varIngestionTime:
		return quoteJSON(dc.ingestionTime), true, true
	case varEventJSON:
		return dc.event, true, true
	case varEvent:
		return withoutDetail(dc.event), true, true
	}
	steps, ok := t.paths[name]
	if !ok {
		return nil, false, false
	}
	raw, found = evalPath(dc.event, steps)
	return raw, true, found
}

func writeValue(out *bytes.Buffer, raw []byte, found, inStr bool) {
	switch {
	case !found && inStr:
	case !found:
		out.WriteString("null")
	case !inStr:
		out.Write(raw)
	case raw[0] == '"':
		out.Write(raw[1 : len(raw)-1]) // already escaped for a JSON string
	default:
		q := quoteJSON(string(raw))
		out.Write(q[1 : len(q)-1])
	}
}

func quoteJSON(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // strings always encode
	return bytes.TrimRight(b.Bytes(), "\n")
}

// withoutDetail returns the event object minus its "detail" member.
func withoutDetail(event []byte) []byte {
	var out bytes.Buffer
	out.WriteByte('{')
	first := true
	eachChild(event, func(key string, _ int, v []byte) bool {
		if key == "detail" {
			return true
		}
		if !first {
			out.WriteByte(',')
		}
		first = false
		out.Write(quoteJSON(key))
		out.WriteByte(':')
		out.Write(v)
		return true
	})
	out.WriteByte('}')
	return out.Bytes()
}
