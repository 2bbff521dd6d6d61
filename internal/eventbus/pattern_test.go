package eventbus

import (
	"errors"
	"strings"
	"testing"
)

// ec2Event is modelled on the instance state-change example used throughout
// the EventBridge user guide, with extra fields for nulls, arrays and IPs.
const ec2Event = `{
  "version": "0",
  "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "111122223333",
  "time": "2017-12-22T18:43:48Z",
  "region": "us-west-1",
  "resources": [
    "arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0",
    "arn:aws:ec2:us-west-1:123456789012:volume/vol-0aa"
  ],
  "detail": {
    "instance-id": "i-1234567890abcdef0",
    "state": "terminated",
    "c-count": 5,
    "d-count": 3,
    "x-limit": 301.8,
    "source-ip": "10.0.0.123",
    "ipv6": "2001:db8::ff00:42:8329",
    "FileName": "photo.PNG",
    "service": "EventBridge",
    "path": "/usr/lib/libc.so",
    "eventVersion": "",
    "responseElements": null,
    "enabled": true,
    "tags": ["blue", "prod"],
    "numbers": [1, 20, 300],
    "items": [{"name": "a", "size": 1}, {"name": "b", "size": 7}],
    "quote": "say \"hi\"\u0021",
    "nested": {"deeper": {"leaf": "x"}},
    "star": "a*b"
  }
}`

type patternCase struct {
	name    string
	pattern string
	event   string // ec2Event when empty
	want    string // "match", "no", or "invalid"
	reason  string // for invalid: a substring of the reason
}

var patternCases = []patternCase{
	// Exact values, arrays as OR, nested fields.
	{name: "source exact", pattern: `{"source":["aws.ec2"]}`, want: "match"},
	{name: "source other", pattern: `{"source":["aws.s3"]}`, want: "no"},
	{name: "exact is case sensitive", pattern: `{"source":["AWS.EC2"]}`, want: "no"},
	{name: "array is OR", pattern: `{"detail":{"state":["running","terminated"]}}`, want: "match"},
	{name: "fields are AND", pattern: `{"source":["aws.ec2"],"detail":{"state":["running"]}}`, want: "no"},
	{name: "nested three deep", pattern: `{"detail":{"nested":{"deeper":{"leaf":["x"]}}}}`, want: "match"},
	{name: "missing field fails exact", pattern: `{"detail":{"absent":["x"]}}`, want: "no"},
	{name: "detail-type with spaces", pattern: `{"detail-type":["EC2 Instance State-change Notification"]}`, want: "match"},
	{name: "escaped string content", pattern: `{"detail":{"quote":["say \"hi\"!"]}}`, want: "match"},
	// Arrays in events.
	{name: "event array any element", pattern: `{"resources":["arn:aws:ec2:us-west-1:123456789012:volume/vol-0aa"]}`, want: "match"},
	{name: "event array no element", pattern: `{"resources":["arn:aws:ec2:us-west-1:123456789012:instance/i-other"]}`, want: "no"},
	{name: "event array intersection", pattern: `{"detail":{"tags":["green","prod"]}}`, want: "match"},
	{name: "array of objects flattens", pattern: `{"detail":{"items":{"name":["b"]}}}`, want: "match"},
	{name: "same array element", pattern: `{"detail":{"items":{"name":["a"],"size":[1]}}}`, want: "match"},
	{name: "peer array elements do not combine", pattern: `{"detail":{"items":{"name":["a"],"size":[7]}}}`, want: "no"},
	{name: "same element with numeric", pattern: `{"detail":{"items":{"name":["b"],"size":[{"numeric":[">",5]}]}}}`, want: "match"},
	{name: "array element and top field", pattern: `{"source":["aws.ec2"],"detail":{"items":{"name":["b"]}}}`, want: "match"},
	{name: "or branch with consistent element", pattern: `{"$or":[{"detail":{"items":{"name":["a"],"size":[7]}}},{"detail":{"items":{"name":["b"],"size":[7]}}}]}`, want: "match"},
	{name: "nested arrays keep elements apart", pattern: `{"a":{"b":{"c":["1"],"d":["4"]}}}`, event: `{"a":[{"b":[{"c":"1","d":"2"},{"c":"3","d":"4"}]}]}`, want: "no"},
	{name: "nested arrays same element", pattern: `{"a":{"b":{"c":["3"],"d":["4"]}}}`, event: `{"a":[{"b":[{"c":"1","d":"2"},{"c":"3","d":"4"}]}]}`, want: "match"},
	{name: "array of objects numeric", pattern: `{"detail":{"items":{"size":[{"numeric":[">",5]}]}}}`, want: "match"},
	{name: "numbers array numeric", pattern: `{"detail":{"numbers":[{"numeric":[">",250]}]}}`, want: "match"},
	{name: "empty event array never matches value", pattern: `{"resources":["x"]}`, event: `{"resources":[]}`, want: "no"},
	// Numbers, booleans, null, empty string.
	{name: "exact number", pattern: `{"detail":{"c-count":[5]}}`, want: "match"},
	{name: "exact number other notation", pattern: `{"detail":{"c-count":[5.0]}}`, want: "match"},
	{name: "exact number exponent", pattern: `{"detail":{"x-limit":[3.018e2]}}`, want: "match"},
	{name: "number does not match string", pattern: `{"detail":{"c-count":["5"]}}`, want: "no"},
	{name: "string does not match number", pattern: `{"detail":{"state":[5]}}`, want: "no"},
	{name: "boolean true", pattern: `{"detail":{"enabled":[true]}}`, want: "match"},
	{name: "boolean false", pattern: `{"detail":{"enabled":[false]}}`, want: "no"},
	{name: "null matches null", pattern: `{"detail":{"responseElements":[null]}}`, want: "match"},
	{name: "empty string matches empty", pattern: `{"detail":{"eventVersion":[""]}}`, want: "match"},
	{name: "empty string is not null", pattern: `{"detail":{"responseElements":[""]}}`, want: "no"},
	{name: "null is not empty string", pattern: `{"detail":{"eventVersion":[null]}}`, want: "no"},
	{name: "null does not match missing", pattern: `{"detail":{"absent":[null]}}`, want: "no"},
	// Prefix and suffix.
	{name: "prefix", pattern: `{"time":[{"prefix":"2017-12-22"}]}`, want: "match"},
	{name: "prefix miss", pattern: `{"time":[{"prefix":"2018"}]}`, want: "no"},
	{name: "prefix only strings", pattern: `{"detail":{"c-count":[{"prefix":"5"}]}}`, want: "no"},
	{name: "prefix ignore case", pattern: `{"detail":{"service":[{"prefix":{"equals-ignore-case":"eventb"}}]}}`, want: "match"},
	{name: "prefix case sensitive", pattern: `{"detail":{"service":[{"prefix":"eventb"}]}}`, want: "no"},
	{name: "suffix", pattern: `{"detail":{"path":[{"suffix":".so"}]}}`, want: "match"},
	{name: "suffix case sensitive", pattern: `{"detail":{"FileName":[{"suffix":".png"}]}}`, want: "no"},
	{name: "suffix ignore case", pattern: `{"detail":{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}}`, want: "match"},
	{name: "empty prefix matches any string", pattern: `{"detail":{"eventVersion":[{"prefix":""}]}}`, want: "match"},
	// Equals-ignore-case.
	{name: "equals-ignore-case", pattern: `{"detail":{"state":[{"equals-ignore-case":"TERMINATED"}]}}`, want: "match"},
	{name: "equals-ignore-case miss", pattern: `{"detail":{"state":[{"equals-ignore-case":"terminate"}]}}`, want: "no"},
	// Wildcard.
	{name: "wildcard middle", pattern: `{"detail":{"path":[{"wildcard":"/usr/*/libc.so"}]}}`, want: "match"},
	{name: "wildcard many", pattern: `{"resources":[{"wildcard":"arn:aws:ec2:*:instance/*"}]}`, want: "match"},
	{name: "wildcard anchored end", pattern: `{"detail":{"path":[{"wildcard":"*/lib"}]}}`, want: "no"},
	{name: "wildcard alone matches any string", pattern: `{"detail":{"eventVersion":[{"wildcard":"*"}]}}`, want: "match"},
	{name: "wildcard escaped star", pattern: `{"detail":{"star":[{"wildcard":"a\\*b"}]}}`, want: "match"},
	{name: "wildcard escaped star is literal", pattern: `{"detail":{"star":[{"wildcard":"a\\*c"}]}}`, want: "no"},
	{name: "wildcard no star is exact", pattern: `{"source":[{"wildcard":"aws.ec"}]}`, want: "no"},
	// Anything-but.
	{name: "anything-but string", pattern: `{"detail":{"state":[{"anything-but":"initializing"}]}}`, want: "match"},
	{name: "anything-but string excluded", pattern: `{"detail":{"state":[{"anything-but":"terminated"}]}}`, want: "no"},
	{name: "anything-but number", pattern: `{"detail":{"c-count":[{"anything-but":5}]}}`, want: "no"},
	{name: "anything-but number list", pattern: `{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}`, want: "match"},
	{name: "anything-but string list", pattern: `{"detail":{"state":[{"anything-but":["stopped","terminated"]}]}}`, want: "no"},
	{name: "anything-but missing field", pattern: `{"detail":{"absent":[{"anything-but":"x"}]}}`, want: "no"},
	{name: "anything-but prefix", pattern: `{"region":[{"anything-but":{"prefix":"us-"}}]}`, want: "no"},
	{name: "anything-but prefix other", pattern: `{"region":[{"anything-but":{"prefix":"eu-"}}]}`, want: "match"},
	{name: "anything-but suffix", pattern: `{"detail":{"FileName":[{"anything-but":{"suffix":".PNG"}}]}}`, want: "no"},
	{name: "anything-but ignore case", pattern: `{"detail":{"state":[{"anything-but":{"equals-ignore-case":["Terminated","Stopped"]}}]}}`, want: "no"},
	{name: "anything-but ignore case other", pattern: `{"detail":{"state":[{"anything-but":{"equals-ignore-case":"running"}}]}}`, want: "match"},
	{name: "anything-but wildcard", pattern: `{"detail":{"path":[{"anything-but":{"wildcard":"*/lib/*"}}]}}`, want: "no"},
	{name: "anything-but wildcard other", pattern: `{"detail":{"path":[{"anything-but":{"wildcard":"*/bin/*"}}]}}`, want: "match"},
	{name: "anything-but any array element", pattern: `{"detail":{"tags":[{"anything-but":"blue"}]}}`, want: "match"},
	// Numeric.
	{name: "numeric range", pattern: `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}]}}`, want: "match"},
	{name: "numeric open top", pattern: `{"detail":{"c-count":[{"numeric":[">",0,"<",5]}]}}`, want: "no"},
	{name: "numeric less than", pattern: `{"detail":{"d-count":[{"numeric":["<",10]}]}}`, want: "match"},
	{name: "numeric equals exponent", pattern: `{"detail":{"x-limit":[{"numeric":["=",3.018e2]}]}}`, want: "match"},
	{name: "numeric greater or equal", pattern: `{"detail":{"d-count":[{"numeric":[">=",3]}]}}`, want: "match"},
	{name: "numeric only numbers", pattern: `{"detail":{"state":[{"numeric":[">",0]}]}}`, want: "no"},
	{name: "numeric negative", pattern: `{"n":[{"numeric":["<",0]}]}`, event: `{"n":-1.5}`, want: "match"},
	// CIDR.
	{name: "cidr v4", pattern: `{"detail":{"source-ip":[{"cidr":"10.0.0.0/24"}]}}`, want: "match"},
	{name: "cidr v4 outside", pattern: `{"detail":{"source-ip":[{"cidr":"10.0.1.0/24"}]}}`, want: "no"},
	{name: "cidr v6", pattern: `{"detail":{"ipv6":[{"cidr":"2001:db8::/32"}]}}`, want: "match"},
	// Exists.
	{name: "exists true", pattern: `{"detail":{"c-count":[{"exists":true}]}}`, want: "match"},
	{name: "exists false on present", pattern: `{"detail":{"c-count":[{"exists":false}]}}`, want: "no"},
	{name: "exists false on absent", pattern: `{"detail":{"absent":[{"exists":false}]}}`, want: "match"},
	{name: "exists true on absent", pattern: `{"detail":{"absent":[{"exists":true}]}}`, want: "no"},
	{name: "exists true on null", pattern: `{"detail":{"responseElements":[{"exists":true}]}}`, want: "match"},
	{name: "exists only on leaves", pattern: `{"detail":{"nested":[{"exists":false}]}}`, want: "match"},
	{name: "exists true not on objects", pattern: `{"detail":{"nested":[{"exists":true}]}}`, want: "no"},
	{name: "exists false when parent missing", pattern: `{"missing":{"child":[{"exists":false}]}}`, want: "match"},
	// $or.
	{name: "or first branch", pattern: `{"source":["aws.ec2"],"$or":[{"detail":{"state":["terminated"]}},{"detail":{"c-count":[99]}}]}`, want: "match"},
	{name: "or second branch", pattern: `{"$or":[{"detail":{"state":["running"]}},{"detail":{"c-count":[{"numeric":[">",4]}]}}]}`, want: "match"},
	{name: "or no branch", pattern: `{"$or":[{"detail":{"state":["running"]}},{"detail":{"c-count":[99]}}]}`, want: "no"},
	{name: "or nested in object", pattern: `{"detail":{"$or":[{"c-count":[1]},{"d-count":[3]}]}}`, want: "match"},
	{name: "or with and inside", pattern: `{"$or":[{"source":["aws.s3"]},{"region":["us-west-1"],"account":["111122223333"]}]}`, want: "match"},
	{name: "or and fails", pattern: `{"$or":[{"source":["aws.s3"]},{"region":["us-west-1"],"account":["0"]}]}`, want: "no"},
	{name: "nested or", pattern: `{"$or":[{"source":["x"]},{"$or":[{"region":["y"]},{"detail":{"d-count":[3]}}]}]}`, want: "match"},
	{name: "or with object value is a field", pattern: `{"$or":{"a":["b"]}}`, event: `{"$or":{"a":"b"}}`, want: "match"},
	// Mixed value arrays.
	{name: "mixed matchers OR", pattern: `{"detail":{"state":["running",{"prefix":"term"}]}}`, want: "match"},
	{name: "exists false or value", pattern: `{"detail":{"absent":[{"exists":false},"x"]}}`, want: "match"},
	// Invalid patterns.
	{name: "not an object", pattern: `["source"]`, want: "invalid", reason: "Filter is not an object"},
	{name: "leaf not array", pattern: `{"source":"aws.ec2"}`, want: "invalid", reason: `"source" must be an object or an array`},
	{name: "empty pattern", pattern: `{}`, want: "invalid", reason: "Empty objects are not allowed"},
	{name: "empty nested object", pattern: `{"detail":{}}`, want: "invalid", reason: "Empty objects are not allowed"},
	{name: "empty array", pattern: `{"source":[]}`, want: "invalid", reason: "Empty arrays are not allowed"},
	{name: "nested array value", pattern: `{"source":[["a"]]}`, want: "invalid", reason: "Match value must be String"},
	{name: "unknown operator", pattern: `{"source":[{"contains":"ec2"}]}`, want: "invalid", reason: "Unrecognized match type contains"},
	{name: "empty match expression", pattern: `{"source":[{}]}`, want: "invalid", reason: "Match expression name not found"},
	{name: "two keys in expression", pattern: `{"source":[{"prefix":"a","suffix":"b"}]}`, want: "invalid", reason: "Only one key allowed"},
	{name: "prefix not string", pattern: `{"source":[{"prefix":5}]}`, want: "invalid", reason: "prefix match pattern must be a string"},
	{name: "exists not boolean", pattern: `{"a":[{"exists":"yes"}]}`, want: "invalid", reason: "exists match pattern must be either true or false."},
	{name: "numeric not array", pattern: `{"a":[{"numeric":5}]}`, want: "invalid", reason: "Value of numeric must be an array."},
	{name: "numeric bad operator", pattern: `{"a":[{"numeric":["!=",5]}]}`, want: "invalid", reason: "Unrecognized numeric range operator: !="},
	{name: "numeric value not number", pattern: `{"a":[{"numeric":[">","5"]}]}`, want: "invalid", reason: "Value of > must be numeric"},
	{name: "numeric upper first", pattern: `{"a":[{"numeric":["<",5,">",1]}]}`, want: "invalid", reason: "Too many elements in numeric expression"},
	{name: "numeric empty range", pattern: `{"a":[{"numeric":[">",5,"<",1]}]}`, want: "invalid", reason: "Bottom must be less than top"},
	{name: "numeric bad second op", pattern: `{"a":[{"numeric":[">",1,">",5]}]}`, want: "invalid", reason: "Bad numeric range operator: >"},
	{name: "wildcard consecutive stars", pattern: `{"a":[{"wildcard":"a**b"}]}`, want: "invalid", reason: "Consecutive wildcard characters at pos 2"},
	{name: "wildcard bad escape", pattern: `{"a":[{"wildcard":"a\\b"}]}`, want: "invalid", reason: "Invalid escape character at pos 1"},
	{name: "anything-but mixed list", pattern: `{"a":[{"anything-but":["x",1]}]}`, want: "invalid", reason: "mixed type is not supported"},
	{name: "anything-but empty list", pattern: `{"a":[{"anything-but":[]}]}`, want: "invalid", reason: "mixed type is not supported"},
	{name: "anything-but boolean", pattern: `{"a":[{"anything-but":true}]}`, want: "invalid", reason: "Value of anything-but must be an array or single string/number value."},
	{name: "anything-but unknown op", pattern: `{"a":[{"anything-but":{"numeric":[">",1]}}]}`, want: "invalid", reason: "Unsupported anything-but pattern: numeric"},
	{name: "anything-but empty prefix", pattern: `{"a":[{"anything-but":{"prefix":""}}]}`, want: "invalid", reason: "Null prefix/suffix not allowed"},
	{name: "or single branch", pattern: `{"$or":[{"a":["b"]}]}`, want: "invalid", reason: "There must have at least 2 Objects in $or relationship."},
	{name: "or non-object branch", pattern: `{"$or":[{"a":["b"]},"c"]}`, want: "invalid", reason: "Only JSON object is allowed in array of $or relationship."},
	{name: "or reserved field name", pattern: `{"$or":[{"numeric":["b"]},{"c":["d"]}]}`, want: "invalid", reason: "numeric is Ruler reserved fieldName"},
	{name: "cidr malformed", pattern: `{"ip":[{"cidr":"10.0.0.0/33"}]}`, want: "invalid", reason: "Nonstandard IP address"},
	{name: "not json", pattern: `{"source":["a"`, want: "invalid", reason: ""},
	{name: "trailing garbage", pattern: `{"source":["a"]} x`, want: "invalid", reason: ""},
}

func TestPatternConformance(t *testing.T) {
	if len(patternCases) < 60 {
		t.Fatalf("only %d conformance cases", len(patternCases))
	}
	for _, tc := range patternCases {
		t.Run(tc.name, func(t *testing.T) {
			event := tc.event
			if event == "" {
				event = ec2Event
			}
			p, err := Compile([]byte(tc.pattern))
			if tc.want == "invalid" {
				var pe *PatternError
				if !errors.As(err, &pe) {
					t.Fatalf("Compile(%s) error = %v, want *PatternError", tc.pattern, err)
				}
				if !strings.HasPrefix(err.Error(), "Event pattern is not valid. Reason: ") {
					t.Errorf("message %q lacks AWS prefix", err.Error())
				}
				if !strings.Contains(pe.Reason, tc.reason) {
					t.Errorf("reason = %q, want it to contain %q", pe.Reason, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compile(%s): %v", tc.pattern, err)
			}
			want := tc.want == "match"
			if got := p.Match([]byte(event)); got != want {
				t.Errorf("Match = %v, want %v", got, want)
			}
			// The multi-pattern index must agree with the single pattern,
			// whatever other patterns share it.
			decoy := MustCompile(`{"source":["aws.s3"],"detail":{"state":["running"]}}`)
			m := NewMatcher([]*Pattern{decoy, p, decoy})
			got, err := m.Matches([]byte(event), nil)
			if err != nil {
				t.Fatalf("Matches: %v", err)
			}
			if hit := len(got) == 1 && got[0] == 1; hit != want {
				t.Errorf("Matcher.Matches = %v, want match %v", got, want)
			}
		})
	}
}

func TestPatternErrorLocation(t *testing.T) {
	_, err := Compile([]byte(`{"source": "aws.ec2"}`))
	var pe *PatternError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *PatternError", err)
	}
	want := `Event pattern is not valid. Reason: "source" must be an object or an array at [Source: (String)"{\"source\": \"aws.ec2\"}"; line: 1, column: 21]`
	if got := err.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

func TestMatchMalformedEvent(t *testing.T) {
	p := MustCompile(`{"source":[{"exists":false}]}`)
	for _, ev := range []string{``, `[]`, `{"a":}`, `{"a":"\x01"}`, `{"a":1} {}`, `{"a":tru}`, `{"a":"\u12"}`, strings.Repeat(`{"a":`, 300) + `1` + strings.Repeat(`}`, 300)} {
		if p.Match([]byte(ev)) {
			t.Errorf("Match(%q) = true, want false for malformed or too deep event", ev)
		}
	}
}

func TestUnescapeSurrogates(t *testing.T) {
	p := MustCompile(`{"s":["😀é"]}`)
	if !p.Match([]byte(`{"s":"\ud83d\ude00\u00e9"}`)) {
		t.Error("escaped surrogate pair and BMP escape did not match the literal string")
	}
}

func TestMatcherManyPatterns(t *testing.T) {
	pats := []*Pattern{
		MustCompile(`{"source":["aws.ec2"]}`),
		MustCompile(`{"source":["aws.ec2"],"detail":{"state":["terminated"]}}`),
		MustCompile(`{"source":["aws.ec2"],"detail":{"state":["running"]}}`),
		MustCompile(`{"detail":{"c-count":[{"numeric":[">",1]}]}}`),
		MustCompile(`{"resources":["arn:aws:ec2:us-west-1:123456789012:volume/vol-0aa","nope"]}`),
		MustCompile(`{"source":["aws.s3"]}`),
	}
	m := NewMatcher(pats)
	got, err := m.Matches([]byte(ec2Event), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{0, 1, 3, 4}
	if len(got) != len(want) {
		t.Fatalf("Matches = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Matches = %v, want %v", got, want)
		}
	}
	if _, err := m.Matches([]byte(`not json`), nil); err == nil {
		t.Error("Matches on malformed JSON returned no error")
	}
}

func FuzzCompile(f *testing.F) {
	for _, tc := range patternCases {
		f.Add(tc.pattern, ec2Event)
	}
	f.Add(`{"a":[{"wildcard":"\\"}]}`, `{"a":"\\"}`)
	f.Fuzz(func(t *testing.T, pattern, event string) {
		p, err := Compile([]byte(pattern))
		if err != nil {
			var pe *PatternError
			if !errors.As(err, &pe) {
				t.Fatalf("Compile error %T is not *PatternError: %v", err, err)
			}
			return
		}
		single := p.Match([]byte(event))
		m := NewMatcher([]*Pattern{p})
		got, err := m.Matches([]byte(event), nil)
		if (err == nil && len(got) == 1) != single {
			t.Fatalf("Matcher (%v, %v) disagrees with Pattern.Match (%v)", got, err, single)
		}
	})
}
