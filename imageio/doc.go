// Package imageio decodes images and turns them into CLIP pixel values
// exactly as the official OpenAI CLIP preprocessing does.
//
// The official pipeline is torchvision's Resize(size, BICUBIC), CenterCrop,
// convert("RGB"), ToTensor and Normalize on a Pillow image. Its output is
// defined by Pillow's integer arithmetic rather than by textbook formulas, so
// this package reproduces Pillow step by step:
//
//   - images keep their Pillow mode after decoding ("RGB", "RGBA", "L", "LA",
//     "P", "1", "CMYK"), because the mode decides how an image is resized;
//   - resizing uses Pillow's separable fixed-point filters (22-bit taps,
//     horizontal pass first into 8 bits, then vertical; a pass is skipped when
//     its size does not change); "RGBA" and "LA" are resized premultiplied with
//     Pillow's integer formulas; "P" and "1" always use NEAREST;
//   - the crop offsets round half to even, as Python's round does;
//   - the conversion to RGB happens after the crop, with Pillow's formulas
//     (CMYK through cmyk2rgb, alpha dropped without compositing);
//   - v/255 then (v-mean)/std are computed in float32, in that order.
//
// Given the same decoded pixels, Preprocess is bit-identical to the official
// pipeline. Decoding itself uses Go's decoders; where they differ from the
// C libraries Pillow uses, Decode narrows the gap where it cheaply can (see
// Decode for the details), but JPEG pixels can still differ by a level or
// two (Go's inverse DCT is not libjpeg's).
//
// The official pipeline ignores EXIF orientation; Decode applies it unless
// Options.NoEXIF is set, as Pillow's ImageOps.exif_transpose would.
package imageio
