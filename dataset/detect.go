package dataset

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// Detect returns the format of the dataset in dir. It tries, in order:
// Karpathy (dataset_*.json), COCO (annotations/captions_*.json),
// flickr30k-kaggle (results.csv), flickr8k (Flickr8k.token.txt),
// flickr8k-kaggle (captions.txt and Images/), and finally a folder holding
// image files. When nothing matches, the error says what it looked for.
//
// Detect reads file names and at most the first 64 KiB of a file, never a
// whole caption file.
func Detect(dir string) (string, error) {
	if err := checkDir(dir); err != nil {
		return "", err
	}
	join := func(rel string) string { return filepath.Join(dir, filepath.FromSlash(rel)) }
	if len(karpathyFiles(dir)) > 0 {
		return FormatKarpathy, nil
	}
	if len(cocoFiles(dir)) > 0 {
		return FormatCOCO, nil
	}
	// results.csv and captions.txt are common names, so their first line
	// must look the part too.
	for _, f := range flickr30kCSVs {
		if name, _, ok := strings.Cut(firstLine(join(f)), "|"); ok && isHeader(name, "image_name") {
			return FormatFlickr30kKaggle, nil
		}
	}
	for _, d := range flickr8kTextDirs {
		if isFile(join(joinKey(d, "Flickr8k.token.txt"))) {
			return FormatFlickr8k, nil
		}
	}
	if isDir(join("Images")) {
		if f := splitRow(firstLine(join("captions.txt")), ','); len(f) >= 2 && (isHeader(f[0], "image") || IsImageFile(f[0])) {
			return FormatFlickr8kKaggle, nil
		}
	}
	if hasImage(dir) {
		return FormatFolder, nil
	}
	return "", fmt.Errorf("%s: no dataset found: looked for dataset_*.json (karpathy), "+
		"annotations/captions_{train,val}YYYY.json (coco), results.csv with an image_name| header (flickr30k-kaggle), "+
		"Flickr8k.token.txt or Flickr8k_text/Flickr8k.token.txt (flickr8k), captions.txt with Images/ (flickr8k-kaggle), "+
		"and image files (%s) in the folder or below (folder)", dir, imageExtList)
}

// firstLine returns the first line of file, without a byte order mark or line
// ending, or "" if it cannot be read.
func firstLine(file string) string {
	line, _, _ := strings.Cut(sniff(file, 4<<10), "\n")
	return strings.TrimRight(line, "\r")
}

// hasImage reports whether dir holds an image file, at any depth, not hidden.
// It stops at the first one.
func hasImage(dir string) bool {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	found := false
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil || p == root:
			return nil
		case strings.HasPrefix(d.Name(), "."):
			if d.IsDir() {
				return fs.SkipDir
			}
		case !d.IsDir() && IsImageFile(d.Name()):
			found = true
			return fs.SkipAll
		}
		return nil
	})
	return found
}
