package eval

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode"

	"github.com/xmodal/xmodal/search"
	"github.com/xmodal/xmodal/workspace"
)

// QueryCase is one line of a query file: what a person types, and the
// words any of which in a hit's captions or file name makes it a match.
type QueryCase struct {
	Query string   `json:"query"`
	Words []string `json:"words"`
}

// ReadQueries reads a query file: one case a line, the query and then its
// words separated by "|", a tab between the two. Blank lines and lines
// starting with # are skipped. name is the file's name for errors.
func ReadQueries(r io.Reader, name string) ([]QueryCase, error) {
	var cases []QueryCase
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		q, words, ok := strings.Cut(line, "\t")
		c := QueryCase{Query: strings.TrimSpace(q)}
		for _, w := range strings.Split(words, "|") {
			if w = strings.ToLower(strings.TrimSpace(w)); w != "" {
				c.Words = append(c.Words, w)
			}
		}
		if !ok || c.Query == "" || len(c.Words) == 0 {
			return nil, fmt.Errorf("%s:%d: want a query, a tab, then words separated by |", name, n)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(cases) == 0 {
		return nil, fmt.Errorf("%s: no queries", name)
	}
	return cases, nil
}

// Matches reports whether text holds one of words as a whole word,
// ignoring case and allowing the plurals -s and -es. Words of several
// parts ("ice cream") match as a run of whole words.
func Matches(text string, words []string) bool {
	tokens := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	for _, w := range words {
		parts := strings.Fields(w)
		if len(parts) == 0 {
			continue
		}
		for i := 0; i+len(parts) <= len(tokens); i++ {
			if runMatches(tokens[i:i+len(parts)], parts) {
				return true
			}
		}
	}
	return false
}

// runMatches compares tokens with parts, the last one allowed a plural.
func runMatches(tokens, parts []string) bool {
	last := len(parts) - 1
	for i, p := range parts {
		t := tokens[i]
		if t == p || (i == last && (t == p+"s" || t == p+"es")) {
			continue
		}
		return false
	}
	return true
}

// QueryOutcome is how one query fared.
type QueryOutcome struct {
	Query string `json:"query"`
	// Rank is the 1-based rank of the first matching image, 0 for none in
	// the top k.
	Rank int `json:"rank"`
	// Top names the top k images (their keys), best first.
	Top []string `json:"top"`
}

// QueryReport is the outcome of a query file against a workspace.
type QueryReport struct {
	K        int            `json:"k"`
	Hits     int            `json:"hits"` // queries with a match in the top K
	Total    int            `json:"total"`
	Outcomes []QueryOutcome `json:"queries"`
}

// Queries runs each case as a text→image search and checks the top k
// images: a hit is one whose captions or file name match a case's words.
// It is the check a person makes when trying the demo, kept as a number.
func Queries(ctx context.Context, e *search.Engine, cases []QueryCase, k int) (QueryReport, error) {
	rep := QueryReport{K: k, Total: len(cases)}
	qs := make([]search.Query, len(cases))
	for i, c := range cases {
		qs[i] = search.Query{Text: c.Query, Targets: []workspace.Kind{workspace.Images}, TopK: k}
	}
	results, err := e.SearchAll(ctx, qs)
	if err != nil {
		return rep, err
	}
	for i, c := range cases {
		out := QueryOutcome{Query: c.Query}
		for j, h := range results[i].Hits[workspace.Images] {
			out.Top = append(out.Top, h.Key)
			name := strings.TrimSuffix(path.Base(h.Key), path.Ext(h.Key))
			if out.Rank == 0 && Matches(name+" "+strings.Join(h.Captions, " "), c.Words) {
				out.Rank = j + 1
			}
		}
		if out.Rank > 0 {
			rep.Hits++
		}
		rep.Outcomes = append(rep.Outcomes, out)
	}
	return rep, nil
}
