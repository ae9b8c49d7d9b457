package tokenize

import (
	"strings"
	"testing"
)

// Expected values in this file were computed with CPython 3.11 (str.lower,
// str.strip, html.unescape, unicodedata) or are ftfy 6.3.1's documented
// behaviour.

func TestPyLower(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ThE QuIcK", "the quick"},
		// Full case mapping: İ is i + COMBINING DOT ABOVE.
		{"İZMİR DİYARBAKIR ığdır", "i\u0307zmi\u0307r di\u0307yarbakir ığdır"},
		// Final sigma at the end of words, medial sigma elsewhere.
		{"ΣΟΦΟΣ ΛΟΓΟΣ ΚΑΙ ΟΔΟΣ", "σοφος λογος και οδος"},
		{"ΣΑΣ Σ ΑΣ. ΑΣ\u0301 ΑΣ\u0301Α Σ\u0301 .Σ ἈΣ ΑΣ\u200d 1Σ Σα",
			"σας σ ας. ας\u0301 ασ\u0301α σ\u0301 .σ ἀς ας\u200d 1σ σα"},
		// Simple mappings Python and Go share.
		{"\u1e9e ǅ ǈ ß \u212a \u2126 \u2160", "ß ǆ ǉ ß k ω ⅰ"},
	}
	for _, tt := range tests {
		if got := PyLower(tt.in); got != tt.want {
			t.Errorf("PyLower(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWhitespace(t *testing.T) {
	// Unicode White_Space: what the regex module's \s matches.
	white := []rune{'\t', '\n', '\v', '\f', '\r', ' ', 0x85, 0xa0, 0x1680, 0x2000, 0x2005,
		0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000}
	notWhite := []rune{0x1c, 0x1d, 0x1e, 0x1f, 0x180e, 0x200b, 0x200c, 0x2060, 0xfeff, 'a', '_'}
	for _, r := range white {
		if !isWhiteSpace(r) || !pyIsSpace(r) {
			t.Errorf("U+%04X should be white space", r)
		}
	}
	for _, r := range notWhite {
		if isWhiteSpace(r) {
			t.Errorf("U+%04X should not be White_Space", r)
		}
	}
	// str.isspace (and so str.strip) also counts U+001C..U+001F.
	for r := rune(0x1c); r <= 0x1f; r++ {
		if !pyIsSpace(r) {
			t.Errorf("U+%04X should be str.isspace", r)
		}
	}
	if got := collapseWhitespace("a\u3000\u2003 b\t\r\nc\u200bd\u00a0"); got != "a b c\u200bd " {
		t.Errorf("collapseWhitespace = %q", got)
	}
	if got := pyStrip("\x1c \u2028x y\u3000\x1f"); got != "x y" {
		t.Errorf("pyStrip = %q", got)
	}
}

func TestPyHTMLUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"&amp;", "&"},
		{"&amp", "&"},
		{"&AMP;", "&"},
		{"&Amp;", "&Amp;"},
		{"&ampersand", "&ersand"},
		{"&notanentity;", "¬anentity;"},
		{"&notin;", "∉"},
		{"&notit;", "¬it;"},
		{"&copy2024", "©2024"},
		{"&eacute", "é"},
		{"&LTIMES;", "<IMES;"},
		{"&ltimes;", "⋉"},
		{"&ampé", "&é"},
		{"&abé;", "&abé;"},
		{"&" + strings.Repeat("a", 40) + ";", "&" + strings.Repeat("a", 40) + ";"},
		{"&NewLine;", "\n"},
		{"&nvlt;", "<\u20d2"},
		{"&&amp;;", "&&;"},
		{"& amp;", "& amp;"},
		{"&;", "&;"},
		{"a&b", "a&b"},
		// Numeric references.
		{"&#65;&#x41;&#X41;&#0065", "AAAA"},
		{"&#128512; &#x1F600", "😀 😀"},
		{"&#1;&#x7f;&#11;&#xFDD0;&#xFFFE;&#x10FFFF;", ""},
		{"&#12;", "\f"},
		{"&#13;", "\r"},
		{"&#0;&#x0;&#xd800;&#x110000;&#99999999999999999999;", "\ufffd\ufffd\ufffd\ufffd\ufffd"},
		{"&#x80;&#150;&#x81;", "€–\u0081"},
		{"&#12a;", "\fa;"},
		{"&#;&#x;", "&#;&#x;"},
	}
	for _, tt := range tests {
		if got := pyHTMLUnescape(tt.in); got != tt.want {
			t.Errorf("pyHTMLUnescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCleanText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"  \t\n ", ""},
		{"   A  lighthouse\u3000at\u00a0DUSK   ", "a lighthouse at dusk"},
		{"Tom &amp; Jerry", "tom & jerry"},
		{"&ampersand without semicolon", "&ersand without semicolon"},
		{"&notanentity; & alone", "¬anentity; & alone"},
		{"invalid numeric refs &#1;&#x7f;&#0; &#x110000;", "invalid numeric refs \ufffd \ufffd"},
		{"can’t", "can't"},
		{"ΟΔΟΣ İ", "οδος i\u0307"},
		{"\x1c\x1d information", "information"},
		{"bad \xff utf-8", "bad \ufffd utf-8"},
	}
	for _, tt := range tests {
		if got := cleanText(tt.in); got != tt.want {
			t.Errorf("cleanText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
