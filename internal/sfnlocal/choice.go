package sfnlocal

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// choiceRule is one compiled Choice rule (top level or nested).
type choiceRule struct {
	next      string
	op        string // And, Or, Not, or a comparison operator without "Path"
	isPath    bool   // the Path variant: compare with another field
	variable  *jsonPath
	children  []*choiceRule
	value     any
	valuePath *jsonPath
	ts        time.Time
	loc       string
}

var comparisonOps = map[string]string{ // operator -> type of operand
	"StringEquals": "string", "StringLessThan": "string", "StringGreaterThan": "string",
	"StringLessThanEquals": "string", "StringGreaterThanEquals": "string", "StringMatches": "string",
	"NumericEquals": "number", "NumericLessThan": "number", "NumericGreaterThan": "number",
	"NumericLessThanEquals": "number", "NumericGreaterThanEquals": "number",
	"BooleanEquals":   "boolean",
	"TimestampEquals": "timestamp", "TimestampLessThan": "timestamp", "TimestampGreaterThan": "timestamp",
	"TimestampLessThanEquals": "timestamp", "TimestampGreaterThanEquals": "timestamp",
	"IsNull": "boolean", "IsPresent": "boolean", "IsNumeric": "boolean", "IsString": "boolean",
	"IsBoolean": "boolean", "IsTimestamp": "boolean",
}

func (l *loader) choice(st *state, obj map[string]any, loc string) {
	arr, ok := obj["Choices"].([]any)
	if !ok || len(arr) == 0 {
		l.add("SCHEMA_VALIDATION_FAILED", loc+"/Choices", "a Choice state needs a non-empty 'Choices' array")
	}
	for i, x := range arr {
		r := l.choiceRule(x, fmt.Sprintf("%s/Choices/%d", loc, i), true)
		if r != nil {
			st.choices = append(st.choices, r)
		}
	}
	if v, ok := obj["Default"]; ok {
		s, ok := v.(string)
		if !ok || s == "" {
			l.add("SCHEMA_VALIDATION_FAILED", loc+"/Default", "'Default' must be a state name")
		}
		st.defaultNext = s
	}
}

func (l *loader) choiceRule(x any, loc string, top bool) *choiceRule {
	o, ok := asMap(x)
	if !ok {
		l.add("SCHEMA_VALIDATION_FAILED", loc, "a choice rule must be an object")
		return nil
	}
	r := &choiceRule{loc: loc}
	next, hasNext := o["Next"]
	if top {
		s, ok := next.(string)
		if !ok || s == "" {
			l.add("SCHEMA_VALIDATION_FAILED", loc+"/Next", "a top-level choice rule needs 'Next'")
		}
		r.next = s
	} else if hasNext {
		l.add("SCHEMA_VALIDATION_FAILED", loc+"/Next", "a nested choice rule cannot have 'Next'")
	}
	var ops []string
	for k := range o {
		switch k {
		case "Next", "Comment", "Variable":
			continue
		case "And", "Or", "Not":
			ops = append(ops, k)
			continue
		}
		base := strings.TrimSuffix(k, "Path")
		if _, known := comparisonOps[base]; known && base != "StringMatches" && !strings.HasPrefix(base, "Is") {
			ops = append(ops, k)
			continue
		}
		if _, known := comparisonOps[k]; known {
			ops = append(ops, k)
			continue
		}
		l.add("SCHEMA_VALIDATION_FAILED", loc+"/"+pointerEscape(k), "the field %q is not supported in a choice rule", k)
	}
	if len(ops) != 1 {
		l.add("SCHEMA_VALIDATION_FAILED", loc, "a choice rule needs exactly one comparison operator or And/Or/Not, found %d", len(ops))
		return nil
	}
	op := ops[0]
	switch op {
	case "And", "Or":
		arr, ok := o[op].([]any)
		if !ok || len(arr) == 0 {
			l.add("SCHEMA_VALIDATION_FAILED", loc+"/"+op, "'%s' must be a non-empty array of rules", op)
			return nil
		}
		if _, ok := o["Variable"]; ok {
			l.add("SCHEMA_VALIDATION_FAILED", loc+"/Variable", "'%s' rules cannot have 'Variable'", op)
		}
		r.op = op
		for i, c := range arr {
			if cr := l.choiceRule(c, fmt.Sprintf("%s/%s/%d", loc, op, i), false); cr != nil {
				r.children = append(r.children, cr)
			}
		}
		return r
	case "Not":
		if _, ok := o["Variable"]; ok {
			l.add("SCHEMA_VALIDATION_FAILED", loc+"/Variable", "'Not' rules cannot have 'Variable'")
		}
		r.op = op
		if cr := l.choiceRule(o[op], loc+"/Not", false); cr != nil {
			r.children = append(r.children, cr)
		}
		return r
	}
	vs, ok := o["Variable"].(string)
	if !ok {
		l.add("SCHEMA_VALIDATION_FAILED", loc+"/Variable", "a comparison needs 'Variable'")
		return nil
	}
	vp, err := parsePath(vs, true) // Variable must be a Reference Path
	if err != nil {
		l.add("SCHEMA_VALIDATION_FAILED", loc+"/Variable", "%v", err)
		return nil
	}
	r.variable = vp
	val := o[op]
	base := op
	if _, known := comparisonOps[op]; !known {
		base = strings.TrimSuffix(op, "Path")
		r.isPath = true
	}
	r.op = base
	if r.isPath {
		s, ok := val.(string)
		if !ok {
			l.add("SCHEMA_VALIDATION_FAILED", loc+"/"+op, "'%s' must be a path", op)
			return nil
		}
		p, err := parsePath(s, true)
		if err != nil {
			l.add("SCHEMA_VALIDATION_FAILED", loc+"/"+op, "%v", err)
			return nil
		}
		r.valuePath = p
		return r
	}
	switch comparisonOps[base] {
	case "string":
		if _, ok := val.(string); !ok {
			l.add("SCHEMA_VALIDATION_FAILED", loc+"/"+op, "'%s' needs a string value", op)
		}
	case "number":
		if _, ok := val.(json.Number); !ok {
			l.add("SCHEMA_VALIDATION_FAILED", loc+"/"+op, "'%s' needs a numeric value", op)
		}
	case "boolean":
		if _, ok := val.(bool); !ok {
			l.add("SCHEMA_VALIDATION_FAILED", loc+"/"+op, "'%s' needs a boolean value", op)
		}
	case "timestamp":
		s, _ := val.(string)
		t, err := parseTimestamp(s)
		if err != nil {
			l.add("SCHEMA_VALIDATION_FAILED", loc+"/"+op, "'%s' needs an RFC3339 timestamp: %v", op, err)
		}
		r.ts = t
	}
	r.value = val
	return r
}

// choiceRuntimeError is a States.Runtime failure while evaluating rules.
type choiceRuntimeError struct{ msg string }

func (e *choiceRuntimeError) Error() string { return e.msg }

func (r *choiceRule) eval(env *evalEnv) (bool, error) {
	switch r.op {
	case "And":
		for _, c := range r.children {
			ok, err := c.eval(env)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case "Or":
		for _, c := range r.children {
			ok, err := c.eval(env)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case "Not":
		ok, err := r.children[0].eval(env)
		return !ok && err == nil, err
	}
	v, present := env.resolve(r.variable)
	if r.op == "IsPresent" {
		want, _ := r.value.(bool)
		return present == want, nil
	}
	if strings.HasPrefix(r.op, "Is") {
		if !present {
			return false, nil
		}
		var is bool
		switch r.op {
		case "IsNull":
			is = v == nil
		case "IsNumeric":
			_, is = v.(json.Number)
		case "IsString":
			_, is = v.(string)
		case "IsBoolean":
			_, is = v.(bool)
		case "IsTimestamp":
			s, ok := v.(string)
			if ok {
				_, err := parseTimestamp(s)
				is = err == nil
			}
		}
		want, _ := r.value.(bool)
		return is == want, nil
	}
	if !present {
		return false, &choiceRuntimeError{fmt.Sprintf("Invalid path '%s': The choice state's condition path references an invalid value.", r.variable.raw)}
	}
	want := r.value
	wantTS := r.ts
	if r.isPath {
		w, ok := env.resolve(r.valuePath)
		if !ok {
			return false, &choiceRuntimeError{fmt.Sprintf("Invalid path '%s': The choice state's condition path references an invalid value.", r.valuePath.raw)}
		}
		want = w
		if comparisonOps[r.op] == "timestamp" {
			s, ok := w.(string)
			if !ok {
				return false, nil
			}
			t, err := parseTimestamp(s)
			if err != nil {
				return false, nil
			}
			wantTS = t
		}
	}
	switch comparisonOps[r.op] {
	case "string":
		a, ok1 := v.(string)
		b, ok2 := want.(string)
		if !ok1 || !ok2 {
			return false, nil
		}
		if r.op == "StringMatches" {
			return wildcardMatch(b, a), nil
		}
		return compareOrdered(r.op, strings.Compare(a, b)), nil
	case "number":
		a, ok1 := toFloat(v)
		b, ok2 := toFloat(want)
		if !ok1 || !ok2 {
			return false, nil
		}
		c := 0
		if a < b {
			c = -1
		} else if a > b {
			c = 1
		}
		return compareOrdered(r.op, c), nil
	case "boolean":
		a, ok1 := v.(bool)
		b, ok2 := want.(bool)
		return ok1 && ok2 && a == b, nil
	case "timestamp":
		s, ok := v.(string)
		if !ok {
			return false, nil
		}
		a, err := parseTimestamp(s)
		if err != nil {
			return false, nil
		}
		return compareOrdered(r.op, a.Compare(wantTS)), nil
	}
	return false, nil
}

func compareOrdered(op string, c int) bool {
	switch {
	case strings.HasSuffix(op, "LessThanEquals"):
		return c <= 0
	case strings.HasSuffix(op, "GreaterThanEquals"):
		return c >= 0
	case strings.HasSuffix(op, "LessThan"):
		return c < 0
	case strings.HasSuffix(op, "GreaterThan"):
		return c > 0
	}
	return c == 0
}

// wildcardMatch implements StringMatches: '*' matches any run of
// characters, "\*" a literal star and "\\" a literal backslash.
func wildcardMatch(pattern, s string) bool {
	type tok struct {
		star bool
		c    rune
	}
	var toks []tok
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		if rs[i] == '\\' && i+1 < len(rs) {
			i++
			toks = append(toks, tok{c: rs[i]})
			continue
		}
		toks = append(toks, tok{star: rs[i] == '*', c: rs[i]})
	}
	in := []rune(s)
	// classic greedy matching with backtracking to the last star
	ti, si, starT, starS := 0, 0, -1, 0
	for si < len(in) {
		switch {
		case ti < len(toks) && !toks[ti].star && toks[ti].c == in[si]:
			ti++
			si++
		case ti < len(toks) && toks[ti].star:
			starT, starS = ti, si
			ti++
		case starT >= 0:
			starS++
			si = starS
			ti = starT + 1
		default:
			return false
		}
	}
	for ti < len(toks) && toks[ti].star {
		ti++
	}
	return ti == len(toks)
}
