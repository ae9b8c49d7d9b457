package imageio

import (
	"errors"
	"fmt"
)

// Pillow's resampling filter codes, as stored in "resample" of a Hugging Face
// preprocessor_config.json.
const (
	Nearest  = 0 // nearest neighbour (always used for "P" and "1" images)
	Lanczos  = 1 // Lanczos, support 3
	Bilinear = 2 // triangle, support 1
	Bicubic  = 3 // cubic convolution with a = -0.5, support 2: CLIP's filter
	Box      = 4 // box, support 0.5
	Hamming  = 5 // Hamming-windowed sinc, support 1
)

// DefaultMaxPixels is the decoded-size limit used when Options.MaxPixels is 0.
const DefaultMaxPixels = 100_000_000

// Options configures preprocessing; values come from a model's
// preprocessor_config.json.
//
// The zero value is not usable: Size, Mean and Std must be set, and a zero
// Resample means NEAREST, as in Pillow. CLIPOptions returns the values of the
// OpenAI CLIP models.
type Options struct {
	Size      int        // shortest side after resize (e.g. 224)
	CropSize  int        // centre-crop size (e.g. 224); if 0, equals Size
	Mean, Std [3]float32 // per-channel normalisation, applied to v/255
	Resample  int        // Pillow filter code: Bicubic (3) for CLIP; Nearest, Bilinear, Lanczos, Box, Hamming also work
	NoEXIF    bool       // do not apply EXIF orientation (the official pipeline ignores it)
	// RGBFirst converts to RGB before resizing, as loaders that call
	// Image.open(path).convert("RGB") first do (VSE++): alpha is dropped
	// and palettes looked up before the filter runs. CLIP resizes in the
	// image's own mode and converts after.
	RGBFirst  bool
	MaxPixels int64 // refuse images with more pixels than this (decompression bombs); 0 means DefaultMaxPixels
}

// CLIPOptions returns the preprocessing of the OpenAI CLIP models
// (size 224, bicubic, CLIP mean and std). NoEXIF is false: set it to match
// the official pipeline bit for bit on photos that carry an orientation.
func CLIPOptions() Options {
	return Options{
		Size:     224,
		CropSize: 224,
		Mean:     [3]float32{0.48145466, 0.4578275, 0.40821073},
		Std:      [3]float32{0.26862954, 0.26130258, 0.27577711},
		Resample: Bicubic,
	}
}

// Validate reports whether o can be used by Preprocess.
func (o Options) Validate() error {
	if o.Size <= 0 {
		return fmt.Errorf("imageio: Size must be positive, got %d", o.Size)
	}
	if o.CropSize < 0 {
		return fmt.Errorf("imageio: CropSize must not be negative, got %d", o.CropSize)
	}
	if _, ok := filterFor(o.Resample); !ok && o.Resample != Nearest {
		return fmt.Errorf("imageio: unknown Resample filter %d", o.Resample)
	}
	for c, s := range o.Std {
		if s == 0 || s != s {
			return fmt.Errorf("imageio: Std[%d] must be non-zero, got %v", c, s)
		}
	}
	if o.MaxPixels < 0 {
		return errors.New("imageio: MaxPixels must not be negative")
	}
	return nil
}

func (o Options) cropSize() int {
	if o.CropSize == 0 {
		return o.Size
	}
	return o.CropSize
}

func (o Options) maxPixels() int64 {
	if o.MaxPixels == 0 {
		return DefaultMaxPixels
	}
	return o.MaxPixels
}
