package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/xmodal/xmodal/imageio"
	"github.com/xmodal/xmodal/nn"
)

func runEmbed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("embed", "--model DIR [--text T]... [--texts FILE] [--image FILE]... [--pixel-values FILE]... [--raw]", stderr)
	var mf modelFlags
	mf.add(fs, true)
	var texts, images, pixelFiles stringList
	fs.Var(&texts, "text", "a text to embed (repeatable)")
	textsFile := fs.String("texts", "", "file of texts, one per line (a .jsonl file: one JSON string per line; - for stdin)")
	fs.Var(&images, "image", "an image file to embed (repeatable)")
	fs.Var(&pixelFiles, "pixel-values", "raw little-endian float32 CHW pixels, already normalised (repeatable)")
	raw := fs.Bool("raw", false, "print embeddings before L2 normalisation")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	if *textsFile != "" {
		more, err := readTexts(*textsFile)
		if err != nil {
			return err
		}
		texts = append(texts, more...)
	}
	if len(texts)+len(images)+len(pixelFiles) == 0 {
		return usagef("nothing to embed: give --text, --texts, --image or --pixel-values")
	}
	m, err := loadEmbedder(&mf)
	if err != nil {
		return err
	}
	defer m.Close()

	out := bufio.NewWriter(stdout)
	defer out.Flush()
	emit := func(kind string, inputs []string, embs [][]float32) error {
		enc := jsonLines(out)
		for i, e := range embs {
			if !*raw {
				nn.Normalize(e)
			}
			if err := enc.Encode(embedLine{kind, inputs[i], e}); err != nil {
				return err
			}
		}
		return nil
	}
	if len(texts) > 0 {
		embs, err := m.EncodeTexts(ctx, texts)
		if err != nil {
			return err
		}
		if err := emit("text", texts, embs); err != nil {
			return err
		}
	}
	if len(images) > 0 {
		pixels := make([][]float32, len(images))
		for i, f := range images {
			if pixels[i], err = imageio.LoadFile(f, m.ImageOptions()); err != nil {
				return err
			}
		}
		embs, err := m.EncodePixels(ctx, pixels)
		if err != nil {
			return err
		}
		if err := emit("image", images, embs); err != nil {
			return err
		}
	}
	if len(pixelFiles) > 0 {
		pixels := make([][]float32, len(pixelFiles))
		for i, f := range pixelFiles {
			crop := m.ImageOptions().CropSize
			if crop == 0 {
				crop = m.ImageOptions().Size
			}
			if pixels[i], err = readPixelValues(f, 3*crop*crop); err != nil {
				return err
			}
		}
		embs, err := m.EncodePixels(ctx, pixels)
		if err != nil {
			return err
		}
		if err := emit("pixel_values", pixelFiles, embs); err != nil {
			return err
		}
	}
	return nil
}

// embedder is what embed needs of a model.
type embedder interface {
	EncodeTexts(ctx context.Context, texts []string) ([][]float32, error)
	EncodePixels(ctx context.Context, pixels [][]float32) ([][]float32, error)
	ImageOptions() imageio.Options
	Close() error
}

// loadEmbedder loads the model for embed: CLIP itself, whose raw
// projections --raw prints, or any other family through model.Load (its
// vectors are normalised by the model, so --raw changes nothing).
func loadEmbedder(mf *modelFlags) (embedder, error) {
	if isVSEPP(mf.name) {
		return mf.load()
	}
	return mf.loadCLIP()
}

type embedLine struct {
	Type      string    `json:"type"`
	Input     string    `json:"input"`
	Embedding []float32 `json:"embedding"`
}

// readTexts reads one text per line, or one JSON string per line from a
// .jsonl file, so that texts with newlines survive.
func readTexts(path string) ([]string, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	jsonl := strings.HasSuffix(path, ".jsonl")
	var texts []string
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSuffix(sc.Text(), "\r")
		if jsonl {
			if strings.TrimSpace(text) == "" {
				continue
			}
			if err := json.Unmarshal([]byte(text), &text); err != nil {
				return nil, fmt.Errorf("%s:%d: want a JSON string: %w", path, line, err)
			}
		}
		texts = append(texts, text)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return texts, nil
}

// readPixelValues reads n little-endian float32 values.
func readPixelValues(path string, n int) ([]float32, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) != 4*n {
		return nil, fmt.Errorf("%s: %d bytes, want %d (%d float32 values, CHW)", path, len(data), 4*n, n)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return out, nil
}
