package builtin

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/xmodal/xmodal/nn"
)

func TestDefaultModel(t *testing.T) {
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	info := m.Info()
	if info.Parameters < 1e6 || m.Dir() != Name {
		t.Errorf("info = %+v", info)
	}
	ctx := context.Background()
	texts, err := m.EncodeTexts(ctx, []string{"red heart", "smiling face", "a bicycle icon"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range texts {
		nn.Normalize(v)
	}
	if d := nn.Dot(texts[0], texts[1]); d > 0.999 {
		t.Errorf("different texts embed alike (cosine %.4f)", d)
	}
	// its training captions almost never end with a full stop, so its
	// config has xmodal drop one: a sentence reads as the bare caption
	sentences, err := m.EncodeTexts(ctx, []string{"A red heart.", "a red heart", "A red heart"})
	if err != nil {
		t.Fatal(err)
	}
	if !info.Text.StripsFinalFullStop || !slices.Equal(sentences[0], sentences[1]) || !slices.Equal(sentences[0], sentences[2]) {
		t.Errorf("the default model reads \"A red heart.\" apart from \"a red heart\" (strips final full stop: %v)", info.Text.StripsFinalFullStop)
	}
	id1, err := m.ID()
	if err != nil || len(id1) != 64 {
		t.Errorf("ID = %q, %v", id1, err)
	}
	if !strings.Contains(ModelCard(), "icon") && !strings.Contains(ModelCard(), "emoji") {
		t.Error("model card says nothing of its corpus")
	}
}
