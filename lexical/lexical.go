// Package lexical is a keyword index of short texts, ranked by BM25: the
// word-matching half of hybrid search, where it is fused with vector
// search (see Fuse).
//
// A CLIP model finds pictures by meaning but can miss a plain word it never
// learned; a caption or a file name that holds the word finds it. Texts are
// cut into words (runs of letters and digits, lower-cased), common English
// function words are dropped, and plurals are folded with Harman's
// S-stemmer, so that "dogs" finds "dog".
package lexical

import (
	"math"
	"slices"
	"strings"
	"unicode"

	"github.com/xmodal/xmodal/index"
)

// BM25's usual constants (Robertson and Zaragoza, 2009): term-frequency
// saturation and length normalisation.
const (
	k1 = 1.2
	b  = 0.75
)

// Doc is a document to index: an id and its texts (captions, a file name),
// read as one.
type Doc struct {
	ID    int64
	Texts []string
}

// Hit is a document found, with its BM25 score.
type Hit struct {
	ID    int64
	Score float32
}

type posting struct {
	doc int32 // position in Index.ids
	tf  uint16
}

// Index is a BM25 index that documents can be added to. Search may run
// concurrently with other searches, but not with Add.
type Index struct {
	ids      []int64
	lens     []float32 // words per document
	total    float64   // words in all documents
	postings map[string][]posting
}

// Build indexes docs.
func Build(docs []Doc) *Index {
	x := &Index{postings: map[string][]posting{}}
	x.Add(docs)
	return x
}

// Add indexes more documents. Their ids should be new: a document added
// twice is found twice.
func (x *Index) Add(docs []Doc) {
	tf := map[string]int{}
	for _, doc := range docs {
		d := int32(len(x.ids))
		clear(tf)
		n := 0
		for _, t := range doc.Texts {
			for _, w := range Terms(t) {
				tf[w]++
				n++
			}
		}
		x.ids = append(x.ids, doc.ID)
		x.lens = append(x.lens, float32(n))
		x.total += float64(n)
		for w, c := range tf {
			x.postings[w] = append(x.postings[w], posting{d, uint16(min(c, math.MaxUint16))})
		}
	}
}

// Len returns the number of documents.
func (x *Index) Len() int { return len(x.ids) }

// Search returns the k documents that score highest for the query's words,
// best first, equal scores in the order the documents were given to
// Build; a document with none of the words is not returned. keep, if not
// nil, says which documents may be returned.
func (x *Index) Search(query string, k int, keep func(id int64) bool) []Hit {
	terms := Terms(query)
	if len(terms) == 0 || k < 1 || len(x.ids) == 0 {
		return nil
	}
	// A dense array beats a map by far when common words touch many
	// documents; a document none of the words touch keeps score 0.
	scores := make([]float32, len(x.ids))
	n := float64(len(x.ids))
	avgLen := float32(x.total / n)
	for _, w := range dedup(terms) {
		ps := x.postings[w]
		if len(ps) == 0 {
			continue
		}
		// The non-negative form of BM25's idf (Lucene's): a word in most
		// documents still counts a little, never against.
		idf := float32(math.Log(1 + (n-float64(len(ps))+0.5)/(float64(len(ps))+0.5)))
		for _, p := range ps {
			f := float32(p.tf)
			norm := k1 * (1 - b + b*x.lens[p.doc]/avgLen)
			scores[p.doc] += idf * f * (k1 + 1) / (f + norm)
		}
	}
	top := index.TopK(scores, k, func(d int) bool { return scores[d] > 0 && (keep == nil || keep(x.ids[d])) })
	hits := make([]Hit, len(top))
	for i, h := range top {
		hits[i] = Hit{x.ids[h.Row], h.Score}
	}
	return hits
}

func dedup(ws []string) []string {
	slices.Sort(ws)
	return slices.Compact(ws)
}

// Terms cuts a text into the words the index matches on: lower-cased runs
// of letters and digits, without stop words, plurals folded. A file name
// such as "pets/black_dogs.jpg" gives "pet", "black", "dog", "jpg".
func Terms(text string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if stopWords[w] {
			continue
		}
		out = append(out, stem(w))
	}
	return out
}

// stem folds English plurals by Harman's S-stemmer (1991): "puppies" →
// "puppy", "horses" → "horse", "dogs" → "dog", while "glass" and "bus"
// stay. Unlike Harman's, it also spares words in -is ("axis", "tennis")
// and words shorter than four letters ("gas"): it errs on the side of
// leaving a word alone.
func stem(w string) string {
	if len(w) < 4 {
		return w
	}
	switch {
	case strings.HasSuffix(w, "ies") && !strings.HasSuffix(w, "eies") && !strings.HasSuffix(w, "aies"):
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "es") && !strings.HasSuffix(w, "aes") && !strings.HasSuffix(w, "ees") && !strings.HasSuffix(w, "oes"):
		return w[:len(w)-1]
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "is"):
		return w[:len(w)-1]
	}
	return w
}

// stopWords are English function words, which say nothing of a picture.
// Negations stay: "no dogs" is a different sign.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the and or of in on at to for from by with into onto over under
		is are was were be been being it its this that these those there here as than then
		some any his her their our your my me him them us i you he she we they`) {
		m[w] = true
	}
	return m
}()
