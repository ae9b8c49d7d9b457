package eval

import (
	"context"
	"fmt"

	"github.com/xmodal/xmodal/workspace"
)

// Workspace evaluates a workspace's split ("" for all images): it reads
// the stored vectors of the split's images and captions and ranks them
// with the standard protocol. No model is needed. Images are taken in the
// order of their keys, so that ties and folds come out the same however
// the workspace was filled.
func Workspace(ctx context.Context, ws *workspace.Workspace, split string) (Result, error) {
	return WorkspaceFolds(ctx, ws, split, 0)
}

// WorkspaceFolds is Workspace with the images split into folds (see
// Folds); folds 0 evaluates them all at once.
func WorkspaceFolds(ctx context.Context, ws *workspace.Workspace, split string, folds int) (Result, error) {
	images, err := ws.ImagesInSplit(ctx, split)
	if err != nil {
		return Result{}, err
	}
	if len(images) == 0 {
		return Result{}, fmt.Errorf("workspace %s has no images in split %q", ws.Location(), split)
	}
	dim := ws.Manifest().Model.Dim
	rows := func(k workspace.Kind) ([]float32, error) {
		n, err := ws.Rows(k)
		if err != nil {
			return nil, err
		}
		return ws.ReadVectors(k, 0, n)
	}
	imgVecs, err := rows(workspace.Images)
	if err != nil {
		return Result{}, err
	}
	capVecs, err := rows(workspace.Captions)
	if err != nil {
		return Result{}, err
	}
	var imgs, caps [][]float32
	var owner []int
	for i, im := range images {
		imgs = append(imgs, imgVecs[im.Row*dim:(im.Row+1)*dim])
		for _, c := range im.Captions {
			caps = append(caps, capVecs[c.Row*dim:(c.Row+1)*dim])
			owner = append(owner, i)
		}
	}
	if folds > 0 {
		return Folds(imgs, caps, owner, folds)
	}
	return Evaluate(imgs, caps, owner)
}
