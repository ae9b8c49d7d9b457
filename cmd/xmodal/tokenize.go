package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"

	"github.com/xmodal/xmodal/tokenize"
)

func runTokenize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokenize", "--model DIR [--text T]... [--texts FILE]", stderr)
	modelDir := fs.String("model", "", "model folder with vocab.json and merges.txt")
	var texts stringList
	fs.Var(&texts, "text", "a text to tokenize (repeatable)")
	textsFile := fs.String("texts", "", "file of texts, one per line (a .jsonl file: one JSON string per line; - for stdin)")
	contextLen := fs.Int("context-length", 77, "truncate to this many tokens, SOT and EOT included")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	if *modelDir == "" {
		return usagef("--model is required")
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
	tok, err := tokenize.Load(*modelDir)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for _, t := range texts {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := enc.Encode(struct {
			Text string `json:"text"`
			IDs  []int  `json:"ids"`
		}{t, tok.Encode(t, *contextLen)}); err != nil {
			return err
		}
	}
	return nil
}
