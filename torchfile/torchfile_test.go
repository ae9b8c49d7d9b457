package torchfile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xmodal/xmodal/pickle"
)

const fixtures = "../testdata/vsepp"

// manifest is the part of the VSE++ fixtures' manifest.json read here.
type manifest struct {
	Variants map[string]struct {
		Files        map[string]string `json:"files"`
		Opt          map[string]any    `json:"opt"`
		Epoch        int64             `json:"epoch"`
		BestRsum     float64           `json:"best_rsum"`
		Eiters       int64             `json:"Eiters"`
		StateDictImg [][]any           `json:"state_dict_img"`
		StateDictTxt [][]any           `json:"state_dict_txt"`
	} `json:"variants"`
}

func readManifest(t *testing.T) manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Every container of every variant (zip; legacy as Python 3 and as Python 2
// with torch 0.3 wrote it) reads into the same checkpoint: the options,
// the counters and the state dicts of the manifest, with the same tensors.
func TestCheckpoints(t *testing.T) {
	m := readManifest(t)
	for name, v := range m.Variants {
		var first map[string][]float64
		for _, container := range []string{"zip", "legacy", "py2"} {
			file, ok := v.Files[container]
			if !ok {
				continue
			}
			t.Run(name+"/"+container, func(t *testing.T) {
				obj, err := Load(filepath.Join(fixtures, file), Options{})
				if err != nil {
					t.Fatal(err)
				}
				ck, ok := obj.(*pickle.Dict)
				if !ok {
					t.Fatalf("checkpoint is a %T", obj)
				}
				if e, _ := ck.Get("epoch"); e != v.Epoch {
					t.Errorf("epoch %v, want %d", e, v.Epoch)
				}
				if e, _ := ck.Get("Eiters"); e != v.Eiters {
					t.Errorf("Eiters %v, want %d", e, v.Eiters)
				}
				if r, _ := ck.Get("best_rsum"); r != v.BestRsum {
					t.Errorf("best_rsum %v, want %v", r, v.BestRsum)
				}
				o, _ := ck.Get("opt")
				opt, ok := o.(*pickle.Object)
				if !ok || opt.Class.String() != "argparse.Namespace" {
					t.Fatalf("opt is %#v", o)
				}
				for key, want := range v.Opt {
					got, _ := opt.Attr(key)
					if fmt.Sprint(normalize(got)) != fmt.Sprint(want) {
						t.Errorf("opt.%s = %v, want %v", key, got, want)
					}
				}
				mv, _ := ck.Get("model")
				models, ok := mv.(*pickle.List)
				if !ok || len(models.Items) != 2 {
					t.Fatalf("model is %#v", mv)
				}
				tensors := map[string][]float64{}
				for i, sd := range [][][]any{v.StateDictImg, v.StateDictTxt} {
					d, ok := models.Items[i].(*pickle.Dict)
					if !ok {
						t.Fatalf("state dict %d is a %T", i, models.Items[i])
					}
					var names []string
					for j, k := range d.Keys {
						key := k.(string)
						tensor, ok := d.Values[j].(*Tensor)
						if !ok {
							t.Fatalf("%s is a %T", key, d.Values[j])
						}
						if key == "num_batches_tracked" || filepath.Ext(key) == ".num_batches_tracked" {
							continue // torch ≥ 0.4 only; the manifest lists what py2 has too
						}
						names = append(names, key)
						vals, err := tensor.Float64()
						if err != nil || len(vals) != tensor.Len() {
							t.Fatalf("%s: %v", key, err)
						}
						tensors[fmt.Sprint(i)+key] = vals
					}
					var want []string
					for _, e := range sd {
						key := e[0].(string)
						if filepath.Ext(key) != ".num_batches_tracked" {
							want = append(want, key)
						}
						if tensor, ok := d.Get(key); ok {
							shape := fmt.Sprint(e[1])
							if got := fmt.Sprint(tensor.(*Tensor).Shape); got != shape {
								t.Errorf("%s: shape %s, want %s", key, got, shape)
							}
						}
					}
					slices.Sort(names)
					slices.Sort(want)
					for i, n := range names {
						if r, ok := py2Names[n]; ok {
							names[i] = r
						}
					}
					slices.Sort(names)
					if !slices.Equal(names, want) {
						t.Errorf("state dict %d: %v, want %v", i, names, want)
					}
				}
				if first == nil {
					first = tensors
					return
				}
				for k, vals := range first {
					got, ok := tensors[k]
					if !ok {
						got = tensors[k[:1]+oldNames[k[1:]]]
					}
					if !slices.Equal(got, vals) {
						t.Errorf("%s differs between containers", k)
					}
				}
			})
		}
	}
}

// py2Names maps the pre-2017 torchvision names of VGG's classifier, which
// Python 2 checkpoints use, to today's; oldNames is the reverse.
var py2Names = map[string]string{
	"cnn.classifier.1.weight": "cnn.classifier.0.weight", "cnn.classifier.1.bias": "cnn.classifier.0.bias",
	"cnn.classifier.4.weight": "cnn.classifier.3.weight", "cnn.classifier.4.bias": "cnn.classifier.3.bias",
}

var oldNames = func() map[string]string {
	m := map[string]string{}
	for old, cur := range py2Names {
		m[cur] = old
	}
	return m
}()

// normalize turns pickle values into what encoding/json reads from the
// manifest, for comparison.
func normalize(v any) any {
	switch v := v.(type) {
	case int64:
		return float64(v)
	}
	return v
}

func TestNotACheckpoint(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":   nil,
		"text":    []byte("hello"),
		"zip":     []byte("PK\x03\x04garbage"),
		"pickle":  []byte("\x80\x02K\x01."),
		"evil":    []byte("\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R."),
		"unknown": []byte("\x80\x02ctorch\nFooStorage\n."),
	} {
		_, err := Read(data, Options{})
		if err == nil {
			t.Errorf("%s: read without an error", name)
		}
		if name == "evil" && !strings.Contains(err.Error(), "os.system is not allowed") {
			t.Errorf("evil: %v", err)
		}
	}
}

// FuzzRead reads arbitrary checkpoints: errors, never panics, and the
// tensors it returns can be read whole.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"model_best.pth.tar", "model_best.legacy.pth.tar", "model_best.py2.pth.tar"} {
		if data, err := os.ReadFile(filepath.Join(fixtures, "models", "precomp", name)); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := Read(data, Options{})
		if err != nil {
			return
		}
		var visit func(v any)
		visit = func(v any) {
			switch v := v.(type) {
			case *Tensor:
				if vals, err := v.Float64(); err != nil || len(vals) != v.Len() {
					t.Fatalf("tensor %v: %d values, %v", v.Shape, len(vals), err)
				}
			case *pickle.Dict:
				for _, x := range v.Values {
					visit(x)
				}
			case *pickle.List:
				for _, x := range v.Items {
					visit(x)
				}
			}
		}
		visit(obj)
	})
}
