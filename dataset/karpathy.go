package dataset

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// karpathyImages maps each of Karpathy's files to the folders its images come
// in; it tells the files of caption_datasets.zip apart when all three were
// unpacked into one dataset.
var karpathyImages = map[string][]string{
	"dataset_flickr8k.json":  {"Flicker8k_Dataset", "Flickr8k_Dataset"},
	"dataset_flickr30k.json": {"flickr30k-images", "flickr30k_images"},
	"dataset_coco.json":      {"train2014", "val2014", "images/train2014", "images/val2014"},
}

// karpathyFiles returns the names of the dataset_*.json files in dir that look
// like Karpathy splits. Hugging Face's dataset_info.json and dataset_dict.json
// match the pattern too, hence the sniff for an "images" member.
func karpathyFiles(dir string) []string {
	matches, _ := filepath.Glob(filepath.Join(dir, "dataset_*.json"))
	var names []string
	for _, m := range matches {
		if sniffContains(m, `"images"`) {
			names = append(names, filepath.Base(m))
		}
	}
	return names
}

// karpathyFile picks the Karpathy file of dir.
func karpathyFile(dir string) (string, error) {
	names := karpathyFiles(dir)
	switch len(names) {
	case 0:
		return "", fmt.Errorf("%s: no Karpathy split file dataset_*.json", dir)
	case 1:
		return names[0], nil
	}
	var match []string
	for _, name := range names {
		for _, folder := range karpathyImages[name] {
			if isDir(filepath.Join(dir, filepath.FromSlash(folder))) {
				match = append(match, name)
				break
			}
		}
	}
	if len(match) == 1 {
		return match[0], nil
	}
	return "", fmt.Errorf("%s: several Karpathy split files (%s) and no telling which one the images belong to; keep only one",
		dir, strings.Join(names, ", "))
}

// karpathyEntry is an image entry of a Karpathy file. Other members
// ("sentids", "imgid", "cocoid", tokens...) are ignored.
type karpathyEntry struct {
	Filepath  string `json:"filepath"` // COCO only: "train2014" or "val2014"
	Filename  string `json:"filename"`
	Split     string `json:"split"`
	Sentences []struct {
		Raw string `json:"raw"`
	} `json:"sentences"`
}

// readKarpathy reads Karpathy's splits of Flickr8k, Flickr30k or COCO: a
// dataset_*.json file with the images next to it.
func readKarpathy(b *builder) error {
	file, err := karpathyFile(b.root)
	if err != nil {
		return err
	}
	b.file = file // for the problems add reports
	defer func() { b.file = "" }()
	// The folder of each distinct "filepath" (only COCO has any) is looked up
	// once, not per image: stat-ing 123k images would be slow.
	folders := map[string]string{}
	return b.readJSONArrays(file, map[string]func(*json.Decoder, int) error{
		"images": func(dec *json.Decoder, i int) error {
			var e karpathyEntry
			if msg, err := decodeEntry(dec, &e); err != nil || msg != "" {
				if msg != "" {
					b.problem(file, 0, "images[%d]: %s", i, msg)
				}
				return err
			}
			if e.Filename == "" {
				b.problem(file, 0, "images[%d]: no filename", i)
				return nil
			}
			folder, ok := folders[e.Filepath]
			if !ok {
				folder = karpathyFolder(b, e.Filepath)
				folders[e.Filepath] = folder
			}
			caps := make([]string, len(e.Sentences))
			for j, s := range e.Sentences {
				caps[j] = s.Raw
			}
			b.add(joinKey(folder, e.Filename), e.Split, caps...)
			return nil
		},
	})
}

// karpathyFolder returns the folder, relative to the root, of the images whose
// entries have the given "filepath": the first of the usual places that
// exists, else filepath itself, so that the indexer's missing-file reports
// name the path the JSON gave.
func karpathyFolder(b *builder, fp string) string {
	var candidates []string
	if fp != "" {
		candidates = append(candidates, fp, "images/"+fp)
	}
	candidates = append(candidates, "images", "Images",
		"Flicker8k_Dataset", "Flickr8k_Dataset",
		"flickr30k-images", "flickr30k_images/flickr30k_images", "flickr30k_images")
	return b.firstDir(fp, candidates...)
}

// sniffContains reports whether the first 64 KiB of file contain s. Detection
// must not read whole files: a Karpathy or COCO file is hundreds of MB.
func sniffContains(file, s string) bool {
	head := sniff(file, 64<<10)
	return strings.Contains(head, s)
}

// sniff returns up to n bytes from the start of file, without a UTF-8 byte
// order mark, or "" if it cannot be read.
func sniff(file string, n int) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	buf := make([]byte, n)
	m, _ := io.ReadFull(f, buf)
	return strings.TrimPrefix(string(buf[:m]), "\uFEFF")
}
