package tokenize

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// The VSE++ fixtures' cases, tokenised by NLTK 3.8 (word_tokenize with
// preserve_line=True on the Python-lower-cased text).
func TestTreebankFixtures(t *testing.T) {
	f, err := os.Open("../testdata/vsepp/goldens/tokenizer_cases.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var c struct {
			ID     int      `json:"id"`
			Text   string   `json:"text"`
			Lower  string   `json:"lower"`
			Tokens []string `json:"tokens"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		n++
		if got := PyLower(c.Text); got != c.Lower {
			t.Errorf("case %d: lower %q, want %q", c.ID, got, c.Lower)
		}
		if got := Treebank(c.Lower); !slices.Equal(got, c.Tokens) {
			t.Errorf("case %d %q:\n got %q\nwant %q", c.ID, c.Lower, got, c.Tokens)
		}
	}
	if n < 100 {
		t.Fatalf("%d cases", n)
	}
}

// FuzzTreebank: any text splits into non-empty tokens without spaces.
func FuzzTreebank(f *testing.F) {
	for _, s := range []string{"a man said \"hello\" to the dog.", "they'd've gone", "cannot wanna 'tis", "u.s. (a) --b... ?!", "«quoted» ’x’"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range Treebank(s) {
			if tok == "" || strings.IndexFunc(tok, isPySpace) >= 0 {
				t.Fatalf("%q: token %q", s, tok)
			}
		}
	})
}
