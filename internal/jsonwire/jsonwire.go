// Package jsonwire holds the JSON string encoder the local emulators
// (internal/awsemu, internal/memdynamo) write their responses with.
package jsonwire

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// plain and html mark the ASCII bytes that are copied as they are: plain
// escapes only what JSON requires (controls, '"' and '\'); html also
// escapes '<', '>' and '&', as encoding/json does by default.
var plain, html [utf8.RuneSelf]bool

func init() {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		ok := c != '"' && c != '\\'
		plain[c] = ok
		html[c] = ok && c != '<' && c != '>' && c != '&'
	}
}

// AppendString appends s to b as a JSON string, escaping only control
// characters, '"' and '\'. Each invalid UTF-8 byte becomes U+FFFD, as
// encoding/json does.
func AppendString(b []byte, s string) []byte { return appendString(b, s, &plain) }

// AppendStringHTML is AppendString that also escapes '<', '>' and '&'
// (as \u003c, \u003e and \u0026), as encoding/json does by default.
func AppendStringHTML(b []byte, s string) []byte { return appendString(b, s, &html) }

func appendString(b []byte, s string, safe *[utf8.RuneSelf]bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
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
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
