package dataset

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// writeTree creates files under a new temporary directory and returns it.
// Keys are slash-separated paths; a key ending in "/" is an empty folder.
// Images can be empty files: the readers never decode them.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// img is the part of an Image a test states; Path follows from Key.
type img struct {
	Key      string
	Split    string
	Captions []string
}

// formatCase is a dataset in a format's real layout and what reading it gives.
type formatCase struct {
	name     string
	files    map[string]string
	format   string // what Detect must say and Open is given
	want     []img
	problems []string // Problem.String() of each, in order
}

// checkOpen opens the case's dataset with its format and with "auto" and
// compares both with the expectation.
func checkOpen(t *testing.T, c formatCase) {
	t.Helper()
	root := writeTree(t, c.files)
	got, err := Detect(root)
	if err != nil || got != c.format {
		t.Fatalf("Detect = %q, %v; want %q", got, err, c.format)
	}
	for _, format := range []string{c.format, "auto", ""} {
		d, err := Open(root, format)
		if err != nil {
			t.Fatalf("Open(%q): %v", format, err)
		}
		if d.Format != c.format || d.Root != root {
			t.Errorf("Open(%q): Format, Root = %q, %q; want %q, %q", format, d.Format, d.Root, c.format, root)
		}
		var images []img
		for _, im := range d.Images {
			images = append(images, img{im.Key, im.Split, im.Captions})
			if want := filepath.Join(root, filepath.FromSlash(im.Key)); im.Path != want {
				t.Errorf("Open(%q): %s: Path = %q, want %q", format, im.Key, im.Path, want)
			}
		}
		if !reflect.DeepEqual(images, c.want) {
			t.Errorf("Open(%q): images:\n%s\nwant:\n%s", format, dump(images), dump(c.want))
		}
		var problems []string
		for _, p := range d.Problems {
			problems = append(problems, p.String())
		}
		if !slices.Equal(problems, c.problems) {
			t.Errorf("Open(%q): problems:\n%s\nwant:\n%s", format, strings.Join(problems, "\n"), strings.Join(c.problems, "\n"))
		}
	}
}

func dump(images []img) string {
	var sb strings.Builder
	for _, im := range images {
		sb.WriteString("  " + im.Key + " [" + im.Split + "]")
		for _, c := range im.Captions {
			sb.WriteString(" | " + c)
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

func TestSplitRow(t *testing.T) {
	tests := []struct {
		line string
		sep  byte
		want []string
	}{
		{`a.jpg,A dog .`, ',', []string{"a.jpg", "A dog ."}},
		{`a.jpg,"A dog, running ."`, ',', []string{"a.jpg", "A dog, running ."}},
		{`a.jpg,"He said ""hi"" ."`, ',', []string{"a.jpg", `He said "hi" .`}},
		{`a.jpg,A dog, running .`, ',', []string{"a.jpg", "A dog", " running ."}},
		{`a.jpg,"A "big" dog ."`, ',', []string{"a.jpg", `A "big" dog .`}},
		{`a.jpg,"Hello" said the man .`, ',', []string{"a.jpg", `"Hello" said the man .`}},
		{`a.jpg,A 6" sub .`, ',', []string{"a.jpg", `A 6" sub .`}},
		{`a.jpg,"open quote`, ',', []string{"a.jpg", `"open quote`}},
		{`"a.jpg","x",train`, ',', []string{"a.jpg", "x", "train"}},
		{`a.jpg,`, ',', []string{"a.jpg", ""}},
		{`a.jpg`, ',', []string{"a.jpg"}},
		{"a.jpg\tA dog, \"quoted\" .", '\t', []string{"a.jpg", `A dog, "quoted" .`}},
	}
	for _, tt := range tests {
		if got := splitRow(tt.line, tt.sep); !slices.Equal(got, tt.want) {
			t.Errorf("splitRow(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestIsImageFile(t *testing.T) {
	for name, want := range map[string]bool{
		"a.jpg": true, "A.JPG": true, "b.jpeg": true, "dir/c.Png": true, "d.gif": true, "e.webp": true, "f.bmp": true,
		"g.txt": false, "h": false, "2258277193_586949ec62.jpg.1": false, "i.tiff": false, ".jpg.txt": false,
	} {
		if got := IsImageFile(name); got != want {
			t.Errorf("IsImageFile(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestProblemString(t *testing.T) {
	if got := (Problem{"captions.txt", 17, "want 2 fields, got 1"}).String(); got != "captions.txt:17: want 2 fields, got 1" {
		t.Errorf("got %q", got)
	}
	if got := (Problem{"dataset_coco.json", 0, "images[3]: no filename"}).String(); got != "dataset_coco.json: images[3]: no filename" {
		t.Errorf("got %q", got)
	}
}

func TestFormats(t *testing.T) {
	got := Formats()
	for _, f := range got[1:] {
		if readers[f] == nil {
			t.Errorf("format %q has no reader", f)
		}
	}
	if len(got) != len(readers)+1 || got[0] != "auto" {
		t.Errorf("Formats() = %q", got)
	}
}

func TestOpenErrors(t *testing.T) {
	empty := t.TempDir()
	file := filepath.Join(empty, "file.txt")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	badJSON := writeTree(t, map[string]string{"dataset_flickr8k.json": `{"images": [{"filename": "a.jpg", `})
	badHeader := writeTree(t, map[string]string{"a.jpg": "", "captions.csv": "name,text\na.jpg,A dog .\n"})
	tests := []struct {
		name, dir, format string
		wantInErr         []string
	}{
		{"missing dir", filepath.Join(empty, "nope"), "auto", []string{"open dataset", "nope", "file does not exist"}},
		{"not a dir", file, "folder", []string{"file.txt", "not a directory"}},
		{"unknown format", empty, "flickr9k", []string{`"flickr9k"`, "flickr8k-kaggle"}},
		{"nothing detected", empty, "auto", []string{empty, "dataset_*.json", "Flickr8k.token.txt", "results.csv", "captions.txt", ".jpg"}},
		{"flickr8k-kaggle without captions.txt", empty, "flickr8k-kaggle", []string{filepath.Join(empty, "captions.txt")}},
		{"flickr8k without token file", empty, "flickr8k", []string{filepath.Join(empty, "Flickr8k.token.txt")}},
		{"flickr30k without results.csv", empty, "flickr30k-kaggle", []string{filepath.Join(empty, "results.csv")}},
		{"karpathy without json", empty, "karpathy", []string{empty, "dataset_*.json"}},
		{"coco without json", empty, "coco", []string{empty, "captions_"}},
		{"empty folder", empty, "folder", []string{empty, "no image files"}},
		{"truncated JSON", badJSON, "auto", []string{filepath.Join(badJSON, "dataset_flickr8k.json"), "EOF"}},
		{"CSV without image column", badHeader, "auto", []string{filepath.Join(badHeader, "captions.csv") + ":1:", "image and caption"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Open(tt.dir, tt.format)
			if err == nil {
				t.Fatalf("Open succeeded with %d images", len(d.Images))
			}
			for _, s := range tt.wantInErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestFilterLookup(t *testing.T) {
	d := &Dataset{Images: []Image{
		{Key: "a.jpg", Split: "train", Captions: []string{"x", "y"}},
		{Key: "b.jpg", Split: "test", Captions: []string{"z"}},
		{Key: "c.jpg", Split: "train"},
		{Key: "d.jpg", Split: "restval"},
	}}
	keys := func(images []Image) (ks []string) {
		for _, im := range images {
			ks = append(ks, im.Key)
		}
		return ks
	}
	for _, tt := range []struct {
		split string
		limit int
		want  []string
	}{
		{"", 0, []string{"a.jpg", "b.jpg", "c.jpg", "d.jpg"}},
		{"", 2, []string{"a.jpg", "b.jpg"}},
		{"train", -1, []string{"a.jpg", "c.jpg"}},
		{"train", 1, []string{"a.jpg"}},
		{"val", 0, nil},
	} {
		if got := keys(d.Filter(tt.split, tt.limit)); !slices.Equal(got, tt.want) {
			t.Errorf("Filter(%q, %d) = %q, want %q", tt.split, tt.limit, got, tt.want)
		}
	}
	if im, ok := d.Lookup("b.jpg"); !ok || im.Split != "test" {
		t.Errorf("Lookup(b.jpg) = %v, %v", im, ok)
	}
	if _, ok := d.Lookup("bb.jpg"); ok {
		t.Errorf("Lookup(bb.jpg) found it")
	}
	if n := d.NumCaptions(); n != 3 {
		t.Errorf("NumCaptions() = %d, want 3", n)
	}
}
