package eval

import (
	"strings"
	"testing"
)

func TestMatches(t *testing.T) {
	for _, tc := range []struct {
		text  string
		words []string
		want  bool
	}{
		{"A dog runs", []string{"dog"}, true},
		{"two Dogs", []string{"dog"}, true},
		{"boxes of tea", []string{"box"}, true},
		{"hotdog stand", []string{"dog"}, false},
		{"doggy", []string{"dog"}, false},
		{"emoji_1f436_dog_face", []string{"dog"}, true},
		{"a cone of ice cream", []string{"ice cream"}, true},
		{"ice and cream", []string{"ice cream"}, false},
		{"ices cream", []string{"ice cream"}, false},
		{"", []string{"dog"}, false},
		{"a cat", []string{"dog", "cat"}, true},
	} {
		if got := Matches(tc.text, tc.words); got != tc.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", tc.text, tc.words, got, tc.want)
		}
	}
}

func TestReadQueries(t *testing.T) {
	cases, err := ReadQueries(strings.NewReader("# comment\n\na dog\tdog|Puppy\r\nice cream\tice cream\n"), "q.tsv")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 2 || cases[0].Query != "a dog" || strings.Join(cases[0].Words, ",") != "dog,puppy" || cases[1].Words[0] != "ice cream" {
		t.Errorf("got %+v", cases)
	}
	for _, tc := range []struct{ in, want string }{
		{"a dog\n", "q.tsv:1: want a query"},
		{"# only\n\ta|b\n", "q.tsv:2: want a query"},
		{"a dog\t | \n", "q.tsv:1: want a query"},
		{"# nothing\n", "q.tsv: no queries"},
	} {
		if _, err := ReadQueries(strings.NewReader(tc.in), "q.tsv"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadQueries(%q): %v, want %q", tc.in, err, tc.want)
		}
	}
}
