package tokenize

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
	"unicode/utf8"
)

func TestZZDiff(t *testing.T) {
	data, err := os.ReadFile("/tmp/diff/cases.json")
	if err != nil {
		t.Skip(err)
	}
	var cases []struct {
		Text, Unescape, Lower, Strip, WS, NFC string
		Pieces                                []string
		HFIDs                                 []int `json:"hf_ids"`
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	tok := testTokenizer(t)
	bad := map[string]int{}
	for _, c := range cases {
		if !utf8.ValidString(c.Text) {
			continue
		}
		check := func(kind, got, want string) {
			if got != want {
				bad[kind]++
				if bad[kind] <= 5 {
					t.Errorf("%s %+q: got %+q want %+q", kind, c.Text, got, want)
				}
			}
		}
		check("unescape", pyHTMLUnescape(c.Text), c.Unescape)
		check("lower", pyLower(c.Text), c.Lower)
		check("strip", pyStrip(c.Text), c.Strip)
		check("ws", collapseWhitespace(c.Text), c.WS)
		check("nfc", nfc(c.Text), c.NFC)
		check("nfcLong", nfcLong(c.Text), c.NFC)
		var pieces []string
		splitPieces(c.Text, func(p string) bool { pieces = append(pieces, p); return true })
		if !slices.Equal(pieces, c.Pieces) && !(len(pieces) == 0 && len(c.Pieces) == 0) {
			bad["pieces"]++
			if bad["pieces"] <= 5 {
				t.Errorf("pieces %+q: got %+q want %+q", c.Text, pieces, c.Pieces)
			}
		}
		clean := pyLower(pyStrip(collapseWhitespace(nfc(c.Text))))
		ids := []int{tok.sot}
		var sym []int32
		splitPieces(clean, func(p string) bool {
			switch p {
			case sotText:
				ids = append(ids, tok.sot)
			case eotText:
				ids = append(ids, tok.eot)
			default:
				for _, id := range tok.bpe(p, &sym) {
					ids = append(ids, int(id))
				}
			}
			return true
		})
		ids = append(ids, tok.eot)
		if !slices.Equal(ids, c.HFIDs) {
			bad["hfids"]++
			if bad["hfids"] <= 5 {
				t.Errorf("hfids %+q: got %v want %v", c.Text, ids, c.HFIDs)
			}
		}
	}
	t.Logf("%d cases, mismatches %v", len(cases), bad)
}
