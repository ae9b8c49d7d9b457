package tokenize

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// Mojibake repair: ftfy's fix_encoding. Text that looks bad (isBad) and can
// be encoded in one of a few single-byte encodings is encoded so, and the
// bytes decoded as UTF-8; "Ã©tÃ©" becomes "été", "ÐŸÑ€Ð¸Ð²ÐµÑ‚" becomes
// "Привет".

// charmap is a single-byte encoding as ftfy uses it.
type charmap struct {
	sloppy bool // a "sloppy-windows-*" codec: see newSloppy
	decode [256]rune
	encode map[rune]byte
}

func newCharmap(sloppy bool, decode [256]rune) *charmap {
	cm := &charmap{sloppy: sloppy, decode: decode, encode: make(map[rune]byte, 256)}
	for b := 255; b >= 0; b-- { // the lowest byte wins for a repeated rune
		cm.encode[decode[b]] = byte(b)
	}
	return cm
}

// newStrict builds a codec whose bytes 0x80..0xFF are all defined.
func newStrict(high *[128]rune) *charmap {
	var d [256]rune
	for b := range d {
		if b < 0x80 {
			d[b] = rune(b)
		} else {
			d[b] = high[b-0x80]
		}
	}
	return newCharmap(false, d)
}

// newSloppy builds ftfy's sloppy variant of a Windows code page: bytes the
// code page leaves undefined decode as in Latin-1, and byte 0x1A (SUB)
// stands for U+FFFD, so that text with replacement characters can still be
// encoded.
func newSloppy(high *[128]rune) *charmap {
	var d [256]rune
	for b := range d {
		switch {
		case b < 0x80:
			d[b] = rune(b)
		case high[b-0x80] == 0xfffd:
			d[b] = rune(b)
		default:
			d[b] = high[b-0x80]
		}
	}
	d[0x1a] = 0xfffd
	return newCharmap(true, d)
}

var (
	latin1 = func() *charmap {
		var d [256]rune
		for b := range d {
			d[b] = rune(b)
		}
		return newCharmap(false, d)
	}()
	sloppyWindows1252 = newSloppy(&tableCP1252)
	sloppyWindows1251 = newSloppy(&tableCP1251)
	sloppyWindows1250 = newSloppy(&tableCP1250)
	sloppyWindows1253 = newSloppy(&tableCP1253)
	sloppyWindows1254 = newSloppy(&tableCP1254)
	sloppyWindows1257 = newSloppy(&tableCP1257)
	isoLatin2         = newStrict(&tableISO88592)
	macroman          = newStrict(&tableMacroman)
	cp437             = newStrict(&tableCP437)

	// charmapEncodings is ftfy's CHARMAP_ENCODINGS, in the order it tries them.
	charmapEncodings = []*charmap{latin1, sloppyWindows1252, sloppyWindows1251,
		sloppyWindows1250, sloppyWindows1253, sloppyWindows1254, sloppyWindows1257,
		isoLatin2, macroman, cp437}
)

// canEncode is ftfy's possible_encoding: every character is one the codec
// decodes some byte to.
func (cm *charmap) canEncode(s string) bool {
	for _, r := range s {
		if r < 0x80 && r != 0x1a {
			continue
		}
		if _, ok := cm.encode[r]; !ok {
			return false
		}
	}
	return true
}

func (cm *charmap) encodeString(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0x80 && r != 0x1a {
			out = append(out, byte(r))
		} else {
			out = append(out, cm.encode[r])
		}
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// fixEncoding is ftfy.fix_encoding: repeat one repair step until the text
// stops changing (mojibake can be layered).
func fixEncoding(text string) string {
	for round := 0; round < maxFixRounds; round++ {
		fixed := fixEncodingStep(text)
		if fixed == text {
			break
		}
		text = fixed
	}
	return text
}

// fixEncodingStep is ftfy's _fix_encoding_one_step_and_explain.
func fixEncodingStep(text string) string {
	if text == "" || isASCII(text) || !isBad(text) {
		return text
	}
	latin1Possible := false
	for _, cm := range charmapEncodings {
		if !cm.canEncode(text) {
			continue
		}
		if cm == latin1 {
			latin1Possible = true
		}
		b := cm.encodeString(text)
		if cm != macroman && hasAlteredUTF8(b) {
			b = restoreByteA0(b)
		}
		if cm.sloppy {
			b = replaceLossySequences(b)
		}
		var fixed string
		var ok bool
		if bytes.IndexByte(b, 0xed) >= 0 || bytes.IndexByte(b, 0xc0) >= 0 {
			fixed, ok = decodeUTF8Variants(b)
		} else if utf8.Valid(b) {
			fixed, ok = string(b), true
		}
		if ok {
			return fixed
		}
	}

	// Mojibake embedded in otherwise good text.
	if fixed := decodeInconsistentUTF8(text); fixed != text {
		return fixed
	}

	// Latin-1 that was meant as Windows-1252. (ftfy would return the text
	// unchanged if "windows-1252" were a possible encoding, but it only
	// tries "sloppy-windows-1252", so that test never passes.)
	if latin1Possible {
		if fixed, ok := decodeWindows1252Strict(text); ok && fixed != text {
			return fixed
		}
	}
	if strings.ContainsFunc(text, func(r rune) bool { return r >= 0x80 && r <= 0x9f }) {
		return fixC1Controls(text)
	}
	return text
}

// decodeWindows1252Strict is text.encode("latin-1").decode("windows-1252")
// for text that is all Latin-1; it fails on the five bytes Windows-1252
// leaves undefined.
func decodeWindows1252Strict(text string) (string, bool) {
	var b strings.Builder
	for _, r := range text {
		if r < 0x80 {
			b.WriteRune(r)
			continue
		}
		d := tableCP1252[r-0x80]
		if d == 0xfffd {
			return "", false
		}
		b.WriteRune(d)
	}
	return b.String(), true
}

// byteSet is a set of byte values.
type byteSet [256]bool

func bset(ranges ...[2]byte) *byteSet {
	var s byteSet
	for _, r := range ranges {
		for b := int(r[0]); b <= int(r[1]); b++ {
			s[b] = true
		}
	}
	return &s
}

func one(b byte) [2]byte { return [2]byte{b, b} }

// bytePattern is a fixed-length sequence of byte sets: one alternative of
// ftfy's byte regexes.
type bytePattern []*byteSet

// matchFirst returns the length of the first pattern (in order, as a regex
// alternation does) that matches b at i, or 0.
func matchFirst(alts []bytePattern, b []byte, i int) int {
next:
	for _, p := range alts {
		if i+len(p) > len(b) {
			continue
		}
		for k, set := range p {
			if !set[b[i+k]] {
				continue next
			}
		}
		return len(p)
	}
	return 0
}

var (
	bSpace   = bset(one(' '))
	bCont    = bset([2]byte{0x80, 0xbf})
	bContNo  = bset([2]byte{0x80, 0x84}, [2]byte{0x86, 0x9f}, [2]byte{0xa1, 0xbf}) // not 0x85, 0xA0
	bSub     = bset(one(0x1a))
	bSubQ    = bset(one(0x1a), one('?'))
	bSubCont = bset(one(0x1a), [2]byte{0x80, 0xbf})
	bAnyLost = bset(one(0x1a), one('?'), [2]byte{0x80, 0xbf})
	bED      = bset(one(0xed))

	// alteredUTF8 is ftfy's ALTERED_UTF8_RE: UTF-8 sequences that would be
	// valid if a space were byte 0xA0 (which some program turned into one).
	alteredUTF8 = []bytePattern{
		{bset(one(0xc2), one(0xc3), one(0xc5), one(0xce), one(0xd0), one(0xd9)), bSpace},
		{bset([2]byte{0xe2, 0xe3}), bSpace, bContNo},
		{bset([2]byte{0xe0, 0xe3}), bContNo, bSpace},
		{bset(one(0xf0)), bSpace, bCont, bCont},
		{bset(one(0xf0)), bCont, bSpace, bCont},
		{bset(one(0xf0)), bCont, bCont, bSpace},
	}

	// lossyUTF8 is ftfy's LOSSY_UTF8_RE: UTF-8 sequences in which a
	// continuation byte was lost (0x1A stands for a byte that became U+FFFD;
	// '?' is accepted once per sequence).
	lossyUTF8 = []bytePattern{
		{bset([2]byte{0xc2, 0xdf}), bSub},
		{bset([2]byte{0xc2, 0xc3}), bset(one('?'))},
		{bED, bset([2]byte{0xa0, 0xaf}), bSubQ, bED, bset([2]byte{0xb0, 0xbf}), bAnyLost},
		{bED, bset([2]byte{0xa0, 0xaf}), bAnyLost, bED, bset([2]byte{0xb0, 0xbf}), bSubQ},
		{bset([2]byte{0xe0, 0xef}), bSubQ, bSubCont},
		{bset([2]byte{0xe0, 0xef}), bSubCont, bSubQ},
		{bset([2]byte{0xf0, 0xf4}), bSubQ, bSubCont, bSubCont},
		{bset([2]byte{0xf0, 0xf4}), bSubCont, bSubQ, bSubCont},
		{bset([2]byte{0xf0, 0xf4}), bSubCont, bSubCont, bSubQ},
		{bSub},
	}
)

func hasAlteredUTF8(b []byte) bool {
	for i := range b {
		if matchFirst(alteredUTF8, b, i) > 0 {
			return true
		}
	}
	return false
}

// restoreByteA0 is ftfy's restore_byte_a0: put back byte 0xA0 where a
// space breaks a UTF-8 sequence. "Ã " followed by a word becomes "à "
// (0xC3 0xA0 and the space kept: "Ã la" was "à la"), except before the
// Portuguese "às", "àquele", "àquela", "àquilo".
func restoreByteA0(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] == 0xc3 && i+1 < len(b) && b[i+1] == ' ' && !aGraveException(b[i+2:]) {
			out = append(out, 0xc3, 0xa0)
			continue // the space is copied next
		}
		out = append(out, b[i])
	}
	b = out
	out = make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		if n := matchFirst(alteredUTF8, b, i); n > 0 {
			for _, c := range b[i : i+n] {
				if c == ' ' {
					c = 0xa0
				}
				out = append(out, c)
			}
			i += n
			continue
		}
		out = append(out, b[i])
		i++
	}
	return out
}

// aGraveException is the negative lookahead of ftfy's A_GRAVE_WORD_RE,
// b"\xc3 (?! |quele|quela|quilo|s )", applied after "\xc3 ".
func aGraveException(rest []byte) bool {
	for _, w := range []string{" ", "quele", "quela", "quilo", "s "} {
		if bytes.HasPrefix(rest, []byte(w)) {
			return true
		}
	}
	return false
}

// replaceLossySequences is ftfy's replace_lossy_sequences: every match of
// lossyUTF8 becomes the UTF-8 encoding of U+FFFD.
func replaceLossySequences(b []byte) []byte {
	if bytes.IndexByte(b, 0x1a) < 0 && bytes.IndexByte(b, '?') < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		if n := matchFirst(lossyUTF8, b, i); n > 0 {
			out = append(out, "\ufffd"...)
			i += n
			continue
		}
		out = append(out, b[i])
		i++
	}
	return out
}

// decodeUTF8Variants is ftfy's "utf-8-variants" codec: UTF-8 that also
// accepts CESU-8 (a surrogate pair encoded as two 3-byte sequences) and
// Java's 0xC0 0x80 for U+0000. It fails where strict UTF-8 would.
func decodeUTF8Variants(b []byte) (string, bool) {
	var out strings.Builder
	for i := 0; i < len(b); {
		switch {
		case b[i] == 0xc0 && i+1 < len(b) && b[i+1] == 0x80:
			out.WriteByte(0)
			i += 2
			continue
		case i+6 <= len(b) && b[i] == 0xed && b[i+1] >= 0xa0 && b[i+1] <= 0xaf &&
			bCont[b[i+2]] && b[i+3] == 0xed && b[i+4] >= 0xb0 && b[i+4] <= 0xbf && bCont[b[i+5]]:
			r := rune(b[i+1]&0x0f)<<16 | rune(b[i+2]&0x3f)<<10 | rune(b[i+4]&0x0f)<<6 | rune(b[i+5]&0x3f)
			out.WriteRune(r + 0x10000)
			i += 6
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return "", false
		}
		out.WriteString(string(b[i : i+size]))
		i += size
	}
	return out.String(), true
}

// decodeInconsistentUTF8 is ftfy's decode_inconsistent_utf8: fix runs of
// characters that look like UTF-8 mojibake (UTF8_DETECTOR_RE) one by one,
// when the whole text cannot be re-decoded at once. A run must not follow a
// strict continuation character, and is fixed only if it looks bad itself.
func decodeInconsistentUTF8(text string) string {
	rs := []rune(text)
	var out strings.Builder
	changed := false
	for i := 0; i < len(rs); {
		end := i
		if i == 0 || !utf8ContinuationStrict[rs[i-1]] {
			end = matchUTF8Run(rs, i)
		}
		if end == i {
			out.WriteRune(rs[i])
			i++
			continue
		}
		sub := string(rs[i:end])
		if end-i < len(rs) && isBad(sub) {
			if fixed := fixEncoding(sub); fixed != sub {
				sub = fixed
				changed = true
			}
		}
		out.WriteString(sub)
		i = end
	}
	if !changed {
		return text
	}
	return out.String()
}

// matchUTF8Run matches (first_of_2 cont | first_of_3 cont{2} |
// first_of_4 cont{3})+ at rs[i:] and returns the end index (i: no match).
func matchUTF8Run(rs []rune, i int) int {
	j := i
	for {
		switch {
		case j+2 <= len(rs) && utf8FirstOf2[rs[j]] && utf8Continuation[rs[j+1]]:
			j += 2
		case j+3 <= len(rs) && utf8FirstOf3[rs[j]] && utf8Continuation[rs[j+1]] && utf8Continuation[rs[j+2]]:
			j += 3
		case j+4 <= len(rs) && utf8FirstOf4[rs[j]] && utf8Continuation[rs[j+1]] &&
			utf8Continuation[rs[j+2]] && utf8Continuation[rs[j+3]]:
			j += 4
		default:
			return j
		}
	}
}
