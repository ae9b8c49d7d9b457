package dataset

import (
	"strconv"
	"strings"
)

// readFlickr8kKaggle reads Flickr8k as distributed on Kaggle: Images/ and
// captions.txt, a CSV with the header "image,caption" and five rows per image.
func readFlickr8kKaggle(b *builder) error {
	const file = "captions.txt"
	text, err := b.readText(file)
	if err != nil {
		return err
	}
	b.eachLine(file, text, func(n int, line string) {
		f := splitRow(line, ',')
		// The header, wherever it is: files joined with cat repeat it.
		if isHeader(f[0], "image") {
			return
		}
		if len(f) < 2 {
			b.problem(file, n, "want 2 fields, got %d", len(f))
			return
		}
		name := strings.TrimSpace(f[0])
		if !b.checkName(file, n, name) {
			return
		}
		// Some copies leave commas in captions unquoted; the row is still
		// one image and one caption, so the extra fields are the caption's.
		b.add("Images/"+name, "", strings.Join(f[1:], ","))
	})
	return nil
}

// flickr8kTextDirs are where the Flickr8k text files may sit: the dataset
// root, or the folder Flickr8k_text.zip is usually unpacked into.
var flickr8kTextDirs = []string{"", "Flickr8k_text"}

// readFlickr8k reads the original Flickr8k: Flickr8k.token.txt with
// "name.jpg#i<TAB>caption" lines, images in Flicker8k_Dataset/ (sic), and the
// split lists Flickr_8k.{train,dev,test}Images.txt next to the token file.
func readFlickr8k(b *builder) error {
	textDir := ""
	for _, d := range flickr8kTextDirs {
		if isFile(b.path(joinKey(d, "Flickr8k.token.txt"))) {
			textDir = d
			break
		}
	}
	file := joinKey(textDir, "Flickr8k.token.txt")
	text, err := b.readText(file)
	if err != nil {
		return err
	}
	split, err := flickr8kSplits(b, textDir)
	if err != nil {
		return err
	}
	// "Flicker8k_Dataset" is the folder's real name in Flickr8k_Dataset.zip;
	// unpacking the zip into a folder of its own name nests it.
	folder := b.firstDir("", "Flicker8k_Dataset", "Flickr8k_Dataset",
		"Flickr8k_Dataset/Flicker8k_Dataset", "Images")
	b.eachLine(file, text, func(n int, line string) {
		// The separator is a tab; a few copies turned it into a space. Image
		// names hold neither.
		i := strings.IndexAny(line, "\t ")
		if i < 0 {
			b.problem(file, n, "want name.jpg#n<TAB>caption, got no caption")
			return
		}
		name, caption := line[:i], line[i+1:]
		// The caption's number follows the name; without it the caption
		// still belongs to the image, but the line is not as expected.
		if j := strings.LastIndexByte(name, '#'); j < 0 {
			b.problem(file, n, "want name.jpg#n before the caption, got %q without #n (the caption is kept)", name)
		} else {
			if _, err := strconv.Atoi(name[j+1:]); err != nil {
				b.problem(file, n, "want name.jpg#n before the caption, got %q: #%s is not a number (the caption is kept)", name, name[j+1:])
			}
			name = name[:j]
		}
		// The real file lists "2258277193_586949ec62.jpg.1", an image that
		// does not exist: the name check reports its five rows.
		if !b.checkName(file, n, name) {
			return
		}
		b.add(joinKey(folder, name), split[name], caption)
	})
	return nil
}

// flickr8kSplits reads the split lists next to the token file into a map from
// image name to split. Missing lists are fine: their images get split "".
func flickr8kSplits(b *builder, textDir string) (map[string]string, error) {
	split := map[string]string{}
	for _, s := range []struct{ file, split string }{
		{"Flickr_8k.trainImages.txt", "train"},
		{"Flickr_8k.devImages.txt", "val"},
		{"Flickr_8k.testImages.txt", "test"},
	} {
		rel := joinKey(textDir, s.file)
		if !isFile(b.path(rel)) {
			continue
		}
		text, err := b.readText(rel)
		if err != nil {
			return nil, err
		}
		b.eachLine(rel, text, func(_ int, line string) {
			if name := strings.TrimSpace(line); split[name] == "" {
				split[name] = s.split
			}
		})
	}
	return split, nil
}

// flickr30kCSVs are where results.csv may sit: the root, or, when the root is
// where Kaggle's zip was unpacked, the zip's top folder.
var flickr30kCSVs = []string{"results.csv", "flickr30k_images/results.csv"}

// readFlickr30kKaggle reads Flickr30k as distributed on Kaggle: results.csv
// with the header "image_name| comment_number| comment" (pipes, then spaces)
// and the images in flickr30k_images/ — nested twice in the Kaggle zip.
func readFlickr30kKaggle(b *builder) error {
	file := flickr30kCSVs[0]
	for _, f := range flickr30kCSVs {
		if isFile(b.path(f)) {
			file = f
			break
		}
	}
	text, err := b.readText(file)
	if err != nil {
		return err
	}
	folder := b.firstDir("", "flickr30k_images/flickr30k_images", "flickr30k_images", "Images")
	b.eachLine(file, text, func(n int, line string) {
		// Not CSV quoting: quotes in comments are literal text, and the
		// comment is the last field, so it keeps any pipe it holds.
		f := strings.SplitN(line, "|", 3)
		name := strings.TrimSpace(f[0])
		if isHeader(name, "image_name") { // the header
			return
		}
		// The real file has one row whose comment number and comment run
		// together without a pipe ("2199200615.jpg| 4   A dog runs ...").
		if len(f) < 3 {
			b.problem(file, n, "want 3 fields, got %d", len(f))
			return
		}
		if !b.checkName(file, n, name) {
			return
		}
		b.add(joinKey(folder, name), "", f[2])
	})
	return nil
}

// checkName reports a row whose image name is empty or not an image file
// name, and returns whether the name is good.
func (b *builder) checkName(file string, line int, name string) bool {
	switch {
	case name == "":
		b.problem(file, line, "empty image name")
	case !IsImageFile(name):
		b.problem(file, line, "not an image file name: %q", name)
	default:
		return true
	}
	return false
}

// isHeader reports whether a field of a row is the header name name.
func isHeader(field, name string) bool {
	return strings.EqualFold(strings.TrimSpace(field), name)
}
