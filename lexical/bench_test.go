package lexical

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// flickr30kLike makes documents shaped like Flickr30k's: 31,783 images of
// five captions of about twelve words, drawn from an 18,000-word
// vocabulary with Zipf's frequencies, as natural text has.
func flickr30kLike() []Doc {
	r := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.1, 1, 17_999)
	docs := make([]Doc, 31_783)
	var b strings.Builder
	for i := range docs {
		texts := make([]string, 5)
		for c := range texts {
			b.Reset()
			for range 8 + r.IntN(9) {
				b.WriteString("w" + strconv.FormatUint(zipf.Uint64(), 36) + " ")
			}
			texts[c] = b.String()
		}
		docs[i] = Doc{ID: int64(i + 1), Texts: texts}
	}
	return docs
}

// BenchmarkBuild's B/op is about what the index holds in memory.
func BenchmarkBuild(b *testing.B) {
	docs := flickr30kLike()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Build(docs)
	}
}

func BenchmarkSearch(b *testing.B) {
	docs := flickr30kLike()
	x := Build(docs)
	queries := []string{"w1 w2 w3", "w5 wa wz1", "w10 w100 w1000 w2000"}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		x.Search(queries[i%len(queries)], 100, nil)
	}
}
