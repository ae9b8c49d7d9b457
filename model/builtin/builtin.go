// Package builtin is xmodal's default model, embedded in the binary so that
// every command works offline with no files beside it: a small CLIP with a
// ResNet image tower that the project trained on openly licensed emoji,
// icons and clip art (default/MODEL_CARD.md tells how, and how well it
// does).
package builtin

import (
	"embed"

	"github.com/xmodal/xmodal/model/clip"
)

//go:embed default
var files embed.FS

// Name is what --model calls the default model.
const Name = "default"

// Load returns the default model.
func Load() (*clip.Model, error) {
	return clip.LoadFS(files, "default", Name)
}

// Size is the number of bytes of the embedded model's files.
func Size() int64 {
	var n int64
	entries, _ := files.ReadDir("default")
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			n += info.Size()
		}
	}
	return n
}

// ModelCard is the model card, in Markdown.
func ModelCard() string {
	data, _ := files.ReadFile("default/MODEL_CARD.md")
	return string(data)
}
