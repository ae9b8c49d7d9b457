// Package dataset reads image–caption datasets in the layouts they are
// distributed in (Flickr8k, Flickr30k, COCO, Karpathy's splits, or any folder
// of images) into one in-memory form: a sorted list of images, each with its
// split and captions.
//
// Readers are lenient in the way the real files need: a malformed row or
// entry is skipped and reported as a Problem, and the rest is read. Only a
// file that cannot be opened or parsed at all is an error. The dataset
// formats do not stat image files (a dataset may hold 123k of them); the
// indexer reports missing images when it opens them.
package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xmodal/xmodal/imageio"
	"golang.org/x/text/encoding/charmap"
)

// Image is one image of a dataset with its captions.
type Image struct {
	// Key is the stable identity of the image within the dataset: its path
	// relative to the dataset root, slash-separated (for example
	// "Images/1000268201_693b08cb0e.jpg").
	Key string
	// Path is the file path to open: Root joined with Key.
	Path string
	// Split is "train", "val", "test", "restval", or "" when the format has
	// none or does not place this image in one.
	Split string
	// Captions are the image's captions in the dataset's order, trimmed and
	// non-empty; there may be none.
	Captions []string
}

// Problem is a malformed row or entry that was skipped; the rest of the file
// was read.
type Problem struct {
	File string // the file that holds it, relative to the root and slash-separated like a Key
	Line int    // 1-based line, 0 when not applicable (JSON)
	Msg  string
}

// String formats the problem as "file:line: msg", or "file: msg" when there
// is no line.
func (p Problem) String() string {
	if p.Line > 0 {
		return p.File + ":" + strconv.Itoa(p.Line) + ": " + p.Msg
	}
	return p.File + ": " + p.Msg
}

// Dataset is a whole dataset, read into memory (COCO's 123k images and 600k
// captions fit easily).
type Dataset struct {
	Format   string    // the format's name, as accepted by Open (never "auto")
	Root     string    // the directory the dataset was read from
	Images   []Image   // sorted by Key, one entry per image (captions of one image merged)
	Problems []Problem // rows and entries that were skipped, in reading order
}

// Format names accepted by Open.
const (
	FormatAuto            = "auto"
	FormatFlickr8kKaggle  = "flickr8k-kaggle"
	FormatFlickr8k        = "flickr8k"
	FormatFlickr30kKaggle = "flickr30k-kaggle"
	FormatKarpathy        = "karpathy"
	FormatCOCO            = "coco"
	FormatFolder          = "folder"
)

// readers maps each concrete format to its reader. A reader fills b from the
// dataset in b.root.
var readers = map[string]func(b *builder) error{
	FormatFlickr8kKaggle:  readFlickr8kKaggle,
	FormatFlickr8k:        readFlickr8k,
	FormatFlickr30kKaggle: readFlickr30kKaggle,
	FormatKarpathy:        readKarpathy,
	FormatCOCO:            readCOCO,
	FormatFolder:          readFolder,
}

// Formats lists the accepted format names, "auto" first. Detect tries the
// others in its own order (see Detect).
func Formats() []string {
	return []string{FormatAuto, FormatFlickr8kKaggle, FormatFlickr8k, FormatFlickr30kKaggle,
		FormatKarpathy, FormatCOCO, FormatFolder}
}

// Open reads the dataset in dir. Format "auto" (or "") detects it with
// Detect. Errors name the file they concern.
func Open(dir, format string) (*Dataset, error) {
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	if format == "" || format == FormatAuto {
		f, err := Detect(dir)
		if err != nil {
			return nil, err
		}
		format = f
	}
	read, ok := readers[format]
	if !ok {
		return nil, fmt.Errorf("unknown dataset format %q (want one of %s)", format, strings.Join(Formats(), ", "))
	}
	b := &builder{root: filepath.Clean(dir), byKey: map[string]int{}}
	if err := read(b); err != nil {
		return nil, err
	}
	return b.dataset(format), nil
}

// Filter returns the images of split ("" for all splits), at most limit of
// them when limit > 0, in Key order. Splits match exactly: Karpathy's
// "restval" images are not part of "train".
func (d *Dataset) Filter(split string, limit int) []Image {
	var out []Image
	for _, img := range d.Images {
		if limit > 0 && len(out) >= limit {
			break
		}
		if split == "" || img.Split == split {
			out = append(out, img)
		}
	}
	return out
}

// Lookup returns the image with the given key.
func (d *Dataset) Lookup(key string) (Image, bool) {
	i, ok := slices.BinarySearchFunc(d.Images, key, func(img Image, k string) int {
		return strings.Compare(img.Key, k)
	})
	if !ok {
		return Image{}, false
	}
	return d.Images[i], true
}

// NumCaptions returns the number of captions of all images.
func (d *Dataset) NumCaptions() int {
	n := 0
	for _, img := range d.Images {
		n += len(img.Captions)
	}
	return n
}

// imageExtList lists the image extensions, for messages.
var imageExtList = func() string {
	var exts []string
	for _, f := range imageio.Formats() {
		exts = append(exts, f.Exts...)
	}
	return strings.Join(exts, " ")
}()

// IsImageFile reports whether a file name has an image extension xmodal
// decodes (imageio.Formats: .jpg, .png, .gif, .webp, .bmp and their
// variants, in any case).
func IsImageFile(name string) bool {
	_, ok := imageio.FormatOfName(name)
	return ok
}

// MaxCaptionBytes caps a caption, as the server caps a text query: longer
// ones are cut (the model reads only its first tokens anyway).
const MaxCaptionBytes = 4096

// builder collects images while a reader runs, merging the rows of one image.
type builder struct {
	root     string
	byKey    map[string]int // Key → index in images
	images   []Image
	problems []Problem
	// The file and line being read, for the problems add reports.
	file string
	line int
}

// add records an image and appends its captions. Rows of one image are merged
// in the order they come, and the first non-empty split wins. Captions are
// trimmed and empty ones dropped, but the image is still recorded.
func (b *builder) add(key, split string, captions ...string) {
	i, ok := b.byKey[key]
	if !ok {
		i = len(b.images)
		b.byKey[key] = i
		b.images = append(b.images, Image{Key: key})
	}
	img := &b.images[i]
	if img.Split == "" {
		img.Split = split
	}
	for _, c := range captions {
		if c = b.cleanCaption(c); c != "" {
			img.Captions = append(img.Captions, c)
		}
	}
}

// cleanCaption makes a caption safe to store and search, reporting what
// it changed: invalid UTF-8 bytes (from JSON files; text files are decoded
// whole by readText) become U+FFFD, control characters other than
// whitespace (NUL, which would cut the text short in places, among them)
// become spaces, and a caption over MaxCaptionBytes is cut at a character
// boundary.
func (b *builder) cleanCaption(c string) string {
	if !utf8.ValidString(c) {
		c = strings.ToValidUTF8(c, "\uFFFD")
		b.problem(b.file, b.line, "a caption is not valid UTF-8: bad bytes replaced by U+FFFD")
	}
	if strings.IndexFunc(c, isControl) >= 0 {
		c = strings.Map(func(r rune) rune {
			if isControl(r) {
				return ' '
			}
			return r
		}, c)
		if strings.TrimSpace(c) != "" {
			b.problem(b.file, b.line, "control characters in a caption replaced by spaces")
		}
	}
	c = strings.TrimSpace(c)
	if len(c) > MaxCaptionBytes {
		n := len(c)
		cut := MaxCaptionBytes
		for cut > 0 && !utf8.RuneStart(c[cut]) {
			cut--
		}
		c = strings.TrimSpace(c[:cut])
		b.problem(b.file, b.line, "a caption of %d bytes cut to %d (the model reads only its first words)", n, len(c))
	}
	return c
}

// isControl reports C0 and C1 control characters and DEL, except the
// whitespace ones (tab, newline...), which are harmless in a caption (COCO's
// have newlines).
func isControl(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r':
		return false
	}
	return r < 0x20 || (r >= 0x7f && r < 0xa0)
}

// problem records a skipped row or entry of file (relative to the root).
func (b *builder) problem(file string, line int, format string, args ...any) {
	b.problems = append(b.problems, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// path returns the file path of rel, a slash-separated path under the root.
func (b *builder) path(rel string) string {
	return filepath.Join(b.root, filepath.FromSlash(rel))
}

// isDir reports whether rel (slash-separated, under the root) is a directory.
func (b *builder) isDir(rel string) bool {
	return isDir(b.path(rel))
}

// firstDir returns the first of the candidate folders (relative to the root)
// that exists, or fallback when none does. It stats folders, never images.
func (b *builder) firstDir(fallback string, candidates ...string) string {
	for _, c := range candidates {
		if b.isDir(c) {
			return c
		}
	}
	return fallback
}

// dataset finishes the build: images sorted by key, paths filled in.
func (b *builder) dataset(format string) *Dataset {
	slices.SortFunc(b.images, func(x, y Image) int { return strings.Compare(x.Key, y.Key) })
	for i := range b.images {
		b.images[i].Path = b.path(b.images[i].Key)
	}
	return &Dataset{Format: format, Root: b.root, Images: b.images, Problems: b.problems}
}

// joinKey joins a folder (possibly "") and a file name into a Key.
func joinKey(folder, name string) string {
	if folder == "" {
		return name
	}
	return folder + "/" + name
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return &fs.PathError{Op: "open dataset", Path: dir, Err: fs.ErrNotExist}
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return &fs.PathError{Op: "open dataset", Path: dir, Err: errors.New("not a directory")}
	}
	return nil
}

// readText reads a whole text file (rel, under the root), without a
// leading UTF-8 byte order mark (files saved by Excel and some Windows
// tools start with one). A file that is not UTF-8 is read as Windows-1252,
// the superset of Latin-1 that such files are nearly always in, and the
// problem is reported once for the file.
func (b *builder) readText(rel string) (string, error) {
	data, err := os.ReadFile(b.path(rel))
	if err != nil {
		return "", err
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if utf8.Valid(data) {
		return string(data), nil
	}
	line := 1 + bytes.Count(data[:firstInvalid(data)], []byte("\n"))
	text, err := charmap.Windows1252.NewDecoder().Bytes(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", b.path(rel), err)
	}
	b.problem(rel, line, "the file is not UTF-8 (first here): read as Windows-1252 (Latin-1); save it as UTF-8 if that is wrong")
	return string(text), nil
}

// firstInvalid is the offset of the first byte of data that is not UTF-8.
func firstInvalid(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(data)
}

// eachLine calls fn with every line of text (read from file) and its
// 1-based number, without the line ending (LF or CRLF), and points the
// builder at the line for the problems it reports. Blank lines are
// skipped: they carry nothing in any of these formats, and a trailing one
// is common.
func (b *builder) eachLine(file, text string, fn func(n int, line string)) {
	n := 0
	for line := range strings.Lines(text) {
		n++
		line = strings.TrimRight(line, "\r\n")
		if strings.TrimSpace(line) != "" {
			b.file, b.line = file, n
			fn(n, line)
		}
	}
	b.file, b.line = "", 0
}

// splitRow splits one line of delimited text (CSV or TSV) into fields.
//
// It follows RFC 4180 quoting within the line — a quoted field may hold the
// separator, and "" stands for a quote — but is lenient where real files are
// not: a quote inside an unquoted field is literal, a quote inside a quoted
// field that is not followed by the separator or the end of the line is
// literal, and a quoted field still open at the end of the line is taken as
// written. Unlike encoding/csv, even with LazyQuotes, it never reads past the
// line: there, one caption starting with a stray quote silently swallows
// every row after it. The caption files read here never hold a newline inside
// a field, so one line is one row, and line numbers stay exact.
func splitRow(line string, sep byte) []string {
	var fields []string
	for {
		if strings.HasPrefix(line, `"`) {
			if field, rest, more, ok := quotedField(line[1:], sep); ok {
				fields = append(fields, field)
				if !more {
					return fields
				}
				line = rest
				continue
			}
		}
		i := strings.IndexByte(line, sep)
		if i < 0 {
			return append(fields, line)
		}
		fields = append(fields, line[:i])
		line = line[i+1:]
	}
}

// quotedField reads a quoted field; s starts just after the opening quote. It
// returns the field, the rest of the line after the separator and whether a
// separator followed; ok is false when the quote is never closed.
func quotedField(s string, sep byte) (field, rest string, more, ok bool) {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '"' {
			sb.WriteByte(c)
			continue
		}
		switch {
		case i+1 == len(s):
			return sb.String(), "", false, true
		case s[i+1] == sep:
			return sb.String(), s[i+2:], true, true
		case s[i+1] == '"':
			sb.WriteByte('"')
			i++
		default: // a stray quote: keep it
			sb.WriteByte('"')
		}
	}
	return "", "", false, false
}
