package tokenize

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// Expected values in this file are ftfy 6.3.1's behaviour (from its
// documentation and test cases) or computed with CPython 3.11.

func TestFtfyUnescapeHTML(t *testing.T) {
	tests := []struct{ in, want string }{
		{"&lt;tag&gt;", "<tag>"},
		{"&Jscr;ohn &HilbertSpace;ancock", "𝒥ohn ℋancock"},
		{"P&EACUTE;REZ", "PÉREZ"},
		{"BUNDESSTRA&SZLIG;E", "BUNDESSTRASSE"},
		{"&ntilde; &Ntilde; &NTILDE; &nTILDE;", "ñ Ñ Ñ &nTILDE;"},
		// Only references with a ';' are decoded.
		{"&amp &ampersand &notanentity;", "&amp &ampersand &notanentity;"},
		{"&#1;&#x1F600;&#12a;", "😀&#12a;"},
	}
	for _, tt := range tests {
		if got := ftfyUnescapeHTML(tt.in); got != tt.want {
			t.Errorf("ftfyUnescapeHTML(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFixText(t *testing.T) {
	tests := []struct{ in, want string }{
		// Mojibake.
		{"Ã©tÃ© Ã\u00a0 la plage", "été à la plage"},
		{"donâ€™t", "don't"},
		{"ÐŸÑ€Ð¸Ð²ÐµÑ‚", "Привет"},
		{"æ—¥æœ¬èªž", "日本語"},
		{"ðŸ˜€ emoji", "😀 emoji"},
		{"â€œquotedâ€\u009d", `"quoted"`},
		{"voilÃ le travail", "voilà le travail"},
		{"The Mona Lisa doesnÃƒÂ¢Ã¢â€šÂ¬Ã¢â€žÂ¢t have eyebrows.", "The Mona Lisa doesn't have eyebrows."},
		{"Hi guys í\u00a0½í¸\u008d", "Hi guys 😍"}, // CESU-8
		{"â€œlossy decodingâ€�", "\"lossy decoding\ufffd"},
		{"Campeonatos > III DivisÃ£o - SÃ©rie F > Jornadas Classificação",
			"Campeonatos > III Divisão - Série F > Jornadas Classificação"},
		// Text that only looks like mojibake is left alone.
		{"I'm not such a fan of Charlotte Brontë…”", "I'm not such a fan of Charlotte Brontë…\""},
		{"HÅØYA ER BLÅØYD", "HÅØYA ER BLÅØYD"},
		{"ESSE CARA AI QUEM É¿", "ESSE CARA AI QUEM É¿"},
		// C1 controls as Windows-1252.
		{"c1\u0080\u009fcontrols", "c1€Ÿcontrols"},
		{"next\u0085line", "next…line"},
		// HTML, unless the text has a '<' (then from that line on).
		{"&amp;lt;tag&amp;gt;", "<tag>"},
		{"a < b &amp; c", "a < b &amp; c"},
		{"&amp;\n<\n&amp;", "&\n<\n&amp;"},
		// Widths, ligatures, quotes, controls, line breaks, escapes.
		{"ＬＯＵＤ\u3000ＮＯＩＳＥＳ", "LOUD NOISES"},
		{"ｶﾞｷﾞ Ｕﾀｰﾝ", "ガギ Uターン"},
		{"ﬂuﬃeﬆ ǉ", "fluffiest lj"},
		{"‘single’ “double” „low“ ʼ", `'single' "double" "low" '`},
		{"\x07bell\x00\x7f\ufeff\u206a\ufffc ok\u200d", "bell ok\u200d"},
		{"a\r\nb\rc\u2028d\u2029e", "a\nb\nc\nd\ne"},
		{"\x1b[36;44mblue\x1b[0m \x1b]0;title\x07", "blue ]0;title"},
		// NFC.
		{"e\u0301 \u1100\u1161\u11a8", "é 각"},
	}
	for _, tt := range tests {
		if got := fixText(tt.in); got != tt.want {
			t.Errorf("fixText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNFCLongMarkRuns(t *testing.T) {
	// x/text's NFC would insert U+034F after 30 marks and order the marks
	// in pieces; Python's does neither.
	marks := strings.Repeat("\u0316\u0301", 20) // 40 marks, classes 220 and 230
	in := "a" + marks + "b"
	want := "á" + strings.Repeat("\u0316", 20) + strings.Repeat("\u0301", 19) + "b"
	if got := nfc(in); got != want {
		t.Errorf("nfc(long run) = %+q, want %+q", got, want)
	}
	if got := nfc("A\u030a\u0323"); got != "\u1ea0\u030a" { // Ạ + ring: canonical order first
		t.Errorf("nfc = %+q", got)
	}
}

func TestUTF8Clues(t *testing.T) {
	// Spot checks of the sets derived from the code pages against ftfy's
	// hand-written UTF8_CLUES.
	sizes := map[string]struct {
		set  map[rune]bool
		want int
	}{
		"first_of_2":          {utf8FirstOf2, 124},
		"first_of_3":          {utf8FirstOf3, 66},
		"first_of_4":          {utf8FirstOf4, 9},
		"continuation":        {utf8Continuation, 159},
		"continuation_strict": {utf8ContinuationStrict, 147},
	}
	for name, s := range sizes {
		if len(s.set) != s.want {
			t.Errorf("%s has %d characters, want %d", name, len(s.set), s.want)
		}
	}
	for _, r := range "ÂÃĂВЯΒΩάß×" {
		if !utf8FirstOf2[r] {
			t.Errorf("%q should start a 2-byte sequence", r)
		}
	}
	for _, r := range "ðóđğšπσру" {
		if !utf8FirstOf4[r] {
			t.Errorf("%q should start a 4-byte sequence", r)
		}
	}
	if utf8ContinuationStrict[' '] || utf8ContinuationStrict['…'] || !utf8ContinuationStrict['€'] {
		t.Error("wrong strict continuation set")
	}
	if !utf8Continuation['Ÿ'] {
		t.Error("Ÿ (Windows-1252 0x9F) should be a continuation")
	}
}

// TestBadnessMatcher checks isBad against BADNESS_RE compiled with the
// regexp package, on fixture-like text and on random strings made of the
// characters the heuristic looks at.
func TestBadnessMatcher(t *testing.T) {
	alts := make([]string, len(badnessAlternatives))
	for i := range alts {
		alts[i] = badnessPattern(i)
	}
	re := regexp.MustCompile(strings.Join(alts, "|"))
	check := func(s string) {
		if got, want := isBad(s), re.MatchString(s); got != want {
			t.Errorf("isBad(%+q) = %v, regexp says %v", s, got, want)
		}
	}
	for _, s := range []string{"", "plain ascii", "café crème", "Ã©tÃ©", "ÃŸ", "Ã ", "a Ã ",
		"ΣΟΦΟΣ", "РґРѕСЂРѕРіРµ", "ГўВЂВ™s", "вЂ", "×²", "Œx", "œa", "É°", "ā€", "β€™",
		"OÃ™ ET", "4288×…", "├┤a┼┐a", "é”a", "é”", "\u0085", "x ÉÂ£"} {
		check(s)
	}
	pool := []rune("aZz .,?!\n\t\u00a0\u3000" +
		"ÂÃÎÐÉÙØàé×²³°µ€œŒŠšŸž¢£¥¡¿«»®©·´–—‘’“”„•…†‡‰‹›™ƒˆ˜¨¬¯¸¦¤ª" +
		"ВГРСвЂўβΒΓΞΟΆά√≈∂≠±≤≥‚Äìó│┌═▓ÒÓñāĂğİŁ\u0080\u0081\u009d\ufffd\uf8ff")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50000 {
		n := 1 + rng.IntN(6)
		rs := make([]rune, n)
		for i := range rs {
			rs[i] = pool[rng.IntN(len(pool))]
		}
		check(string(rs))
	}
}
