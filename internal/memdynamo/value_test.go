package memdynamo

import (
	"strings"
	"testing"
)

func TestNumbers(t *testing.T) {
	cases := []struct {
		in, want string // want "" means invalid
	}{
		{"0", "0"}, {"-0", "0"}, {"12", "12"}, {"-12", "-12"}, {"00012", "12"}, {"+7", "7"},
		{"-0.50", "-0.5"}, {"+1E+2", "100"}, {"1e-3", "0.001"}, {".5", "0.5"}, {"5.", "5"}, {"2.500", "2.5"},
		{"12345678901234567890123456789012345678", "12345678901234567890123456789012345678"},
		{"12345678901234567890123456789012345678000", "12345678901234567890123456789012345678000"},
		{"0.000123456789012345678901234567890123456780", "0.00012345678901234567890123456789012345678"},
		{"123456789012345678901234567890123456789", ""},
		{"9.9999999999999999999999999999999999999E+125", "999999999999999999999999999999999999990000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"},
		{"1E+126", ""}, {"10E+125", ""}, {"0.1E+127", ""}, {"1E-130", "0." + strings.Repeat("0", 129) + "1"}, {"1E-131", ""},
		{"1.2345E-130", "0." + strings.Repeat("0", 129) + "12345"}, {"0E+999999999", "0"}, {"1e999999999", ""}, {"1e-999999999", ""},
		{"", ""}, {".", ""}, {"-", ""}, {"1e", ""}, {"1e+", ""}, {"1.2.3", ""}, {" 1", ""}, {"1 ", ""},
		{"0x10", ""}, {"1/2", ""}, {"NaN", ""}, {"Infinity", ""}, {"--1", ""}, {"1_000", ""},
	}
	for _, c := range cases {
		err := checkNumber(c.in)
		if (err == nil) != (c.want != "") {
			t.Errorf("checkNumber(%q) = %v, want valid=%v", c.in, err, c.want != "")
			continue
		}
		if c.want != "" {
			if got := canonicalNumber(c.in); got != c.want {
				t.Errorf("canonicalNumber(%q) = %q, want %q", c.in, got, c.want)
			}
		}
	}
}

// FuzzNumbers: a valid number's canonical form is valid, canonical itself
// and numerically equal; nothing panics.
func FuzzNumbers(f *testing.F) {
	for _, s := range []string{"0", "-0.50", "+1E+2", ".5", "5.", "1e-130", "9.9999999999999999999999999999999999999E+125", "1e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 64 || checkNumber(s) != nil {
			return
		}
		c := canonicalNumber(s)
		if err := checkNumber(c); err != nil && len(c) < 200 {
			t.Fatalf("canonicalNumber(%q) = %q, invalid: %v", s, c, err)
		}
		if again := canonicalNumber(c); again != c {
			t.Fatalf("canonicalNumber(%q) = %q, but canonicalNumber(%q) = %q", s, c, c, again)
		}
		a, _ := parseNumber(s)
		b, err := parseNumber(c)
		if err == nil && a.Cmp(b) != 0 {
			t.Fatalf("canonicalNumber(%q) = %q changes the value", s, c)
		}
	})
}
