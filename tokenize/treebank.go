package tokenize

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Treebank splits a sentence into words as NLTK 3.8's word_tokenize does
// with preserve_line=True: its NLTKWordTokenizer, the Penn Treebank rules
// with NLTK's improvements (Unicode quotes, ellipses, clitics as Stanford
// CoreNLP splits them). VSE++ tokenises captions this way.
//
// The rules are regular-expression substitutions applied in order. Python's
// \w, \d, \s and \b are Unicode-aware where Go's are ASCII, and two rules
// use lookahead, which Go's regexp lacks: those parts are written out.
func Treebank(text string) []string {
	for _, r := range startingQuotes {
		text = r.apply(text)
	}
	text = splitSingleQuote(text)
	for _, r := range punctuation {
		text = r.apply(text)
	}
	text = parens.apply(text)
	text = doubleDashes.apply(text)
	text = " " + text + " "
	for _, r := range endingQuotes {
		text = r.apply(text)
	}
	for _, c := range contractions2 {
		text = c.apply(text)
	}
	for _, c := range contractions3 {
		text = c.apply(text)
	}
	return strings.FieldsFunc(text, isPySpace)
}

// rule is one substitution; repl uses Go's $1 for Python's \1.
type rule struct {
	re   *regexp.Regexp
	repl string
}

func (r rule) apply(s string) string { return r.re.ReplaceAllString(s, r.repl) }

// Python's Unicode classes, for the patterns below.
const (
	pyS = `[\t\n\v\f\r \x1c-\x1f\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]` // \s
	pyD = `\p{Nd}`                                                                                              // \d
)

var startingQuotes = []rule{
	{regexp.MustCompile("([«“‘„]|[`]+)"), " $1 "},
	{regexp.MustCompile(`^"`), "``"},
	{regexp.MustCompile("(``)"), " $1 "},
	{regexp.MustCompile(`([ (\[{<])("|'{2})`), "$1 `` "},
	// (?i)(\')(?!re|ve|ll|m|t|s|d|n)(\w)\b: see splitSingleQuote.
}

var punctuation = []rule{
	{regexp.MustCompile(`([^.])(\.)([\])}>"']*)` + pyS + `*$`), "$1 $2 $3 "},
	{regexp.MustCompile(`([:,])([^` + pyD + `])`), " $1 $2"},
	{regexp.MustCompile(`([:,])$`), " $1 "},
	{regexp.MustCompile(`\.{2,}`), " $0 "},
	{regexp.MustCompile(`[;@#$%&]`), " $0 "},
	{regexp.MustCompile(`([^.])(\.)([\])}>"']*)` + pyS + `*$`), "$1 $2$3 "},
	{regexp.MustCompile(`[?!]`), " $0 "},
	{regexp.MustCompile(`([^'])' `), "$1 ' "},
	{regexp.MustCompile(`[*]`), " $0 "},
}

var (
	parens       = rule{regexp.MustCompile(`[\][(){}<>]`), " $0 "}
	doubleDashes = rule{regexp.MustCompile(`--`), " -- "}
)

var endingQuotes = []rule{
	{regexp.MustCompile("([»”’])"), " $1 "},
	{regexp.MustCompile(`''`), " '' "},
	{regexp.MustCompile(`"`), " '' "},
	{regexp.MustCompile(`([^' ])('[sS]|'[mM]|'[dD]|') `), "$1 $2 "},
	{regexp.MustCompile(`([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) `), "$1 $2 "},
}

// contraction splits a word in two where the pattern's parts meet:
// (?i)\b(first)(second)\b, as " first second ". lead, if set, is a
// character that must come first (and is replaced by the space);
// spaceAfter asks for whitespace after instead of a word boundary.
type contraction struct {
	lead          byte
	first, second string
	spaceAfter    bool
}

var contractions2 = []contraction{
	{0, "can", "not", false}, {0, "d", "'ye", false}, {0, "gim", "me", false}, {0, "gon", "na", false},
	{0, "got", "ta", false}, {0, "lem", "me", false}, {0, "more", "'n", false}, {0, "wan", "na", true},
}

var contractions3 = []contraction{{' ', "'t", "is", false}, {' ', "'t", "was", false}}

func (c contraction) apply(s string) string {
	word := c.first + c.second
	var b strings.Builder
	last := 0
	for i := 0; i+len(word) <= len(s); {
		start := i
		if c.lead != 0 {
			if s[i] != c.lead {
				i++
				continue
			}
			start = i + 1
		} else if !atBoundary(s, i) || !isPyWordAt(s, i) {
			i++
			continue
		}
		end := start + len(word)
		if end > len(s) || !strings.EqualFold(s[start:end], word) {
			i++
			continue
		}
		if c.spaceAfter {
			r, _ := utf8.DecodeRuneInString(s[end:])
			if end == len(s) || !isPySpace(r) {
				i++
				continue
			}
		} else if !atBoundary(s, end) {
			i++
			continue
		}
		b.WriteString(s[last:i])
		mid := start + len(c.first)
		b.WriteString(" " + s[start:mid] + " " + s[mid:end] + " ")
		last, i = end, end
	}
	b.WriteString(s[last:])
	return b.String()
}

// splitSingleQuote is (?i)(\')(?!re|ve|ll|m|t|s|d|n)(\w)\b → "' x": a
// quote before a one-letter word is split from it, unless it starts a
// clitic.
func splitSingleQuote(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if s[i] != '\'' {
			i++
			continue
		}
		rest := strings.ToLower(s[i+1:])
		clitic := false
		for _, p := range []string{"re", "ve", "ll", "m", "t", "s", "d", "n"} {
			if strings.HasPrefix(rest, p) {
				clitic = true
				break
			}
		}
		r, n := utf8.DecodeRuneInString(s[i+1:])
		if clitic || i+1 >= len(s) || !isPyWord(r) || !atBoundary(s, i+1+n) {
			i++
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString("' " + s[i+1:i+1+n])
		last, i = i+1+n, i+1+n
	}
	b.WriteString(s[last:])
	return b.String()
}

// atBoundary reports Python's \b at byte offset i: a word character on
// one side and not on the other.
func atBoundary(s string, i int) bool {
	before := false
	if i > 0 {
		r, _ := utf8.DecodeLastRuneInString(s[:i])
		before = isPyWord(r)
	}
	return before != isPyWordAt(s, i)
}

func isPyWordAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return isPyWord(r)
}

// isPyWord is Python's \w: letters, numbers and the underscore.
func isPyWord(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// isPySpace is Python's str.isspace.
func isPySpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0x1c, 0x1d, 0x1e, 0x1f, 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}
