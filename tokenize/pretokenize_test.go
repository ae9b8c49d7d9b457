package tokenize

import (
	"slices"
	"testing"
)

func TestSplitPieces(t *testing.T) {
	// Expected pieces are those of Python's regex.findall with CLIP's
	// pattern and IGNORECASE (the input is already cleaned and lower-case).
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a photo of a cat", []string{"a", "photo", "of", "a", "cat"}},
		{"she's he'll we'd they're i'm you've it't", []string{"she", "'s", "he", "'ll", "we", "'d", "they", "'re", "i", "'m", "you", "'ve", "it", "'t"}},
		{"y'all'd've o'clock", []string{"y", "'", "all", "'d", "'ve", "o", "'", "clock"}},
		{"'said !'s ''s", []string{"'s", "aid", "!'", "s", "''", "s"}},
		{"2024-03-15", []string{"2", "0", "2", "4", "-", "0", "3", "-", "1", "5"}},
		{"٣٤ ⅻ ½x²", []string{"٣", "٤", "ⅻ", "½", "x", "²"}},
		{"wait... what?!", []string{"wait", "...", "what", "?!"}},
		{"before<|endoftext|>after", []string{"before", "<|endoftext|>", "after"}},
		{"x.<|endoftext|>", []string{"x", ".<|", "endoftext", "|>"}},
		{"<|startoftext|><|endoftext|>", []string{"<|startoftext|>", "<|endoftext|>"}},
		{"<|endoftext |>", []string{"<|", "endoftext", "|>"}},
		{"<|ſtartoftext|> 'ſ", []string{"<|ſtartoftext|>", "'ſ"}},
		{"猫猫 고양이", []string{"猫猫", "고양이"}},
		{"e\u0301t\u0301", []string{"e", "\u0301", "t", "\u0301"}}, // marks are not \p{L}
		{"a\u0345b \u0345", []string{"a", "b"}},                    // U+0345 matches no alternative
		{"👩\u200d🔬!", []string{"👩\u200d🔬!"}},
		{"x\x1cy", []string{"x", "\x1c", "y"}}, // not \s for the regex module
	}
	for _, tt := range tests {
		var got []string
		splitPieces(tt.in, func(p string) bool { got = append(got, p); return true })
		if !slices.Equal(got, tt.want) {
			t.Errorf("splitPieces(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
