package server

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/xmodal/xmodal/search"
	"github.com/xmodal/xmodal/workspace"
)

// The native API, under /api/v1. Its contract is openapi.json.

//go:embed openapi.json
var openAPIDoc []byte

func fileURL(id int64) string { return "/api/v1/images/" + strconv.FormatInt(id, 10) + "/file" }
func thumbnailURL(id int64) string {
	return "/api/v1/images/" + strconv.FormatInt(id, 10) + "/thumbnail"
}
func imageURL(id int64) string { return "/api/v1/images/" + strconv.FormatInt(id, 10) }

// requestContext bounds the work of one request.
func (s *Server) requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.opts.RequestTimeout)
}

// apiHit is a search hit with the URLs of its image.
type apiHit struct {
	search.Hit
	FileURL      string `json:"file_url"`
	ThumbnailURL string `json:"thumbnail_url"`
}

func apiHits(hits []search.Hit) []apiHit {
	out := make([]apiHit, len(hits))
	for i, h := range hits {
		id := h.ID
		if h.Image != nil {
			id = h.Image.ID
		}
		out[i] = apiHit{Hit: h, FileURL: fileURL(id), ThumbnailURL: thumbnailURL(id)}
	}
	return out
}

// searchRequest is the body of POST /api/v1/search (or its query string,
// or its multipart form). Exactly one of Text, Image, ID and CaptionID is
// given.
type searchRequest struct {
	Text      string   `json:"text,omitempty"`
	Image     string   `json:"image,omitempty"` // data URI or base64
	ID        int64    `json:"id,omitempty"`
	CaptionID int64    `json:"caption_id,omitempty"`
	Target    string   `json:"target,omitempty"`
	TopK      int      `json:"top_k,omitempty"`
	Offset    int      `json:"offset,omitempty"`
	Split     string   `json:"split,omitempty"`
	Under     string   `json:"under,omitempty"`
	Hybrid    bool     `json:"hybrid,omitempty"`
	Add       []string `json:"add,omitempty"`
	Subtract  []string `json:"subtract,omitempty"`

	upload *upload // a multipart file, or Image decoded
}

// queryInfo describes the query in a search response.
type queryInfo struct {
	Type     string   `json:"type"` // text, image, image_id or caption_id
	Text     string   `json:"text,omitempty"`
	ID       int64    `json:"id,omitempty"`
	MimeType string   `json:"mime_type,omitempty"`
	Width    int      `json:"width,omitempty"`
	Height   int      `json:"height,omitempty"`
	Bytes    int      `json:"bytes,omitempty"`
	Hybrid   bool     `json:"hybrid,omitempty"` // fused with a keyword search
	Add      []string `json:"add,omitempty"`    // texts that steered it
	Subtract []string `json:"subtract,omitempty"`
}

// searchResponse lists hits by kind; a kind that was not searched is left
// out, one that was but found nothing is [].
type searchResponse struct {
	Query    queryInfo `json:"query"`
	TopK     int       `json:"top_k"`
	Offset   int       `json:"offset,omitempty"`
	TookMS   float64   `json:"took_ms"`
	Images   []apiHit  `json:"images,omitzero"`
	Captions []apiHit  `json:"captions,omitzero"`
}

// parseTarget reads a target: images, captions or both.
func parseTarget(t string) ([]workspace.Kind, error) {
	switch strings.ToLower(t) {
	case "":
		return nil, nil
	case "images", "image":
		return []workspace.Kind{workspace.Images}, nil
	case "captions", "caption", "texts", "text":
		return []workspace.Kind{workspace.Captions}, nil
	case "both", "all":
		return []workspace.Kind{workspace.Images, workspace.Captions}, nil
	}
	return nil, badRequest("target %q: want images, captions or both", t)
}

func (s *Server) apiSearch(w http.ResponseWriter, r *http.Request) error {
	eng := s.engine()
	if eng == nil {
		return errNotReady
	}
	start := time.Now()
	ctx, cancel := s.requestContext(r)
	defer cancel()
	req, err := s.readSearchRequest(r)
	if err != nil {
		return err
	}
	targets, err := parseTarget(req.Target)
	if err != nil {
		return err
	}
	q := search.Query{Text: req.Text, ImageID: req.ID, CaptionID: req.CaptionID, Targets: targets, TopK: req.TopK, Offset: req.Offset,
		Filter: workspace.Filter{Split: req.Split, Under: req.Under}, Hybrid: req.Hybrid, Add: req.Add, Subtract: req.Subtract}
	info := queryInfo{Text: req.Text, ID: req.ID + req.CaptionID, Hybrid: req.Hybrid}
	if up := req.upload; up != nil {
		q.Image = up.data
		info = queryInfo{MimeType: up.mimeType, Width: up.width, Height: up.height, Bytes: len(up.data)}
		release, err := s.acquireImageSlot(ctx)
		if err != nil {
			return err
		}
		defer release()
	}
	info.Type, info.Add, info.Subtract = q.Kind(), q.Add, q.Subtract
	res, err := eng.Search(ctx, q)
	if err != nil {
		return err
	}
	out := searchResponse{Query: info, TopK: res.TopK, Offset: res.Offset}
	if hits, ok := res.Hits[workspace.Images]; ok {
		out.Images = apiHits(hits)
	}
	if hits, ok := res.Hits[workspace.Captions]; ok {
		out.Captions = apiHits(hits)
	}
	out.TookMS = float64(time.Since(start).Microseconds()) / 1000
	return writeJSON(w, http.StatusOK, out)
}

// readSearchRequest reads a search from the query string (GET), a
// multipart form or a JSON body.
func (s *Server) readSearchRequest(r *http.Request) (searchRequest, error) {
	var req searchRequest
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return req, formFields(r.URL.Query(), &req, false)
	}
	if isMultipart(r) {
		return s.readMultipartSearch(r)
	}
	var body searchJSON
	if err := readJSONOrForm(r, &body); err != nil {
		return req, err
	}
	if err := body.into(&req); err != nil {
		return req, err
	}
	if req.Image != "" {
		up, err := s.imageFromString("image", req.Image)
		if err != nil {
			return req, err
		}
		req.upload = &up
	}
	return req, nil
}

// searchJSON is the JSON body of POST /api/v1/search. Its fields are
// pointers so that a value given explicitly (top_k 0, id 0, an empty text)
// is checked rather than taken for "not given".
type searchJSON struct {
	Text      *string  `json:"text"`
	Image     *string  `json:"image"` // data URI or base64
	ID        *int64   `json:"id"`
	CaptionID *int64   `json:"caption_id"`
	Target    *string  `json:"target"`
	TopK      *int     `json:"top_k"`
	Offset    *int     `json:"offset"`
	Split     *string  `json:"split"`
	Under     *string  `json:"under"`
	Hybrid    *bool    `json:"hybrid"`
	Add       []string `json:"add"`
	Subtract  []string `json:"subtract"`
}

func (b searchJSON) into(req *searchRequest) error {
	str := func(p *string, name string) (string, error) {
		if p == nil {
			return "", nil
		}
		if *p == "" {
			return "", badRequest("field %q is empty", name)
		}
		return *p, nil
	}
	var err error
	if req.Text, err = str(b.Text, "text"); err != nil {
		return err
	}
	if req.Image, err = str(b.Image, "image"); err != nil {
		return err
	}
	if req.Target, err = str(b.Target, "target"); err != nil {
		return err
	}
	if req.Split, err = str(b.Split, "split"); err != nil {
		return err
	}
	if req.Under, err = str(b.Under, "under"); err != nil {
		return err
	}
	for _, id := range []struct {
		name string
		from *int64
		to   *int64
	}{{"id", b.ID, &req.ID}, {"caption_id", b.CaptionID, &req.CaptionID}} {
		if id.from != nil {
			if *id.from < 1 {
				return badRequest("field %q must be a document id (a positive whole number), not %d", id.name, *id.from)
			}
			*id.to = *id.from
		}
	}
	if b.Hybrid != nil {
		req.Hybrid = *b.Hybrid
	}
	req.Add, req.Subtract = b.Add, b.Subtract
	for _, c := range []struct {
		name  string
		from  *int
		to    *int
		least int
	}{{"offset", b.Offset, &req.Offset, 0}, {"top_k", b.TopK, &req.TopK, 1}} {
		if c.from != nil {
			if err := atLeast(c.name, *c.from, c.least); err != nil {
				return err
			}
			*c.to = *c.from
		}
	}
	return nil
}

// count reads a whole-number parameter of at least least.
func count(name, val string, least int) (int, error) {
	n, err := strconv.Atoi(val)
	if err != nil {
		return 0, badRequest("%s %q is not a whole number", name, val)
	}
	return n, atLeast(name, n, least)
}

// atLeast refuses a count below least.
func atLeast(name string, n, least int) error {
	switch {
	case n >= least:
		return nil
	case least == 0:
		return badRequest("%s must be 0 or more, not %d", name, n)
	}
	return badRequest("%s must be at least %d, not %d", name, least, n)
}

// readJSONOrForm reads the JSON body of a route that also takes multipart
// forms, naming both in its 415.
func readJSONOrForm(r *http.Request, v any) error {
	if err := requireJSON(r); err != nil {
		return errorf(http.StatusUnsupportedMediaType, "%s; or a multipart form (multipart/form-data)", err)
	}
	return readJSON(r, v, true)
}

func isMultipart(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "multipart/form-data"
}

// formFields fills a search request from form or query values, refusing
// unknown names.
func formFields(v url.Values, req *searchRequest, allowImage bool) error {
	for name, vals := range v {
		// Texts to steer by may come several times: add=a&add=b.
		switch name {
		case "add":
			req.Add = vals
			continue
		case "subtract":
			req.Subtract = vals
			continue
		}
		if len(vals) != 1 {
			return badRequest("parameter %q is given %d times", name, len(vals))
		}
		val := vals[0]
		var err error
		switch name {
		case "text", "q":
			req.Text = val
		case "id":
			req.ID, err = parseID(name, val)
		case "caption_id":
			req.CaptionID, err = parseID(name, val)
		case "target":
			req.Target = val
		case "split":
			req.Split = val
		case "under":
			req.Under = val
		case "offset":
			req.Offset, err = count(name, val, 0)
		case "hybrid":
			if req.Hybrid, err = strconv.ParseBool(val); err != nil {
				err = badRequest("hybrid %q: want true or false", val)
			}
		case "top_k":
			req.TopK, err = count(name, val, 1)
		case "image":
			if !allowImage {
				return badRequest("search by image with POST (multipart or JSON), not GET")
			}
			req.Image = val
		default:
			return badRequest("unknown parameter %q (want text, id, caption_id, target, top_k, offset, split, under, hybrid, add, subtract)", name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readMultipartSearch reads a multipart search: an "image" file part, or
// form fields. The body is already capped, so parts are read in memory.
func (s *Server) readMultipartSearch(r *http.Request) (searchRequest, error) {
	var req searchRequest
	values := url.Values{}
	err := readMultipart(r, func(p *multipart.Part, data []byte) error {
		switch p.FormName() {
		case "image", "file":
			up, err := s.checkImage(data)
			if err != nil {
				return prefixError("image", err)
			}
			if req.upload != nil {
				return badRequest("more than one image: search by one image at a time")
			}
			req.upload = &up
		default:
			values.Add(p.FormName(), string(data))
		}
		return nil
	})
	if err != nil {
		return req, err
	}
	if err := formFields(values, &req, true); err != nil {
		return req, err
	}
	if req.Image != "" {
		up, err := s.imageFromString("image", req.Image)
		if err != nil {
			return req, err
		}
		req.upload = &up
	}
	return req, nil
}

// readMultipart calls fn with every part of a multipart body and its
// content.
func readMultipart(r *http.Request, fn func(p *multipart.Part, data []byte) error) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return badRequest("invalid multipart body: %v", err)
	}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return multipartError(err)
		}
		if p.FormName() == "" {
			return badRequest("multipart part without a name")
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return multipartError(err)
		}
		if err := fn(p, data); err != nil {
			return err
		}
	}
}

func multipartError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) || errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	return badRequest("invalid multipart body: %v", err)
}

func parseID(name, v string) (int64, error) {
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		return 0, badRequest("%s %q is not a document id (a positive whole number)", name, v)
	}
	return id, nil
}

// apiImage is an image document with its URLs.
type apiImage struct {
	*workspace.Image
	FileURL      string `json:"file_url"`
	ThumbnailURL string `json:"thumbnail_url"`
}

// lookupImage finds the image named by the {id} of the path.
func (s *Server) lookupImage(ctx context.Context, r *http.Request) (*search.Engine, *workspace.Image, error) {
	eng := s.engine()
	if eng == nil {
		return nil, nil, errNotReady
	}
	id, err := parseID("image id", r.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	im, err := findImage(ctx, eng, id)
	return eng, im, err
}

// findImage looks up an image by id, answering 404 if there is none.
func findImage(ctx context.Context, eng *search.Engine, id int64) (*workspace.Image, error) {
	im, err := eng.Workspace().Image(ctx, id)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errorf(http.StatusNotFound, "no image with id %d", id)
	}
	if err != nil {
		return nil, fmt.Errorf("look up image %d: %w", id, err)
	}
	return im, nil
}

func (s *Server) apiGetImage(w http.ResponseWriter, r *http.Request) error {
	_, im, err := s.lookupImage(r.Context(), r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, apiImage{Image: im, FileURL: fileURL(im.ID), ThumbnailURL: thumbnailURL(im.ID)})
}

// etagToken is the indexed content hash if it is safe in an ETag.
var etagToken = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// imageETag is an image's entity tag: its content hash when the file still
// has the indexed size, else one made from the file's size and time.
// Cache-Control is no-cache because an id can be reused after a deletion,
// so a client must revalidate (a cheap 304) before reusing its copy.
func imageETag(im *workspace.Image, fi os.FileInfo, suffix string) string {
	if fi.Size() == im.Size && etagToken.MatchString(im.SHA256) {
		return `"` + im.SHA256 + suffix + `"`
	}
	return fmt.Sprintf(`W/"%x-%x%s"`, fi.Size(), fi.ModTime().UnixNano(), suffix)
}

func (s *Server) apiImageFile(w http.ResponseWriter, r *http.Request) error {
	eng, im, err := s.lookupImage(r.Context(), r)
	if err != nil {
		return err
	}
	if im.Path == "" {
		return serveStored(w, r, eng, im)
	}
	if isURL(im.Path) {
		// Indexed by a worker from an object store or web server:
		// the client fetches it from there.
		http.Redirect(w, r, im.Path, http.StatusFound)
		return nil
	}
	f, err := os.Open(im.Path)
	if errors.Is(err, os.ErrNotExist) {
		return errorf(http.StatusNotFound, "the file of image %d is no longer on disk (moved or deleted since it was indexed)", im.ID)
	}
	if err != nil {
		return fmt.Errorf("image %d: %w", im.ID, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("image %d: %w", im.ID, err)
	}
	if fi.IsDir() {
		return errorf(http.StatusNotFound, "the file of image %d is a directory", im.ID)
	}
	ct := mimeFromPath(im.Path)
	if ct == "application/octet-stream" {
		head := make([]byte, 512)
		n, _ := io.ReadFull(f, head)
		ct = http.DetectContentType(head[:n])
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("image %d: %w", im.ID, err)
		}
	}
	serveImage(w, r, im, ct, imageETag(im, fi, ""), fi.ModTime(), f)
	return nil
}

// isURL reports whether an image's path is an http(s) URL.
func isURL(p string) bool {
	return strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://")
}

// maxFetchBytes bounds an image read from its URL: the largest file that
// the indexer reads (indexer.Options.MaxFileSize's default).
const maxFetchBytes = 64 << 20

// fetchImage reads an image indexed from a URL, up to limit bytes.
func fetchImage(ctx context.Context, u string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errorf(http.StatusBadGateway, "the image's URL answered %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = fmt.Errorf("the image at its URL is over %d bytes", limit)
	}
	return data, err
}

// serveStored serves an image whose bytes the workspace keeps (an upload
// to a database workspace).
func serveStored(w http.ResponseWriter, r *http.Request, eng *search.Engine, im *workspace.Image) error {
	data, err := storedFile(r.Context(), eng, im)
	if err != nil {
		return err
	}
	ct := mimeFromPath(im.Key)
	if ct == "application/octet-stream" {
		ct = http.DetectContentType(data)
	}
	serveImage(w, r, im, ct, `"`+im.SHA256+`"`, im.Added, bytes.NewReader(data))
	return nil
}

func storedFile(ctx context.Context, eng *search.Engine, im *workspace.Image) ([]byte, error) {
	data, err := eng.Workspace().File(ctx, im.Key)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errorf(http.StatusNotFound, "image %d has no file: it has no path and the workspace keeps no bytes for it", im.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("image %d: %w", im.ID, err)
	}
	return data, nil
}

func serveImage(w http.ResponseWriter, r *http.Request, im *workspace.Image, ct, etag string, mod time.Time, content io.ReadSeeker) {
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("ETag", etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": path.Base(im.Key)}))
	// ServeContent answers Range and If-None-Match requests.
	http.ServeContent(w, r, "", mod, content)
}

func (s *Server) apiThumbnail(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	eng, im, err := s.lookupImage(ctx, r)
	if err != nil {
		return err
	}
	size := DefaultThumbnailSize
	for name, vals := range r.URL.Query() {
		if name != "size" || len(vals) != 1 {
			return badRequest("unknown parameter %q (thumbnail takes size)", name)
		}
		if size, err = strconv.Atoi(vals[0]); err != nil || !thumbnailSizes[size] {
			return badRequest("thumbnail size %q: want 128, 256 or 512", vals[0])
		}
	}
	var etag string
	read := func() ([]byte, error) { return os.ReadFile(im.Path) }
	switch {
	case im.Path == "":
		// Stored bytes never change: the hash tags them.
		etag = `"` + im.SHA256 + "-t" + strconv.Itoa(size) + `"`
		read = func() ([]byte, error) { return storedFile(ctx, eng, im) }
	case isURL(im.Path):
		// Tagged by the hash taken when it was indexed.
		etag = `"` + im.SHA256 + "-t" + strconv.Itoa(size) + `"`
		read = func() ([]byte, error) { return fetchImage(ctx, im.Path, maxFetchBytes) }
	default:
		fi, err := os.Stat(im.Path)
		if errors.Is(err, os.ErrNotExist) {
			return errorf(http.StatusNotFound, "the file of image %d is no longer on disk (moved or deleted since it was indexed)", im.ID)
		}
		if err != nil {
			return fmt.Errorf("image %d: %w", im.ID, err)
		}
		etag = imageETag(im, fi, "-t"+strconv.Itoa(size))
	}
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Type", "image/jpeg")
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, strings.TrimPrefix(etag, "W/")) {
		// Revalidation costs no decoding.
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	jpg, err := s.thumbnail(ctx, etag, read, size)
	if err != nil {
		return fmt.Errorf("thumbnail of image %d: %w", im.ID, err)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(jpg))
	return nil
}

// addRequest is the JSON form of POST /api/v1/images.
type addRequest struct {
	Image    string   `json:"image"` // data URI or base64
	Captions []string `json:"captions"`
}

// maxCaptions bounds the captions of one added image.
const maxCaptions = 100

func (s *Server) apiAddImage(w http.ResponseWriter, r *http.Request) error {
	eng := s.engine()
	if eng == nil {
		return errNotReady
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	var up *upload
	var captions []string
	if isMultipart(r) {
		err := readMultipart(r, func(p *multipart.Part, data []byte) error {
			switch p.FormName() {
			case "image", "file":
				if up != nil {
					return badRequest("more than one image: add one image per request")
				}
				u, err := s.checkImage(data)
				if err != nil {
					return prefixError("image", err)
				}
				up = &u
			case "caption", "captions":
				captions = append(captions, string(data))
			default:
				return badRequest("unknown form field %q (want image and caption)", p.FormName())
			}
			return nil
		})
		if err != nil {
			return err
		}
	} else {
		var req addRequest
		if err := readJSONOrForm(r, &req); err != nil {
			return err
		}
		if req.Image != "" {
			u, err := s.imageFromString("image", req.Image)
			if err != nil {
				return err
			}
			up = &u
		}
		captions = req.Captions
	}
	if up == nil {
		return badRequest("no image: send a multipart form with an image file (and caption fields), or JSON {\"image\":\"data:image/jpeg;base64,...\",\"captions\":[...]}")
	}
	if len(captions) > maxCaptions {
		return badRequest("%d captions, above the limit of %d", len(captions), maxCaptions)
	}
	release, err := s.acquireImageSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	im, err := eng.Add(ctx, up.data, captions)
	if err != nil {
		return err
	}
	w.Header().Set("Location", imageURL(im.ID))
	return writeJSON(w, http.StatusCreated, apiImage{Image: im, FileURL: fileURL(im.ID), ThumbnailURL: thumbnailURL(im.ID)})
}

func (s *Server) apiDeleteImage(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	eng, im, err := s.lookupImage(ctx, r)
	if err != nil {
		return err
	}
	if err := eng.Delete(ctx, im.ID); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"deleted": im.ID, "key": im.Key})
}

// statsResponse is GET /api/v1/stats.
type statsResponse struct {
	Workspace  workspace.Stats `json:"workspace"`
	Searchable struct {
		Images   int `json:"images"`
		Captions int `json:"captions"`
	} `json:"searchable"`
	Model    workspace.Model `json:"model"`
	Created  time.Time       `json:"created"`
	ReadOnly bool            `json:"read_only"`
	Limits   struct {
		MaxTopK      int   `json:"max_top_k"`
		DefaultTopK  int   `json:"default_top_k"`
		MaxTextBytes int   `json:"max_text_bytes"`
		MaxBodyBytes int64 `json:"max_body_bytes"`
		MaxPixels    int64 `json:"max_pixels"`
		MaxQueries   int   `json:"max_queries"`
	} `json:"limits"`
}

func (s *Server) apiStats(w http.ResponseWriter, r *http.Request) error {
	eng := s.engine()
	if eng == nil {
		return errNotReady
	}
	st, err := eng.Workspace().Stats(r.Context())
	if err != nil {
		return fmt.Errorf("workspace stats: %w", err)
	}
	var out statsResponse
	out.Workspace = st
	out.Searchable.Images, out.Searchable.Captions = eng.Counts()
	man := eng.Workspace().Manifest()
	out.Model, out.Created, out.ReadOnly = man.Model, man.Created, s.opts.ReadOnly
	limits := eng.Limits.Effective()
	out.Limits.MaxTopK, out.Limits.DefaultTopK, out.Limits.MaxTextBytes = limits.MaxTopK, limits.DefaultTopK, limits.MaxTextBytes
	out.Limits.MaxBodyBytes, out.Limits.MaxPixels, out.Limits.MaxQueries = s.opts.MaxBodyBytes, s.opts.MaxPixels, s.opts.MaxQueries
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, err := w.Write(openAPIDoc)
	return err
}

// duplicatesResponse is the body of GET /api/v1/duplicates.
type duplicatesResponse struct {
	Threshold float64          `json:"threshold"`
	Groups    []duplicateGroup `json:"groups"`
	TookMS    float64          `json:"took_ms"`
}

type duplicateGroup struct {
	Images []apiHit `json:"images"`
}

// apiDuplicates finds groups of near-identical images (search.Engine.Duplicates).
func (s *Server) apiDuplicates(w http.ResponseWriter, r *http.Request) error {
	eng := s.engine()
	if eng == nil {
		return errNotReady
	}
	threshold := 0.95
	for name, vals := range r.URL.Query() {
		if name != "threshold" {
			return badRequest("unknown parameter %q (want threshold)", name)
		}
		v, err := strconv.ParseFloat(vals[0], 64)
		if err != nil || len(vals) != 1 || v <= 0 || v > 1 {
			return badRequest("threshold %q: want one cosine similarity above 0, at most 1", vals[0])
		}
		threshold = v
	}
	if !s.dups.TryLock() {
		return &httpError{status: http.StatusTooManyRequests, msg: "a duplicate search is already running; retry when it is done", retryAfter: "5"}
	}
	defer s.dups.Unlock()
	start := time.Now()
	ctx, cancel := s.requestContext(r)
	defer cancel()
	groups, err := eng.Duplicates(ctx, float32(threshold), nil)
	if err != nil {
		return err
	}
	out := duplicatesResponse{Threshold: threshold, Groups: make([]duplicateGroup, len(groups))}
	for i, g := range groups {
		out.Groups[i].Images = apiHits(g.Images)
	}
	out.TookMS = float64(time.Since(start).Microseconds()) / 1000
	return writeJSON(w, http.StatusOK, out)
}
