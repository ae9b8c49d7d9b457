package demo

import (
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
