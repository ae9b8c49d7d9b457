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
	var official, hf []string
	for _, c := range readFixtures(t) {
		got, truncated := tok.EncodeTruncated(c.Text, 77)
		switch {
		case slices.Equal(got, c.IDs):
			official = append(official, c.Name)
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
	if len(hf) > 0 {
		t.Logf("HF-style matches: %s", strings.Join(hf, " "))
	}
}
