package workspace

import (
	"context"
	"fmt"
	"slices"
)

// CopyProgress reports a Copy: images copied (or found already there) of
// total.
type CopyProgress struct {
	Done, Total int
}

// CopySummary says what a Copy did.
type CopySummary struct {
	Images   int `json:"images"`   // copied by this call
	Present  int `json:"present"`  // already in dst, unchanged
	Captions int `json:"captions"` // copied by this call
	Skipped  int `json:"skipped"`  // records of unusable images, copied
}

// copyChunk is how many images Copy reads and commits at a time.
const copyChunk = 500

// Copy copies the documents, vectors and skip records of src into dst,
// which must have been created for the same model. Images already in dst
// with the same content and captions are left alone, so an interrupted
// copy resumes; each chunk commits atomically. Document ids are dst's own.
// The job queue is not copied.
func Copy(ctx context.Context, src, dst *Workspace, progress func(CopyProgress)) (*CopySummary, error) {
	if src.manifest.Model.ID != dst.manifest.Model.ID {
		return nil, fmt.Errorf("workspace %s holds vectors of %s, %s of %s", src.loc, describeModel(src.manifest.Model), dst.loc, describeModel(dst.manifest.Model))
	}
	have, err := dst.States(ctx)
	if err != nil {
		return nil, err
	}
	st, err := src.Stats(ctx)
	if err != nil {
		return nil, err
	}
	sum := &CopySummary{}
	p := CopyProgress{Total: st.Images}
	for after := -1; ; {
		imgs, err := src.images(ctx, `WHERE row > ? ORDER BY row LIMIT ?`, after, copyChunk)
		if err != nil {
			return sum, err
		}
		if len(imgs) == 0 {
			break
		}
		after = imgs[len(imgs)-1].Row
		var todo []Image
		for _, im := range imgs {
			if s, ok := have[im.Key]; ok && s.SHA256 == im.SHA256 && s.Split == im.Split && sameTexts(s.Captions, im.Captions) {
				sum.Present++
				continue
			}
			todo = append(todo, im)
		}
		batch, err := src.withVectors(todo)
		if err != nil {
			return sum, err
		}
		if err := dst.Add(ctx, batch, nil); err != nil {
			return sum, err
		}
		for _, im := range batch {
			sum.Images++
			sum.Captions += len(im.Captions)
		}
		p.Done += len(imgs)
		if progress != nil {
			progress(p)
		}
		if err := ctx.Err(); err != nil {
			return sum, err
		}
	}
	skipped, err := src.Skipped(ctx)
	if err != nil {
		return sum, err
	}
	var skips []Skip
	for _, s := range skipped {
		skips = append(skips, s)
	}
	if len(skips) > 0 {
		if err := dst.Add(ctx, nil, skips); err != nil {
			return sum, err
		}
	}
	sum.Skipped = len(skips)
	return sum, nil
}

func sameTexts(texts []string, caps []Caption) bool {
	if len(texts) != len(caps) {
		return false
	}
	for i, c := range caps {
		if texts[i] != c.Text {
			return false
		}
	}
	return true
}

// withVectors turns images into NewImages with their vectors.
func (w *Workspace) withVectors(imgs []Image) ([]NewImage, error) {
	var rows, crows []int
	for _, im := range imgs {
		rows = append(rows, im.Row)
		for _, c := range im.Captions {
			crows = append(crows, c.Row)
		}
	}
	vecs, err := w.readRows(Images, rows)
	if err != nil {
		return nil, err
	}
	cvecs, err := w.readRows(Captions, crows)
	if err != nil {
		return nil, err
	}
	out := make([]NewImage, len(imgs))
	for i, im := range imgs {
		n := NewImage{Key: im.Key, Path: im.Path, SHA256: im.SHA256, Size: im.Size, MTime: im.MTime, Split: im.Split, Vector: vecs[im.Row]}
		for _, c := range im.Captions {
			n.Captions = append(n.Captions, c.Text)
			n.CaptionVectors = append(n.CaptionVectors, cvecs[c.Row])
		}
		out[i] = n
	}
	return out, nil
}

// readRows reads the vectors of some rows of a kind, by row. Rows close
// together are read as one range: a document's rows usually are, though a
// replaced one's captions may be far from its image.
func (w *Workspace) readRows(k Kind, rows []int) (map[int][]float32, error) {
	const gap = 256 // rows read needlessly rather than start a new read
	rows = slices.Sorted(slices.Values(rows))
	dim := w.manifest.Model.Dim
	out := make(map[int][]float32, len(rows))
	for i := 0; i < len(rows); {
		j := i + 1
		for j < len(rows) && rows[j]-rows[j-1] <= gap {
			j++
		}
		lo, hi := rows[i], rows[j-1]+1
		vecs, err := w.ReadVectors(k, lo, hi)
		if err != nil {
			return nil, err
		}
		for _, r := range rows[i:j] {
			out[r] = vecs[(r-lo)*dim : (r-lo+1)*dim]
		}
		i = j
	}
	return out, nil
}
