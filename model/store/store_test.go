package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestAdd checks that a locally made model appears in List, that a failed
// write leaves the earlier copy in place, and that a second Add replaces it.
func TestAdd(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	writeFile := func(content string) func(string) error {
		return func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "config.json"), []byte(content), 0o644)
		}
	}
	read := func() string {
		data, err := os.ReadFile(filepath.Join(s.Path("local/m"), "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}

	if _, err := s.Add("local/m", writeFile("one")); err != nil {
		t.Fatal(err)
	}
	if !s.Has("local/m") || read() != "one" {
		t.Fatalf("after Add: Has=%v content %q", s.Has("local/m"), read())
	}
	boom := errors.New("boom")
	if _, err := s.Add("local/m", func(dir string) error { writeFile("half")(dir); return boom }); !errors.Is(err, boom) {
		t.Fatalf("failed write: err %v, want boom", err)
	}
	if read() != "one" {
		t.Errorf("a failed Add changed the stored copy to %q", read())
	}
	if _, err := s.Add("local/m", writeFile("two")); err != nil || read() != "two" {
		t.Fatalf("replace: err %v, content %q", err, read())
	}
	entries, err := s.List()
	if err != nil || len(entries) != 1 || entries[0].Name != "local/m" {
		t.Fatalf("List = %+v, %v; want only local/m (no temporary folders)", entries, err)
	}
	if _, err := s.Add("../escape", writeFile("x")); err == nil {
		t.Error("Add accepted an invalid name")
	}
}
