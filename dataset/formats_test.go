package dataset

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// crlf turns LF line endings into CRLF, as in files saved on Windows.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// bom prefixes a UTF-8 byte order mark, as Excel writes it.
func bom(s string) string { return "\uFEFF" + s }

// Flickr8k image names used across the cases.
const (
	f8a = "1000268201_693b08cb0e.jpg"
	f8b = "1001773457_577c3a7d70.jpg"
	f8c = "1002674143_1b742ab4b8.jpg"
	f8d = "3000000000_0000000000.jpg"
)

func TestFlickr8kKaggle(t *testing.T) {
	captions := bom(crlf(`image,caption
1000268201_693b08cb0e.jpg,A child in a pink dress is climbing up a set of stairs in an entry way .
1000268201_693b08cb0e.jpg,"A girl, in pink, going into a wooden building ."
1000268201_693b08cb0e.jpg,A little girl climbing into a wooden playhouse , unquoted , commas .
1001773457_577c3a7d70.jpg,"A black dog and a ""spotted"" dog are fighting"
1001773457_577c3a7d70.jpg,"Hello" said the dog .
1001773457_577c3a7d70.jpg,A dog with a 6" stick .
,A caption without an image .
a row without a comma

1002674143_1b742ab4b8.jpg,  A little girl covered in paint sits in front of a painted rainbow .  
1002674143_1b742ab4b8.jpg,   
photo.txt,Not an image .
1000268201_693b08cb0e.jpg,Merged with the first rows .
`))
	for _, c := range []formatCase{{
		name:   "kaggle layout",
		format: "flickr8k-kaggle",
		files: map[string]string{
			"captions.txt":  captions,
			"Images/" + f8a: "", "Images/" + f8b: "", "Images/" + f8c: "",
		},
		want: []img{
			{"Images/" + f8a, "", []string{
				"A child in a pink dress is climbing up a set of stairs in an entry way .",
				"A girl, in pink, going into a wooden building .",
				"A little girl climbing into a wooden playhouse , unquoted , commas .",
				"Merged with the first rows .",
			}},
			{"Images/" + f8b, "", []string{
				`A black dog and a "spotted" dog are fighting`,
				`"Hello" said the dog .`,
				`A dog with a 6" stick .`,
			}},
			{"Images/" + f8c, "", []string{"A little girl covered in paint sits in front of a painted rainbow ."}},
		},
		problems: []string{
			"captions.txt:8: empty image name",
			"captions.txt:9: want 2 fields, got 1",
			`captions.txt:13: not an image file name: "photo.txt"`,
		},
	}} {
		t.Run(c.name, func(t *testing.T) { checkOpen(t, c) })
	}
}

func TestFlickr8k(t *testing.T) {
	token := "1000268201_693b08cb0e.jpg#0\tA child in a pink dress is climbing up a set of stairs in an entry way .\n" +
		"1000268201_693b08cb0e.jpg#1\tA girl going into a wooden building .\n" +
		"1001773457_577c3a7d70.jpg#0\tA black dog and a spotted dog are fighting\n" +
		"2258277193_586949ec62.jpg.1#0\tThe real file lists this image, which does not exist .\n" +
		"1002674143_1b742ab4b8.jpg#0\tA little girl \"covered\" in paint, sits .\n" +
		"no-caption.jpg#0\n" +
		"1002674143_1b742ab4b8.jpg#1 A copy whose tab became a space .\n" +
		"3000000000_0000000000.jpg#0\tIn no split list .\n"
	want := func(folder string, test bool) []img {
		testSplit := ""
		if test {
			testSplit = "test"
		}
		return []img{
			{joinKey(folder, f8a), "train", []string{
				"A child in a pink dress is climbing up a set of stairs in an entry way .",
				"A girl going into a wooden building .",
			}},
			{joinKey(folder, f8b), "val", []string{"A black dog and a spotted dog are fighting"}},
			{joinKey(folder, f8c), testSplit, []string{`A little girl "covered" in paint, sits .`, "A copy whose tab became a space ."}},
			{joinKey(folder, f8d), "", []string{"In no split list ."}},
		}
	}
	for _, c := range []formatCase{{
		name:   "original zips, text in Flickr8k_text",
		format: "flickr8k",
		files: map[string]string{
			"Flickr8k_text/Flickr8k.token.txt":        token,
			"Flickr8k_text/Flickr8k.lemma.token.txt":  "ignored",
			"Flickr8k_text/Flickr_8k.trainImages.txt": crlf(f8a + "\n"),
			"Flickr8k_text/Flickr_8k.devImages.txt":   f8b + "\n",
			"Flickr8k_text/Flickr_8k.testImages.txt":  f8c + "\n",
			"Flicker8k_Dataset/" + f8a:                "", "Flicker8k_Dataset/" + f8b: "",
		},
		want: want("Flicker8k_Dataset", true),
		problems: []string{
			`Flickr8k_text/Flickr8k.token.txt:4: not an image file name: "2258277193_586949ec62.jpg.1"`,
			"Flickr8k_text/Flickr8k.token.txt:6: want name.jpg#n<TAB>caption, got no caption",
		},
	}, {
		name:   "text at the root, CRLF, no test list, Images folder",
		format: "flickr8k",
		files: map[string]string{
			"Flickr8k.token.txt":        bom(crlf(token)),
			"Flickr_8k.trainImages.txt": f8a + "\n",
			"Flickr_8k.devImages.txt":   f8b + "\n",
			"Images/" + f8a:             "",
		},
		want: want("Images", false),
		problems: []string{
			`Flickr8k.token.txt:4: not an image file name: "2258277193_586949ec62.jpg.1"`,
			"Flickr8k.token.txt:6: want name.jpg#n<TAB>caption, got no caption",
		},
	}, {
		name:   "images next to the text files",
		format: "flickr8k",
		files: map[string]string{
			"Flickr8k.token.txt": f8a + "#0\tA dog .\n",
			f8a:                  "",
		},
		want: []img{{f8a, "", []string{"A dog ."}}},
	}} {
		t.Run(c.name, func(t *testing.T) { checkOpen(t, c) })
	}
}

func TestFlickr30kKaggle(t *testing.T) {
	results := `image_name| comment_number| comment
1000092795.jpg| 0| Two young guys with shaggy hair look at their hands while hanging out in the yard .
1000092795.jpg| 1| Two young , White males are outside near many bushes .
10002456.jpg| 0| Several men in hard hats are operating a giant pulley system .
2199200615.jpg| 4   A dog runs across the grass .
2199200615.jpg| 0| A dog with a "stray quote runs | fast .
1007129816.jpg| 0|  
| 0| No image .
`
	want := func(folder string) []img {
		return []img{
			{joinKey(folder, "1000092795.jpg"), "", []string{
				"Two young guys with shaggy hair look at their hands while hanging out in the yard .",
				"Two young , White males are outside near many bushes .",
			}},
			{joinKey(folder, "10002456.jpg"), "", []string{"Several men in hard hats are operating a giant pulley system ."}},
			{joinKey(folder, "1007129816.jpg"), "", nil},
			{joinKey(folder, "2199200615.jpg"), "", []string{`A dog with a "stray quote runs | fast .`}},
		}
	}
	problems := func(file string) []string {
		return []string{file + ":5: want 3 fields, got 2", file + ":8: empty image name"}
	}
	for _, c := range []formatCase{{
		name:   "Kaggle zip unpacked",
		format: "flickr30k-kaggle",
		files: map[string]string{
			"flickr30k_images/results.csv":                     results,
			"flickr30k_images/flickr30k_images/1000092795.jpg": "",
		},
		want:     want("flickr30k_images/flickr30k_images"),
		problems: problems("flickr30k_images/results.csv"),
	}, {
		name:   "results.csv at the root, CRLF and BOM",
		format: "flickr30k-kaggle",
		files: map[string]string{
			"results.csv":                     bom(crlf(results)),
			"flickr30k_images/1000092795.jpg": "",
		},
		want:     want("flickr30k_images"),
		problems: problems("results.csv"),
	}, {
		name:     "Images folder",
		format:   "flickr30k-kaggle",
		files:    map[string]string{"results.csv": results, "Images/": ""},
		want:     want("Images"),
		problems: problems("results.csv"),
	}} {
		t.Run(c.name, func(t *testing.T) { checkOpen(t, c) })
	}
}

func TestKarpathy(t *testing.T) {
	// Entries as in Karpathy's files, with the members the reader ignores.
	flickr8k := `{"images": [
 {"sentids": [0, 1], "imgid": 0, "sentences": [
   {"tokens": ["a", "child"], "raw": "A child in a pink dress .", "imgid": 0, "sentid": 0},
   {"tokens": ["a", "girl"], "raw": "  A girl going into a wooden building .  ", "imgid": 0, "sentid": 1}],
  "split": "train", "filename": "1000268201_693b08cb0e.jpg"},
 {"sentids": [2], "imgid": 1, "sentences": [{"tokens": [], "raw": "A black dog , \"spotted\" .", "imgid": 1, "sentid": 2}],
  "split": "val", "filename": "1001773457_577c3a7d70.jpg", "group": 7},
 {"sentids": [], "imgid": 2, "sentences": [], "split": "test"},
 {"imgid": 3, "sentences": [], "split": "test", "filename": 12345},
 {"imgid": 4, "sentences": [{"raw": ""}], "split": "test", "filename": "1002674143_1b742ab4b8.jpg"},
 {"imgid": 5, "sentences": [{"raw": ["not", "a", "string"]}], "split": "test", "filename": "5.jpg"},
 "not an entry"
], "dataset": "flickr8k"}`
	coco := `{"images": [
 {"filepath": "val2014", "sentids": [1], "filename": "COCO_val2014_000000391895.jpg", "imgid": 0, "split": "test",
  "sentences": [{"tokens": ["a"], "raw": "A man with a red helmet on a small moped on a dirt road. ", "imgid": 0, "sentid": 1}], "cocoid": 391895},
 {"filepath": "train2014", "sentids": [2, 3], "filename": "COCO_train2014_000000057870.jpg", "imgid": 1, "split": "restval",
  "sentences": [{"raw": "A restaurant has modern wooden tables."}, {"raw": "A long table with a plant on top of it."}], "cocoid": 57870},
 {"filepath": "val2014", "filename": "COCO_val2014_000000522418.jpg", "split": "train", "sentences": [{"raw": "A woman wearing a net on her head."}],
  "license": 3, "source": "coco"}
], "dataset": "coco"}`
	flickr30k := `{"dataset": "flickr30k", "images": [
 {"sentids": [0], "imgid": 0, "sentences": [{"raw": "Two young guys with shaggy hair ."}], "split": "train", "filename": "1000092795.jpg"}]}`
	flickr8kImages := []img{
		{"Flicker8k_Dataset/" + f8a, "train", []string{"A child in a pink dress .", "A girl going into a wooden building ."}},
		{"Flicker8k_Dataset/" + f8b, "val", []string{`A black dog , "spotted" .`}},
		{"Flicker8k_Dataset/" + f8c, "test", nil},
	}
	flickr8kProblems := []string{
		"dataset_flickr8k.json: images[2]: no filename",
		"dataset_flickr8k.json: images[3]: filename: want a string, got number",
		"dataset_flickr8k.json: images[5]: sentences.raw: want a string, got array",
		"dataset_flickr8k.json: images[6]: want an object, got string",
	}
	for _, c := range []formatCase{{
		name:     "flickr8k",
		format:   "karpathy",
		files:    map[string]string{"dataset_flickr8k.json": flickr8k, "Flicker8k_Dataset/": ""},
		want:     flickr8kImages,
		problems: flickr8kProblems,
	}, {
		name:   "coco: filepath at the root and under images/",
		format: "karpathy",
		files: map[string]string{
			"dataset_coco.json": coco, "val2014/": "", "images/train2014/": "",
			// An annotations folder must not make this COCO.
			"annotations/instances_val2014.json": "{}",
		},
		want: []img{
			{"images/train2014/COCO_train2014_000000057870.jpg", "restval", []string{
				"A restaurant has modern wooden tables.", "A long table with a plant on top of it."}},
			{"val2014/COCO_val2014_000000391895.jpg", "test", []string{"A man with a red helmet on a small moped on a dirt road."}},
			{"val2014/COCO_val2014_000000522418.jpg", "train", []string{"A woman wearing a net on her head."}},
		},
	}, {
		name:   "coco without image folders keeps filepath",
		format: "karpathy",
		files:  map[string]string{"dataset_coco.json": coco},
		want: []img{
			{"train2014/COCO_train2014_000000057870.jpg", "restval", []string{
				"A restaurant has modern wooden tables.", "A long table with a plant on top of it."}},
			{"val2014/COCO_val2014_000000391895.jpg", "test", []string{"A man with a red helmet on a small moped on a dirt road."}},
			{"val2014/COCO_val2014_000000522418.jpg", "train", []string{"A woman wearing a net on her head."}},
		},
	}, {
		name:   "flickr30k, images beside the json",
		format: "karpathy",
		files:  map[string]string{"dataset_flickr30k.json": flickr30k, "1000092795.jpg": ""},
		want:   []img{{"1000092795.jpg", "train", []string{"Two young guys with shaggy hair ."}}},
	}, {
		name:   "flickr30k-images folder",
		format: "karpathy",
		files:  map[string]string{"dataset_flickr30k.json": flickr30k, "flickr30k-images/": ""},
		want:   []img{{"flickr30k-images/1000092795.jpg", "train", []string{"Two young guys with shaggy hair ."}}},
	}, {
		name:   "all of caption_datasets.zip beside Flickr8k",
		format: "karpathy",
		files: map[string]string{
			"dataset_flickr8k.json": flickr8k, "dataset_flickr30k.json": flickr30k, "dataset_coco.json": coco,
			"Flicker8k_Dataset/": "",
			// Hugging Face metadata matches dataset_*.json but is no split file.
			"dataset_info.json": `{"description": "", "features": {}}`,
		},
		want:     flickr8kImages,
		problems: flickr8kProblems,
	}, {
		name:   "Karpathy beside a Flickr8k Kaggle layout wins",
		format: "karpathy",
		files: map[string]string{
			"dataset_flickr8k.json": `{"images": [{"filename": "a.jpg", "split": "train", "sentences": [{"raw": "A dog ."}]}]}`,
			"captions.txt":          "image,caption\na.jpg,Another dog .\n", "Images/a.jpg": "",
		},
		want: []img{{"Images/a.jpg", "train", []string{"A dog ."}}},
	}} {
		t.Run(c.name, func(t *testing.T) { checkOpen(t, c) })
	}
}

func TestKarpathyAmbiguous(t *testing.T) {
	root := writeTree(t, map[string]string{
		"dataset_flickr8k.json":  `{"images": []}`,
		"dataset_flickr30k.json": `{"images": []}`,
	})
	_, err := Open(root, "auto")
	if err == nil || !strings.Contains(err.Error(), "dataset_flickr30k.json, dataset_flickr8k.json") {
		t.Errorf("Open = %v, want an error naming both files", err)
	}
}

func TestCOCO(t *testing.T) {
	// Annotations come first in the val file: JSON promises no order.
	val := `{"info": {"year": 2017}, "licenses": [{"id": 1}],
 "annotations": [
  {"image_id": 139, "id": 1, "caption": "A woman stands in the dining area at the table.\n"},
  {"image_id": 999, "id": 2, "caption": "Of an image that is not listed."},
  {"image_id": 139, "id": 3, "caption": "A room with chairs, a table, and a woman in it."},
  {"image_id": "285", "id": 4, "caption": "An id of the wrong type."},
  {"image_id": 285, "id": 5, "caption": "A big burly grizzly bear is show with grass in the background. "}],
 "images": [
  {"license": 2, "file_name": "000000000139.jpg", "coco_url": "http://x", "height": 426, "width": 640, "id": 139},
  {"license": 1, "file_name": "000000000285.jpg", "id": 285},
  {"license": 1, "id": 632},
  {"license": 1, "file_name": "000000000724.jpg", "id": 724}]}`
	train := `{"images": [{"file_name": "000000000009.jpg", "id": 9}],
 "annotations": [{"image_id": 9, "id": 7, "caption": "Closeup of bins of food that include broccoli and bread."}]}`
	want := func(prefix string) []img {
		return []img{
			{prefix + "train2017/000000000009.jpg", "train", []string{"Closeup of bins of food that include broccoli and bread."}},
			{prefix + "val2017/000000000139.jpg", "val", []string{
				"A woman stands in the dining area at the table.", "A room with chairs, a table, and a woman in it."}},
			{prefix + "val2017/000000000285.jpg", "val", []string{"A big burly grizzly bear is show with grass in the background."}},
			{prefix + "val2017/000000000724.jpg", "val", nil},
		}
	}
	problems := func(dir string) []string {
		return []string{
			dir + "captions_val2017.json: annotations[3]: image_id: want an integer, got string",
			dir + "captions_val2017.json: images[2]: no file_name",
			dir + "captions_val2017.json: annotations[1]: image_id 999 is not in images",
		}
	}
	for _, c := range []formatCase{{
		name:   "annotations_trainval2017.zip layout",
		format: "coco",
		files: map[string]string{
			"annotations/captions_train2017.json":  train,
			"annotations/captions_val2017.json":    val,
			"annotations/instances_val2017.json":   `{"images": []}`,
			"annotations/captions_val2014.json":    `not read: 2017 is newer`,
			"train2017/000000000009.jpg":           "",
			"val2017/":                             "",
			"annotations/person_keypoints_x.json":  "",
			"annotations/captions_test2017.json!!": "",
		},
		want:     want(""),
		problems: problems("annotations/"),
	}, {
		name:   "json at the root, images under images/",
		format: "coco",
		files: map[string]string{
			"captions_train2017.json": train,
			"captions_val2017.json":   val,
			"images/train2017/":       "",
			"images/val2017/":         "",
		},
		want:     want("images/"),
		problems: problems(""),
	}} {
		t.Run(c.name, func(t *testing.T) { checkOpen(t, c) })
	}
}

func TestFolder(t *testing.T) {
	images := map[string]string{
		"a.jpg":             "",
		"b.PNG":             "",
		"sub/c.jpeg":        "",
		"sub/deeper/d.webp": "",
		"notes.md":          "not an image",
		".hidden.jpg":       "",
		".git/x.jpg":        "",
		"._a.jpg":           "macOS resource fork",
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range images {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, c := range []formatCase{{
		name:   "no captions",
		format: "folder",
		files:  images,
		want:   []img{{"a.jpg", "", nil}, {"b.PNG", "", nil}, {"sub/c.jpeg", "", nil}, {"sub/deeper/d.webp", "", nil}},
	}, {
		name:   "captions.csv",
		format: "folder",
		files: with(map[string]string{"captions.csv": bom(crlf(`image,caption
a.jpg,"A dog, running ."
./a.jpg,A second row for a .
sub/c.jpeg,"He said ""hi"" ."
d.webp,By its unique base name .
missing.jpg,No such image .
b.PNG,An unquoted, comma .
,No image .
`))}),
		want: []img{
			{"a.jpg", "", []string{"A dog, running .", "A second row for a ."}},
			{"b.PNG", "", []string{"An unquoted, comma ."}},
			{"sub/c.jpeg", "", []string{`He said "hi" .`}},
			{"sub/deeper/d.webp", "", []string{"By its unique base name ."}},
		},
		problems: []string{`captions.csv:6: no image "missing.jpg" in the folder`, "captions.csv:8: empty image name"},
	}, {
		name:   "captions.tsv with a split column and no BOM",
		format: "folder",
		files: with(map[string]string{"captions.tsv": "split\timage\tcaption\n" +
			"train\ta.jpg\tA dog, running .\n" +
			"test\tsub/c.jpeg\tA \"quoted\" word .\n" +
			"val\tb.PNG\n"}),
		want: []img{
			{"a.jpg", "train", []string{"A dog, running ."}},
			{"b.PNG", "", nil},
			{"sub/c.jpeg", "test", []string{`A "quoted" word .`}},
			{"sub/deeper/d.webp", "", nil},
		},
		problems: []string{"captions.tsv:4: want 3 fields, got 2"},
	}, {
		name:   "captions.csv without a header",
		format: "folder",
		files:  with(map[string]string{"captions.csv": "a.jpg,A dog .\n"}),
		want:   []img{{"a.jpg", "", []string{"A dog ."}}, {"b.PNG", "", nil}, {"sub/c.jpeg", "", nil}, {"sub/deeper/d.webp", "", nil}},
	}, {
		name:   "captions.jsonl",
		format: "folder",
		files: with(map[string]string{"captions.jsonl": `{"image": "a.jpg", "caption": "A dog ."}
{"image": "a.jpg", "captions": ["Two", " ", "Three"]}
{"image": "sub/c.jpeg", "caption": "Line\nbreak", "split": "val"}
{"image": "a.jpg", "caption": 
{"caption": "No image."}
{"image": "nope.jpg", "caption": "Missing."}
`}),
		want: []img{
			{"a.jpg", "", []string{"A dog .", "Two", "Three"}},
			{"b.PNG", "", nil},
			{"sub/c.jpeg", "val", []string{"Line\nbreak"}},
			{"sub/deeper/d.webp", "", nil},
		},
		problems: []string{
			"captions.jsonl:4: unexpected end of JSON input",
			"captions.jsonl:5: empty image name",
			`captions.jsonl:6: no image "nope.jpg" in the folder`,
		},
	}, {
		name:   "sidecar txt files",
		format: "folder",
		files: with(map[string]string{
			"a.txt":              crlf("A dog .\n\n  A second caption .  \n"),
			"sub/deeper/d.txt":   "Deep .",
			"sub/unrelated.txt":  "No image of this name .",
			"captions.txt":       "Not read: no Images/ folder, and no captions.jpg .",
			"sub/deeper/e.jpg.x": "",
		}),
		want: []img{
			{"a.jpg", "", []string{"A dog .", "A second caption ."}},
			{"b.PNG", "", nil},
			{"sub/c.jpeg", "", nil},
			{"sub/deeper/d.webp", "", []string{"Deep ."}},
		},
	}, {
		name:   "results.csv that is not Flickr30k",
		format: "folder",
		files:  with(map[string]string{"results.csv": "model,score\nclip,0.9\n"}),
		want:   []img{{"a.jpg", "", nil}, {"b.PNG", "", nil}, {"sub/c.jpeg", "", nil}, {"sub/deeper/d.webp", "", nil}},
	}} {
		t.Run(c.name, func(t *testing.T) { checkOpen(t, c) })
	}
}

func TestFolderAmbiguousBase(t *testing.T) {
	root := writeTree(t, map[string]string{"x/a.jpg": "", "y/a.jpg": "", "captions.csv": "image,caption\na.jpg,Which one ?\n"})
	d, err := Open(root, "folder")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Problems) != 1 || d.Problems[0].String() != `captions.csv:2: no image "a.jpg" in the folder` {
		t.Errorf("problems = %v", d.Problems)
	}
}

func TestFolderSymlinkedRoot(t *testing.T) {
	target := writeTree(t, map[string]string{"a.jpg": "", "a.txt": "A dog ."})
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(target, link); err != nil {
		t.Skip(err)
	}
	d, err := Open(link, "auto")
	if err != nil {
		t.Fatal(err)
	}
	want := []Image{{Key: "a.jpg", Path: filepath.Join(link, "a.jpg"), Captions: []string{"A dog ."}}}
	if !reflect.DeepEqual(d.Images, want) {
		t.Errorf("images = %+v, want %+v", d.Images, want)
	}
}
