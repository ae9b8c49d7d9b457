// Command annworkspace grows a workspace to benchmark size with the base
// vectors of tools/bench/annvectors: each row becomes an image document
// ("augmented/0001234.png", pointing at its source image) with that vector,
// and the graph index is built, as `xmodal index` would.
//
//	cp -r corpus-ws /tmp/ws1m
//	go run ./tools/bench/annworkspace --workspace /tmp/ws1m --vectors /tmp/ann/base.f32 --from 92393
//
// Rows before --from are skipped (annvectors' first rows are the plain
// images, already in a workspace indexed from the same dataset). Rerunning
// continues where it stopped.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/xmodal/xmodal/index"
	"github.com/xmodal/xmodal/internal/mmap"
	"github.com/xmodal/xmodal/search"
	"github.com/xmodal/xmodal/workspace"
)

func main() {
	wsDir := flag.String("workspace", "", "an existing workspace of the same model")
	vectors := flag.String("vectors", "", "base.f32 of annvectors")
	from := flag.Int("from", 0, "first row to add")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *wsDir, *vectors, *from); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, dir, vecPath string, from int) error {
	ro, err := workspace.Open(dir)
	if err != nil {
		return err
	}
	m := ro.Manifest().Model
	srcs, err := ro.ImagesInSplit(ctx, "")
	ro.Close()
	if err != nil {
		return err
	}
	w, err := workspace.Create(dir, m)
	if err != nil {
		return err
	}
	defer w.Close()
	b, unmap, err := mmap.File(vecPath)
	if err != nil {
		return err
	}
	defer unmap()
	f, err := mmap.Float32s(b)
	if err != nil {
		return err
	}
	base := index.Matrix{Data: f, Dim: m.Dim}
	states, err := w.States(ctx)
	if err != nil {
		return err
	}
	var batch []workspace.NewImage
	added := 0
	for r := from; r < base.Len(); r++ {
		key := fmt.Sprintf("augmented/%07d.png", r)
		if _, ok := states[key]; ok {
			continue
		}
		src := srcs[r%len(srcs)]
		batch = append(batch, workspace.NewImage{Key: key, Path: src.Path, SHA256: key, Split: "augmented", Vector: base.Row(r)})
		if len(batch) == 5000 || r == base.Len()-1 {
			if err := w.Add(ctx, batch, nil); err != nil {
				return err
			}
			added += len(batch)
			batch = batch[:0]
			log.Printf("added %d documents (row %d of %d)", added, r+1, base.Len())
		}
	}
	n, err := search.UpdateGraphs(ctx, w, search.GraphOptions{Progress: func(p search.GraphProgress) {
		if p.Done%100000 < 1024 {
			log.Printf("graph: %s %d/%d", p.Kind, p.Done, p.Total)
		}
	}})
	log.Printf("graph: %d vectors inserted", n)
	return err
}
