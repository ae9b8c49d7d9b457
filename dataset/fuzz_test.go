package dataset

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzLayouts places one caption file per reader, with the folders the
// readers look for; the fuzzer writes the file's text.
var fuzzLayouts = []struct {
	format, file string
	dirs         []string
	seed         string
}{
	{"flickr8k", "Flickr8k.token.txt", []string{"Flicker8k_Dataset"}, "1000268201_693b08cb0e.jpg#0\tA child in a pink dress .\n"},
	{"flickr8k-kaggle", "captions.txt", []string{"Images"}, "image,caption\n1000268201_693b08cb0e.jpg,A child in a pink dress .\n"},
	{"flickr30k-kaggle", "results.csv", []string{"flickr30k_images"}, "image_name| comment_number| comment\n1000092795.jpg| 0| Two young guys .\n"},
	{"folder", "captions.csv", nil, "image,caption,split\na.jpg,\"a dog, running\",train\n"},
	{"folder", "captions.tsv", nil, "image\tcaption\na.jpg\ta dog\n"},
	{"folder", "captions.jsonl", nil, `{"image":"a.jpg","captions":["a dog","a cat"]}` + "\n"},
	{"karpathy", "dataset_flickr8k.json", []string{"Flicker8k_Dataset"}, `{"images":[{"filename":"a.jpg","split":"test","sentences":[{"raw":"A dog ."}]}]}`},
	{"coco", "annotations/captions_val2017.json", []string{"val2017"}, `{"images":[{"id":1,"file_name":"a.jpg"}],"annotations":[{"image_id":1,"caption":"A dog ."}]}`},
}

// FuzzCaptionFiles feeds every caption parser arbitrary text: none may
// panic, and whatever they read must come out as clean captions.
func FuzzCaptionFiles(f *testing.F) {
	for i, l := range fuzzLayouts {
		f.Add(i, []byte(l.seed))
		f.Add(i, []byte(l.seed+"\xff\xfe\x00bad\x07 "+strings.Repeat("x", 5000)+"\n"))
	}
	f.Fuzz(func(t *testing.T, layout int, text []byte) {
		if layout < 0 || layout >= len(fuzzLayouts) {
			return
		}
		l := fuzzLayouts[layout]
		root := t.TempDir()
		for _, d := range append([]string{filepath.Dir(l.file)}, l.dirs...) {
			os.MkdirAll(filepath.Join(root, d), 0o755)
		}
		os.WriteFile(filepath.Join(root, "a.jpg"), nil, 0o644)
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(l.file)), text, 0o644); err != nil {
			t.Fatal(err)
		}
		ds, err := Open(root, l.format)
		if err != nil {
			return // a file the reader refuses as a whole, with an error
		}
		for _, img := range ds.Images {
			if img.Key == "" {
				t.Errorf("bad key %q", img.Key)
			}
			for _, c := range img.Captions {
				switch {
				case c == "" || c != strings.TrimSpace(c):
					t.Errorf("caption %q is empty or untrimmed", c)
				case !utf8.ValidString(c):
					t.Errorf("caption %q is not UTF-8", c)
				case strings.IndexFunc(c, isControl) >= 0:
					t.Errorf("caption %q holds control characters", c)
				case len(c) > MaxCaptionBytes:
					t.Errorf("caption of %d bytes", len(c))
				}
			}
		}
		for _, p := range ds.Problems {
			if p.File == "" {
				t.Errorf("problem without a file: %v", p)
			}
		}
	})
}
