package eventbus

import (
	"encoding/json"
	"testing"
)

const xfEvent = `{"version":"0","id":"ev-1","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2",` +
	`"account":"123456789012","time":"2015-11-11T21:29:54Z","region":"us-east-1",` +
	`"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-1","arn:second"],` +
	`"detail":{"instance":"i-1","status":"RUNNING","n":4.5,"tags":{"k":"v"},"quote":"a \"q\"",` +
	`"items":[{"name":"a"},{"name":"b"},{"other":1}]}}`

func TestEvalPath(t *testing.T) {
	cases := []struct {
		name, path, want string
		found            bool
	}{
		{"root", "$", xfEvent, true},
		{"member", "$.detail.status", `"RUNNING"`, true},
		{"dashed member", "$.detail-type", `"EC2 Instance State-change Notification"`, true},
		{"bracket member", "$['detail']['n']", `4.5`, true},
		{"index", "$.resources[1]", `"arn:second"`, true},
		{"object", "$.detail.tags", `{"k":"v"}`, true},
		{"wildcard", "$.detail.items[*].name", `["a","b"]`, true},
		{"wildcard members", "$.detail.tags.*", `["v"]`, true},
		{"missing member", "$.detail.nope", ``, false},
		{"index out of range", "$.resources[5]", ``, false},
		{"index on object", "$.detail[0]", ``, false},
		{"member of string", "$.source.x", ``, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			steps, err := parseJSONPath(tc.path)
			if err != nil {
				t.Fatalf("parseJSONPath(%q): %v", tc.path, err)
			}
			got, found := evalPath([]byte(xfEvent), steps)
			if found != tc.found || string(got) != tc.want {
				t.Errorf("evalPath(%s) = %s, %v; want %s, %v", tc.path, got, found, tc.want, tc.found)
			}
		})
	}
	for _, bad := range []string{"detail", "$.", "$.a[", "$.a[x]", "$.a[-1]", "$a"} {
		if _, err := parseJSONPath(bad); err == nil {
			t.Errorf("parseJSONPath(%q) accepted a malformed path", bad)
		}
	}
}

func TestRenderTemplate(t *testing.T) {
	paths := map[string]string{"instance": "$.detail.instance", "status": "$.detail.status", "n": "$.detail.n",
		"tags": "$.detail.tags", "quote": "$.detail.quote", "gone": "$.detail.gone"}
	cases := []struct{ name, template, want string }{
		{"plain text", `<instance> is in state <status>`, `i-1 is in state RUNNING`},
		{"plain text with quotes", `<instance> is in state "<status>"`, `i-1 is in state "RUNNING"`},
		{"JSON string", `"<instance> is in state <status>"`, `"i-1 is in state RUNNING"`},
		{"JSON object mixed", `{"myInstance": <instance>,"myStatus": "<instance> is in state \"<status>\""}`,
			`{"myInstance": "i-1","myStatus": "i-1 is in state \"RUNNING\""}`},
		{"number and object raw", `{"n": <n>, "tags": <tags>}`, `{"n": 4.5, "tags": {"k":"v"}}`},
		{"object inside string is escaped", `{"s": "tags=<tags> n=<n>"}`, `{"s": "tags={\"k\":\"v\"} n=4.5"}`},
		{"escaped quotes stay escaped", `{"q": "<quote>", "raw": <quote>}`, `{"q": "a \"q\"", "raw": "a \"q\""}`},
		{"missing value", `{"a": <gone>, "b": "x<gone>y"}`, `{"a": null, "b": "xy"}`},
		{"unknown placeholder kept", `{"a": "<unknown> <1>"}`, `{"a": "<unknown> <1>"}`},
		{"rule name", `["<aws.events.rule-name>", "<aws.events.rule-arn>"]`, `["r1", "arn:r1"]`},
	}
	tf, err := newTransformer(&InputTransformer{InputPathsMap: paths, InputTemplate: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tf.template = tc.template
			got := tf.render(deliveryContext{ruleARN: "arn:r1", ruleName: "r1", event: []byte(xfEvent)})
			if string(got) != tc.want {
				t.Errorf("render(%s) =\n%s\nwant\n%s", tc.template, got, tc.want)
			}
		})
	}
}

func TestNewTransformerRejects(t *testing.T) {
	cases := []struct {
		name string
		in   InputTransformer
	}{
		{"empty template", InputTransformer{}},
		{"reserved key", InputTransformer{InputPathsMap: map[string]string{"aws.x": "$.a"}, InputTemplate: "<aws.x>"}},
		{"bad path", InputTransformer{InputPathsMap: map[string]string{"x": "detail"}, InputTemplate: "<x>"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := newTransformer(&tc.in); err == nil {
				t.Errorf("newTransformer(%+v) = nil error", tc.in)
			}
		})
	}
}

func TestEventWithoutDetail(t *testing.T) {
	got := withoutDetail([]byte(xfEvent))
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatalf("withoutDetail produced invalid JSON: %v\n%s", err, got)
	}
	if _, ok := m["detail"]; ok || m["id"] != "ev-1" || len(m) != 8 {
		t.Errorf("withoutDetail = %s", got)
	}
}

func FuzzTransform(f *testing.F) {
	f.Add("$.detail.items[*].name", `{"a": <x>, "b": "<x>"}`, xfEvent)
	f.Add("$['detail']", `<x> plain`, `{"detail":[1,{"a":"\u00e9"}]}`)
	f.Add("$.a[0]", `"<x>"`, `{"a":"b"}`)
	f.Fuzz(func(t *testing.T, path, template, event string) {
		tf, err := newTransformer(&InputTransformer{InputPathsMap: map[string]string{"x": path}, InputTemplate: template})
		if err != nil {
			return
		}
		_ = tf.render(deliveryContext{ruleARN: "arn", ruleName: "r", event: []byte(event)})
		if json.Valid([]byte(event)) && len(event) > 0 && event[0] == '{' {
			_ = withoutDetail([]byte(event))
		}
	})
}
