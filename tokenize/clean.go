package tokenize

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// cleanText is the official CLIP text cleaning (clip/simple_tokenizer.py):
//
//	text = ftfy.fix_text(text)
//	text = html.unescape(html.unescape(text)).strip()
//	text = regex.sub(r"\s+", " ", text).strip()
//	text = text.lower()
//
// Every step follows Python's semantics, which differ from Go's standard
// library in places (see the helpers below).
func cleanText(text string) string {
	// Python strings cannot hold invalid UTF-8; replace it up front so every
	// later step sees the same runes a Python caller would have passed.
	text = strings.ToValidUTF8(text, "\uFFFD")
	text = fixText(text)
	text = pyHTMLUnescape(pyHTMLUnescape(text))
	text = pyStrip(text)
	text = collapseWhitespace(text)
	text = pyStrip(text)
	return PyLower(text)
}

// isWhiteSpace is Unicode's White_Space property, which is what the regex
// module's \s matches in str patterns (Go's regexp \s is ASCII-only).
// unicode.IsSpace implements exactly this set.
func isWhiteSpace(r rune) bool { return unicode.IsSpace(r) }

// pyIsSpace is Python's str.isspace for one character, which str.strip uses:
// White_Space plus the information separators U+001C..U+001F (Python counts
// characters of bidirectional class B and S as space).
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// pyStrip is Python's str.strip() without arguments.
func pyStrip(s string) string { return strings.TrimFunc(s, pyIsSpace) }

// collapseWhitespace replaces every run of White_Space characters by one
// ASCII space, as regex.sub(r"\s+", " ", s) does.
func collapseWhitespace(s string) string {
	if !needsCollapse(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	inSpace := false
	for _, r := range s {
		if isWhiteSpace(r) {
			if !inSpace {
				b.WriteByte(' ')
			}
			inSpace = true
			continue
		}
		inSpace = false
		b.WriteRune(r)
	}
	return b.String()
}

// needsCollapse reports whether collapseWhitespace would change s: it has
// white space other than single ASCII spaces.
func needsCollapse(s string) bool {
	prevSpace := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ':
			if prevSpace {
				return true
			}
			prevSpace = true
			i++
			continue
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if isWhiteSpace(r) {
				return true
			}
			i += size - 1
		case c >= '\t' && c <= '\r':
			return true
		}
		prevSpace = false
		i++
	}
	return false
}

// PyLower is Python's str.lower(). It differs from strings.ToLower in two
// ways: full case mapping (U+0130 İ becomes "i\u0307", two code points) and
// the Final_Sigma rule (Σ becomes ς at the end of a word, σ elsewhere).
// Every other code point has the same simple lower-case mapping in both.
func PyLower(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range rs {
		switch r {
		case 0x130: // LATIN CAPITAL LETTER I WITH DOT ABOVE
			b.WriteString("i\u0307")
		case 0x3a3: // GREEK CAPITAL LETTER SIGMA
			if isFinalSigma(rs, i) {
				b.WriteRune(0x3c2)
			} else {
				b.WriteRune(0x3c3)
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// isFinalSigma implements Unicode's Final_Sigma condition as CPython does:
// the sigma at rs[i] is preceded by a cased letter (skipping case-ignorable
// characters) and not followed by one (again skipping case-ignorables).
func isFinalSigma(rs []rune, i int) bool {
	j := i - 1
	for j >= 0 && isCaseIgnorable(rs[j]) {
		j--
	}
	if j < 0 || !isCased(rs[j]) {
		return false
	}
	j = i + 1
	for j < len(rs) && isCaseIgnorable(rs[j]) {
		j++
	}
	return j == len(rs) || !isCased(rs[j])
}

// isCased is Unicode's Cased property: Lowercase, Uppercase or titlecase.
func isCased(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt,
		unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// isCaseIgnorable is Unicode's Case_Ignorable property: marks, format
// characters, modifier letters and symbols, plus the characters whose
// Word_Break property is MidLetter, MidNumLet or Single_Quote.
func isCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0xb7, 0x387, 0x55f, 0x5f4, 0x2018, 0x2019, 0x2024,
		0x2027, 0xfe13, 0xfe52, 0xfe55, 0xff07, 0xff0e, 0xff1a:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}
