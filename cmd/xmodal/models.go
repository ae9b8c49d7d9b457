package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/xmodal/xmodal/model"
	"github.com/xmodal/xmodal/model/builtin"
	"github.com/xmodal/xmodal/model/store"
	"github.com/xmodal/xmodal/model/vsepp"
)

func runModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("want a subcommand: list, pull NAME, inspect MODEL or convert vsepp")
	}
	switch args[0] {
	case "inspect":
		return runModelsInspect(args[1:], stdout, stderr)
	case "convert":
		return runModelsConvert(args[1:], stdout, stderr)
	case "list":
		return runModelsList(args[1:], stdout, stderr)
	case "pull":
		return runModelsPull(ctx, args[1:], stdout, stderr)
	}
	return usagef("unknown subcommand %q (want list, pull, inspect or convert)", args[0])
}

// runModelsConvert turns an official VSE++ checkpoint and its vocabulary
// into a model folder that --model takes.
func runModelsConvert(args []string, stdout, stderr io.Writer) error {
	const want = "models convert vsepp --checkpoint model_best.pth.tar --vocab f30k_vocab.pkl (--out DIR | --name OWNER/NAME)"
	if len(args) == 0 || args[0] != "vsepp" {
		return usagef("want: %s", want)
	}
	fs := newFlags("models convert vsepp", "--checkpoint FILE --vocab FILE (--out DIR | --name OWNER/NAME)", stderr)
	ckpt := fs.String("checkpoint", "", "the official checkpoint (runs/<name>/model_best.pth.tar)")
	vocab := fs.String("vocab", "", "its vocabulary pickle (vocab/<data>_vocab.pkl)")
	out := fs.String("out", "", "the model folder to write")
	name := fs.String("name", "", "store the model in the cache under this name (see models list) instead of --out")
	if err := parse(fs, args[1:], false); err != nil {
		return err
	}
	if *ckpt == "" || *vocab == "" || (*out == "") == (*name == "") {
		return usagef("--checkpoint, --vocab and one of --out and --name are required")
	}
	dir := *out
	if *name != "" {
		s, err := store.Default()
		if err != nil {
			return err
		}
		if dir, err = s.Add(*name, func(tmp string) error { return vsepp.Convert(*ckpt, *vocab, tmp) }); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "stored %s: use it with --model %s\n", *name, *name)
		fmt.Fprintln(stdout, dir) // as models pull does
		return nil
	}
	if err := vsepp.Convert(*ckpt, *vocab, dir); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s: use it with --model %s\n", dir, dir)
	return nil
}

func runModelsList(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("models list", "[--json]", stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per model")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	s, err := store.Default()
	if err != nil {
		return err
	}
	entries, err := s.List()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(store.Entry{Name: builtin.Name, Path: "(embedded)", Bytes: builtin.Size()}); err != nil {
			return err
		}
		for _, e := range entries {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "name\tsize\tpath")
	fmt.Fprintf(w, "%s\t%s\t(embedded in xmodal)\n", builtin.Name, humanBytes(builtin.Size()))
	for _, e := range entries {
		fmt.Fprintf(w, "%s\t%s\t%s\n", e.Name, humanBytes(e.Bytes), e.Path)
	}
	if len(entries) == 0 {
		fmt.Fprintf(w, "\t\t(no pulled models in %s)\n", s.Dir)
	}
	return w.Flush()
}

func runModelsPull(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("models pull", "[--endpoint URL] [--revision REV] NAME", stderr)
	opts := store.EnvOptions()
	fs.StringVar(&opts.Endpoint, "endpoint", opts.Endpoint, "hub address, for mirrors (default $HF_ENDPOINT, else "+store.DefaultEndpoint+")")
	fs.StringVar(&opts.Revision, "revision", "main", "branch, tag or commit")
	if err := parse(fs, args, true); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want exactly one model name, such as openai/clip-vit-base-patch32")
	}
	s, err := store.Default()
	if err != nil {
		return err
	}
	bar := newByteProgress(stderr)
	opts.Progress = bar.update
	dir, err := s.Pull(ctx, fs.Arg(0), opts)
	bar.done()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; run the same command again to resume")
		}
		return err
	}
	fmt.Fprintf(stderr, "pulled %s into %s\n", fs.Arg(0), dir)
	fmt.Fprintln(stdout, dir)
	return nil
}

func runModelsInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("models inspect", "[--json] MODEL", stderr)
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args, true); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want exactly one model: a folder or a pulled name")
	}
	if dir, err := model.Dir(fs.Arg(0)); err == nil && vsepp.IsDir(dir) {
		return inspectVSEPP(dir, *asJSON, stdout)
	}
	m, err := model.LoadCLIP(fs.Arg(0))
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
	resnet := info.Vision.Architecture == "resnet"
	if resnet {
		fmt.Fprintf(w, "architecture\tCLIP with a ResNet image tower (%d blocks, width %d)\n", info.Vision.Layers, info.Vision.Width)
	} else {
		fmt.Fprintf(w, "architecture\tCLIP ViT-%s/%d\n", widthName(info.Vision.Width), info.Vision.PatchSize)
	}
	fmt.Fprintf(w, "parameters\t%s\n", human(info.Parameters))
	fmt.Fprintf(w, "weights\t%s\n", strings.Join(info.DTypes, ", "))
	fmt.Fprintf(w, "embedding size\t%d\n", info.EmbeddingSize)
	if resnet {
		fmt.Fprintf(w, "vision tower\tResNet, %d basic blocks, %d features, %s; %d×%d images; %s parameters\n",
			info.Vision.Layers, info.Vision.Width, info.Vision.Activation,
			info.Vision.ImageSize, info.Vision.ImageSize, human(info.Vision.Parameters))
	} else {
		fmt.Fprintf(w, "vision tower\t%d layers, width %d, %d heads, MLP %d, %s; %d×%d images, patch %d, %d tokens; %s parameters\n",
			info.Vision.Layers, info.Vision.Width, info.Vision.Heads, info.Vision.MLP, info.Vision.Activation,
			info.Vision.ImageSize, info.Vision.ImageSize, info.Vision.PatchSize, info.Vision.Tokens, human(info.Vision.Parameters))
	}
	fmt.Fprintf(w, "text tower\t%d layers, width %d, %d heads, MLP %d, %s; vocabulary %d, context %d; %s parameters\n",
		info.Text.Layers, info.Text.Width, info.Text.Heads, info.Text.MLP, info.Text.Activation,
		info.Text.VocabSize, info.Text.ContextLength, human(info.Text.Parameters))
	if info.Text.StripsFinalFullStop {
		fmt.Fprintln(w, "text input\ta final full stop is dropped before tokenizing (\"A dog.\" reads as \"A dog\")")
	}
	return w.Flush()
}

func inspectVSEPP(dir string, asJSON bool, stdout io.Writer) error {
	m, err := vsepp.LoadDir(dir)
	if err != nil {
		return err
	}
	defer m.Close()
	c := m.Config
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Dir    string `json:"dir"`
			Family string `json:"family"`
			vsepp.Config
		}{dir, "vsepp", c})
	}
	image := fmt.Sprintf("%s CNN, %d features", c.CNNType, c.ImgDim)
	if c.Precomp {
		image = fmt.Sprintf("precomputed features, %d values", c.ImgDim)
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "model\t%s\n", dir)
	fmt.Fprintf(w, "architecture\tVSE++ (%s)\n", c.DataName)
	fmt.Fprintf(w, "embedding size\t%d (measure %s, use_abs %v)\n", c.EmbedSize, c.Measure, c.UseAbs)
	fmt.Fprintf(w, "image tower\t%s\n", image)
	fmt.Fprintf(w, "text tower\tvocabulary %d, word embeddings %d, one-layer GRU\n", c.VocabSize, c.WordDim)
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

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
