package tokenize

import (
	"encoding/json"
	"os"
	"testing"

	"golang.org/x/text/unicode/norm"
)

func TestZZNFC(t *testing.T) {
	data, err := os.ReadFile("/tmp/diff/nfc.json")
	if err != nil {
		t.Skip(err)
	}
	var cases []struct{ Text, NFC string }
	json.Unmarshal(data, &cases)
	bad, badX := 0, 0
	for _, c := range cases {
		if got := nfc(c.Text); got != c.NFC {
			bad++
			if bad < 4 {
				t.Errorf("%+q:\n got %+q\nwant %+q", c.Text, got, c.NFC)
			}
		}
		if norm.NFC.String(c.Text) != c.NFC {
			badX++
		}
	}
	t.Logf("%d cases: nfc mismatches %d, plain x/text mismatches %d", len(cases), bad, badX)
}
