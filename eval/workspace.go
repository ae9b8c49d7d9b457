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
	_, imgs, caps, owner, err := load(ctx, ws, split)
	if err != nil {
		return Result{}, err
	}
	if folds > 0 {
		return Folds(imgs, caps, owner, folds)
	}
	return Evaluate(imgs, caps, owner)
}

// QueryRank is one query of a workspace evaluation and where its answer
// came: a caption looking for its image (text_to_image) or an image
// looking for its captions (image_to_text).
type QueryRank struct {
	Direction string `json:"direction"`
	// Query is the caption's text, or the image's key.
	Query string `json:"query"`
	// Image is the key of the image the caption belongs to, or of the
	// query image.
	Image string `json:"image"`
	// Caption is the caption whose rank counts for an image: its best.
	Caption string `json:"caption,omitempty"`
	// Rank is 1-based, as in the metrics.
	Rank int `json:"rank"`
	// Top is what ranked first, best first: image keys, or caption texts.
	Top []string `json:"top"`
}

// WorkspaceRanks is Workspace with every query's rank and its top
// results, captions first (in key order of their images), then images.
func WorkspaceRanks(ctx context.Context, ws *workspace.Workspace, split string, top int) (Result, []QueryRank, error) {
	images, imgs, caps, owner, err := load(ctx, ws, split)
	if err != nil {
		return Result{}, nil, err
	}
	res, rk, err := EvaluateRanks(imgs, caps, owner, max(top, 1))
	if err != nil {
		return Result{}, nil, err
	}
	var capText []string
	for _, im := range images {
		for _, c := range im.Captions {
			capText = append(capText, c.Text)
		}
	}
	names := func(rows []int, name func(int) string) []string {
		out := make([]string, len(rows))
		for i, r := range rows {
			out[i] = name(r)
		}
		return out
	}
	imageKey := func(i int) string { return images[i].Key }
	caption := func(c int) string { return capText[c] }
	var out []QueryRank
	for c, r := range rk.TextToImage {
		out = append(out, QueryRank{Direction: "text_to_image", Query: capText[c], Image: images[owner[c]].Key,
			Rank: r, Top: names(rk.TextToImageTop[c], imageKey)})
	}
	for i, r := range rk.ImageToText {
		if rk.ImageToTextBest[i] < 0 {
			continue
		}
		out = append(out, QueryRank{Direction: "image_to_text", Query: images[i].Key, Image: images[i].Key,
			Caption: capText[rk.ImageToTextBest[i]], Rank: r, Top: names(rk.ImageToTextTop[i], caption)})
	}
	return res, out, nil
}

// load reads the split's images in key order with their vectors and those
// of their captions; owner[c] is the image of caption c.
func load(ctx context.Context, ws *workspace.Workspace, split string) (images []workspace.Image, imgs, caps [][]float32, owner []int, err error) {
	images, err = ws.ImagesInSplit(ctx, split)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if len(images) == 0 {
		return nil, nil, nil, nil, fmt.Errorf("workspace %s has no images in split %q", ws.Location(), split)
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
		return nil, nil, nil, nil, err
	}
	capVecs, err := rows(workspace.Captions)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	for i, im := range images {
		imgs = append(imgs, imgVecs[im.Row*dim:(im.Row+1)*dim])
		for _, c := range im.Captions {
			caps = append(caps, capVecs[c.Row*dim:(c.Row+1)*dim])
			owner = append(owner, i)
		}
	}
	return images, imgs, caps, owner, nil
}
