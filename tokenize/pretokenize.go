package tokenize

import (
	"unicode"
	"unicode/utf8"
)

const (
	sotText = "<|startoftext|>"
	eotText = "<|endoftext|>"
)

// contractions are the pattern's 's|'t|'re|'ve|'m|'ll|'d, in its order.
var contractions = []string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}

// splitPieces calls yield with every piece of text that CLIP's pre-tokenizer
// pattern finds, in order, as Python's regex.findall does with
//
//	<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+
//
// and the IGNORECASE flag. At each position the alternatives are tried in
// that order; where none matches (white space), the scanner moves on by one
// character. Consequences worth knowing: digits are single pieces, and a
// run of punctuation swallows a following "<|" or "'", so ".<|endoftext|>"
// is not a special token and "!'s" splits as "!'" and "s".
//
// Two effects of IGNORECASE survive lower-casing: U+017F ſ matches the
// letter s (so "'ſ" is a contraction piece), and U+0345 COMBINING GREEK
// YPOGEGRAMMENI, whose case folding is the letter ι, is excluded from
// [^\s\p{L}\p{N}] without being in \p{L}: no piece matches it, and it is
// skipped like white space.
//
// yield returns false to stop early.
func splitPieces(text string, yield func(piece string) bool) {
	for i := 0; i < len(text); {
		n := matchPiece(text[i:])
		if n == 0 {
			_, size := utf8.DecodeRuneInString(text[i:])
			i += size
			continue
		}
		if !yield(text[i : i+n]) {
			return
		}
		i += n
	}
}

// matchPiece returns the length in bytes of the piece at the start of s,
// or 0 if no alternative matches there.
func matchPiece(s string) int {
	r, size := utf8.DecodeRuneInString(s)
	switch {
	case r == '<':
		if n := matchFold(s, sotText); n > 0 {
			return n
		}
		if n := matchFold(s, eotText); n > 0 {
			return n
		}
	case r == '\'':
		for _, c := range contractions {
			if n := matchFold(s, c); n > 0 {
				return n
			}
		}
	case unicode.IsLetter(r):
		n := size
		for n < len(s) {
			r, size := utf8.DecodeRuneInString(s[n:])
			if !unicode.IsLetter(r) {
				break
			}
			n += size
		}
		return n
	case unicode.IsNumber(r):
		return size
	}
	if !isOther(r) {
		return 0
	}
	n := size
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		if !isOther(r) {
			break
		}
		n += size
	}
	return n
}

// isOther is [^\s\p{L}\p{N}] under IGNORECASE (see splitPieces for U+0345).
func isOther(r rune) bool {
	return !isWhiteSpace(r) && !unicode.IsLetter(r) && !unicode.IsNumber(r) && r != 0x345
}

// matchFold matches the ASCII literal lit at the start of s case-
// insensitively, as the regex module does: a character matches a letter
// if it is in the letter's case-folding orbit (s: S, ſ; k: K, K) or is
// U+0130 for i. It returns the length of the match in s, or 0.
func matchFold(s, lit string) int {
	n := 0
	for i := 0; i < len(lit); i++ {
		if n >= len(s) {
			return 0
		}
		r, size := utf8.DecodeRuneInString(s[n:])
		if !foldEq(r, rune(lit[i])) {
			return 0
		}
		n += size
	}
	return n
}

func foldEq(r, c rune) bool {
	if r == c {
		return true
	}
	if c == 'i' && r == 0x130 {
		return true
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f == c {
			return true
		}
	}
	return false
}
