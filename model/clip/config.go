// Package clip runs OpenAI's CLIP natively: it loads Hugging Face CLIPModel
// folders (config.json, model.safetensors, vocab.json, merges.txt,
// preprocessor_config.json) and encodes texts and images into CLIP's shared
// embedding space, matching the official implementation to float32
// rounding.
package clip

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/xmodal/xmodal/imageio"
)

// TextConfig is the text tower's part of config.json.
type TextConfig struct {
	VocabSize             int     `json:"vocab_size"`
	HiddenSize            int     `json:"hidden_size"`
	IntermediateSize      int     `json:"intermediate_size"`
	NumHiddenLayers       int     `json:"num_hidden_layers"`
	NumAttentionHeads     int     `json:"num_attention_heads"`
	MaxPositionEmbeddings int     `json:"max_position_embeddings"`
	HiddenAct             string  `json:"hidden_act"`
	LayerNormEps          float64 `json:"layer_norm_eps"`
	// StripFinalFullStop drops the full stops that end a text before it
	// is tokenized ("A dog." reads as "A dog"). An xmodal key, not
	// Hugging Face's: for models whose training captions almost never end
	// with one, to which a final full stop is noise that moves the text
	// away from its picture.
	StripFinalFullStop bool `json:"xmodal_strip_final_full_stop,omitempty"`
}

// Prepare returns text as the model reads it: without the full stops and
// white space that end it ("A dog." and "A dog..." → "A dog") when
// StripFinalFullStop is set, unless nothing else is left.
func (c TextConfig) Prepare(text string) string {
	if !c.StripFinalFullStop {
		return text
	}
	if t := strings.TrimRight(text, ". \t\r\n"); strings.TrimSpace(t) != "" {
		return t
	}
	return text
}

// VisionConfig is the vision tower's part of config.json. A ResNet tower
// (ModelType ResNetVision) uses only ImageSize, NumChannels, HiddenSize
// (its feature width) and StemStride; its depth and widths are read from
// the weights.
type VisionConfig struct {
	ModelType         string  `json:"model_type,omitempty"`
	HiddenSize        int     `json:"hidden_size"`
	IntermediateSize  int     `json:"intermediate_size"`
	NumHiddenLayers   int     `json:"num_hidden_layers"`
	NumAttentionHeads int     `json:"num_attention_heads"`
	NumChannels       int     `json:"num_channels"`
	ImageSize         int     `json:"image_size"`
	PatchSize         int     `json:"patch_size"`
	HiddenAct         string  `json:"hidden_act"`
	LayerNormEps      float64 `json:"layer_norm_eps"`
	// StemStride is a ResNet tower's stride in its 7×7 stem convolution;
	// 0 means torchvision's 2. Stride 3 at 96 px leaves the blocks the
	// map, and so the work, that stride 2 leaves them at 64 px.
	StemStride int `json:"stem_stride,omitempty"`
}

// Config is a CLIPModel's config.json. Keys it does not give take the
// Hugging Face defaults, which are those of ViT-B/32.
type Config struct {
	Text          TextConfig   `json:"text_config"`
	Vision        VisionConfig `json:"vision_config"`
	ProjectionDim int          `json:"projection_dim"`
}

// DefaultConfig is Hugging Face's CLIPConfig default: ViT-B/32.
func DefaultConfig() Config {
	return Config{
		Text: TextConfig{
			VocabSize: 49408, HiddenSize: 512, IntermediateSize: 2048,
			NumHiddenLayers: 12, NumAttentionHeads: 8, MaxPositionEmbeddings: 77,
			HiddenAct: "quick_gelu", LayerNormEps: 1e-5,
		},
		Vision: VisionConfig{
			HiddenSize: 768, IntermediateSize: 3072, NumHiddenLayers: 12,
			NumAttentionHeads: 12, NumChannels: 3, ImageSize: 224, PatchSize: 32,
			HiddenAct: "quick_gelu", LayerNormEps: 1e-5,
		},
		ProjectionDim: 512,
	}
}

// Arch returns the configuration of a published CLIP architecture by its
// OpenAI name: ViT-B/32, ViT-B/16 or ViT-L/14.
func Arch(name string) (Config, error) {
	c := DefaultConfig()
	switch name {
	case "ViT-B/32":
	case "ViT-B/16":
		c.Vision.PatchSize = 16
	case "ViT-L/14":
		c.Vision = VisionConfig{
			HiddenSize: 1024, IntermediateSize: 4096, NumHiddenLayers: 24,
			NumAttentionHeads: 16, NumChannels: 3, ImageSize: 224, PatchSize: 14,
			HiddenAct: "quick_gelu", LayerNormEps: 1e-5,
		}
		c.Text.HiddenSize, c.Text.IntermediateSize, c.Text.NumAttentionHeads = 768, 3072, 12
		c.ProjectionDim = 768
	default:
		return Config{}, fmt.Errorf("unknown architecture %q (want ViT-B/32, ViT-B/16 or ViT-L/14)", name)
	}
	return c, nil
}

// ParseConfig decodes config.json over the defaults and checks it.
func ParseConfig(data []byte) (Config, error) {
	c := DefaultConfig()
	// Configs written by old transformers versions carry the towers under
	// text_config_dict / vision_config_dict instead.
	var legacy struct {
		TextDict   *json.RawMessage `json:"text_config_dict"`
		VisionDict *json.RawMessage `json:"vision_config_dict"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return Config{}, err
	}
	if err := json.Unmarshal(data, &legacy); err != nil {
		return Config{}, err
	}
	var present struct {
		Text   json.RawMessage `json:"text_config"`
		Vision json.RawMessage `json:"vision_config"`
	}
	json.Unmarshal(data, &present)
	if legacy.TextDict != nil && string(*legacy.TextDict) != "null" && len(present.Text) == 0 {
		if err := json.Unmarshal(*legacy.TextDict, &c.Text); err != nil {
			return Config{}, fmt.Errorf("text_config_dict: %w", err)
		}
	}
	if legacy.VisionDict != nil && string(*legacy.VisionDict) != "null" && len(present.Vision) == 0 {
		if err := json.Unmarshal(*legacy.VisionDict, &c.Vision); err != nil {
			return Config{}, fmt.Errorf("vision_config_dict: %w", err)
		}
	}
	return c, c.Validate()
}

// Validate checks that the sizes are consistent.
func (c Config) Validate() error {
	t, v := c.Text, c.Vision
	type check struct {
		ok   bool
		what string
	}
	checks := []check{
		{c.ProjectionDim > 0, "projection_dim must be positive"},
		{t.VocabSize > 0 && t.HiddenSize > 0 && t.IntermediateSize > 0 && t.NumHiddenLayers >= 0 && t.MaxPositionEmbeddings > 0, "text_config sizes must be positive"},
		{t.NumAttentionHeads > 0 && t.HiddenSize%t.NumAttentionHeads == 0, "text_config.hidden_size must be a multiple of num_attention_heads"},
		{v.NumChannels == 3, "vision_config.num_channels must be 3"},
	}
	if v.ModelType == ResNetVision {
		// The ViT's fields do not apply.
		checks = append(checks,
			check{v.HiddenSize > 0 && v.ImageSize > 0, "vision_config.hidden_size and image_size must be positive"},
			check{v.StemStride >= 0 && v.StemStride <= 7, "vision_config.stem_stride must be between 1 and 7 (the stem is 7×7)"})
	} else {
		checks = append(checks,
			check{v.HiddenSize > 0 && v.IntermediateSize > 0 && v.NumHiddenLayers >= 0, "vision_config sizes must be positive"},
			check{v.NumAttentionHeads > 0 && v.HiddenSize%v.NumAttentionHeads == 0, "vision_config.hidden_size must be a multiple of num_attention_heads"},
			check{v.PatchSize > 0 && v.ImageSize > 0 && v.ImageSize%v.PatchSize == 0, "vision_config.image_size must be a multiple of patch_size"})
	}
	for _, ch := range checks {
		if !ch.ok {
			return fmt.Errorf("config: %s", ch.what)
		}
	}
	return nil
}

// LoadConfig reads dir/config.json.
func LoadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// sizeField is preprocessor_config.json's size or crop_size: an int, or an
// object with shortest_edge or height/width.
type sizeField struct{ n int }

func (s *sizeField) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &s.n); err == nil {
		return nil
	}
	var obj struct {
		ShortestEdge int `json:"shortest_edge"`
		Height       int `json:"height"`
		Width        int `json:"width"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("want an int or {\"shortest_edge\": N} or {\"height\": H, \"width\": W}: %w", err)
	}
	switch {
	case obj.ShortestEdge > 0:
		s.n = obj.ShortestEdge
	case obj.Height > 0 && obj.Height == obj.Width:
		s.n = obj.Height
	default:
		return fmt.Errorf("unsupported size %s (only square crops)", b)
	}
	return nil
}

// ParsePreprocessor decodes preprocessor_config.json into image
// preprocessing options, defaulting to CLIP's (224, bicubic, CLIP mean/std).
func ParsePreprocessor(data []byte, imageSize int) (imageio.Options, error) {
	p := struct {
		Size     *sizeField `json:"size"`
		CropSize *sizeField `json:"crop_size"`
		Mean     []float32  `json:"image_mean"`
		Std      []float32  `json:"image_std"`
		Resample *int       `json:"resample"`
	}{}
	if err := json.Unmarshal(data, &p); err != nil {
		return imageio.Options{}, err
	}
	o := DefaultPreprocess(imageSize)
	if p.Size != nil {
		o.Size = p.Size.n
	}
	if p.CropSize != nil {
		o.CropSize = p.CropSize.n
	}
	if p.Mean != nil {
		if len(p.Mean) != 3 {
			return o, fmt.Errorf("image_mean has %d values, want 3", len(p.Mean))
		}
		o.Mean = [3]float32(p.Mean)
	}
	if p.Std != nil {
		if len(p.Std) != 3 {
			return o, fmt.Errorf("image_std has %d values, want 3", len(p.Std))
		}
		o.Std = [3]float32(p.Std)
	}
	if p.Resample != nil {
		o.Resample = *p.Resample
	}
	if o.CropSize != imageSize {
		return o, fmt.Errorf("crop_size %d differs from the model's image_size %d", o.CropSize, imageSize)
	}
	if o.Size < o.CropSize {
		return o, fmt.Errorf("size %d is smaller than crop_size %d", o.Size, o.CropSize)
	}
	return o, nil
}

// DefaultPreprocess is the official CLIP preprocessing for images of the
// given size.
func DefaultPreprocess(imageSize int) imageio.Options {
	return imageio.Options{
		Size:     imageSize,
		CropSize: imageSize,
		Mean:     [3]float32{0.48145466, 0.4578275, 0.40821073},
		Std:      [3]float32{0.26862954, 0.26130258, 0.27577711},
		Resample: 3,
	}
}
