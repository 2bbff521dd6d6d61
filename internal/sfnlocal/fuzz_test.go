package sfnlocal

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzLoadDefinition: the loader never panics, returns a *DefinitionError
// for anything it refuses, and agrees with CreateStateMachine.
func FuzzLoadDefinition(f *testing.F) {
	for _, c := range loadCases(f) {
		f.Add(string(c.Definition))
	}
	f.Add(``)
	f.Add(`[]`)
	f.Add(`{"StartAt":"A","States":{"A":{"Type":"Map","ItemProcessor":{"StartAt":"B","States":{"B":{"Type":"Succeed"}}},"End":true}}}`)
	svc := New(Options{})
	f.Cleanup(svc.Close)
	f.Fuzz(func(t *testing.T, def string) {
		err := Validate(def)
		if err != nil {
			var de *DefinitionError
			if !errors.As(err, &de) || len(de.Diagnostics) == 0 {
				t.Fatalf("Validate: got %T %v, want a *DefinitionError with diagnostics", err, err)
			}
			return
		}
		if _, err := svc.CreateStateMachine(context.Background(), "fuzz", def); err != nil {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != "StateMachineAlreadyExists" {
				t.Fatalf("Validate accepted the definition but CreateStateMachine said %v", err)
			}
		}
	})
}

// FuzzJSONPath: parsing never panics; a parsed reference path can be set
// and read back.
func FuzzJSONPath(f *testing.F) {
	seeds := [][2]string{
		{"$", `{"a":1}`}, {"$.a.b", `{"a":{"b":[1,2]}}`}, {"$.a[0]", `{"a":[1]}`}, {"$['x y'][1]", `{"x y":[0,1]}`},
		{"$..id", `{"a":{"id":1}}`}, {"$.a[*].b", `{"a":[{"b":1}]}`}, {"$.a[?(@.p < 3)]", `{"a":[{"p":1},{"p":5}]}`},
		{"$.a[1:-1]", `{"a":[1,2,3]}`}, {"$$.Execution.Id", `{}`}, {"$.a[", `{}`}, {"$[0,1]", `[1,2]`}, {"$.*", `{"a":1}`},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, path, doc string) {
		v, err := decodeJSONString(doc)
		if err != nil {
			v = nil
		}
		if p, err := parsePath(path, false); err == nil {
			p.get(v)
		}
		p, err := parsePath(path, true)
		if err != nil {
			return
		}
		if !p.definite {
			t.Fatalf("reference path %q parsed as indefinite", path)
		}
		marker := map[string]any{"marker": true}
		out, err := p.set(v, marker)
		if err != nil {
			return
		}
		got, ok := p.get(out)
		if !ok || !jsonEqual(got, marker) {
			t.Fatalf("set then get %q: got %v (%v), want the marker", path, got, ok)
		}
	})
}

// FuzzIntrinsic: parsing and evaluating never panic.
func FuzzIntrinsic(f *testing.F) {
	for _, s := range []string{
		"States.Format('a {} b {}', $.x, 1)", "States.StringToJson($.s)", "States.JsonToString($)", "States.Array(1, 'a', true, null, $.x)",
		"States.ArrayPartition($.a, 2)", "States.ArrayContains($.a, 1)", "States.ArrayRange(1, 9, 2)", "States.ArrayGetItem($.a, 0)",
		"States.ArrayLength($.a)", "States.ArrayUnique($.a)", "States.Base64Encode('x')", "States.Base64Decode('eA==')",
		"States.Hash('x', 'SHA-256')", "States.JsonMerge($.o, $.o, false)", "States.MathRandom(-9223372036854775808, 9223372036854775807)",
		"States.MathAdd(1, 2)", "States.StringSplit('a,b', ',')", "States.UUID()", "States.ArrayLength(States.StringSplit($.s, ','))",
		"States.Format('\\{\\}')", "States.Format($$.Execution.Name)",
	} {
		f.Add(s, `{"x":"v","s":"a,b","a":[1,2,2],"o":{"k":1}}`)
	}
	f.Fuzz(func(t *testing.T, expr, doc string) {
		call, err := parseIntrinsic(expr)
		if err != nil {
			return
		}
		v, err := decodeJSONString(doc)
		if err != nil {
			v = map[string]any{}
		}
		env := &evalEnv{input: v, ctxObj: func() any { return map[string]any{"Execution": map[string]any{"Name": "n"}} }}
		_, _ = call.eval(env)
	})
}

// FuzzJSONCodec: the order-keeping decoder accepts exactly what
// encoding/json accepts, and encoding round-trips.
func FuzzJSONCodec(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":[true,null,"x\u00e9\n"]}`, `-0.5e10`, `"\ud83d\ude00"`, `{"a":{"a":{}}}`, `[1,]`, `{"a" 1}`, `01`, `"\x01"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := decodeJSONString(s)
		if (err == nil) != json.Valid([]byte(s)) {
			t.Fatalf("decode %q: err=%v but json.Valid=%v", s, err, json.Valid([]byte(s)))
		}
		if err != nil {
			return
		}
		enc := encodeJSON(v)
		if !json.Valid([]byte(enc)) {
			t.Fatalf("encode(decode(%q)) = %q is not valid JSON", s, enc)
		}
		back, err := decodeJSONString(enc)
		if err != nil || !jsonEqual(v, back) || encodeJSON(back) != enc {
			t.Fatalf("round trip of %q: %q -> %v (%v)", s, enc, back, err)
		}
	})
}
