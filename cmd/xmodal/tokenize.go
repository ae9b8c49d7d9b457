package main

import (
	"bufio"
	"context"
	"io"
	"path/filepath"

	"github.com/xmodal/xmodal/model"
	"github.com/xmodal/xmodal/model/builtin"
	"github.com/xmodal/xmodal/model/clip"
	"github.com/xmodal/xmodal/model/vsepp"
	"github.com/xmodal/xmodal/tokenize"
)

func runTokenize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokenize", "[--model M] [--text T]... [--texts FILE]", stderr)
	modelDir := fs.String("model", "", "model folder with vocab.json and merges.txt, or default (the embedded model; the default)")
	var texts stringList
	fs.Var(&texts, "text", "a text to tokenize (repeatable)")
	textsFile := fs.String("texts", "", "file of texts, one per line (a .jsonl file: one JSON string per line; - for stdin)")
	contextLen := fs.Int("context-length", 0, "truncate to this many tokens, SOT and EOT included (default: the model's context length)")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	if *textsFile != "" {
		more, err := readTexts(*textsFile)
		if err != nil {
			return err
		}
		texts = append(texts, more...)
	}
	if len(texts) == 0 {
		return usagef("nothing to tokenize: give --text or --texts")
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	enc := jsonLines(out)
	type line struct {
		Text string `json:"text"`
		IDs  []int  `json:"ids"`
	}
	if isVSEPP(*modelDir) {
		// VSE++: NLTK tokens from <start> to <end>, never truncated.
		dir, _ := model.Dir(*modelDir)
		v, err := vsepp.LoadVocab(filepath.Join(dir, "vocab.json"))
		if err != nil {
			return err
		}
		for _, t := range texts {
			if err := enc.Encode(line{t, v.Tokenize(t)}); err != nil {
				return err
			}
		}
		return nil
	}
	tok, cfg, err := loadTokenizer(*modelDir)
	if err != nil {
		return err
	}
	if *contextLen <= 0 {
		*contextLen = cfg.MaxPositionEmbeddings
	}
	for _, t := range texts {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := enc.Encode(line{t, tok.Encode(cfg.Prepare(t), *contextLen)}); err != nil {
			return err
		}
	}
	return nil
}

// loadTokenizer reads a model's vocabulary and text config without its
// weights, except for the embedded model, which costs nothing to load.
func loadTokenizer(name string) (*tokenize.Tokenizer, clip.TextConfig, error) {
	if name == "" || name == builtin.Name {
		m, err := builtin.Load()
		if err != nil {
			return nil, clip.TextConfig{}, err
		}
		defer m.Close()
		return m.Tokenizer, m.Config.Text, nil
	}
	dir, err := model.Dir(name)
	if err != nil {
		return nil, clip.TextConfig{}, err
	}
	cfg, err := clip.LoadConfig(dir)
	if err != nil {
		return nil, clip.TextConfig{}, err
	}
	tok, err := tokenize.Load(dir)
	return tok, cfg.Text, err
}
