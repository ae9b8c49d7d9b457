package store

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/xmodal/xmodal/internal/atomicfile"
)

// DefaultEndpoint is the Hugging Face Hub.
const DefaultEndpoint = "https://huggingface.co"

// PullOptions configure a download.
type PullOptions struct {
	// Endpoint is the hub's base URL: DefaultEndpoint, or a mirror.
	Endpoint string
	// Token authorises access to gated or private repositories.
	Token string
	// Revision is a branch, tag or commit (default "main").
	Revision string
	// Client is the HTTP client (default: one with sensible timeouts).
	Client *http.Client
	// Progress, if set, is called as bytes of a file arrive.
	Progress func(file string, done, total int64)
}

// EnvOptions reads HF_ENDPOINT and HF_TOKEN, as the Hugging Face tools do.
func EnvOptions() PullOptions {
	return PullOptions{Endpoint: os.Getenv("HF_ENDPOINT"), Token: os.Getenv("HF_TOKEN")}
}

// sibling is a file of a repository as the hub's API lists it.
type sibling struct {
	Name   string `json:"rfilename"`
	Size   *int64 `json:"size"`
	BlobID string `json:"blobId"`
	LFS    *struct {
		SHA256 string `json:"sha256"`
		Size   int64  `json:"size"`
	} `json:"lfs"`
}

// required are the files every CLIP model folder needs besides its weights.
var required = []string{"config.json", "vocab.json", "merges.txt"}

// optional are fetched when the repository has them.
var optional = []string{"preprocessor_config.json"}

// Pull downloads the files xmodal needs of a Hugging Face CLIPModel
// repository into the store, resuming any earlier interrupted pull, and
// returns the model's folder. Every file is checked against the size and
// hash the hub gives (SHA-256 for large files, the git blob id for small
// ones).
func (s *Store) Pull(ctx context.Context, repo string, opts PullOptions) (string, error) {
	if err := ValidRepo(repo); err != nil {
		return "", err
	}
	if opts.Endpoint == "" {
		opts.Endpoint = DefaultEndpoint
	}
	opts.Endpoint = strings.TrimRight(opts.Endpoint, "/")
	if opts.Revision == "" {
		opts.Revision = "main"
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			ResponseHeaderTimeout: 60 * time.Second,
			TLSHandshakeTimeout:   30 * time.Second,
		}}
	}
	files, err := s.listFiles(ctx, repo, opts)
	if err != nil {
		return "", err
	}
	dir := s.Path(repo)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	os.Remove(filepath.Join(dir, completeMarker))
	for _, f := range files {
		if err := download(ctx, repo, f, dir, opts); err != nil {
			return "", fmt.Errorf("pull %s: %s: %w", repo, f.Name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, completeMarker), []byte(opts.Revision+"\n"), 0o644); err != nil {
		return "", err
	}
	return dir, nil
}

// listFiles asks the hub which files the repository has and picks the ones
// xmodal reads.
func (s *Store) listFiles(ctx context.Context, repo string, opts PullOptions) ([]sibling, error) {
	api := fmt.Sprintf("%s/api/models/%s/revision/%s?blobs=true", opts.Endpoint, repo, url.PathEscape(opts.Revision))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api, nil)
	if err != nil {
		return nil, err
	}
	authorize(req, opts)
	resp, err := opts.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", repo, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		return nil, fmt.Errorf("list %s: %s: the repository is gated or private; set HF_TOKEN", repo, resp.Status)
	case http.StatusNotFound:
		return nil, fmt.Errorf("list %s: no such repository or revision %q at %s", repo, opts.Revision, opts.Endpoint)
	default:
		return nil, fmt.Errorf("list %s: %s", repo, resp.Status)
	}
	var info struct {
		Siblings []sibling `json:"siblings"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(&info); err != nil {
		return nil, fmt.Errorf("list %s: %w", repo, err)
	}
	byName := map[string]sibling{}
	for _, f := range info.Siblings {
		byName[f.Name] = f
	}
	var out []sibling
	for _, name := range required {
		f, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("%s has no %s: is it a CLIPModel repository?", repo, name)
		}
		out = append(out, f)
	}
	for _, name := range optional {
		if f, ok := byName[name]; ok {
			out = append(out, f)
		}
	}
	switch f, ok := byName["model.safetensors"]; {
	case ok:
		out = append(out, f)
	default:
		idx, ok := byName["model.safetensors.index.json"]
		if !ok {
			return nil, fmt.Errorf("%s has no safetensors weights (model.safetensors or model.safetensors.index.json); xmodal does not read pytorch_model.bin", repo)
		}
		out = append(out, idx)
		for name, f := range byName {
			if strings.HasPrefix(name, "model-") && strings.HasSuffix(name, ".safetensors") && !strings.Contains(name, "/") {
				out = append(out, f)
			}
		}
	}
	return out, nil
}

func authorize(req *http.Request, opts PullOptions) {
	if opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+opts.Token)
	}
	req.Header.Set("User-Agent", "xmodal")
}

// download fetches one file to dir, resuming from its .part file, and
// verifies it before renaming it into place.
func download(ctx context.Context, repo string, f sibling, dir string, opts PullOptions) error {
	final := filepath.Join(dir, f.Name)
	want := int64(-1)
	switch {
	case f.LFS != nil:
		want = f.LFS.Size
	case f.Size != nil:
		want = *f.Size
	}
	if st, err := os.Stat(final); err == nil && (want < 0 || st.Size() == want) && verify(final, f) == nil {
		return nil // already here from an earlier pull
	}
	part := final + ".part"
	for attempt := 0; ; attempt++ {
		err := fetch(ctx, repo, f, part, want, opts)
		if err == nil {
			err = verify(part, f)
			if err != nil {
				// A corrupt file cannot be resumed: start it over once.
				os.Remove(part)
				if attempt == 0 {
					continue
				}
				return err
			}
			return atomicfile.Rename(part, final)
		}
		if ctx.Err() != nil || attempt >= 4 {
			return err
		}
		// A dropped connection: resume from what arrived.
		select {
		case <-time.After(time.Duration(attempt+1) * 500 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// fetch appends the rest of the file to part.
func fetch(ctx context.Context, repo string, f sibling, part string, want int64, opts PullOptions) error {
	out, err := os.OpenFile(part, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	have, err := out.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if want >= 0 && have > want {
		if err := out.Truncate(0); err != nil {
			return err
		}
		have, _ = out.Seek(0, io.SeekStart)
	}
	if want >= 0 && have == want {
		return nil
	}
	u := fmt.Sprintf("%s/%s/resolve/%s/%s", opts.Endpoint, repo, url.PathEscape(opts.Revision), f.Name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	authorize(req, opts)
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	resp, err := opts.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
	case http.StatusOK:
		// The server ignored the range: start over.
		if err := out.Truncate(0); err != nil {
			return err
		}
		if _, err := out.Seek(0, io.SeekStart); err != nil {
			return err
		}
		have = 0
	case http.StatusRequestedRangeNotSatisfiable:
		out.Truncate(0)
		return errors.New("the server refused to resume; starting over")
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%s: the repository is gated or private; set HF_TOKEN", resp.Status)
	default:
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	total := want
	if total < 0 && resp.ContentLength >= 0 {
		total = have + resp.ContentLength
	}
	buf := make([]byte, 256<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := out.Write(buf[:n]); err != nil {
				return err
			}
			have += int64(n)
			if opts.Progress != nil {
				opts.Progress(f.Name, have, total)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if want >= 0 && have != want {
		return fmt.Errorf("got %d bytes, want %d", have, want)
	}
	return out.Sync()
}

// verify checks a file against the hub's size and hash.
func verify(path string, f sibling) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	var h hash.Hash
	var want string
	switch {
	case f.LFS != nil:
		if st.Size() != f.LFS.Size {
			return fmt.Errorf("size %d, want %d", st.Size(), f.LFS.Size)
		}
		h, want = sha256.New(), f.LFS.SHA256
	case f.BlobID != "":
		// Small files are plain git blobs: sha1("blob <size>\x00" + content).
		h, want = sha1.New(), f.BlobID
		fmt.Fprintf(h, "blob %d\x00", st.Size())
	default:
		if f.Size != nil && st.Size() != *f.Size {
			return fmt.Errorf("size %d, want %d", st.Size(), *f.Size)
		}
		return nil
	}
	if _, err := io.Copy(h, in); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, want) {
		return fmt.Errorf("checksum %s, want %s: the download is corrupt", got, want)
	}
	return nil
}
