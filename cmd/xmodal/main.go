// Command xmodal is a cross-modal search engine: it indexes images and
// captions with CLIP, searches them by text or image, serves a REST API and
// a web UI, and measures its own retrieval quality.
//
// Standard output carries data; messages and progress go to standard error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	// Mozilla's root certificates, used only where the system has none
	// (the container image is built FROM scratch), so that `models pull`
	// can reach Hugging Face over HTTPS anywhere.
	_ "golang.org/x/crypto/x509roots/fallback"
)

// command is one subcommand: its one-line summary and its entry point, which
// parses its own flags from args.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"embed":       {"print embeddings of texts and images as JSON lines", runEmbed},
		"tokenize":    {"print the token ids of texts as JSON lines", runTokenize},
		"models":      {"list, pull and inspect models", runModels},
		"index":       {"index a dataset or a folder of images into a workspace", runIndex},
		"search":      {"search a workspace by text or image", runSearch},
		"duplicates":  {"find groups of near-identical images in a workspace", runDuplicates},
		"eval":        {"measure a workspace's retrieval quality (Recall@K, median rank, MRR), or the hit rate of a query file", runEval},
		"serve":       {"serve the REST API and web UI", runServe},
		"bench":       {"measure encoding speed (images/s, texts/s, GFLOP/s)", runBench},
		"db":          {"run a database workspace's schema migrations (db migrate)", runDB},
		"demo":        {"index the bundled sample set with the bundled model and serve it", runDemo},
		"workspace":   {"copy a workspace between a folder and a database, either way (workspace copy SRC DST)", runWorkspace},
		"worker":      {"encode the jobs `index --enqueue` queued in a database workspace", runWorker},
		"version":     {"print the version of this binary", runVersion},
		"healthcheck": {"exit 0 if a running server is ready (for container health checks)", runHealthcheck},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the process exit code: 0 on
// success, 2 for a usage error, 1 for any other failure.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "xmodal: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "xmodal %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "xmodal %s: %v\n", args[0], err)
		return 1
	}
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: xmodal COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'xmodal COMMAND -h' for a command's flags.")
}

// usageError is a mistake in the command line rather than a failure of the
// work, so that the exit code can tell them apart.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// newFlags returns a flag set that reports errors instead of exiting, and
// writes its help to stderr.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("xmodal "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: xmodal %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args and rejects stray positional arguments unless allowed.
func parse(fs *flag.FlagSet, args []string, positional bool) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if !positional && fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// stringList is a flag that may be given several times.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ", ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// flagSet reports whether the command line set the flag called name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
