package clip

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"

	"github.com/xmodal/xmodal/safetensors"
)

// recorder is a weight source that makes up random tensors and remembers
// them, so that a random model can be written out as a checkpoint.
type recorder struct {
	randomWeights
	tensors map[string]safetensors.Tensor
	dtype   safetensors.DType
}

func (r *recorder) Float32(name string, shape ...int) ([]float32, error) {
	v, _ := r.randomWeights.Float32(name, shape...)
	r.tensors[name] = safetensors.FromFloat32(name, r.dtype, shape, v)
	return v, nil
}

// WriteRandom writes a Hugging Face CLIPModel folder with random weights of
// the given configuration and dtype (F32, F16 or BF16) to dir, taking
// vocab.json and merges.txt from vocabDir. It makes full-size models for
// benchmarks and small ones for tests without any download.
func WriteRandom(dir string, cfg Config, dtype safetensors.DType, seed uint64, vocabDir string) error {
	rec := &recorder{
		randomWeights: randomWeights{rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))},
		tensors:       map[string]safetensors.Tensor{},
		dtype:         dtype,
	}
	if _, err := build(cfg, rec); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(rec.tensors))
	for n := range rec.tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	tensors := make([]safetensors.Tensor, 0, len(names))
	for _, n := range names {
		t := rec.tensors[n]
		if n == "logit_scale" {
			t = safetensors.FromFloat32(n, dtype, []int{}, []float32{2.6592})
		}
		tensors = append(tensors, t)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), tensors, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	config := map[string]any{
		"architectures":  []string{"CLIPModel"},
		"model_type":     "clip",
		"projection_dim": cfg.ProjectionDim,
		"text_config":    cfg.Text,
		"vision_config":  cfg.Vision,
	}
	pre := DefaultPreprocess(cfg.Vision.ImageSize)
	files := map[string]any{
		"config.json": config,
		"preprocessor_config.json": map[string]any{
			"size": pre.Size, "crop_size": pre.CropSize, "do_resize": true, "do_center_crop": true,
			"do_normalize": true, "image_mean": pre.Mean, "image_std": pre.Std, "resample": pre.Resample,
		},
	}
	for name, v := range files {
		data, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, name), append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	for _, name := range []string{"vocab.json", "merges.txt"} {
		data, err := os.ReadFile(filepath.Join(vocabDir, name))
		if err != nil {
			return fmt.Errorf("vocabulary: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
