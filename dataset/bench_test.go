package dataset

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The benchmarks read synthetic files the size of the real ones:
//
//	go test ./dataset -run XXX -bench . -benchtime 3x

const caption = "A man in a red shirt, with a \"hat\", is riding a bicycle down the street ."

func benchOpen(b *testing.B, format string, write func(dir string) error, wantCaptions int) {
	dir := b.TempDir()
	if err := write(dir); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		d, err := Open(dir, format)
		if err != nil {
			b.Fatal(err)
		}
		if n := d.NumCaptions(); n != wantCaptions || len(d.Problems) > 0 {
			b.Fatalf("%d captions, %d problems; want %d, 0", n, len(d.Problems), wantCaptions)
		}
	}
}

func writeFile(dir, name string, fill func(sb *strings.Builder)) error {
	var sb strings.Builder
	fill(&sb)
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(sb.String()), 0o644)
}

// BenchmarkFlickr30kKaggle reads a results.csv of 31,783 images × 5 captions.
func BenchmarkFlickr30kKaggle(b *testing.B) {
	benchOpen(b, "flickr30k-kaggle", func(dir string) error {
		return writeFile(dir, "results.csv", func(sb *strings.Builder) {
			sb.WriteString("image_name| comment_number| comment\n")
			for i := range 31783 {
				for j := range 5 {
					fmt.Fprintf(sb, "%d.jpg| %d| %s\n", 1000000+i, j, caption)
				}
			}
		})
	}, 31783*5)
}

// BenchmarkCOCO reads captions_train2017.json's 118,287 images and 591,753
// captions.
func BenchmarkCOCO(b *testing.B) {
	const images, anns = 118287, 591753
	benchOpen(b, "coco", func(dir string) error {
		return writeFile(dir, "annotations/captions_train2017.json", func(sb *strings.Builder) {
			sb.WriteString(`{"info": {"description": "COCO 2017 Dataset"}, "licenses": [], "images": [`)
			for i := range images {
				if i > 0 {
					sb.WriteString(",")
				}
				fmt.Fprintf(sb, `{"license": 3,"file_name": "%012d.jpg","coco_url": "http://images.cocodataset.org/train2017/%012d.jpg","height": 480,"width": 640,"date_captured": "2013-11-14 11:18:45","flickr_url": "http://farm9.staticflickr.com/8186/8119368305_4e622c8349_z.jpg","id": %d}`, i, i, i)
			}
			sb.WriteString(`], "annotations": [`)
			for i := range anns {
				if i > 0 {
					sb.WriteString(",")
				}
				c, _ := json.Marshal(caption)
				fmt.Fprintf(sb, `{"image_id": %d,"id": %d,"caption": %s}`, i%images, i, c)
			}
			sb.WriteString("]}")
		})
	}, anns)
}

// BenchmarkKarpathyCOCO reads a dataset_coco.json of 123,287 images with 5
// sentences each, tokens included.
func BenchmarkKarpathyCOCO(b *testing.B) {
	const images = 123287
	benchOpen(b, "karpathy", func(dir string) error {
		return writeFile(dir, "dataset_coco.json", func(sb *strings.Builder) {
			c, _ := json.Marshal(caption)
			tokens, _ := json.Marshal(strings.Fields(strings.ToLower(caption)))
			sb.WriteString(`{"images": [`)
			for i := range images {
				if i > 0 {
					sb.WriteString(", ")
				}
				fmt.Fprintf(sb, `{"filepath": "val2014", "sentids": [1, 2, 3, 4, 5], "filename": "COCO_val2014_%012d.jpg", "imgid": %d, "split": "train", "sentences": [`, i, i)
				for j := range 5 {
					if j > 0 {
						sb.WriteString(", ")
					}
					fmt.Fprintf(sb, `{"tokens": %s, "raw": %s, "imgid": %d, "sentid": %d}`, tokens, c, i, 5*i+j)
				}
				fmt.Fprintf(sb, `], "cocoid": %d}`, i)
			}
			sb.WriteString(`], "dataset": "coco"}`)
		})
	}, images*5)
}
