package dataset

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// cocoName matches COCO caption annotation files and captures the split and
// the year: captions_train2017.json, captions_val2014.json.
var cocoName = regexp.MustCompile(`^captions_(train|val)(\d{4})\.json$`)

// cocoFile is one caption annotation file found in a COCO dataset.
type cocoFile struct {
	rel   string // relative to the root, slash-separated
	split string // "train" or "val"
	year  string
}

// cocoFiles finds the caption files of dir, in annotations/ (as
// annotations_trainval2017.zip unpacks) or in dir itself, and keeps those of
// the latest year: 2014 and 2017 hold the same photos under other names and
// other splits, so reading both would index every image twice.
func cocoFiles(dir string) []cocoFile {
	var files []cocoFile
	for _, sub := range []string{"annotations", ""} {
		entries, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range entries {
			m := cocoName.FindStringSubmatch(e.Name())
			if m == nil || e.IsDir() {
				continue
			}
			files = append(files, cocoFile{rel: joinKey(sub, e.Name()), split: m[1], year: m[2]})
		}
	}
	if len(files) == 0 {
		return nil
	}
	latest := slices.MaxFunc(files, func(x, y cocoFile) int { return strings.Compare(x.year, y.year) }).year
	var out []cocoFile
	seen := map[string]bool{}
	for _, f := range files {
		// annotations/ comes first, so a stray copy in dir is ignored.
		if f.year == latest && !seen[f.split] {
			seen[f.split] = true
			out = append(out, f)
		}
	}
	return out
}

// cocoImage and cocoAnnotation are the parts of COCO's entries read here;
// the rest ("license", "coco_url", "height", "id" of annotations...) is
// ignored.
type cocoImage struct {
	ID       int64  `json:"id"`
	FileName string `json:"file_name"`
}

type cocoAnnotation struct {
	ImageID int64  `json:"image_id"`
	Caption string `json:"caption"`
	index   int    // in the "annotations" array, for Problems
}

// readCOCO reads COCO captions: annotations/captions_{train,val}YYYY.json
// with the images in trainYYYY/ and valYYYY/ (or under images/).
func readCOCO(b *builder) error {
	files := cocoFiles(b.root)
	if len(files) == 0 {
		return fmt.Errorf("%s: no COCO caption file annotations/captions_{train,val}YYYY.json", b.root)
	}
	for _, f := range files {
		if err := readCOCOFile(b, f); err != nil {
			return err
		}
	}
	return nil
}

func readCOCOFile(b *builder, f cocoFile) error {
	b.file = f.rel // for the problems add reports
	defer func() { b.file = "" }()
	name := f.split + f.year
	folder := b.firstDir(name, name, "images/"+name)
	keys := map[int64]string{} // image id → Key
	var anns []cocoAnnotation
	err := b.readJSONArrays(f.rel, map[string]func(*json.Decoder, int) error{
		"images": func(dec *json.Decoder, i int) error {
			var img cocoImage
			if msg, err := decodeEntry(dec, &img); err != nil || msg != "" {
				if msg != "" {
					b.problem(f.rel, 0, "images[%d]: %s", i, msg)
				}
				return err
			}
			if img.FileName == "" {
				b.problem(f.rel, 0, "images[%d]: no file_name", i)
				return nil
			}
			key := joinKey(folder, img.FileName)
			keys[img.ID] = key
			b.add(key, f.split) // an image without captions is still an image
			return nil
		},
		"annotations": func(dec *json.Decoder, i int) error {
			var a cocoAnnotation
			if msg, err := decodeEntry(dec, &a); err != nil || msg != "" {
				if msg != "" {
					b.problem(f.rel, 0, "annotations[%d]: %s", i, msg)
				}
				return err
			}
			a.index = i
			anns = append(anns, a)
			return nil
		},
	})
	if err != nil {
		return err
	}
	// Annotations are joined to images only now: JSON does not promise that
	// "images" comes before "annotations".
	for _, a := range anns {
		key, ok := keys[a.ImageID]
		if !ok {
			b.problem(f.rel, 0, "annotations[%d]: image_id %d is not in images", a.index, a.ImageID)
			continue
		}
		b.add(key, f.split, a.Caption)
	}
	return nil
}
