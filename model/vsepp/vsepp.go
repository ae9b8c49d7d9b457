// Package vsepp runs VSE++ models (Faghri et al., "VSE++: Improving
// Visual-Semantic Embeddings with Hard Negatives", BMVC 2018) from the
// files of the official code: a checkpoint (runs/<name>/model_best.pth.tar)
// and its vocabulary pickle (vocab/<data>_vocab.pkl).
//
// Sizes come from the checkpoint (its options and tensor shapes), never
// from constants. So far: the caption tower (NLTK tokens, word
// embeddings, a one-layer GRU) and the image head on precomputed features
// (EncoderImagePrecomp); the CNN towers are to come.
package vsepp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/xmodal/xmodal/imageio"
	"github.com/xmodal/xmodal/model/cnn"
	"github.com/xmodal/xmodal/nn"
	"github.com/xmodal/xmodal/pickle"
	"github.com/xmodal/xmodal/safetensors"
	"github.com/xmodal/xmodal/tokenize"
	"github.com/xmodal/xmodal/torchfile"
)

// Special words of the vocabulary, with their fixed ids.
const (
	Pad, Start, End, Unk = 0, 1, 2, 3
)

// Vocab maps words to ids; unknown words map to Unk.
type Vocab struct {
	words map[string]int
	size  int
}

// Size is the number of ids.
func (v *Vocab) Size() int { return v.size }

// ID returns a word's id.
func (v *Vocab) ID(word string) int {
	if id, ok := v.words[word]; ok {
		return id
	}
	return Unk
}

// Tokenize turns a caption into ids as the official code does: NLTK's
// word tokens of the lower-cased caption, wrapped in <start> and <end>.
func (v *Vocab) Tokenize(caption string) []int {
	ids := []int{Start}
	for _, tok := range tokenize.Treebank(tokenize.PyLower(caption)) {
		ids = append(ids, v.ID(tok))
	}
	return append(ids, End)
}

// LoadVocab reads a vocabulary: the official pickle (class
// vocab.Vocabulary, or __main__.Vocabulary as `python vocab.py` writes it,
// from Python 2 or 3) or a JSON {"word2idx": {...}, "idx": N}.
func LoadVocab(path string) (*Vocab, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := readVocab(data)
	if err != nil {
		return nil, fmt.Errorf("vocabulary %s: %w", path, err)
	}
	return v, nil
}

func readVocab(data []byte) (*Vocab, error) {
	v := &Vocab{words: map[string]int{}}
	if len(data) > 0 && data[0] == '{' {
		var j struct {
			Word2Idx map[string]int `json:"word2idx"`
			Idx      int            `json:"idx"`
		}
		if err := json.Unmarshal(data, &j); err != nil {
			return nil, err
		}
		v.words, v.size = j.Word2Idx, j.Idx
	} else {
		u := &pickle.Unpickler{Classes: map[string]bool{"vocab.Vocabulary": true, "__main__.Vocabulary": true}}
		obj, err := u.Load(data)
		if err != nil {
			return nil, err
		}
		o, ok := obj.(*pickle.Object)
		if !ok {
			return nil, fmt.Errorf("a %T, not a Vocabulary", obj)
		}
		w2i, _ := o.Attr("word2idx")
		d, ok := w2i.(*pickle.Dict)
		if !ok {
			return nil, errors.New("a Vocabulary without word2idx")
		}
		for i, k := range d.Keys {
			word, ok1 := k.(string)
			id, ok2 := d.Values[i].(int64)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("word2idx entry %v: %v", k, d.Values[i])
			}
			v.words[word] = int(id)
		}
		idx, _ := o.Attr("idx")
		n, _ := idx.(int64)
		v.size = int(n)
	}
	if v.size <= End || v.size < len(v.words) {
		return nil, fmt.Errorf("%d ids for %d words", v.size, len(v.words))
	}
	for word, id := range map[string]int{"<pad>": Pad, "<start>": Start, "<end>": End, "<unk>": Unk} {
		if got, ok := v.words[word]; !ok || got != id {
			return nil, fmt.Errorf("%s has id %d, want %d", word, got, id)
		}
	}
	for word, id := range v.words {
		if id < 0 || id >= v.size {
			return nil, fmt.Errorf("word %q has id %d of %d", word, id, v.size)
		}
	}
	return v, nil
}

// ImageOptions is the official test-time preprocessing: the image opened
// and converted to RGB, Resize(256) with Pillow's bilinear filter,
// CenterCrop(224), ImageNet's mean and deviation. Unlike the official code,
// EXIF orientation is applied unless NoEXIF is set, as everywhere in xmodal.
func ImageOptions() imageio.Options {
	return imageio.Options{
		Size: 256, CropSize: 224,
		Mean:     [3]float32{0.485, 0.456, 0.406},
		Std:      [3]float32{0.229, 0.224, 0.225},
		Resample: imageio.Bilinear,
		RGBFirst: true,
	}
}

// Config is what a checkpoint says of its model.
type Config struct {
	DataName  string // f30k, coco, f30k_precomp...
	CNNType   string // "resnet" or "vgg" for a full image tower, "" for precomputed features
	Precomp   bool   // the image tower reads precomputed features
	ImgDim    int    // the image features' width
	EmbedSize int
	WordDim   int
	VocabSize int
	UseAbs    bool
	NoImgNorm bool
	Measure   string // cosine or order
}

// Model is a loaded VSE++ model.
type Model struct {
	Config Config
	Vocab  *Vocab
	embed  []float32 // VocabSize×WordDim
	gru    *nn.GRU
	fc     *nn.Linear // the image head: EmbedSize×ImgDim
	cnn    imageCNN   // nil for a precomp model
	// Preprocess is how EncodePixels expects images to be prepared.
	Preprocess imageio.Options

	weights *weights          // kept by Load, for Convert
	dir     string            // the folder LoadDir read, if any
	file    *safetensors.File // its mapped weights
}

// SetPrecision chooses the arithmetic of the CNN's convolutions and
// classifier, where nearly all the work is; the heads and the caption
// tower stay in float32. bf16 keeps embeddings within cosine 0.998 of
// float32 on the fixtures; int8 is refused: through ResNet-152's depth its
// error grew to cosine 0.97 there. nn.ErrNoBF16 means the CPU cannot.
func (m *Model) SetPrecision(p nn.Precision) error {
	if p == nn.Int8 {
		return errors.New("int8 is not offered for VSE++: through a deep CNN it strays too far from float32 (cosine 0.97 on the test models); use bf16")
	}
	if m.cnn == nil {
		return nil
	}
	return m.cnn.SetPrecision(p)
}

// Dir is the folder the model was loaded from ("" for a checkpoint).
func (m *Model) Dir() string { return m.dir }

// Close unmaps the weights of a model loaded from a folder.
func (m *Model) Close() error {
	if m.file != nil {
		return m.file.Close()
	}
	return nil
}

// Load reads an official checkpoint and its vocabulary.
func Load(checkpoint, vocab string) (*Model, error) {
	v, err := LoadVocab(vocab)
	if err != nil {
		return nil, err
	}
	obj, err := torchfile.Load(checkpoint, torchfile.Options{})
	if err != nil {
		return nil, err
	}
	cfg, w, err := fromCheckpoint(obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", checkpoint, err)
	}
	m, err := build(cfg, w, v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", checkpoint, err)
	}
	return m, nil
}

// imageCNN is the CNN of EncoderImageFull: a *cnn.ResNet or *cnn.VGG.
type imageCNN interface {
	Features(x []float32, h, w int) []float32
	FeaturesBatch(xs [][]float32, h, w int) [][]float32
	Width() int
	FLOPs(h, w int) float64
	SetPrecision(p nn.Precision) error
}

// weights are a model's tensors, named "img.<key>" and "txt.<key>" after
// the keys of the official image and text state dicts.
type weights struct {
	names  []string // in the checkpoint's order
	shapes map[string][]int
	vals   map[string][]float32
}

// Tensor implements cnn.Tensors.
func (w *weights) Tensor(name string) ([]float32, []int, bool) {
	v, ok := w.vals[name]
	return v, w.shapes[name], ok
}

// Names implements cnn.Tensors.
func (w *weights) Names() []string { return w.names }

func (w *weights) add(name string, shape []int, vals []float32) {
	if w.shapes == nil {
		w.shapes, w.vals = map[string][]int{}, map[string][]float32{}
	}
	w.names = append(w.names, name)
	w.shapes[name], w.vals[name] = shape, vals
}

// fromCheckpoint reads train.py's checkpoint dict: {'model':
// [img_enc_state, txt_enc_state], 'opt': Namespace, ...}.
func fromCheckpoint(obj any) (Config, *weights, error) {
	var cfg Config
	ck, ok := obj.(*pickle.Dict)
	if !ok {
		return cfg, nil, fmt.Errorf("a %T, not a VSE++ checkpoint", obj)
	}
	o, _ := ck.Get("opt")
	opt, ok := o.(*pickle.Object)
	if !ok {
		return cfg, nil, errors.New("no options (opt): not a VSE++ checkpoint")
	}
	mv, _ := ck.Get("model")
	parts, ok := mv.(*pickle.List)
	if !ok || len(parts.Items) < 2 {
		return cfg, nil, errors.New("no [image, text] state dicts (model): not a VSE++ checkpoint")
	}
	w := &weights{}
	for i, prefix := range []string{"img.", "txt."} {
		d, ok := parts.Items[i].(*pickle.Dict)
		if !ok {
			return cfg, nil, errors.New("the state dicts are not dicts")
		}
		for j, k := range d.Keys {
			name, _ := k.(string)
			t, ok := d.Values[j].(*torchfile.Tensor)
			if !ok {
				return cfg, nil, fmt.Errorf("%s is a %T, not a tensor", name, d.Values[j])
			}
			if t.DType == torchfile.Int64 {
				continue // BatchNorm's num_batches_tracked: not used in evaluation
			}
			vals, err := t.Float32()
			if err != nil {
				return cfg, nil, fmt.Errorf("%s: %w", name, err)
			}
			w.add(prefix+name, t.Shape, vals)
		}
	}
	cfg = Config{
		DataName: optString(opt, "data_name"), CNNType: optString(opt, "cnn_type"),
		UseAbs: optBool(opt, "use_abs"), NoImgNorm: optBool(opt, "no_imgnorm"), Measure: optString(opt, "measure"),
	}
	return cfg, w, nil
}

// build makes the model from its options and weights; the sizes come from
// the tensors' shapes.
func build(cfg Config, w *weights, v *Vocab) (*Model, error) {
	img, txt := cnn.StateDict{T: w, Prefix: "img."}, cnn.StateDict{T: w, Prefix: "txt."}
	cfg.Precomp = !img.Has("cnn.module.conv1.weight") && !img.Has("cnn.features.module.0.weight")
	m := &Model{Vocab: v, Preprocess: ImageOptions(), weights: w}

	embed, shape, err := txt.Get("embed.weight", 2)
	if err != nil {
		return nil, err
	}
	cfg.VocabSize, cfg.WordDim = shape[0], shape[1]
	if cfg.VocabSize != v.Size() {
		return nil, fmt.Errorf("the checkpoint has %d word embeddings and the vocabulary %d words: they do not belong together", cfg.VocabSize, v.Size())
	}
	wih, shape, err := txt.Get("rnn.weight_ih_l0", 2)
	if err != nil {
		return nil, err
	}
	cfg.EmbedSize = shape[0] / 3
	whh, _, err := txt.Get("rnn.weight_hh_l0", 2)
	if err != nil {
		return nil, err
	}
	bih, _, err := txt.Get("rnn.bias_ih_l0", 1)
	if err != nil {
		return nil, err
	}
	bhh, _, err := txt.Get("rnn.bias_hh_l0", 1)
	if err != nil {
		return nil, err
	}
	if txt.Has("rnn.weight_ih_l1") {
		return nil, errors.New("a GRU of more than one layer is not supported (the official code trains one)")
	}
	if m.gru, err = nn.NewGRU(wih, whh, bih, bhh, cfg.WordDim, cfg.EmbedSize); err != nil {
		return nil, err
	}
	m.embed = embed

	fcw, shape, err := img.Get("fc.weight", 2)
	if err != nil {
		return nil, err
	}
	if shape[0] != cfg.EmbedSize {
		return nil, fmt.Errorf("the image head makes %d values and the text tower %d", shape[0], cfg.EmbedSize)
	}
	cfg.ImgDim = shape[1]
	fcb, _, err := img.Get("fc.bias", 1)
	if err != nil {
		return nil, err
	}
	m.fc = nn.NewLinear(fcw, fcb, cfg.EmbedSize, cfg.ImgDim)
	switch {
	case cfg.Precomp:
	case img.Has("cnn.module.conv1.weight"):
		cfg.CNNType = "resnet"
		if m.cnn, err = cnn.LoadResNet(w, "img.cnn.module.", 2); err != nil {
			return nil, err
		}
	default:
		cfg.CNNType = "vgg"
		if m.cnn, err = cnn.LoadVGG(w, "img.cnn.features.module.", "img.cnn.classifier."); err != nil {
			return nil, err
		}
	}
	if m.cnn != nil && m.cnn.Width() != cfg.ImgDim {
		return nil, fmt.Errorf("the CNN makes %d features and the image head reads %d", m.cnn.Width(), cfg.ImgDim)
	}
	m.Config = cfg
	return m, nil
}

func optString(o *pickle.Object, name string) string {
	v, _ := o.Attr(name)
	s, _ := v.(string)
	return s
}

func optBool(o *pickle.Object, name string) bool {
	v, _ := o.Attr(name)
	b, _ := v.(bool)
	return b
}

// EncodeCaptions embeds captions: tokens, word embeddings, the GRU's last
// output, normalised (and made non-negative under use_abs). The captions
// run through the GRU together.
func (m *Model) EncodeCaptions(ctx context.Context, captions []string) ([][]float32, error) {
	ids := make([][]int, len(captions))
	for i, c := range captions {
		ids[i] = m.Vocab.Tokenize(c)
	}
	return m.EncodeIDsBatch(ctx, ids)
}

// EncodeIDs embeds one caption given as ids.
func (m *Model) EncodeIDs(ids []int) []float32 {
	out, _ := m.EncodeIDsBatch(context.Background(), [][]int{ids})
	return out[0]
}

// EncodeIDsBatch embeds captions given as ids, in batches whose GRU steps
// are one matrix product each.
func (m *Model) EncodeIDsBatch(ctx context.Context, ids [][]int) ([][]float32, error) {
	const batch = 256 // bounds the memory of the input projections
	out := make([][]float32, 0, len(ids))
	for lo := 0; lo < len(ids); lo += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		chunk := ids[lo:min(lo+batch, len(ids))]
		seqs := make([][]float32, len(chunk))
		for i, c := range chunk {
			seqs[i] = m.embedIDs(c)
		}
		hs, err := m.gru.LastBatch(seqs)
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			m.finish(h)
		}
		out = append(out, hs...)
	}
	return out, nil
}

// embedIDs looks up the word embeddings of a caption.
func (m *Model) embedIDs(ids []int) []float32 {
	d := m.Config.WordDim
	seq := make([]float32, len(ids)*d)
	for t, id := range ids {
		if id < 0 || id >= m.Config.VocabSize {
			id = Unk
		}
		copy(seq[t*d:(t+1)*d], m.embed[id*d:(id+1)*d])
	}
	return seq
}

// EncodeFeatures embeds images given as precomputed features (ImgDim
// values each), as EncoderImagePrecomp does.
func (m *Model) EncodeFeatures(features [][]float32) ([][]float32, error) {
	out := make([][]float32, len(features))
	for i, f := range features {
		if len(f) != m.Config.ImgDim {
			return nil, fmt.Errorf("image %d has %d features, want %d", i+1, len(f), m.Config.ImgDim)
		}
		e := make([]float32, m.Config.EmbedSize)
		m.fc.Forward(e, f, 1, nn.Identity)
		if !m.Config.NoImgNorm {
			m.finish(e)
		} else if m.Config.UseAbs {
			abs(e)
		}
		out[i] = e
	}
	return out, nil
}

// EncodePixels embeds images given as preprocessed CHW pixels (3×S×S
// float32, as Preprocess prepares them), as EncoderImageFull does: CNN
// features, normalised, the head, normalised again (unless no_imgnorm),
// and absolute values under use_abs.
func (m *Model) EncodePixels(ctx context.Context, pixels [][]float32) ([][]float32, error) {
	if m.cnn == nil {
		return nil, errors.New("this VSE++ model reads precomputed image features, not pixels")
	}
	out := make([][]float32, 0, len(pixels))
	side := 0
	hwcs := make([][]float32, len(pixels))
	for i, p := range pixels {
		s := int(math.Sqrt(float64(len(p) / 3)))
		if s*s*3 != len(p) || s == 0 || (side != 0 && s != side) {
			return nil, fmt.Errorf("image %d has %d values, not 3×S×S like the others", i+1, len(p))
		}
		side = s
		hwc := make([]float32, len(p))
		plane := side * side
		for c := range 3 {
			for j := range plane {
				hwc[j*3+c] = p[c*plane+j]
			}
		}
		hwcs[i] = hwc
	}
	// A few images at a time make the deep layers' products tall enough
	// while the first layers' activations stay in tens of megabytes.
	const chunk = 8
	for lo := 0; lo < len(hwcs); lo += chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, f := range m.cnn.FeaturesBatch(hwcs[lo:min(lo+chunk, len(hwcs))], side, side) {
			l2norm(f)
			e := make([]float32, m.Config.EmbedSize)
			m.fc.Forward(e, f, 1, nn.Identity)
			if !m.Config.NoImgNorm {
				l2norm(e)
			}
			if m.Config.UseAbs {
				abs(e)
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// finish normalises an embedding and, under use_abs, takes absolute values.
func (m *Model) finish(e []float32) {
	l2norm(e)
	if m.Config.UseAbs {
		abs(e)
	}
}

// l2norm divides by the Euclidean norm, with no epsilon, as the official
// code does.
func l2norm(x []float32) {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	n := float32(math.Sqrt(s))
	for i := range x {
		x[i] /= n
	}
}

func abs(x []float32) {
	for i, v := range x {
		x[i] = float32(math.Abs(float64(v)))
	}
}
