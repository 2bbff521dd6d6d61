package jsonwire

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestAppendString(t *testing.T) {
	tests := []struct {
		name, in, plain, html string
	}{
		{"empty", "", `""`, `""`},
		{"plain", "abc", `"abc"`, `"abc"`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`, `"a\"b\\c"`},
		{"short escapes", "\n\r\t", `"\n\r\t"`, `"\n\r\t"`},
		{"controls", "\x00\x1f", `"\u0000\u001f"`, `"\u0000\u001f"`},
		{"html", "<a>&", `"<a>&"`, `"\u003ca\u003e\u0026"`},
		{"multibyte kept", "héllo ☃", `"héllo ☃"`, `"héllo ☃"`},
		{"invalid byte", "a\xffb", `"a\ufffdb"`, `"a\ufffdb"`},
		{"prefix kept", "x", `"x"`, `"x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendString(nil, tt.in)); got != tt.plain {
				t.Errorf("AppendString(%q) = %s, want %s", tt.in, got, tt.plain)
			}
			if got := string(AppendStringHTML(nil, tt.in)); got != tt.html {
				t.Errorf("AppendStringHTML(%q) = %s, want %s", tt.in, got, tt.html)
			}
		})
	}
	if got := string(AppendString([]byte("k:"), "v")); got != `k:"v"` {
		t.Errorf("AppendString onto k: = %s, want k:\"v\"", got)
	}
}

// FuzzAppendString: both encoders agree with encoding/json on every input,
// and the HTML one leaves no '<', '>' or '&' in its output.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "quo\"te\\", "\n\r\t\x00\x1f", "ctl\x00\x1f",
		"<html>&", "héllo ☃", "naïve ü €", string([]byte{0xff, 'a'}), "\xff\xfe bad", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := s
		if !utf8.ValidString(s) {
			// encoding/json replaces each invalid byte on its own.
			q, _ := json.Marshal(s)
			_ = json.Unmarshal(q, &want)
		}
		for name, enc := range map[string]func([]byte, string) []byte{"AppendString": AppendString, "AppendStringHTML": AppendStringHTML} {
			got := enc(nil, s)
			var back string
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("%s(%q) = %s, not JSON: %v", name, s, got, err)
			}
			if back != want {
				t.Errorf("%s(%q) decodes to %q, want %q", name, s, back, want)
			}
		}
		if got := AppendStringHTML(nil, s); bytes.ContainsAny(got, "<>&") {
			t.Errorf("AppendStringHTML(%q) = %s, still holds <, > or &", s, got)
		}
	})
}

func BenchmarkAppendString(b *testing.B) {
	s := `{"TableName":"ecsflow-deployments","Key":{"pk":{"S":"DEPLOYMENT#d-123"}}} naïve <tag> & "quoted"`
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = AppendStringHTML(buf[:0], s)
	}
}
