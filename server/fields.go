package server

import "golang.org/x/net/http/httpguts"

// The byte-level rules every parser here shares (RFC 9110 5.5, 5.6.2,
// RFC 9112 6.2). Comparisons are ASCII-only: strings.EqualFold would
// take "chun\u212aed" (KELVIN SIGN) for "chunked", and a proxy in front
// would not.

// asciiEqualFold reports whether s and t are equal, ignoring the case of
// ASCII letters only.
func asciiEqualFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		a, b := s[i], t[i]
		if a == b {
			continue
		}
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// validToken: 1*tchar (RFC 9110 5.6.2), the rule for methods, field
// names and chunk extension names.
func validToken(s string) bool { return httpguts.ValidHeaderFieldName(s) }

// validFieldValue: field-vchar, SP, HTAB and obs-text only; no CR, LF,
// NUL or other control byte.
func validFieldValue(s string) bool { return httpguts.ValidHeaderFieldValue(s) }

// hasToken reports whether a comma-separated field value holds tok
// (ASCII case-insensitive).
func hasToken(v, tok string) bool { return httpguts.HeaderValuesContainsToken([]string{v}, tok) }

// parseContentLength reads a Content-Length (HTTP) or CONTENT_LENGTH
// (uwsgi) value: 1*DIGIT, nothing else: no sign, no space, no list, no
// overflow. One function for both protocols, so both read a body the
// same way.
func parseContentLength(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63-1-int64(c-'0'))/10 {
			return 0, false // past int64
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
