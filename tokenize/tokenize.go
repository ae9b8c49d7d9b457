// Package tokenize is CLIP's byte-level BPE tokenizer, as the official
// OpenAI code (clip/simple_tokenizer.py, clip.tokenize with truncate=True)
// computes it, reading the vocab.json and merges.txt of a Hugging Face
// CLIP model folder.
//
// # Which behaviour is matched
//
// The ids are those of the official tokenizer with ftfy 6.3.1 on Python
// 3.11, including its text cleaning:
//
//  1. ftfy.fix_text with its default configuration, ported in full
//     (ftfy.go, ftfy_encoding.go, ftfy_badness.go): per line, HTML entity
//     decoding (skipped from the first line that contains '<' on), mojibake
//     repair ("Ã©" → "é", "â€™" → "’", "ÐŸÑ€Ð¸Ð²ÐµÑ‚" → "Привет", with the
//     badness heuristic, the sloppy Windows code pages, restore_byte_a0,
//     lossy sequences, CESU-8 and decode_inconsistent_utf8), C1 controls
//     read as Windows-1252 (U+0085 → "…"), Latin ligatures, full-width
//     ASCII and half-width katakana to normal width, curly quotes to
//     straight ones, line breaks to '\n', ANSI escapes and invisible control
//     characters removed, and NFC; repeated until the text stops changing.
//  2. Python's html.unescape, twice: entities without ';' ("&amp" → "&",
//     "&notanentity;" → "¬anentity;"), references to control code points
//     dropped ("&#1;", "&#x7f;").
//  3. Python's str.strip, then every run of Unicode White_Space replaced by
//     one space (unicode.IsSpace; Go's regexp \s is ASCII-only), strip again.
//  4. Python's str.lower: full case mapping ("İ" → "i̇") and the Final_Sigma
//     rule ("ΟΔΟΣ" → "οδος").
//
// Then the text is split with CLIP's pattern (see splitPieces), each
// piece's UTF-8 bytes go through GPT-2's byte-to-unicode map and BPE with
// "</w>" on the last symbol, and "<|startoftext|>" and "<|endoftext|>"
// pieces become the special ids. The result is [SOT] + tokens + [EOT],
// truncated like clip.tokenize(truncate=True).
//
// This is not the Hugging Face (CLIPTokenizerFast) cleaning, which only
// applies NFC, collapses white space and lower-cases: the two differ on
// curly quotes, full-width and half-width forms, control characters, HTML
// entities and mojibake.
//
// The fixtures in ../testdata/clip (280 strings) all give the official ids.
// During development, lower-casing, stripping, white space, HTML
// unescaping, NFC and the pre-tokenizer were also compared with CPython
// 3.11 and the regex module on random strings, and the ftfy port with
// ftfy's own test cases (all pass but one that needs a newer ftfy).
//
// Known limits: the Unicode tables are Go's (15.0) where Python 3.11 has
// 14.0 (and the regex module its own), so characters assigned after
// Unicode 14 may be classified differently; invalid UTF-8 in the input is
// replaced by U+FFFD first (a Python str cannot hold it); ftfy's repair
// loops stop after 32 rounds where ftfy has no bound.
package tokenize

//go:generate python3 gen_tables.py

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"
)

// Tokenizer is CLIP's byte-level BPE tokenizer. Safe for concurrent use.
type Tokenizer struct {
	vocab   map[string]int
	decoder []string // id -> symbol; "" for ids not in vocab.json

	sot, eot int

	// byteSym[b] and byteSymEnd[b] are the ids of byte b's symbol without
	// and with the "</w>" suffix.
	byteSym, byteSymEnd [256]int32

	// merges maps a pair of symbol ids to the merge's rank and result.
	merges map[uint64]merge

	cache bpeCache
}

type merge struct {
	rank int32
	id   int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// Load reads vocab.json and merges.txt from a model folder.
func Load(dir string) (*Tokenizer, error) {
	vf, err := os.Open(filepath.Join(dir, "vocab.json"))
	if err != nil {
		return nil, err
	}
	defer vf.Close()
	mf, err := os.Open(filepath.Join(dir, "merges.txt"))
	if err != nil {
		return nil, err
	}
	defer mf.Close()
	return New(vf, mf)
}

// New builds a tokenizer from the contents of vocab.json and merges.txt.
//
// Every line of merges.txt but a leading "#version" line and empty lines
// is a merge "a b", ranked by its position; as in the official code, a
// repeated pair keeps its last rank. a, b and their concatenation must all
// be in the vocabulary, as must the 256 byte symbols with and without
// "</w>", so that every token the BPE can produce has an id. (The official
// code reads only the first 48,894 merges, which is all of CLIP's
// merges.txt; here a longer file is used in full.)
func New(vocabJSON io.Reader, merges io.Reader) (*Tokenizer, error) {
	t := &Tokenizer{}
	if err := json.NewDecoder(vocabJSON).Decode(&t.vocab); err != nil {
		return nil, fmt.Errorf("tokenize: vocab.json: %w", err)
	}
	var ok bool
	if t.sot, ok = t.vocab[sotText]; !ok {
		return nil, errors.New("tokenize: vocab.json has no " + sotText)
	}
	if t.eot, ok = t.vocab[eotText]; !ok {
		return nil, errors.New("tokenize: vocab.json has no " + eotText)
	}
	maxID := 0
	for sym, id := range t.vocab {
		if id < 0 || id > 1<<30 {
			return nil, fmt.Errorf("tokenize: vocab.json: id %d of %q out of range", id, sym)
		}
		maxID = max(maxID, id)
	}
	t.decoder = make([]string, maxID+1)
	for sym, id := range t.vocab {
		t.decoder[id] = sym
	}
	for b := range 256 {
		sym := string(byteToRune[b])
		id, ok1 := t.vocab[sym]
		idEnd, ok2 := t.vocab[sym+"</w>"]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("tokenize: vocab.json lacks the symbol of byte %#02x", b)
		}
		t.byteSym[b], t.byteSymEnd[b] = int32(id), int32(idEnd)
	}

	data, err := io.ReadAll(merges)
	if err != nil {
		return nil, fmt.Errorf("tokenize: merges.txt: %w", err)
	}
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	if len(lines) > 0 && strings.HasPrefix(lines[0], "#version") {
		lines = lines[1:]
	}
	t.merges = make(map[uint64]merge, len(lines))
	rank := int32(0)
	for n, line := range lines {
		if line == "" {
			continue
		}
		a, b, ok := strings.Cut(line, " ")
		if !ok || strings.Contains(b, " ") {
			return nil, fmt.Errorf("tokenize: merges.txt line %d: want two symbols, got %q", n+1, line)
		}
		ia, oka := t.vocab[a]
		ib, okb := t.vocab[b]
		im, okm := t.vocab[a+b]
		if !oka || !okb || !okm {
			return nil, fmt.Errorf("tokenize: merges.txt line %d: %q: symbol not in vocab.json", n+1, line)
		}
		t.merges[pairKey(int32(ia), int32(ib))] = merge{rank: rank, id: int32(im)}
		rank++
	}
	t.cache.m = make(map[string][]int32)
	return t, nil
}

// VocabSize returns the number of entries in vocab.json.
func (t *Tokenizer) VocabSize() int { return len(t.vocab) }

// SOT returns the id of <|startoftext|>, as vocab.json gives it.
func (t *Tokenizer) SOT() int { return t.sot }

// EOT returns the id of <|endoftext|>, as vocab.json gives it.
func (t *Tokenizer) EOT() int { return t.eot }

// Encode returns the ids of text from <|startoftext|> up to and including
// <|endoftext|>, truncated to maxLen tokens (keeping EOT last). maxLen<=0
// means no truncation. CLIP models use maxLen 77.
func (t *Tokenizer) Encode(text string, maxLen int) []int {
	ids, _ := t.EncodeTruncated(text, maxLen)
	return ids
}

// EncodeTruncated is Encode plus whether truncation happened.
//
// A truncated result keeps SOT and the first maxLen-2 tokens and puts EOT
// last, as clip.tokenize(truncate=True) does. "<|startoftext|>" and
// "<|endoftext|>" inside the text become their special ids (the model
// pools at the first EOT).
func (t *Tokenizer) EncodeTruncated(text string, maxLen int) (ids []int, truncated bool) {
	ids = make([]int, 0, 32)
	ids = append(ids, t.sot)
	var sym []int32 // scratch for the BPE
	splitPieces(cleanText(text), func(piece string) bool {
		switch piece {
		case sotText:
			ids = append(ids, t.sot)
		case eotText:
			ids = append(ids, t.eot)
		default:
			for _, id := range t.bpe(piece, &sym) {
				ids = append(ids, int(id))
			}
		}
		// Once past maxLen (counting the final EOT) the rest cannot show.
		return maxLen <= 0 || len(ids)+1 <= maxLen
	})
	ids = append(ids, t.eot)
	if maxLen > 0 && len(ids) > maxLen {
		ids = ids[:maxLen]
		ids[maxLen-1] = t.eot
		truncated = true
	}
	return ids, truncated
}

// bpe returns the token ids of one piece (raw UTF-8). The result may be
// shared with the cache and must not be modified.
func (t *Tokenizer) bpe(piece string, scratch *[]int32) []int32 {
	if ids, ok := t.cache.get(piece); ok {
		return ids
	}
	// One symbol per byte (through the byte-to-unicode map); the last one
	// carries the end-of-word marker.
	word := (*scratch)[:0]
	for i := 0; i < len(piece); i++ {
		if i == len(piece)-1 {
			word = append(word, t.byteSymEnd[piece[i]])
		} else {
			word = append(word, t.byteSym[piece[i]])
		}
	}
	// Repeatedly merge the pair of lowest rank, every occurrence of it,
	// left to right, until no pair of adjacent symbols is a merge.
	for len(word) > 1 {
		best := merge{rank: -1}
		var bestA, bestB int32
		for i := 0; i+1 < len(word); i++ {
			m, ok := t.merges[pairKey(word[i], word[i+1])]
			if ok && (best.rank < 0 || m.rank < best.rank) {
				best, bestA, bestB = m, word[i], word[i+1]
			}
		}
		if best.rank < 0 {
			break
		}
		j := 0
		for i := 0; i < len(word); j++ {
			if i+1 < len(word) && word[i] == bestA && word[i+1] == bestB {
				word[j] = best.id
				i += 2
			} else {
				word[j] = word[i]
				i++
			}
		}
		word = word[:j]
	}
	*scratch = word
	ids := append([]int32(nil), word...)
	t.cache.put(piece, ids)
	return ids
}

// Decode is a best-effort inverse of Encode, useful for debugging: SOT and
// EOT ids are dropped, "</w>" becomes a space (trailing space trimmed), and
// byte sequences that are not UTF-8 become U+FFFD. Cleaning (lower-casing,
// ftfy) cannot be undone. Unknown ids are skipped.
func (t *Tokenizer) Decode(ids []int) string {
	var b []byte
	for _, id := range ids {
		if id == t.sot || id == t.eot || id < 0 || id >= len(t.decoder) {
			continue
		}
		sym := t.decoder[id]
		word, end := strings.CutSuffix(sym, "</w>")
		for _, r := range word {
			if c, ok := runeToByte[r]; ok {
				b = append(b, c)
			} else {
				b = utf8.AppendRune(b, r)
			}
		}
		if end {
			b = append(b, ' ')
		}
	}
	return strings.TrimRight(strings.ToValidUTF8(string(b), "\uFFFD"), " ")
}

// byteToRune is GPT-2's bytes_to_unicode: printable bytes map to
// themselves, the other 68 to U+0100 onwards, in byte order. It makes every
// byte a printable character, so BPE symbols are strings.
var byteToRune, runeToByte = func() ([256]rune, map[rune]byte) {
	var fwd [256]rune
	inv := make(map[rune]byte, 256)
	next := rune(256)
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff) {
			fwd[b] = rune(b)
		} else {
			fwd[b] = next
			next++
		}
		inv[fwd[b]] = byte(b)
	}
	return fwd, inv
}()

// bpeCache remembers the BPE of pieces. It is bounded: when full it is
// emptied, which is cheap and keeps memory flat under arbitrary input.
type bpeCache struct {
	mu sync.RWMutex
	m  map[string][]int32
}

const (
	maxCacheEntries  = 1 << 16
	maxCachedPieceSz = 64 // longer pieces rarely repeat
)

func (c *bpeCache) get(piece string) ([]int32, bool) {
	c.mu.RLock()
	ids, ok := c.m[piece]
	c.mu.RUnlock()
	return ids, ok
}

func (c *bpeCache) put(piece string, ids []int32) {
	if len(piece) > maxCachedPieceSz {
		return
	}
	c.mu.Lock()
	if len(c.m) >= maxCacheEntries {
		clear(c.m)
	}
	c.m[piece] = ids
	c.mu.Unlock()
}
