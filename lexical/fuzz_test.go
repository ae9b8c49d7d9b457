package lexical

import (
	"slices"
	"strings"
	"testing"
	"unicode"
)

// FuzzSearch indexes fuzzed texts and searches them with a fuzzed query:
// terms are lower-case words without stop words, and every hit holds one
// of the query's terms, best first.
func FuzzSearch(f *testing.F) {
	f.Add("a red car\ncars/red.png", "a dog on a beach\nbeach/dog_running.jpg", "Red CARS")
	f.Add("Crème brûlée", "2 cups", "crème, CUPS!")
	f.Add("", "of the", "the")
	f.Fuzz(func(t *testing.T, doc1, doc2, query string) {
		for _, w := range Terms(query) {
			if w == "" || stopWords[w] || strings.IndexFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) >= 0 {
				t.Fatalf("Terms(%q) gave %q", query, w)
			}
			if strings.ToLower(w) != w {
				t.Fatalf("Terms(%q) gave %q, not lower-cased", query, w)
			}
		}
		docs := []Doc{{1, strings.Split(doc1, "\n")}, {2, strings.Split(doc2, "\n")}}
		x := Build(docs)
		hits := x.Search(query, 2, nil)
		if len(hits) > 2 {
			t.Fatalf("%d hits for k 2", len(hits))
		}
		want := Terms(query)
		for i, h := range hits {
			if h.Score <= 0 || i > 0 && h.Score > hits[i-1].Score {
				t.Fatalf("hits out of order or unscored: %v", hits)
			}
			var terms []string
			for _, text := range docs[h.ID-1].Texts {
				terms = append(terms, Terms(text)...)
			}
			if !slices.ContainsFunc(want, func(w string) bool { return slices.Contains(terms, w) }) {
				t.Fatalf("document %d (%q) has none of the query's terms %q", h.ID, terms, want)
			}
		}
	})
}
