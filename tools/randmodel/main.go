// Command randmodel writes a Hugging Face CLIPModel folder with random
// weights, for benchmarks that need a full-size model and no download:
//
//	go run ./tools/randmodel --arch ViT-B/32 --out /tmp/vit-b-32
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/xmodal/xmodal/model/clip"
	"github.com/xmodal/xmodal/safetensors"
)

func main() {
	arch := flag.String("arch", "ViT-B/32", "architecture: ViT-B/32, ViT-B/16 or ViT-L/14")
	out := flag.String("out", "", "output folder")
	dtype := flag.String("dtype", "F32", "weight type: F32, F16 or BF16")
	vocab := flag.String("vocab", "testdata/clip/model-a", "folder with vocab.json and merges.txt")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "randmodel: --out is required")
		os.Exit(2)
	}
	cfg, err := clip.Arch(*arch)
	if err == nil {
		err = clip.WriteRandom(*out, cfg, safetensors.DType(*dtype), *seed, *vocab)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "randmodel:", err)
		os.Exit(1)
	}
}
