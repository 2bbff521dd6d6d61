package sfnlocal

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Diagnostic is one validation finding, shaped like AWS's
// ValidateStateMachineDefinitionDiagnostic.
type Diagnostic struct {
	Code     string // e.g. SCHEMA_VALIDATION_FAILED, MISSING_TRANSITION_TARGET
	Message  string
	Location string // JSON pointer into the definition, e.g. /States/Check/Next
}

func (d Diagnostic) String() string {
	if d.Location == "" {
		return d.Code + ": " + d.Message
	}
	return fmt.Sprintf("%s: %s at %s", d.Code, d.Message, d.Location)
}

// DefinitionError is returned when a definition does not load. It names
// every offending path.
type DefinitionError struct {
	Diagnostics []Diagnostic
}

func (e *DefinitionError) Error() string {
	parts := make([]string, len(e.Diagnostics))
	for i, d := range e.Diagnostics {
		parts[i] = d.String()
	}
	return "Invalid State Machine Definition: '" + strings.Join(parts, ", ") + "'"
}

// Validate checks a definition the way CreateStateMachine does. A nil error
// means it loads; otherwise the error is a *DefinitionError.
func Validate(definition string) error {
	_, err := loadDefinition(definition)
	return err
}

// machine is a compiled top-level definition, Parallel branch or Map
// item processor.
type machine struct {
	startAt        string
	states         map[string]*state
	timeoutSeconds int
}

type state struct {
	name string
	typ  string
	next string
	end  bool

	inputPath, outputPath   *jsonPath // nil = "$"
	inputNull, outputNull   bool
	resultPath              *jsonPath // nil = "$"
	resultNull              bool
	parameters              *template
	resultSelector          *template
	result                  any
	hasResult               bool
	resource                string
	timeoutSeconds          int
	timeoutPath             *jsonPath
	heartbeatSeconds        int
	heartbeatPath           *jsonPath
	retry                   []*retrier
	catch                   []*catcher
	choices                 []*choiceRule
	defaultNext             string
	waitSeconds             *int64
	waitTimestamp           *time.Time
	waitSecondsPath         *jsonPath
	waitTimestampPath       *jsonPath
	errName, cause          string
	errorExpr, causeExpr    *template
	branches                []*machine
	itemsPath               *jsonPath
	itemSelector            *template
	processor               *machine
	maxConcurrency          int
	usesContextInParameters bool
}

type retrier struct {
	errorEquals     []string
	intervalSeconds float64
	maxAttempts     int
	backoffRate     float64
	maxDelaySeconds float64
	jitterFull      bool
}

type catcher struct {
	errorEquals []string
	next        string
	resultPath  *jsonPath
	resultNull  bool
}

// loader walks the raw definition collecting diagnostics.
type loader struct {
	diags []Diagnostic
	names map[string]string // state name -> location, across the whole machine
	depth int
}

func (l *loader) add(code, loc, format string, a ...any) {
	l.diags = append(l.diags, Diagnostic{Code: code, Message: fmt.Sprintf(format, a...), Location: loc})
}

func loadDefinition(def string) (*machine, error) {
	l := &loader{names: map[string]string{}}
	if strings.TrimSpace(def) == "" {
		l.add("MISSING_DESCRIPTION", "", "the definition is empty")
		return nil, &DefinitionError{l.diags}
	}
	raw, err := decodeJSONString(def)
	if err != nil {
		l.add("INVALID_JSON_DESCRIPTION", "", "%v", err)
		return nil, &DefinitionError{l.diags}
	}
	obj, ok := asMap(raw)
	if !ok {
		l.add("SCHEMA_VALIDATION_FAILED", "", "the definition must be a JSON object")
		return nil, &DefinitionError{l.diags}
	}
	if ql, ok := obj["QueryLanguage"]; ok && ql != "JSONPath" {
		l.add("SCHEMA_VALIDATION_FAILED", "/QueryLanguage", "only JSONPath is supported, got %v", ql)
	}
	m := l.machine(obj, "", true)
	if len(l.diags) > 0 {
		return nil, &DefinitionError{l.diags}
	}
	return m, nil
}

// failPathIntrinsics are the intrinsics a Fail state's ErrorPath and
// CausePath may call.
var failPathIntrinsics = []string{"States.Format", "States.JsonToString", "States.ArrayGetItem",
	"States.Base64Encode", "States.Base64Decode", "States.Hash", "States.UUID"}

var topFields = []string{"Comment", "StartAt", "States", "TimeoutSeconds", "Version", "QueryLanguage"}
var branchFields = []string{"Comment", "StartAt", "States", "ProcessorConfig"}

func (l *loader) machine(obj map[string]any, loc string, top bool) *machine {
	l.depth++
	defer func() { l.depth-- }()
	if l.depth > 20 {
		l.add("TOO_DEEPLY_NESTED", loc, "the states are nested too deeply")
		return nil
	}
	allowed := branchFields
	if top {
		allowed = topFields
	}
	l.unknownFields(obj, loc, allowed)
	m := &machine{states: map[string]*state{}}
	startAt, ok := obj["StartAt"].(string)
	if !ok || startAt == "" {
		l.add("SCHEMA_VALIDATION_FAILED", loc+"/StartAt", "the field 'StartAt' is required and must be a non-empty string")
	}
	m.startAt = startAt
	if top {
		if v, ok := obj["TimeoutSeconds"]; ok {
			n, ok := positiveInt(v)
			if !ok {
				l.add("SCHEMA_VALIDATION_FAILED", loc+"/TimeoutSeconds", "must be a positive integer")
			}
			m.timeoutSeconds = n
		}
	}
	rawStates, ok := asMap(obj["States"])
	if !ok || len(rawStates) == 0 {
		l.add("SCHEMA_VALIDATION_FAILED", loc+"/States", "the field 'States' is required and must be a non-empty object")
		return m
	}
	for _, name := range sortedKeys(rawStates) {
		sloc := loc + "/States/" + pointerEscape(name)
		if prev, dup := l.names[name]; dup {
			l.add("DUPLICATE_STATE_NAME", sloc, "state name %q is already used at %s", name, prev)
		}
		l.names[name] = sloc
		if len(name) == 0 || len(name) > 80 {
			l.add("INVALID_STATE_NAME", sloc, "state names must be 1 to 80 characters")
		}
		so, ok := asMap(rawStates[name])
		if !ok {
			l.add("SCHEMA_VALIDATION_FAILED", sloc, "a state must be a JSON object")
			continue
		}
		if st := l.state(name, so, sloc); st != nil {
			m.states[name] = st
		}
	}
	if startAt != "" {
		if _, ok := rawStates[startAt]; !ok {
			l.add("MISSING_TRANSITION_TARGET", loc+"/StartAt", "missing 'StartAt' target: %s", startAt)
		}
	}
	// transitions must name states of this same machine
	check := func(target, at string) {
		if target == "" {
			return
		}
		if _, ok := rawStates[target]; !ok {
			l.add("MISSING_TRANSITION_TARGET", at, "missing 'Next' target: %s", target)
		}
	}
	terminal := false
	for _, name := range sortedKeys(rawStates) {
		st := m.states[name]
		if st == nil {
			continue
		}
		sloc := loc + "/States/" + pointerEscape(name)
		check(st.next, sloc+"/Next")
		check(st.defaultNext, sloc+"/Default")
		for i, c := range st.choices {
			check(c.next, fmt.Sprintf("%s/Choices/%d/Next", sloc, i))
		}
		for i, c := range st.catch {
			check(c.next, fmt.Sprintf("%s/Catch/%d/Next", sloc, i))
		}
		if st.end || st.typ == "Succeed" || st.typ == "Fail" {
			terminal = true
		}
	}
	if !terminal {
		l.add("MISSING_END_STATE", loc, "the workflow has no terminal state")
	}
	// reachability from StartAt
	if _, ok := m.states[startAt]; ok {
		seen := map[string]bool{}
		queue := []string{startAt}
		for len(queue) > 0 {
			n := queue[0]
			queue = queue[1:]
			if seen[n] {
				continue
			}
			seen[n] = true
			st := m.states[n]
			if st == nil {
				continue
			}
			for _, t := range st.targets() {
				if !seen[t] {
					queue = append(queue, t)
				}
			}
		}
		for _, name := range sortedKeys(rawStates) {
			if !seen[name] {
				l.add("SCHEMA_VALIDATION_FAILED", loc+"/States/"+pointerEscape(name), "state %q is not reachable from StartAt", name)
			}
		}
	}
	return m
}

func (st *state) targets() []string {
	var t []string
	if st.next != "" {
		t = append(t, st.next)
	}
	if st.defaultNext != "" {
		t = append(t, st.defaultNext)
	}
	for _, c := range st.choices {
		t = append(t, c.next)
	}
	for _, c := range st.catch {
		t = append(t, c.next)
	}
	return t
}

var stateFields = map[string][]string{
	"Pass":     {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "Result"},
	"Task":     {"Resource", "Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Retry", "Catch", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Credentials"},
	"Choice":   {"Choices", "Default", "InputPath", "OutputPath"},
	"Wait":     {"Next", "End", "InputPath", "OutputPath", "Seconds", "Timestamp", "SecondsPath", "TimestampPath"},
	"Succeed":  {"InputPath", "OutputPath"},
	"Fail":     {"Error", "Cause", "ErrorPath", "CausePath"},
	"Parallel": {"Branches", "Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Retry", "Catch"},
	"Map":      {"ItemProcessor", "Iterator", "ItemsPath", "ItemSelector", "Parameters", "MaxConcurrency", "Next", "End", "InputPath", "OutputPath", "ResultPath", "ResultSelector", "Retry", "Catch"},
}

func (l *loader) unknownFields(obj map[string]any, loc string, allowed []string) {
	for _, k := range sortedKeys(obj) {
		if k == "Type" || k == "Comment" || k == "QueryLanguage" {
			continue
		}
		if !slices.Contains(allowed, k) {
			l.add("SCHEMA_VALIDATION_FAILED", loc+"/"+pointerEscape(k), "the field %q is not supported", k)
		}
	}
}

func (l *loader) state(name string, obj map[string]any, loc string) *state {
	typ, _ := obj["Type"].(string)
	fields, ok := stateFields[typ]
	if !ok {
		l.add("SCHEMA_VALIDATION_FAILED", loc+"/Type", "the field 'Type' must be one of Task, Pass, Choice, Wait, Succeed, Fail, Parallel or Map, got %v", obj["Type"])
		return nil
	}
	if q, ok := obj["QueryLanguage"]; ok && q != "JSONPath" {
		l.add("SCHEMA_VALIDATION_FAILED", loc+"/QueryLanguage", "only JSONPath is supported")
	}
	l.unknownFields(obj, loc, fields)
	st := &state{name: name, typ: typ}

	// transitions
	next, hasNext := obj["Next"]
	end, hasEnd := obj["End"]
	if hasNext {
		s, ok := next.(string)
		if !ok || s == "" {
			l.add("SCHEMA_VALIDATION_FAILED", loc+"/Next", "'Next' must be a non-empty string")
		}
		st.next = s
	}
	if hasEnd {
		b, ok := end.(bool)
		if !ok {
			l.add("SCHEMA_VALIDATION_FAILED", loc+"/End", "'End' must be a boolean")
		}
		st.end = b
	}
	switch typ {
	case "Pass", "Task", "Wait", "Parallel", "Map":
		if hasNext && st.end {
			l.add("SCHEMA_VALIDATION_FAILED", loc, "'End' and 'Next' cannot both be set")
		} else if !hasNext && !st.end {
			l.add("SCHEMA_VALIDATION_FAILED", loc, "a %s state needs 'Next' or 'End': true", typ)
		}
	}

	// paths
	st.inputPath, st.inputNull = l.optPath(obj, "InputPath", loc, false)
	st.outputPath, st.outputNull = l.optPath(obj, "OutputPath", loc, false)
	st.resultPath, st.resultNull = l.optPath(obj, "ResultPath", loc, true)
	if v, ok := obj["Parameters"]; ok && typ != "Map" {
		st.parameters = l.template(v, loc+"/Parameters")
	}
	if v, ok := obj["ResultSelector"]; ok {
		st.resultSelector = l.template(v, loc+"/ResultSelector")
	}
	if v, ok := obj["Result"]; ok {
		st.result, st.hasResult = v, true
	}
	if v, ok := obj["Retry"]; ok {
		st.retry = l.retriers(v, loc+"/Retry")
	}
	if v, ok := obj["Catch"]; ok {
		st.catch = l.catchers(v, loc+"/Catch")
	}

	switch typ {
	case "Task":
		l.task(st, obj, loc)
	case "Choice":
		l.choice(st, obj, loc)
	case "Wait":
		l.wait(st, obj, loc)
	case "Fail":
		l.fail(st, obj, loc)
	case "Parallel":
		branches, ok := obj["Branches"].([]any)
		if !ok || len(branches) == 0 {
			l.add("SCHEMA_VALIDATION_FAILED", loc+"/Branches", "'Branches' must be a non-empty array")
		}
		for i, b := range branches {
			bo, ok := asMap(b)
			bloc := fmt.Sprintf("%s/Branches/%d", loc, i)
			if !ok {
				l.add("SCHEMA_VALIDATION_FAILED", bloc, "a branch must be an object")
				continue
			}
			st.branches = append(st.branches, l.machine(bo, bloc, false))
		}
	case "Map":
		l.mapState(st, obj, loc)
	}
	return st
}

func (l *loader) task(st *state, obj map[string]any, loc string) {
	res, ok := obj["Resource"].(string)
	if !ok || res == "" {
		l.add("SCHEMA_VALIDATION_FAILED", loc+"/Resource", "the field 'Resource' is required")
	} else if !strings.HasPrefix(res, "arn:") {
		l.add("INVALID_RESOURCE", loc+"/Resource", "resource %q is not an ARN", res)
	} else if strings.HasPrefix(res, "arn:aws:lambda:") && lambdaNameFromARN(res) == "" {
		l.add("INVALID_RESOURCE", loc+"/Resource", "resource %q is not a Lambda function ARN", res)
	}
	st.resource = res
	st.timeoutSeconds, st.timeoutPath = l.secondsField(obj, "TimeoutSeconds", loc)
	st.heartbeatSeconds, st.heartbeatPath = l.secondsField(obj, "HeartbeatSeconds", loc)
	if st.timeoutSeconds > 0 && st.heartbeatSeconds > 0 && st.heartbeatSeconds >= st.timeoutSeconds {
		l.add("SCHEMA_VALIDATION_FAILED", loc+"/HeartbeatSeconds", "'HeartbeatSeconds' must be smaller than 'TimeoutSeconds'")
	}
}

func (l *loader) secondsField(obj map[string]any, field, loc string) (int, *jsonPath) {
	v, hasV := obj[field]
	pv, hasP := obj[field+"Path"]
	if hasV && hasP {
		l.add("SCHEMA_VALIDATION_FAILED", loc, "'%s' and '%sPath' cannot both be set", field, field)
	}
	if hasV {
		n, ok := positiveInt(v)
		if !ok || n > 99999999 {
			l.add("SCHEMA_VALIDATION_FAILED", loc+"/"+field, "'%s' must be a positive integer", field)
		}
		return n, nil
	}
	if hasP {
		return 0, l.refPath(pv, loc+"/"+field+"Path")
	}
	return 0, nil
}

func (l *loader) wait(st *state, obj map[string]any, loc string) {
	n := 0
	if v, ok := obj["Seconds"]; ok {
		n++
		i, ok := nonNegInt(v)
		if !ok {
			l.add("SCHEMA_VALIDATION_FAILED", loc+"/Seconds", "'Seconds' must be a non-negative integer")
		}
		s := int64(i)
		st.waitSeconds = &s
	}
	if v, ok := obj["Timestamp"]; ok {
		n++
		s, _ := v.(string)
		t, err := parseTimestamp(s)
		if err != nil {
			l.add("SCHEMA_VALIDATION_FAILED", loc+"/Timestamp", "'Timestamp' must be an RFC3339 timestamp: %v", err)
		}
		st.waitTimestamp = &t
	}
	if v, ok := obj["SecondsPath"]; ok {
		n++
		st.waitSecondsPath = l.refPath(v, loc+"/SecondsPath")
	}
	if v, ok := obj["TimestampPath"]; ok {
		n++
		st.waitTimestampPath = l.refPath(v, loc+"/TimestampPath")
	}
	if n != 1 {
		l.add("SCHEMA_VALIDATION_FAILED", loc, "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath or TimestampPath")
	}
}

func (l *loader) fail(st *state, obj map[string]any, loc string) {
	pick := func(field string) (string, *template) {
		v, hasV := obj[field]
		pv, hasP := obj[field+"Path"]
		if hasV && hasP {
			l.add("SCHEMA_VALIDATION_FAILED", loc, "'%s' and '%sPath' cannot both be set", field, field)
		}
		if hasV {
			s, ok := v.(string)
			if !ok {
				l.add("SCHEMA_VALIDATION_FAILED", loc+"/"+field, "'%s' must be a string", field)
			}
			return s, nil
		}
		if hasP {
			s, ok := pv.(string)
			if !ok {
				l.add("SCHEMA_VALIDATION_FAILED", loc+"/"+field+"Path", "must be a path or an intrinsic function")
				return "", nil
			}
			ploc := loc + "/" + field + "Path"
			if isIntrinsic(s) {
				name, _, _ := strings.Cut(s, "(")
				if !slices.Contains(failPathIntrinsics, strings.TrimSpace(name)) {
					l.add("SCHEMA_VALIDATION_FAILED", ploc, "%s may only use States.Format, States.JsonToString, States.ArrayGetItem, States.Base64Encode, States.Base64Decode, States.Hash or States.UUID", field+"Path")
					return "", nil
				}
				return "", l.dynamic(s, ploc)
			}
			p := l.refPath(s, ploc)
			if p == nil {
				return "", nil
			}
			return "", &template{kind: tmplPath, path: p, usesCtx: p.context, hasDyn: true, original: s}
		}
		return "", nil
	}
	st.errName, st.errorExpr = pick("Error")
	st.cause, st.causeExpr = pick("Cause")
}

func (l *loader) mapState(st *state, obj map[string]any, loc string) {
	proc, hasProc := obj["ItemProcessor"]
	iter, hasIter := obj["Iterator"]
	ploc := loc + "/ItemProcessor"
	if !hasProc {
		proc, ploc = iter, loc+"/Iterator"
	}
	if hasProc == hasIter {
		l.add("SCHEMA_VALIDATION_FAILED", loc, "a Map state needs exactly one of 'ItemProcessor' or 'Iterator'")
	}
	if po, ok := asMap(proc); ok {
		if pc, ok := asMap(po["ProcessorConfig"]); ok {
			if mode, ok := pc["Mode"]; ok && mode != "INLINE" {
				l.add("SCHEMA_VALIDATION_FAILED", ploc+"/ProcessorConfig/Mode", "only INLINE mode is supported, got %v", mode)
			}
		}
		st.processor = l.machine(po, ploc, false)
	} else if hasProc || hasIter {
		l.add("SCHEMA_VALIDATION_FAILED", ploc, "must be an object")
	}
	if v, ok := obj["ItemsPath"]; ok {
		st.itemsPath = l.refPath(v, loc+"/ItemsPath")
	}
	sel, hasSel := obj["ItemSelector"]
	params, hasParams := obj["Parameters"]
	if hasSel && hasParams {
		l.add("SCHEMA_VALIDATION_FAILED", loc, "'ItemSelector' and 'Parameters' cannot both be set")
	}
	if hasSel {
		st.itemSelector = l.template(sel, loc+"/ItemSelector")
	} else if hasParams {
		st.itemSelector = l.template(params, loc+"/Parameters")
	}
	if v, ok := obj["MaxConcurrency"]; ok {
		n, ok := nonNegInt(v)
		if !ok {
			l.add("SCHEMA_VALIDATION_FAILED", loc+"/MaxConcurrency", "'MaxConcurrency' must be a non-negative integer")
		}
		st.maxConcurrency = n
	}
}

func (l *loader) errorEquals(v any, loc string) []string {
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		l.add("SCHEMA_VALIDATION_FAILED", loc, "'ErrorEquals' must be a non-empty array of strings")
		return nil
	}
	out := make([]string, 0, len(arr))
	for i, x := range arr {
		s, ok := x.(string)
		if !ok || s == "" {
			l.add("SCHEMA_VALIDATION_FAILED", fmt.Sprintf("%s/%d", loc, i), "error names must be non-empty strings")
			continue
		}
		out = append(out, s)
	}
	if slices.Contains(out, "States.ALL") && len(out) > 1 {
		l.add("SCHEMA_VALIDATION_FAILED", loc, "'States.ALL' must appear alone in 'ErrorEquals'")
	}
	return out
}

func (l *loader) retriers(v any, loc string) []*retrier {
	arr, ok := v.([]any)
	if !ok {
		l.add("SCHEMA_VALIDATION_FAILED", loc, "'Retry' must be an array")
		return nil
	}
	var out []*retrier
	for i, x := range arr {
		rloc := fmt.Sprintf("%s/%d", loc, i)
		o, ok := asMap(x)
		if !ok {
			l.add("SCHEMA_VALIDATION_FAILED", rloc, "a retrier must be an object")
			continue
		}
		l.unknownFields(o, rloc, []string{"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy"})
		r := &retrier{intervalSeconds: 1, maxAttempts: 3, backoffRate: 2}
		r.errorEquals = l.errorEquals(o["ErrorEquals"], rloc+"/ErrorEquals")
		if slices.Contains(r.errorEquals, "States.ALL") && i != len(arr)-1 {
			l.add("SCHEMA_VALIDATION_FAILED", rloc+"/ErrorEquals", "a retrier with 'States.ALL' must be the last one")
		}
		if v, ok := o["IntervalSeconds"]; ok {
			n, ok := positiveInt(v)
			if !ok {
				l.add("SCHEMA_VALIDATION_FAILED", rloc+"/IntervalSeconds", "'IntervalSeconds' must be a positive integer")
			}
			r.intervalSeconds = float64(n)
		}
		if v, ok := o["MaxAttempts"]; ok {
			n, ok := nonNegInt(v)
			if !ok {
				l.add("SCHEMA_VALIDATION_FAILED", rloc+"/MaxAttempts", "'MaxAttempts' must be a non-negative integer")
			}
			r.maxAttempts = n
		}
		if v, ok := o["BackoffRate"]; ok {
			f, ok := toFloat(v)
			if !ok || f < 1 {
				l.add("SCHEMA_VALIDATION_FAILED", rloc+"/BackoffRate", "'BackoffRate' must be a number >= 1.0")
			}
			r.backoffRate = f
		}
		if v, ok := o["MaxDelaySeconds"]; ok {
			n, ok := positiveInt(v)
			if !ok {
				l.add("SCHEMA_VALIDATION_FAILED", rloc+"/MaxDelaySeconds", "'MaxDelaySeconds' must be a positive integer")
			}
			r.maxDelaySeconds = float64(n)
		}
		if v, ok := o["JitterStrategy"]; ok {
			switch v {
			case "FULL":
				r.jitterFull = true
			case "NONE":
			default:
				l.add("SCHEMA_VALIDATION_FAILED", rloc+"/JitterStrategy", "'JitterStrategy' must be FULL or NONE")
			}
		}
		out = append(out, r)
	}
	return out
}

func (l *loader) catchers(v any, loc string) []*catcher {
	arr, ok := v.([]any)
	if !ok {
		l.add("SCHEMA_VALIDATION_FAILED", loc, "'Catch' must be an array")
		return nil
	}
	var out []*catcher
	for i, x := range arr {
		cloc := fmt.Sprintf("%s/%d", loc, i)
		o, ok := asMap(x)
		if !ok {
			l.add("SCHEMA_VALIDATION_FAILED", cloc, "a catcher must be an object")
			continue
		}
		l.unknownFields(o, cloc, []string{"ErrorEquals", "Next", "ResultPath"})
		c := &catcher{}
		c.errorEquals = l.errorEquals(o["ErrorEquals"], cloc+"/ErrorEquals")
		if slices.Contains(c.errorEquals, "States.ALL") && i != len(arr)-1 {
			l.add("SCHEMA_VALIDATION_FAILED", cloc+"/ErrorEquals", "a catcher with 'States.ALL' must be the last one")
		}
		next, ok := o["Next"].(string)
		if !ok || next == "" {
			l.add("SCHEMA_VALIDATION_FAILED", cloc+"/Next", "a catcher needs 'Next'")
		}
		c.next = next
		c.resultPath, c.resultNull = l.optPath(o, "ResultPath", cloc, true)
		out = append(out, c)
	}
	return out
}

// optPath reads InputPath/OutputPath/ResultPath: absent means "$", null is
// allowed and reported through the second result.
func (l *loader) optPath(obj map[string]any, field, loc string, reference bool) (*jsonPath, bool) {
	v, ok := obj[field]
	if !ok {
		return nil, false
	}
	if v == nil {
		return nil, true
	}
	s, ok := v.(string)
	if !ok {
		l.add("SCHEMA_VALIDATION_FAILED", loc+"/"+field, "'%s' must be a path string or null", field)
		return nil, false
	}
	p, err := parsePath(s, reference)
	if err != nil || p.context {
		if err == nil {
			err = fmt.Errorf("invalid JSONPath %q: the context object cannot be used here", s)
		}
		l.add("SCHEMA_VALIDATION_FAILED", loc+"/"+field, "%v", err)
		return nil, false
	}
	return p, false
}

func (l *loader) refPath(v any, loc string) *jsonPath {
	s, ok := v.(string)
	if !ok {
		l.add("SCHEMA_VALIDATION_FAILED", loc, "must be a reference path string")
		return nil
	}
	p, err := parsePath(s, true)
	if err != nil {
		l.add("SCHEMA_VALIDATION_FAILED", loc, "%v", err)
		return nil
	}
	return p
}

func positiveInt(v any) (int, bool) {
	n, ok := intArg(v)
	return n, ok && n > 0
}

func nonNegInt(v any) (int, bool) {
	n, ok := intArg(v)
	return n, ok && n >= 0
}

func pointerEscape(s string) string {
	s = strings.ReplaceAll(s, "~", "~0")
	return strings.ReplaceAll(s, "/", "~1")
}

// parseTimestamp accepts RFC3339 with an uppercase T, as ASL requires.
func parseTimestamp(s string) (time.Time, error) {
	if !strings.Contains(s, "T") {
		return time.Time{}, fmt.Errorf("timestamp %q has no 'T' separator", s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse timestamp: %w", err)
	}
	return t, nil
}

// lambdaNameFromARN returns the function name (with qualifier) in
// arn:aws:lambda:region:account:function:name[:qualifier], or "".
func lambdaNameFromARN(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) < 7 || parts[2] != "lambda" || parts[5] != "function" || parts[6] == "" {
		return ""
	}
	return strings.Join(parts[6:], ":")
}

// template is a compiled Parameters / ResultSelector / ItemSelector value.
type template struct {
	kind     templateKind
	literal  any
	fields   []templateField
	items    []*template
	path     *jsonPath
	call     *intrinsic
	usesCtx  bool
	hasDyn   bool
	original string
}

type templateKind uint8

const (
	tmplLiteral templateKind = iota
	tmplObject
	tmplArray
	tmplPath
	tmplCall
)

type templateField struct {
	key string
	val *template
}

func (l *loader) template(v any, loc string) *template {
	switch t := v.(type) {
	case *object:
		out := &template{kind: tmplObject}
		for _, k := range t.keys {
			floc := loc + "/" + pointerEscape(k)
			if strings.HasSuffix(k, ".$") {
				s, ok := t.m[k].(string)
				if !ok {
					l.add("SCHEMA_VALIDATION_FAILED", floc, "the value of a field ending in '.$' must be a path or an intrinsic function")
					continue
				}
				d := l.dynamic(s, floc)
				if d == nil {
					continue
				}
				key := strings.TrimSuffix(k, ".$")
				if _, dup := t.m[key]; dup {
					l.add("SCHEMA_VALIDATION_FAILED", floc, "both %q and %q are set", key, k)
				}
				out.fields = append(out.fields, templateField{key: key, val: d})
				out.hasDyn = true
				out.usesCtx = out.usesCtx || d.usesCtx
				continue
			}
			child := l.template(t.m[k], floc)
			out.fields = append(out.fields, templateField{key: k, val: child})
			out.hasDyn = out.hasDyn || child.hasDyn
			out.usesCtx = out.usesCtx || child.usesCtx
		}
		if !out.hasDyn {
			return &template{kind: tmplLiteral, literal: v}
		}
		return out
	case []any:
		out := &template{kind: tmplArray}
		for i, x := range t {
			child := l.template(x, fmt.Sprintf("%s/%d", loc, i))
			out.items = append(out.items, child)
			out.hasDyn = out.hasDyn || child.hasDyn
			out.usesCtx = out.usesCtx || child.usesCtx
		}
		if !out.hasDyn {
			return &template{kind: tmplLiteral, literal: v}
		}
		return out
	}
	return &template{kind: tmplLiteral, literal: v}
}

// dynamic compiles the value of a ".$" field: a path or an intrinsic.
func (l *loader) dynamic(s, loc string) *template {
	if isIntrinsic(s) {
		call, err := parseIntrinsic(s)
		if err != nil {
			l.add("SCHEMA_VALIDATION_FAILED", loc, "%v", err)
			return nil
		}
		return &template{kind: tmplCall, call: call, usesCtx: strings.Contains(s, "$$"), hasDyn: true, original: s}
	}
	p, err := parsePath(s, false)
	if err != nil {
		l.add("SCHEMA_VALIDATION_FAILED", loc, "%v", err)
		return nil
	}
	return &template{kind: tmplPath, path: p, usesCtx: p.context, hasDyn: true, original: s}
}

// templateError is a runtime failure to fill a template (States.Runtime).
type templateError struct{ msg string }

func (e *templateError) Error() string { return e.msg }

func (t *template) eval(env *evalEnv, field string) (any, error) {
	switch t.kind {
	case tmplLiteral:
		return t.literal, nil
	case tmplPath:
		v, ok := env.resolve(t.path)
		if !ok {
			src := "input"
			if t.path.context {
				src = "context object"
			}
			return nil, &templateError{fmt.Sprintf("The JsonPath argument for the field '%s.$' could not be found in the %s", field, src)}
		}
		return v, nil
	case tmplCall:
		v, err := t.call.eval(env)
		if err != nil {
			return nil, &templateError{fmt.Sprintf("The value for the field '%s.$' must be a valid intrinsic function call: %v", field, err)}
		}
		return v, nil
	case tmplObject:
		out := newObject(len(t.fields))
		for _, f := range t.fields {
			v, err := f.val.eval(env, f.key)
			if err != nil {
				return nil, err
			}
			out.set(f.key, v)
		}
		return out, nil
	case tmplArray:
		out := make([]any, len(t.items))
		for i, it := range t.items {
			v, err := it.eval(env, field)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, &templateError{"unknown template"}
}

// asMap exposes a decoded JSON object's fields to the loader.
func asMap(v any) (map[string]any, bool) {
	o, ok := v.(*object)
	if !ok {
		return nil, false
	}
	return o.m, true
}
