package dataset

import (
	"fmt"
	"strings"
	"testing"
)

// Captions are stored as clean text whatever the file holds, and every
// change is reported with its file and line.
func TestCaptionHygiene(t *testing.T) {
	long := strings.Repeat("a dog runs on the beach ", 400) // 9,600 bytes
	checkOpen(t, formatCase{
		name: "captions.csv with dirty text",
		files: map[string]string{
			"a.jpg": "", "b.jpg": "", "c.jpg": "", "d.jpg": "",
			"captions.csv": "image,caption\n" +
				"a.jpg,a caf\xe9 in Paris\n" + // Latin-1
				"b.jpg,before\x00after\n" +
				"c.jpg," + long + "\n" +
				"d.jpg,bell\x07 and tab\there\n",
		},
		format: "folder",
		want: []img{
			{"a.jpg", "", []string{"a café in Paris"}},
			{"b.jpg", "", []string{"before after"}},
			{"c.jpg", "", []string{strings.TrimSpace(long[:MaxCaptionBytes])}},
			{"d.jpg", "", []string{"bell  and tab\there"}},
		},
		problems: []string{
			"captions.csv:2: the file is not UTF-8 (first here): read as Windows-1252 (Latin-1); save it as UTF-8 if that is wrong",
			"captions.csv:3: control characters in a caption replaced by spaces",
			fmt.Sprintf("captions.csv:4: a caption of 9599 bytes cut to %d (the model reads only its first words)", len(strings.TrimSpace(long[:MaxCaptionBytes]))),
			"captions.csv:5: control characters in a caption replaced by spaces",
		},
	})
}

// Flickr8k token lines without a well-formed #n are reported, and their
// caption kept.
func TestFlickr8kMalformedNumbers(t *testing.T) {
	checkOpen(t, formatCase{
		name: "Flickr8k with odd # lines",
		files: map[string]string{
			"Flicker8k_Dataset/1.jpg": "", "Flicker8k_Dataset/2.jpg": "", "Flicker8k_Dataset/3.jpg": "",
			"Flickr8k.token.txt": "1.jpg#0\tA dog .\n2.jpg\tNo number .\n3.jpg#x\tNot a number .\n",
		},
		format: "flickr8k",
		want: []img{
			{"Flicker8k_Dataset/1.jpg", "", []string{"A dog ."}},
			{"Flicker8k_Dataset/2.jpg", "", []string{"No number ."}},
			{"Flicker8k_Dataset/3.jpg", "", []string{"Not a number ."}},
		},
		problems: []string{
			`Flickr8k.token.txt:2: want name.jpg#n before the caption, got "2.jpg" without #n (the caption is kept)`,
			`Flickr8k.token.txt:3: want name.jpg#n before the caption, got "3.jpg#x": #x is not a number (the caption is kept)`,
		},
	})
}
