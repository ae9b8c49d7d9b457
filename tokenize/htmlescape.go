package tokenize

import (
	"strings"
	"unicode/utf8"
)

// pyHTMLUnescape is Python's html.unescape (3.11). It differs from Go's
// html.UnescapeString where the official tokenizer's output depends on it:
//
//   - A named reference is up to 32 characters of anything but
//     "\t\n\f <&#;", with or without a ';'. If it is not an entity, its
//     longest prefix (of at least 2 characters) that is one is decoded and
//     the rest kept: "&notanentity;" gives "¬anentity;", "&ampersand"
//     gives "&ersand". Only entities that HTML allows without ';' (amp, lt,
//     not, ...) have such prefix matches.
//   - Numeric references to control code points (U+0001..U+0008, U+000B,
//     U+000E..U+001F, U+007F..U+009F, noncharacters) decode to nothing;
//     0x80..0x9F decode as Windows-1252 would; 0, surrogates and values
//     above U+10FFFF give U+FFFD.
func pyHTMLUnescape(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		repl, n := pyCharref(s)
		if n == 0 {
			// No reference here: keep the '&' and scan on after it.
			b.WriteByte('&')
			s = s[1:]
			continue
		}
		b.WriteString(repl)
		s = s[n:]
	}
}

// pyCharref matches Python's html._charref regex at the start of s (which
// begins with '&'):
//
//	&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)
//
// and returns the replacement and the number of bytes matched (0: no match).
func pyCharref(s string) (string, int) {
	if len(s) >= 2 && s[1] == '#' {
		hex := len(s) >= 3 && (s[2] == 'x' || s[2] == 'X')
		start := 2
		if hex {
			start = 3
		}
		end := start
		for end < len(s) && isRefDigit(s[end], hex) {
			end++
		}
		if end == start {
			return "", 0 // "&#" must be followed by digits
		}
		num := parseSaturated(s[start:end], hex)
		if end < len(s) && s[end] == ';' {
			end++
		}
		return numericCharref(num), end
	}
	// Named reference: up to 32 code points, then an optional ';'.
	end, count := 1, 0
	for end < len(s) && count < 32 {
		r, size := utf8.DecodeRuneInString(s[end:])
		if r == '\t' || r == '\n' || r == '\f' || r == ' ' || r == '<' || r == '&' || r == '#' || r == ';' {
			break
		}
		end += size
		count++
	}
	if count == 0 {
		return "", 0
	}
	if end < len(s) && s[end] == ';' {
		end++
	}
	name := s[1:end]
	if v, ok := html5Entities[name]; ok {
		return v, end
	}
	// Longest prefix of at least 2 code points that is an entity.
	for x := utf8.RuneCountInString(name) - 1; x > 1; x-- {
		prefix := name[:runeOffset(name, x)]
		if v, ok := html5Entities[prefix]; ok {
			return v + name[len(prefix):], end
		}
	}
	return "&" + name, end
}

func isRefDigit(c byte, hex bool) bool {
	if c >= '0' && c <= '9' {
		return true
	}
	return hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
}

// parseSaturated parses decimal or hexadecimal digits; values beyond
// U+10FFFF are clamped (Python's int is unbounded, and every such value
// decodes to U+FFFD anyway).
func parseSaturated(digits string, hex bool) int {
	base := 10
	if hex {
		base = 16
	}
	n := 0
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case c >= 'a' && c <= 'f':
			d = int(c-'a') + 10
		default:
			d = int(c-'A') + 10
		}
		n = n*base + d
		if n > 0x10ffff {
			return 0x110000
		}
	}
	return n
}

// windows1252Refs is Python's html._invalid_charrefs: numeric references
// that HTML5 reads as Windows-1252 (and 0 and CR).
var windows1252Refs = map[int]rune{
	0x00: 0xfffd, 0x0d: '\r', 0x80: 0x20ac, 0x81: 0x81, 0x82: 0x201a, 0x83: 0x0192,
	0x84: 0x201e, 0x85: 0x2026, 0x86: 0x2020, 0x87: 0x2021, 0x88: 0x02c6, 0x89: 0x2030,
	0x8a: 0x0160, 0x8b: 0x2039, 0x8c: 0x0152, 0x8d: 0x8d, 0x8e: 0x017d, 0x8f: 0x8f,
	0x90: 0x90, 0x91: 0x2018, 0x92: 0x2019, 0x93: 0x201c, 0x94: 0x201d, 0x95: 0x2022,
	0x96: 0x2013, 0x97: 0x2014, 0x98: 0x02dc, 0x99: 0x2122, 0x9a: 0x0161, 0x9b: 0x203a,
	0x9c: 0x0153, 0x9d: 0x9d, 0x9e: 0x017e, 0x9f: 0x0178,
}

// numericCharref is Python's html._replace_charref for numeric references.
func numericCharref(num int) string {
	if r, ok := windows1252Refs[num]; ok {
		return string(r)
	}
	if (num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff {
		return "\ufffd"
	}
	if isInvalidCodepoint(num) {
		return ""
	}
	return string(rune(num))
}

// isInvalidCodepoint is Python's html._invalid_codepoints: references to
// these code points are dropped.
func isInvalidCodepoint(n int) bool {
	switch {
	case n >= 0x1 && n <= 0x8, n == 0xb, n >= 0xe && n <= 0x1f, n >= 0x7f && n <= 0x9f,
		n >= 0xfdd0 && n <= 0xfdef:
		return true
	}
	return n&0xfffe == 0xfffe // U+xFFFE and U+xFFFF in every plane
}

// runeOffset returns the byte offset of the n-th code point of s.
func runeOffset(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

// ftfyUnescapeHTML is ftfy's unescape_html: it decodes only references that
// match &#?[0-9A-Za-z]{1,24}; (so always with a ';'): HTML5 entity names,
// upper-case spellings of common ones (&EACUTE; is É), and numeric
// references as html.unescape decodes them.
func ftfyUnescapeHTML(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		n := matchFtfyEntity(s)
		if n == 0 {
			b.WriteByte('&')
			s = s[1:]
			continue
		}
		b.WriteString(ftfyEntityValue(s[:n]))
		s = s[n:]
	}
}

// matchFtfyEntity returns the length of a match of &#?[0-9A-Za-z]{1,24}; at
// the start of s, or 0.
func matchFtfyEntity(s string) int {
	i := 1
	if i < len(s) && s[i] == '#' {
		i++
	}
	start := i
	for i < len(s) && isASCIIAlnum(s[i]) {
		i++
	}
	if n := i - start; n < 1 || n > 24 || i >= len(s) || s[i] != ';' {
		return 0
	}
	return i + 1
}

func ftfyEntityValue(ref string) string {
	name := ref[1:]
	if v, ok := html5Entities[name]; ok {
		return v
	}
	if v, ok := ftfyUpperEntities[name]; ok {
		return v
	}
	if strings.HasPrefix(ref, "&#") {
		// Keep the reference if html.unescape would only decode part of it.
		if v := pyHTMLUnescape(ref); !strings.Contains(v, ";") {
			return v
		}
	}
	return ref
}

func isASCIIAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
