package tokenize

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

const fixtureDir = "../testdata/clip"

var (
	loadOnce sync.Once
	loaded   *Tokenizer
	loadErr  error
)

func testTokenizer(t testing.TB) *Tokenizer {
	t.Helper()
	loadOnce.Do(func() { loaded, loadErr = Load(filepath.Join(fixtureDir, "model-a")) })
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return loaded
}

// fixtureCase is one string of tokenizer_cases.json or texts.json.
type fixtureCase struct {
	Name           string
	Text           string `json:"text"`
	IDs            []int  `json:"ids"`
	IDsHF          []int  `json:"ids_hf"`
	Truncated      bool   `json:"truncated"`
	UntruncatedLen int    `json:"untruncated_len"` // tokenizer_cases.json only
}

func readFixtures(t *testing.T) []fixtureCase {
	t.Helper()
	var cases struct {
		Cases []fixtureCase `json:"cases"`
	}
	var texts struct {
		ContextLength int           `json:"context_length"`
		SOT           int           `json:"sot_id"`
		EOT           int           `json:"eot_id"`
		Items         []fixtureCase `json:"items"`
	}
	for file, v := range map[string]any{"tokenizer_cases.json": &cases, "texts.json": &texts} {
		data, err := os.ReadFile(filepath.Join(fixtureDir, file))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	if texts.ContextLength != 77 || texts.SOT != 49406 || texts.EOT != 49407 {
		t.Fatalf("texts.json header: context %d, sot %d, eot %d", texts.ContextLength, texts.SOT, texts.EOT)
	}
	if len(cases.Cases) != 250 || len(texts.Items) != 30 {
		t.Fatalf("got %d cases and %d texts, want 250 and 30", len(cases.Cases), len(texts.Items))
	}
	var all []fixtureCase
	for i, c := range cases.Cases {
		c.Name = fmt.Sprintf("cases/%03d", i)
		all = append(all, c)
	}
	for i, c := range texts.Items {
		c.Name = fmt.Sprintf("texts/%02d", i)
		all = append(all, c)
	}
	return all
}

// TestFixtures checks the acceptance rule: on every fixture string the ids
// equal the official ids or, where given, the HF-style ones. It reports
// which; this package implements the official cleaning, so every case is
// expected to match the official ids.
func TestFixtures(t *testing.T) {
	tok := testTokenizer(t)
	var official, hf, officialWhereHFDiffers []string
	for _, c := range readFixtures(t) {
		got, truncated := tok.EncodeTruncated(c.Text, 77)
		switch {
		case slices.Equal(got, c.IDs):
			official = append(official, c.Name)
			if c.IDsHF != nil {
				officialWhereHFDiffers = append(officialWhereHFDiffers, c.Name)
			}
		case c.IDsHF != nil && slices.Equal(got, c.IDsHF):
			hf = append(hf, c.Name)
		default:
			t.Errorf("%s %q:\n got  %v\n want %v (official)\n hf   %v", c.Name, c.Text, got, c.IDs, c.IDsHF)
			continue
		}
		if truncated != c.Truncated {
			t.Errorf("%s: truncated = %v, want %v", c.Name, truncated, c.Truncated)
		}
		if c.UntruncatedLen > 0 && slices.Equal(got, c.IDs) {
			if n := len(tok.Encode(c.Text, 0)); n != c.UntruncatedLen {
				t.Errorf("%s: untruncated length %d, want %d", c.Name, n, c.UntruncatedLen)
			}
		}
	}
	t.Logf("matched official ids: %d, HF-style ids: %d", len(official), len(hf))
	t.Logf("official ids where HF-style cleaning differs (%d): %s",
		len(officialWhereHFDiffers), strings.Join(officialWhereHFDiffers, " "))
	if len(hf) > 0 {
		t.Logf("HF-style matches: %s", strings.Join(hf, " "))
	}
}

func TestSpecialIDs(t *testing.T) {
	tok := testTokenizer(t)
	if tok.SOT() != 49406 || tok.EOT() != 49407 || tok.VocabSize() != 49408 {
		t.Errorf("SOT %d, EOT %d, VocabSize %d", tok.SOT(), tok.EOT(), tok.VocabSize())
	}
	got := tok.Encode("two <|endoftext|> eots <|ENDOFTEXT|> here", 77)
	want := []int{49406, 1237, 49407, 68, 5769, 49407, 763, 49407}
	if !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
	if got := tok.Encode("", 77); !slices.Equal(got, []int{49406, 49407}) {
		t.Errorf("Encode(\"\") = %v", got)
	}
}

func TestTruncation(t *testing.T) {
	tok := testTokenizer(t)
	text := strings.Repeat("dog ", 100)
	full := tok.Encode(text, 0)
	if len(full) != 102 {
		t.Fatalf("untruncated length %d, want 102", len(full))
	}
	for _, maxLen := range []int{1, 2, 3, 77, 101, 102, 103} {
		got, truncated := tok.EncodeTruncated(text, maxLen)
		if wantTrunc := maxLen < len(full); truncated != wantTrunc {
			t.Errorf("maxLen %d: truncated = %v", maxLen, truncated)
		}
		want := full
		if truncated {
			// clip.tokenize: tokens[:maxLen], then the last one is EOT.
			want = append(slices.Clone(full[:maxLen-1]), tok.EOT())
		}
		if !slices.Equal(got, want) {
			t.Errorf("maxLen %d: got %v, want %v", maxLen, got, want)
		}
	}
}

func TestDecode(t *testing.T) {
	tok := testTokenizer(t)
	for in, want := range map[string]string{
		"A photo of a CAT.":       "a photo of a cat .",
		"Съешь же ещё этих булок": "съешь же ещё этих булок",
		"猫 👩‍🔬 Ã©tÃ©":             "猫 👩‍🔬 été",
	} {
		if got := tok.Decode(tok.Encode(in, 0)); got != want {
			t.Errorf("Decode(Encode(%q)) = %q, want %q", in, got, want)
		}
	}
	if got := tok.Decode([]int{-1, 1 << 40, tok.SOT(), tok.EOT()}); got != "" {
		t.Errorf("Decode(unknown ids) = %q", got)
	}
}

func TestNewErrors(t *testing.T) {
	vocab := func(extra string) string {
		var b strings.Builder
		b.WriteString(`{"<|startoftext|>": 0, "<|endoftext|>": 1`)
		id := 2
		for c := range 256 {
			sym := string(byteToRune[c])
			fmt.Fprintf(&b, ", %q: %d, %q: %d", sym, id, sym+"</w>", id+1)
			id += 2
		}
		b.WriteString(extra + "}")
		return b.String()
	}
	tests := []struct {
		name, vocab, merges string
		ok                  bool
	}{
		{"minimal", vocab(`, "ab</w>": 900`), "#version: 0.2\na b</w>\n", true},
		{"bad json", "{", "", false},
		{"no sot", `{"<|endoftext|>": 1}`, "", false},
		{"missing byte symbols", `{"<|startoftext|>": 0, "<|endoftext|>": 1}`, "", false},
		{"merge result not in vocab", vocab(""), "a b</w>\n", false},
		{"malformed merge", vocab(""), "a b c\n", false},
	}
	for _, tt := range tests {
		tok, err := New(strings.NewReader(tt.vocab), strings.NewReader(tt.merges))
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v", tt.name, err)
			continue
		}
		if tt.ok {
			if got := tok.Encode("ab", 0); !slices.Equal(got, []int{0, 900, 1}) {
				t.Errorf("%s: Encode(ab) = %v", tt.name, got)
			}
		}
	}
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("Load of an empty folder should fail")
	}
}

// TestConcurrentEncode runs Encode from many goroutines (run with -race).
func TestConcurrentEncode(t *testing.T) {
	tok := testTokenizer(t)
	texts := []string{"a photograph of a red bicycle", "Ã©tÃ© Ã\u00a0 la plage",
		"ΣΟΦΟΣ ΛΟΓΟΣ", "猫猫猫", strings.Repeat("word ", 50)}
	want := make([][]int, len(texts))
	for i, s := range texts {
		want[i] = tok.Encode(s, 77)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				k := (g + i) % len(texts)
				if got := tok.Encode(texts[k], 77); !slices.Equal(got, want[k]) {
					t.Errorf("goroutine %d: Encode(%q) = %v", g, texts[k], got)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkEncode(b *testing.B) {
	tok := testTokenizer(b)
	for _, bm := range []struct{ name, text string }{
		{"short", "a photograph of a red bicycle leaning on a fence"},
		{"unicode", "Съешь же ещё этих мягких французских булок, ΣΟΦΟΣ 猫"},
		{"mojibake", "Ã©tÃ© Ã\u00a0 la plage, donâ€™t stop"},
		{"long", strings.Repeat("an astronaut riding a horse on the moon, digital art. ", 20)},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tok.Encode(bm.text, 77)
			}
		})
	}
	b.Run("uncached", func(b *testing.B) {
		// Distinct words every time: BPE runs instead of the cache.
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			tok.Encode(fmt.Sprintf("photographs%d of bicycles%dx", i, i), 77)
		}
	})
}
