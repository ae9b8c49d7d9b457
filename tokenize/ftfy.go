package tokenize

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// This file ports ftfy.fix_text (ftfy 6.3.1 with its default configuration,
// as clip/simple_tokenizer.py calls it) from Python. ftfy is by Robyn Speer,
// under the MIT license; the structure and the rules below follow its
// __init__.py, fixes.py and chardata.py. The mojibake repair is in
// ftfy_encoding.go and its heuristic in ftfy_badness.go.

// maxDecodeLength is ftfy's max_decode_length: longer lines are fixed in
// pieces of this many code points.
const maxDecodeLength = 1_000_000

// maxFixRounds bounds ftfy's "repeat until nothing changes" loops. ftfy has
// no bound; real text settles in two or three rounds.
const maxFixRounds = 32

// fixText is ftfy.fix_text(text). The text is fixed one line at a time
// (a line keeps its '\n'). HTML entities are decoded unless a '<' has been
// seen, in this line or an earlier one: then the text is taken to be HTML.
func fixText(text string) string {
	if asciiNothingToFix(text) {
		return text
	}
	unescape := true
	var out strings.Builder
	out.Grow(len(text))
	for len(text) > 0 {
		seg := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			seg = text[:i+1]
		}
		if utf8.RuneCountInString(seg) > maxDecodeLength {
			seg = seg[:runeOffset(seg, maxDecodeLength)]
		}
		text = text[len(seg):]
		if unescape && strings.Contains(seg, "<") {
			unescape = false
		}
		out.WriteString(fixSegment(seg, unescape))
	}
	return out.String()
}

// asciiNothingToFix reports whether text is ASCII without anything ftfy
// would change there: entities, CR, escapes, control characters. Most text
// is, and this check is much cheaper than running the fixers.
func asciiNothingToFix(text string) bool {
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c >= 0x80 || c == '&' || c == '\r' || c == 0x7f || (c < 0x20 && c != '\t' && c != '\n' && c != '\f') {
			return false
		}
	}
	return true
}

// fixSegment is ftfy's fix_and_explain for one segment: apply every fixer in
// ftfy's order until the text stops changing.
func fixSegment(text string, unescape bool) string {
	for round := 0; round < maxFixRounds; round++ {
		orig := text
		if unescape {
			text = ftfyUnescapeHTML(text)
		}
		text = fixEncoding(text)
		text = fixC1Controls(text)
		text = fixLatinLigatures(text)
		text = fixCharacterWidth(text)
		text = uncurlQuotes(text)
		text = fixLineBreaks(text)
		// fix_surrogates has nothing to do: a Go string cannot hold
		// surrogate code points (invalid UTF-8 became U+FFFD earlier).
		text = removeTerminalEscapes(text)
		text = removeControlChars(text)
		text = nfc(text)
		if text == orig {
			break
		}
	}
	return text
}

// mapRunes applies f to every rune of s; f returns the replacement text and
// whether the rune is replaced. Unchanged strings are returned as they are.
func mapRunes(s string, f func(r rune) (string, bool)) string {
	var b strings.Builder
	last := 0
	for i, r := range s {
		repl, ok := f(r)
		if !ok {
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:i])
		b.WriteString(repl)
		last = i + utf8.RuneLen(r)
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// fixC1Controls reads C1 control characters (U+0080..U+009F) as the
// Windows-1252 characters of the same byte, as web browsers do: U+0080 is
// €, U+0085 is …. The five bytes Windows-1252 leaves undefined stay.
func fixC1Controls(s string) string {
	return mapRunes(s, func(r rune) (string, bool) {
		if r < 0x80 || r > 0x9f {
			return "", false
		}
		return string(sloppyWindows1252.decode[r]), true
	})
}

// latinLigatures is ftfy's LIGATURES: Latin ligatures and digraphs that are
// split into their letters (others, like æ, are usually intended).
var latinLigatures = map[rune]string{
	'Ĳ': "IJ", 'ĳ': "ij", 'ŉ': "ʼn", 'Ǳ': "DZ", 'ǲ': "Dz", 'ǳ': "dz",
	'Ǆ': "DŽ", 'ǅ': "Dž", 'ǆ': "dž", 'Ǉ': "LJ", 'ǈ': "Lj", 'ǉ': "lj",
	'Ǌ': "NJ", 'ǋ': "Nj", 'ǌ': "nj", 'ﬀ': "ff", 'ﬁ': "fi", 'ﬂ': "fl",
	'ﬃ': "ffi", 'ﬄ': "ffl", 'ﬅ': "ſt", 'ﬆ': "st",
}

func fixLatinLigatures(s string) string {
	return mapRunes(s, func(r rune) (string, bool) {
		v, ok := latinLigatures[r]
		return v, ok
	})
}

// widthMap is ftfy's WIDTH_MAP: U+3000 IDEOGRAPHIC SPACE becomes a space,
// and every character of U+FF01..U+FFEF (full-width ASCII, half-width
// katakana and Hangul, ...) becomes its NFKC form. A half-width voiced mark
// becomes a combining mark, which the NFC step then composes (ｶﾞ → ガ).
var widthMap = func() map[rune]string {
	m := map[rune]string{0x3000: " "}
	for r := rune(0xff01); r < 0xfff0; r++ {
		if alt := norm.NFKC.String(string(r)); alt != string(r) {
			m[r] = alt
		}
	}
	return m
}()

func fixCharacterWidth(s string) string {
	return mapRunes(s, func(r rune) (string, bool) {
		if r != 0x3000 && (r < 0xff01 || r > 0xffef) {
			return "", false
		}
		v, ok := widthMap[r]
		return v, ok
	})
}

// uncurlQuotes replaces curly single quotes (and U+02BC MODIFIER LETTER
// APOSTROPHE) with ' and curly double quotes with ".
func uncurlQuotes(s string) string {
	return mapRunes(s, func(r rune) (string, bool) {
		switch {
		case r == 0x2bc || (r >= 0x2018 && r <= 0x201b):
			return "'", true
		case r >= 0x201c && r <= 0x201f:
			return `"`, true
		}
		return "", false
	})
}

// fixLineBreaks turns CRLF, CR, U+2028, U+2029 and U+0085 into '\n'.
func fixLineBreaks(s string) string {
	if !strings.ContainsAny(s, "\r\u2028\u2029\u0085") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.NewReplacer("\r", "\n", "\u2028", "\n", "\u2029", "\n", "\u0085", "\n").Replace(s)
}

// removeTerminalEscapes removes ANSI escape sequences matching
// \033\[((?:\d|;)*)([a-zA-Z]), where \d is any Unicode decimal digit.
func removeTerminalEscapes(s string) string {
	if !strings.Contains(s, "\x1b[") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "\x1b[")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		j := i + 2
		for j < len(s) {
			r, size := utf8.DecodeRuneInString(s[j:])
			if r != ';' && !unicode.IsDigit(r) {
				break
			}
			j += size
		}
		if j < len(s) && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z')) {
			s = s[j+1:] // drop the whole sequence
			continue
		}
		b.WriteByte(0x1b) // not a sequence: keep the ESC, scan on after it
		s = s[i+1:]
	}
}

// isRemovedControl is ftfy's CONTROL_CHARS: control characters with no
// visible effect (C0 controls but tab, LF, FF and CR; DEL; deprecated
// Arabic format characters; the BOM; interlinear annotation characters and
// the object replacement character).
func isRemovedControl(r rune) bool {
	switch {
	case r <= 0x08, r == 0x0b, r >= 0x0e && r <= 0x1f, r == 0x7f,
		r >= 0x206a && r <= 0x206f, r == 0xfeff, r >= 0xfff9 && r <= 0xfffc:
		return true
	}
	return false
}

func removeControlChars(s string) string {
	return mapRunes(s, func(r rune) (string, bool) {
		return "", isRemovedControl(r)
	})
}

// maxNonStarters is the run length of combining marks after which
// golang.org/x/text/unicode/norm inserts U+034F (the Stream-Safe Text
// Format of UAX #15). Python's unicodedata.normalize does not do that.
const maxNonStarters = 30

// nfc is unicodedata.normalize("NFC", s). x/text's NFC equals Python's
// except on runs of more than 30 combining marks ("Zalgo" text): there it
// follows the Stream-Safe Text Format, inserting U+034F COMBINING GRAPHEME
// JOINER and ordering the marks piecewise, which Python does not. Text
// that may have such runs takes nfcLong instead.
func nfc(s string) string {
	if hasLongNonStarterRun(s) {
		return nfcLong(s)
	}
	return norm.NFC.String(s)
}

// nfcLong is NFC by the book (UAX #15): canonical decomposition, canonical
// ordering of every run of combining marks, canonical composition. It is
// slow and only used on unusual text.
func nfcLong(s string) string {
	var rs []rune
	for _, r := range s {
		// A single character decomposes to far fewer than 30 marks, so
		// x/text gives its plain decomposition.
		rs = append(rs, []rune(norm.NFD.String(string(r)))...)
	}
	for i := 0; i < len(rs); i++ {
		j := i
		for j < len(rs) && ccc(rs[j]) != 0 {
			j++
		}
		slices.SortStableFunc(rs[i:j], func(a, b rune) int { return int(ccc(a)) - int(ccc(b)) })
		i = j
	}
	out := make([]rune, 0, len(rs))
	starter := -1 // index in out of the last starter
	for _, r := range rs {
		c := ccc(r)
		if starter >= 0 {
			// r is blocked from the starter by any character in between
			// with a class of 0 or >= its own; the marks in between are in
			// canonical order, so the last one decides.
			last := len(out) - 1
			if last == starter || ccc(out[last]) < c {
				if comp, ok := composePair(out[starter], r); ok {
					out[starter] = comp
					continue
				}
			}
		}
		if c == 0 {
			starter = len(out)
		}
		out = append(out, r)
	}
	return string(out)
}

func ccc(r rune) uint8 { return norm.NFD.PropertiesString(string(r)).CCC() }

// composePair returns the primary composite of a and b, if there is one:
// x/text's NFC of the pair is then a single character.
func composePair(a, b rune) (rune, bool) {
	s := norm.NFC.String(string([]rune{a, b}))
	r, size := utf8.DecodeRuneInString(s)
	if size == len(s) && r != a {
		return r, true
	}
	return 0, false
}

// hasLongNonStarterRun reports whether s may hold a run of combining marks
// long enough for x/text to insert a joiner. It errs on the long side (the
// careful path in nfc gives the same result on short runs): a run counts
// the marks in a row, after 4 for a preceding precomposed character, which
// may decompose to a letter and up to 4 marks.
func hasLongNonStarterRun(s string) bool {
	n := 0
	for _, r := range s {
		switch {
		case r < 0x300:
			n = 2 // e.g. U+01D6 ǖ is u + U+0308 + U+0304
		case unicode.Is(unicode.M, r):
			n++
			if n > maxNonStarters/2 {
				return true
			}
		default:
			n = 4
		}
	}
	return false
}
