package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
)

// folderCaptionFiles are the caption files a folder dataset may have at its
// root, in order of preference.
var folderCaptionFiles = []string{"captions.csv", "captions.tsv", "captions.jsonl"}

// readFolder reads any folder of images, searched recursively. Captions come
// from the first of folderCaptionFiles that exists, else from sidecar .txt
// files (photo.jpg + photo.txt), else there are none.
func readFolder(b *builder) error {
	images, sidecars, err := walkImages(b)
	if err != nil {
		return err
	}
	if len(images) == 0 {
		return fmt.Errorf("%s: no image files (%s) in the folder or below", b.root, imageExtList)
	}
	for _, key := range images {
		b.add(key, "")
	}
	for _, file := range folderCaptionFiles {
		if !isFile(b.path(file)) {
			continue
		}
		text, err := b.readText(file)
		if err != nil {
			return err
		}
		r := &captionFile{b: b, file: file, byBase: uniqueBases(images)}
		switch path.Ext(file) {
		case ".csv":
			return r.readDelimited(text, ',')
		case ".tsv":
			return r.readDelimited(text, '\t')
		default:
			r.readJSONL(text)
			return nil
		}
	}
	for _, key := range images {
		txt := strings.TrimSuffix(key, path.Ext(key)) + ".txt"
		if !sidecars[txt] {
			continue
		}
		text, err := b.readText(txt)
		if err != nil {
			b.problem(txt, 0, "%v", err)
			continue
		}
		b.eachLine(txt, text, func(_ int, line string) { b.add(key, "", line) })
	}
	return nil
}

// walkImages returns the keys of the image files under the root and the set
// of .txt files (as keys), skipping hidden files and folders (.git, macOS's
// ._ files). Symbolic links to folders are not followed, which keeps cycles
// out, but a root that is a link is.
func walkImages(b *builder) (images []string, txt map[string]bool, err error) {
	root, err := filepath.EvalSymlinks(b.root)
	if err != nil {
		return nil, nil, err
	}
	txt = map[string]bool{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, walkErr error) error {
		if p == root {
			return walkErr
		}
		rel, _ := filepath.Rel(root, p)
		key := filepath.ToSlash(rel)
		if walkErr != nil { // an unreadable folder: the rest is still worth reading
			var pe *fs.PathError
			if errors.As(walkErr, &pe) {
				walkErr = pe.Err
			}
			b.problem(key, 0, "%v", walkErr)
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch {
		case d.IsDir():
		case IsImageFile(key):
			images = append(images, key)
		case path.Ext(key) == ".txt":
			txt[key] = true
		}
		return nil
	})
	return images, txt, err
}

// uniqueBases maps each file name that occurs once among the image keys to
// its key, so that a caption file may name "a.jpg" for "images/a.jpg".
func uniqueBases(keys []string) map[string]string {
	m := map[string]string{}
	for _, k := range keys {
		base := path.Base(k)
		if _, dup := m[base]; dup {
			m[base] = "" // ambiguous
		} else {
			m[base] = k
		}
	}
	return m
}

// captionFile reads a caption file of a folder dataset into its builder.
type captionFile struct {
	b      *builder
	file   string
	byBase map[string]string
}

// add records captions for the image named by a caption row, reporting a
// name that matches no image found in the folder.
func (r *captionFile) add(line int, name, split string, captions ...string) {
	name = strings.TrimSpace(name)
	if name == "" {
		r.b.problem(r.file, line, "empty image name")
		return
	}
	key := path.Clean(filepath.ToSlash(name))
	if _, ok := r.b.byKey[key]; !ok {
		key = r.byBase[key]
	}
	if key == "" {
		r.b.problem(r.file, line, "no image %q in the folder", name)
		return
	}
	r.b.add(key, split, captions...)
}

// readDelimited reads captions.csv or captions.tsv. The header names the
// columns "image", "caption" and, optionally, "split"; other columns are
// ignored. A file without a header is read as image, caption.
func (r *captionFile) readDelimited(text string, sep byte) error {
	imageCol, captionCol, splitCol, ncols := 0, 1, -1, 2
	var headerErr error
	first := true
	r.b.eachLine(r.file, text, func(n int, line string) {
		if headerErr != nil {
			return
		}
		f := splitRow(line, sep)
		header := first && !IsImageFile(strings.TrimSpace(f[0]))
		first = false
		if header {
			imageCol, captionCol, splitCol, ncols = column(f, "image"), column(f, "caption"), column(f, "split"), len(f)
			if imageCol < 0 || captionCol < 0 {
				headerErr = fmt.Errorf("%s:%d: want a header with image and caption columns, got %q", r.b.path(r.file), n, line)
			}
			return
		}
		if len(f) <= max(imageCol, captionCol, splitCol) {
			r.b.problem(r.file, n, "want %d fields, got %d", max(imageCol, captionCol, splitCol)+1, len(f))
			return
		}
		caption := f[captionCol]
		if captionCol == ncols-1 {
			// An unquoted comma in the last column: it belongs to the caption.
			caption = strings.Join(f[captionCol:], string(sep))
		}
		split := ""
		if splitCol >= 0 {
			split = strings.TrimSpace(f[splitCol])
		}
		r.add(n, f[imageCol], split, caption)
	})
	return headerErr
}

// column returns the index of the header field name, or -1.
func column(header []string, name string) int {
	for i, h := range header {
		if isHeader(h, name) {
			return i
		}
	}
	return -1
}

// readJSONL reads captions.jsonl: one object per line, {"image": ...,
// "caption": ...} or {"image": ..., "captions": [...]}, with an optional
// "split".
func (r *captionFile) readJSONL(text string) {
	r.b.eachLine(r.file, text, func(n int, line string) {
		var row struct {
			Image    string   `json:"image"`
			Caption  string   `json:"caption"`
			Captions []string `json:"captions"`
			Split    string   `json:"split"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			r.b.problem(r.file, n, "%s", strings.TrimPrefix(err.Error(), "json: "))
			return
		}
		r.add(n, row.Image, row.Split, append([]string{row.Caption}, row.Captions...)...)
	})
}
