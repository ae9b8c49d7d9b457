package tokenize

import (
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
)

// ftfy decides whether text is mojibake with a heuristic (badness.py): a
// regular expression over about 400 characters that show up when UTF-8 is
// decoded in a single-byte encoding, looking for juxtapositions that are
// rare in real text. The classes and the expression below are ftfy 6.3.1's
// MOJIBAKE_CATEGORIES and BADNESS_RE, written as Go regexp syntax.
var mojibakeClasses = map[string]string{
	// Characters that appear in many contexts: ' ­´·–—―'…'
	"common": `\x{a0}\x{ad}\x{b4}\x{b7}\x{2013}-\x{2015}\x{2019}\x{2026}`,
	// C1 controls, which have no use outside of mojibake.
	"c1": `\x{80}-\x{9f}`,
	// Characters nearly only seen in mojibake: ¤¦¨ª¬¯¸ºƒˆˇ˘˛˜†‡‰⌐◊�
	"bad": `\x{a4}\x{a6}\x{a8}\x{aa}\x{ac}\x{af}\x{b8}\x{ba}\x{192}\x{2c6}\x{2c7}\x{2d8}\x{2db}\x{2dc}\x{2020}\x{2021}\x{2030}\x{2310}\x{25ca}\x{fffd}`,
	// §¶
	"law": `\x{a7}\x{b6}`,
	// ¢£¥₧€
	"currency": `\x{a2}\x{a3}\x{a5}\x{20a7}\x{20ac}`,
	// ¡©«¿΄΅‘‚“„•‹ and U+F8FF (the Apple logo)
	"start_punctuation": `\x{a1}\x{a9}\x{ab}\x{bf}\x{384}\x{385}\x{2018}\x{201a}\x{201c}\x{201e}\x{2022}\x{2039}\x{f8ff}`,
	// ®»˝”›™
	"end_punctuation": `\x{ae}\x{bb}\x{2dd}\x{201d}\x{203a}\x{2122}`,
	// ±²³µ¹¼½¾×÷⁄№∂∆∏∑√∞∩∫≈≠≡≤≥
	"numeric": `\x{b1}-\x{b3}\x{b5}\x{b9}\x{bc}-\x{be}\x{d7}\x{f7}\x{2044}\x{2116}\x{2202}\x{2206}\x{220f}\x{2211}\x{221a}\x{221e}\x{2229}\x{222b}\x{2248}\x{2260}\x{2261}\x{2264}\x{2265}`,
	// Letters used in kaomoji faces: °ÒÓÔÕÖÙÚÛÜòóôõöøùúûüŌŐŪŲ
	"kaomoji": `\x{b0}\x{d2}-\x{d6}\x{d9}-\x{dc}\x{f2}-\x{f6}\x{f8}-\x{fc}\x{14c}\x{150}\x{16a}\x{172}`,
	// ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑØÜÝĀĂĄĆČĎĐĒĖĘĚĞĢĪİĶĹĻĽŁŃŅŇŒŘŚŞŠŢŤŮŰŸŹŻŽҐ
	"upper_accented": `\x{c0}-\x{d1}\x{d8}\x{dc}\x{dd}\x{100}\x{102}\x{104}\x{106}\x{10c}\x{10e}\x{110}\x{112}\x{116}\x{118}\x{11a}\x{11e}\x{122}\x{12a}\x{130}\x{136}\x{139}\x{13b}\x{13d}\x{141}\x{143}\x{145}\x{147}\x{152}\x{158}\x{15a}\x{15e}\x{160}\x{162}\x{164}\x{16e}\x{170}\x{178}\x{179}\x{17b}\x{17d}\x{490}`,
	// ßàáâãäåæçèéêëìíîïðñüāăąćčďđēėęěğģīįķĺļľłœŕśşšťźżžґﬁﬂ
	"lower_accented": `\x{df}-\x{f1}\x{fc}\x{101}\x{103}\x{105}\x{107}\x{10d}\x{10f}\x{111}\x{113}\x{117}\x{119}\x{11b}\x{11f}\x{123}\x{12b}\x{12f}\x{137}\x{13a}\x{13c}\x{13e}\x{142}\x{153}\x{155}\x{15b}\x{15f}\x{161}\x{165}\x{17a}\x{17c}\x{17e}\x{491}\x{fb01}\x{fb02}`,
	// Þ, Greek capitals (with tonos and dialytika), Cyrillic Ё..Я
	"upper_common": `\x{de}\x{386}\x{388}-\x{38a}\x{38c}\x{38e}\x{38f}\x{391}-\x{3ab}\x{401}-\x{42f}`,
	// Greek small letters ά..ω, Cyrillic а..џ
	"lower_common": `\x{3ac}-\x{3c9}\x{430}-\x{45f}`,
	// Box drawing: │┌┐┘├┤┬┼═..╬▀▄█▌▐░▒▓
	"box": `\x{2502}\x{250c}\x{2510}\x{2518}\x{251c}\x{2524}\x{252c}\x{253c}\x{2550}-\x{256c}\x{2580}\x{2584}\x{2588}\x{258c}\x{2590}-\x{2593}`,
}

// pySpaceClass is Python re's \s for str patterns (str.isspace), and
// pyWordClass approximates re's \w (str.isalnum or '_').
const (
	pySpaceClass = `[\t-\r\x1c-\x20\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]`
	pyWordClass  = `[\p{L}\p{N}_]`
)

// badnessAlternatives is BADNESS_RE, one alternative per line; {name} is
// replaced by the class body of mojibakeClasses[name], \s and \w by the
// Python classes above.
var badnessAlternatives = []string{
	`[{c1}]`,
	`[{bad}{lower_accented}{upper_accented}{box}{start_punctuation}{end_punctuation}{currency}{numeric}{law}][{bad}]`,
	`[a-zA-Z][{lower_common}{upper_common}][{bad}]`,
	`[{bad}][{lower_accented}{upper_accented}{box}{start_punctuation}{end_punctuation}{currency}{numeric}{law}]`,
	`[{lower_accented}{lower_common}{box}{end_punctuation}{currency}{numeric}][{upper_accented}]`,
	`[{box}{end_punctuation}{currency}{numeric}][{lower_accented}]`,
	`[{lower_accented}{box}{end_punctuation}][{currency}]`,
	`\s[{upper_accented}][{currency}]`,
	`[{upper_accented}{box}][{numeric}{law}]`,
	`[{lower_accented}{upper_accented}{box}{currency}{end_punctuation}][{start_punctuation}][{numeric}]`,
	`[{lower_accented}{upper_accented}{currency}{numeric}{box}{law}][{end_punctuation}][{start_punctuation}]`,
	`[{currency}{numeric}{box}][{start_punctuation}]`,
	`[a-z][{upper_accented}][{start_punctuation}{currency}]`,
	`[{box}][{kaomoji}]`,
	`[{lower_accented}{upper_accented}{currency}{numeric}{start_punctuation}{end_punctuation}{law}][{box}]`,
	`[{box}][{end_punctuation}]`,
	`[{lower_accented}{upper_accented}][{start_punctuation}{end_punctuation}]\w`,
	// The ligature œ when not followed by an unaccented Latin letter.
	`[Œœ][^A-Za-z]`,
	// Degree signs after capital letters.
	`[{upper_accented}]°`,
	// Common Windows-1252 2-character mojibake.
	`[ÂÃÎÐ][€œŠš¢£Ÿž\x{a0}\x{ad}®©°·»{start_punctuation}{end_punctuation}–—´]`,
	`×[²³]`,
	// Windows-1252 mojibake of Arabic words (four characters).
	`[ØÙ][{common}{currency}{bad}{numeric}{start_punctuation}ŸŠ®°µ»][ØÙ][{common}{currency}{bad}{numeric}{start_punctuation}ŸŠ®°µ»]`,
	// Windows-1252 mojibake starting 3-character South Asian letters.
	`à[²µ¹¼½¾]`,
	// MacRoman mojibake.
	`√[±∂†≠®™´≤≥¥µø]`,
	`≈[°¢]`,
	`‚Ä[ìîïòôúùû†°¢π]`,
	`‚[âó][àä°ê]`,
	// Windows-1251 mojibake of the U+2000 range, of Latin-1 and Cyrillic.
	`вЂ`,
	`[ВГРС][{c1}{bad}{start_punctuation}{end_punctuation}{currency}°µ][ВГРС]`,
	`ГўВЂВ.[A-Za-z ]`,
	// Windows-1252 encodings of 'à' and 'á', and of U+00A0 itself.
	`Ã[\x{a0}¡]`,
	`[a-z]\s?[ÃÂ][ ]`,
	`^[ÃÂ][ ]`,
	// Â before a character that it would encode as itself.
	`[a-z.,?!{end_punctuation}]Â[ {start_punctuation}{end_punctuation}]`,
	// Windows-1253 mojibake of the U+2000 range, of Latin-1 and Greek.
	`β€[™\x{a0}Ά\x{ad}®°]`,
	`[ΒΓΞΟ][{c1}{bad}{start_punctuation}{end_punctuation}{currency}°][ΒΓΞΟ]`,
	// Windows-1257 mojibake of the U+2000 range.
	`ā€`,
}

// badnessPattern returns alternative i of BADNESS_RE in Go regexp syntax.
func badnessPattern(i int) string { return badnessReplacer.Replace(badnessAlternatives[i]) }

var badnessReplacer = func() *strings.Replacer {
	pairs := []string{`\s`, pySpaceClass, `\w`, pyWordClass}
	for name, body := range mojibakeClasses {
		pairs = append(pairs, "{"+name+"}", body)
	}
	return strings.NewReplacer(pairs...)
}()

// Matching BADNESS_RE with the regexp package costs tens of microseconds
// per string, most of a query's tokenization. Every alternative is a short
// fixed sequence of character classes (one of them optional, one anchored
// at the start), so isBad runs them as such: the alternatives are parsed
// with regexp/syntax, and a bit per class says which classes a character
// is in. TestBadnessMatcher checks the result against the regexp.

// badStep is one character of an alternative.
type badStep struct {
	ranges   []rune // the class, as sorted lo-hi pairs
	bit      int    // its bit in badMasks, or -1 for a large class
	optional bool   // X? rather than X
}

type badAlt struct {
	atStart bool // anchored with ^
	steps   []badStep
	// need has the bits of the small classes the alternative cannot
	// match without: a text lacking one of them need not be scanned.
	need [2]uint64
}

var (
	badAlts []badAlt
	// badMasks has, for every character in a small class, the bits of the
	// classes it is in; badMasksASCII the same for ASCII.
	badMasks      = map[rune][2]uint64{}
	badMasksASCII [128][2]uint64
)

func init() {
	nbits := 0
	addStep := func(alt *badAlt, ranges []rune, optional bool) {
		st := badStep{ranges: ranges, bit: -1, optional: optional}
		size := 0
		for i := 0; i < len(ranges); i += 2 {
			size += int(ranges[i+1]-ranges[i]) + 1
		}
		if size <= 4096 {
			if nbits == 128 {
				panic("tokenize: too many badness classes")
			}
			st.bit = nbits
			nbits++
			for i := 0; i < len(ranges); i += 2 {
				for r := ranges[i]; r <= ranges[i+1]; r++ {
					if r < 128 {
						badMasksASCII[r][st.bit/64] |= 1 << (st.bit % 64)
						continue
					}
					m := badMasks[r]
					m[st.bit/64] |= 1 << (st.bit % 64)
					badMasks[r] = m
				}
			}
		}
		alt.steps = append(alt.steps, st)
	}
	for i := range badnessAlternatives {
		re, err := syntax.Parse(badnessPattern(i), syntax.Perl)
		if err != nil {
			panic(err)
		}
		subs := []*syntax.Regexp{re}
		if re.Op == syntax.OpConcat {
			subs = re.Sub
		}
		var alt badAlt
		for _, s := range subs {
			switch {
			case s.Op == syntax.OpBeginText:
				alt.atStart = true
			case s.Op == syntax.OpLiteral:
				for _, r := range s.Rune {
					addStep(&alt, literalClass(r, s.Flags&syntax.FoldCase != 0), false)
				}
			case s.Op == syntax.OpCharClass:
				addStep(&alt, s.Rune, false)
			case s.Op == syntax.OpAnyCharNotNL:
				addStep(&alt, []rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune}, false)
			case s.Op == syntax.OpQuest && s.Sub[0].Op == syntax.OpCharClass:
				addStep(&alt, s.Sub[0].Rune, true)
			default:
				panic("tokenize: unexpected badness pattern " + s.String())
			}
		}
		for _, st := range alt.steps {
			if st.bit >= 0 && !st.optional {
				alt.need[st.bit/64] |= 1 << (st.bit % 64)
			}
		}
		badAlts = append(badAlts, alt)
	}
}

// literalClass is the class of one literal character. The parser writes a
// class of case variants such as [Œœ] as a case-folded literal.
func literalClass(r rune, fold bool) []rune {
	rs := []rune{r}
	if fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			rs = append(rs, f)
		}
		slices.Sort(rs)
	}
	ranges := make([]rune, 0, 2*len(rs))
	for _, r := range rs {
		ranges = append(ranges, r, r)
	}
	return ranges
}

func (st *badStep) matches(r rune, mask [2]uint64) bool {
	if st.bit >= 0 {
		return mask[st.bit/64]&(1<<(st.bit%64)) != 0
	}
	i, _ := slices.BinarySearch(st.ranges, r) // index of the first bound >= r
	return i < len(st.ranges) && (st.ranges[i] == r || i%2 == 1)
}

func matchBadSteps(steps []badStep, rs []rune, masks [][2]uint64, i int) bool {
	if len(steps) == 0 {
		return true
	}
	st := &steps[0]
	if i < len(rs) && st.matches(rs[i], masks[i]) && matchBadSteps(steps[1:], rs, masks, i+1) {
		return true
	}
	return st.optional && matchBadSteps(steps[1:], rs, masks, i)
}

// isBad is ftfy's badness.is_bad: whether text looks like it contains
// mojibake, i.e. BADNESS_RE matches somewhere.
func isBad(text string) bool {
	rs := []rune(text)
	masks := make([][2]uint64, len(rs))
	var all [2]uint64 // the classes present in text
	for i, r := range rs {
		if r < 128 {
			masks[i] = badMasksASCII[r]
		} else {
			masks[i] = badMasks[r]
		}
		all[0] |= masks[i][0]
		all[1] |= masks[i][1]
	}
	for k := range badAlts {
		alt := &badAlts[k]
		if all[0]&alt.need[0] != alt.need[0] || all[1]&alt.need[1] != alt.need[1] {
			continue
		}
		for i := range rs {
			if alt.atStart && i > 0 {
				break
			}
			if matchBadSteps(alt.steps, rs, masks, i) {
				return true
			}
		}
	}
	return false
}

// UTF-8 mojibake clues (ftfy's chardata.UTF8_CLUES): the characters that the
// bytes of a UTF-8 sequence turn into when read as Latin-1 or one of the
// Windows code pages 1250-1254 and 1257. ftfy lists them by hand; they are
// exactly what these decoding tables give.
var (
	utf8FirstOf2           = map[rune]bool{} // bytes 0xC2..0xDF
	utf8FirstOf3           = map[rune]bool{} // bytes 0xE0..0xEF
	utf8FirstOf4           = map[rune]bool{} // bytes 0xF0 and 0xF3
	utf8Continuation       = map[rune]bool{} // bytes 0x80..0xBF, and a space for 0xA0
	utf8ContinuationStrict = map[rune]bool{} // the same without spaces, dashes, quotes, bullet, ellipsis
)

func init() {
	latinLike := []*charmap{latin1, sloppyWindows1250, sloppyWindows1251, sloppyWindows1252,
		sloppyWindows1253, sloppyWindows1254, sloppyWindows1257}
	for _, cm := range latinLike {
		for b := 0x80; b < 0x100; b++ {
			r := cm.decode[b]
			switch {
			case b < 0xc0:
				utf8Continuation[r] = true
			case b >= 0xc2 && b < 0xe0:
				utf8FirstOf2[r] = true
			case b >= 0xe0 && b < 0xf0:
				utf8FirstOf3[r] = true
			case b == 0xf0 || b == 0xf3:
				utf8FirstOf4[r] = true
			}
		}
	}
	for r := rune(0x80); r < 0xc0; r++ {
		utf8Continuation[r] = true
	}
	utf8Continuation[' '] = true
	for r := range utf8Continuation {
		if !strings.ContainsRune(" –—―‘’‚“”„•…", r) {
			utf8ContinuationStrict[r] = true
		}
	}
}
