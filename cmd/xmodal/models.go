package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

func runModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("want a subcommand: inspect DIR")
	}
	switch args[0] {
	case "inspect":
		return runModelsInspect(args[1:], stdout, stderr)
	}
	return usagef("unknown subcommand %q (want inspect)", args[0])
}

func runModelsInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("models inspect", "[--json] DIR", stderr)
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args, true); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want exactly one model folder")
	}
	m, err := loadModel(fs.Arg(0))
	if err != nil {
		return err
	}
	defer m.Close()
	info := m.Info()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "model\t%s\n", info.Dir)
	fmt.Fprintf(w, "architecture\tCLIP ViT-%s/%d\n", widthName(info.Vision.Width), info.Vision.PatchSize)
	fmt.Fprintf(w, "parameters\t%s\n", human(info.Parameters))
	fmt.Fprintf(w, "weights\t%s\n", strings.Join(info.DTypes, ", "))
	fmt.Fprintf(w, "embedding size\t%d\n", info.EmbeddingSize)
	fmt.Fprintf(w, "vision tower\t%d layers, width %d, %d heads, MLP %d, %s; %d×%d images, patch %d, %d tokens; %s parameters\n",
		info.Vision.Layers, info.Vision.Width, info.Vision.Heads, info.Vision.MLP, info.Vision.Activation,
		info.Vision.ImageSize, info.Vision.ImageSize, info.Vision.PatchSize, info.Vision.Tokens, human(info.Vision.Parameters))
	fmt.Fprintf(w, "text tower\t%d layers, width %d, %d heads, MLP %d, %s; vocabulary %d, context %d; %s parameters\n",
		info.Text.Layers, info.Text.Width, info.Text.Heads, info.Text.MLP, info.Text.Activation,
		info.Text.VocabSize, info.Text.ContextLength, human(info.Text.Parameters))
	return w.Flush()
}

// widthName names a vision width as OpenAI's model names do.
func widthName(width int) string {
	switch width {
	case 768:
		return "B"
	case 1024:
		return "L"
	case 1280:
		return "H"
	}
	return fmt.Sprintf("w%d", width)
}

func human(n int) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
