package demo

import (
	"bytes"
	"image"
	_ "image/png"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xmodal/xmodal/dataset"
)

func TestSampleIsAFolderDataset(t *testing.T) {
	dir := t.TempDir()
	if err := Extract(dir); err != nil {
		t.Fatal(err)
	}
	ds, err := dataset.Open(dir, "auto")
	if err != nil {
		t.Fatal(err)
	}
	if ds.Format != "folder" || len(ds.Images) < 300 || len(ds.Images) > 1500 || len(ds.Problems) != 0 {
		t.Errorf("sample: format %s, %d images, problems %v", ds.Format, len(ds.Images), ds.Problems)
	}
	for _, im := range ds.Images {
		if len(im.Captions) == 0 {
			t.Errorf("%s has no caption", im.Key)
		}
	}
	// A second extraction leaves the files alone, so that indexing them
	// again finds nothing changed.
	probe := filepath.Join(dir, ds.Images[0].Key)
	old := time.Unix(1e9, 0)
	os.Chtimes(probe, old, old)
	if err := Extract(dir); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(probe); !st.ModTime().Equal(old) {
		t.Error("Extract rewrote an unchanged file")
	}
	// Files of an older sample set go.
	stale := filepath.Join(dir, "images", "from_an_older_sample.png")
	if err := os.WriteFile(stale, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Extract(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a file not in the sample is still there: %v", err)
	}
}

// Every sample picture shows something: a picture of one flat colour (an
// SVG that draws nothing, rendered on white) matches nothing a person
// types, yet ranks for any query near its caption or file name.
func TestSamplePicturesShowSomething(t *testing.T) {
	paths, err := fs.Glob(Sample(), "images/*")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no images: %v", err)
	}
	for _, p := range paths {
		data, err := fs.ReadFile(Sample(), p)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		b := img.Bounds()
		first := img.At(b.Min.X, b.Min.Y)
		flat := true
		for y := b.Min.Y; y < b.Max.Y && flat; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				if img.At(x, y) != first {
					flat = false
					break
				}
			}
		}
		if flat {
			t.Errorf("%s is one flat colour", p)
		}
	}
}
