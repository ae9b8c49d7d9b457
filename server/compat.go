package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/xmodal/xmodal/imageio"
	"github.com/xmodal/xmodal/search"
	"github.com/xmodal/xmodal/workspace"
)

// POST /search speaks the REST API of the Jina cross-modal example that
// xmodal replaces, so that its curl scripts and its JavaScript front end
// (Jina Box) keep working:
//
//	{"top_k":5,"mode":"search","data":["a boy playing basketball"]}
//	{"parameters":{"top_k":5},"data":["data:image/png;base64,..."]}
//
// A text finds images, an image (a data URI) finds captions.

// compatIgnored are fields of Jina's request envelope that mean nothing
// here; clients built for Jina send them, so they are accepted and ignored.
var compatIgnored = map[string]bool{
	"request_size": true, "requestSize": true, "mime_type": true, "queryset": true, "data_type": true,
	"exec_endpoint": true, "execEndpoint": true, "target_peapod": true, "target_executor": true,
	"targetExecutor": true, "header": true, "request_id": true, "requestId": true, "routes": true,
}

// compatQuery is one item of data.
type compatQuery struct {
	text     string // a text query, or
	uri      string // an image query's data URI or this server's image URL, with
	image    upload // the image of a data URI, or
	imageID  int64  // the indexed image that the URL names
	mimeType string // of the query: text/plain or the image's type
}

// compatResponse answers POST /search in the shapes of both Jina
// generations, because the two published Jina Box versions read different
// ones: 0.1.49 reads search.docs and mimeType (Jina 1.x), 0.1.50 reads
// data.docs and mime_type (Jina 2.x). Both envelopes hold the same
// documents. Error answers have the same shape, with status.code ERROR,
// empty docs (Jina Box reads docs before it looks at the status) and the
// plain message in error, like every other endpoint.
type compatResponse struct {
	Search compatDocs   `json:"search"`
	Data   compatDocs   `json:"data"`
	Status compatStatus `json:"status"`
	Error  string       `json:"error,omitempty"`
}

type compatDocs struct {
	Docs []compatDoc `json:"docs"`
}

type compatStatus struct {
	Code        string `json:"code"`
	Description string `json:"description,omitempty"`
}

// compatDoc is a query with its matches. Text in it is HTML (see
// compatHTML); MimeType and MimeType2 carry the same value for both
// client generations.
type compatDoc struct {
	Text      string        `json:"text,omitempty"`
	URI       string        `json:"uri,omitempty"`
	MimeType  string        `json:"mimeType"`
	MimeType2 string        `json:"mime_type"`
	Matches   []compatMatch `json:"matches"`
}

type compatMatch struct {
	ID        string         `json:"id"`
	Score     compatScore    `json:"score"`
	MimeType  string         `json:"mimeType"`
	MimeType2 string         `json:"mime_type"`
	URI       string         `json:"uri,omitempty"`
	Text      string         `json:"text,omitempty"`
	Tags      map[string]any `json:"tags,omitempty"`
}

type compatScore struct {
	Value float64 `json:"value"`
}

// compatHTML escapes a text for the Jina envelopes. Jina Box inserts a
// match's text into the page as HTML (and its error description too), so
// a caption such as "<img src=x onerror=...>" from a dataset would run as
// script in any page that embeds the box. Every text in the envelopes is
// therefore HTML, which the box shows as the original characters; the
// plain text is in tags.text. Text queries are read back the same way
// (see compatText), so a caption the user clicks is searched as itself.
func compatHTML(s string) string { return html.EscapeString(s) }

// compatText reads a text query of POST /search as HTML, the form in which
// this endpoint hands texts out, so that "salt &amp; pepper", sent back by
// Jina Box when a caption is clicked, searches for "salt & pepper". CLIP's
// own tokenizer unescapes HTML entities anyway, so for CLIP models this
// changes nothing.
func compatText(s string) string { return html.UnescapeString(s) }

func (s *Server) compatSearch(w http.ResponseWriter, r *http.Request) error {
	eng := s.engine()
	if eng == nil {
		return errNotReady
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()

	items, params, err := s.parseCompat(r)
	if err != nil {
		return err
	}
	queries := make([]search.Query, len(items))
	images := false
	for i, it := range items {
		q := search.Query{Text: it.text, ImageID: it.imageID, TopK: params.topK, Hybrid: params.hybrid && it.text != ""}
		if it.image.data != nil {
			q.Image, images = it.image.data, true
		}
		switch {
		case params.target != "":
			q.Targets = []workspace.Kind{params.target}
		case it.imageID != 0:
			// An image URL is an image query: it finds captions, as a
			// data URI does (the engine's default for an id is images).
			q.Targets = []workspace.Kind{workspace.Captions}
		}
		if it.imageID != 0 && it.mimeType == "" {
			// An image URL of this server: its type is its file's.
			im, err := findImage(ctx, eng, it.imageID)
			if err != nil {
				return prefixError(fmt.Sprintf("data item %d", i+1), err)
			}
			items[i].mimeType = mimeFromPath(im.Key) // the key ends as the file does
		}
		queries[i] = q
	}
	if images {
		// Images are decoded one at a time: one slot bounds the memory.
		release, err := s.acquireImageSlot(ctx)
		if err != nil {
			return err
		}
		defer release()
	}
	results, err := eng.SearchAll(ctx, queries)
	var qe *search.QueryError
	if errors.As(err, &qe) {
		return prefixError(fmt.Sprintf("data item %d", qe.Index+1), qe.Err)
	}
	if err != nil {
		return err
	}

	base := s.baseURL(r)
	docs := make([]compatDoc, len(items))
	for i, it := range items {
		if it.uri == "" {
			docs[i] = compatDoc{Text: compatHTML(it.text)}
		} else {
			docs[i] = compatDoc{URI: it.uri}
		}
		docs[i].MimeType, docs[i].MimeType2 = it.mimeType, it.mimeType
		hits := results[i].Hits[results[i].Targets[0]]
		docs[i].Matches = make([]compatMatch, 0, len(hits))
		for _, h := range hits {
			docs[i].Matches = append(docs[i].Matches, compatMatchOf(base, h))
		}
	}
	return writeJSON(w, http.StatusOK, compatResponse{
		Search: compatDocs{docs},
		Data:   compatDocs{docs},
		Status: compatStatus{Code: "SUCCESS"},
	})
}

// compatError is the body of an error answer on POST /search.
func compatError(msg string) compatResponse {
	empty := compatDocs{Docs: []compatDoc{}}
	return compatResponse{
		Search: empty,
		Data:   empty,
		Status: compatStatus{Code: "ERROR", Description: compatHTML(msg)},
		Error:  msg,
	}
}

// compatMatchOf turns a hit into a Jina match. Images point at their file
// by absolute URL, so that any page can show them (and send them back as a
// query); captions carry their text, and their image in the tags.
func compatMatchOf(base string, h search.Hit) compatMatch {
	m := compatMatch{ID: strconv.FormatInt(h.ID, 10), Score: compatScore{Value: score64(h.Score)}}
	if h.Type == workspace.Images {
		m.MimeType = mimeFromPath(h.Key)
		m.URI = base + fileURL(h.ID)
		m.Tags = map[string]any{"type": "image", "key": h.Key, "thumbnail": base + thumbnailURL(h.ID)}
		if len(h.Captions) > 0 {
			m.Text = compatHTML(h.Captions[0])
			m.Tags["text"] = h.Captions[0]
		}
	} else {
		m.MimeType = "text/plain"
		m.Text = compatHTML(h.Text)
		m.Tags = map[string]any{"type": "caption", "text": h.Text}
		if h.Image != nil {
			m.Tags["image_id"] = strconv.FormatInt(h.Image.ID, 10)
			m.Tags["image_uri"] = base + fileURL(h.Image.ID)
			m.Tags["thumbnail"] = base + thumbnailURL(h.Image.ID)
		}
	}
	m.MimeType2 = m.MimeType
	return m
}

// score64 widens a float32 score to the float64 with the same shortest
// decimal form, so that JSON shows 0.3125, not 0.31249999254941940.
func score64(f float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	return v
}

// compatParams are the settings of a POST /search request, from its
// top-level top_k and its parameters.
type compatParams struct {
	topK   int            // 0 when not given: the engine's default
	target workspace.Kind // "" unless parameters.target overrides the direction
	hybrid bool           // parameters.hybrid: text queries match words too
}

// parseCompat reads and checks a POST /search body.
func (s *Server) parseCompat(r *http.Request) (queries []compatQuery, params compatParams, err error) {
	var raw map[string]json.RawMessage
	if err := readJSON(r, &raw, false); err != nil {
		return nil, params, err
	}
	if raw == nil {
		return nil, params, badRequest(`want a JSON object such as {"top_k":5,"data":["a boy playing basketball"]}`)
	}
	var k int
	for key, val := range raw {
		switch key {
		case "data":
		case "top_k", "topK":
			if k, err = parseIntField(key, val); err != nil {
				return nil, params, err
			}
		case "mode":
			var mode string
			if err := json.Unmarshal(val, &mode); err != nil {
				return nil, params, badRequest("field \"mode\" must be a string")
			}
			if mode != "" && mode != "search" {
				return nil, params, badRequest("mode %q is not supported here: POST /search only searches (add images with POST /api/v1/images)", mode)
			}
		case "parameters":
			if params, err = parseCompatParameters(val); err != nil {
				return nil, params, err
			}
		default:
			if !compatIgnored[key] {
				return nil, params, badRequest("unknown field %q (POST /search takes data, top_k, mode and parameters)", key)
			}
		}
	}
	if k != 0 && params.topK != 0 && k != params.topK {
		return nil, params, badRequest("top_k is given twice with different values (%d and parameters.top_k %d)", k, params.topK)
	}
	if k != 0 {
		params.topK = k
	}

	data, ok := raw["data"]
	if !ok {
		return nil, params, badRequest(`field "data" is missing: want a list of queries, such as "data":["a boy playing basketball"]`)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil || items == nil {
		return nil, params, badRequest(`field "data" must be a list of queries (texts or image data URIs)`)
	}
	if len(items) == 0 {
		return nil, params, badRequest(`field "data" is empty: give at least one query`)
	}
	if len(items) > s.opts.MaxQueries {
		return nil, params, badRequest(`field "data" has %d queries, above the limit of %d per request`, len(items), s.opts.MaxQueries)
	}
	queries = make([]compatQuery, len(items))
	for i, item := range items {
		if queries[i], err = s.parseCompatItem(r, i+1, item); err != nil {
			return nil, params, err
		}
	}
	return queries, params, nil
}

func parseCompatParameters(val json.RawMessage) (p compatParams, err error) {
	var params map[string]json.RawMessage
	if err := json.Unmarshal(val, &params); err != nil || params == nil {
		return p, badRequest(`field "parameters" must be an object such as {"top_k":5}`)
	}
	for key, v := range params {
		switch key {
		case "top_k", "topK":
			if p.topK, err = parseIntField("parameters."+key, v); err != nil {
				return p, err
			}
		case "target":
			var t string
			if err := json.Unmarshal(v, &t); err != nil {
				return p, badRequest("parameters.target must be a string: images or captions")
			}
			kinds, err := parseTarget(t)
			if err != nil || len(kinds) != 1 {
				return p, badRequest("parameters.target %q: want images or captions", t)
			}
			p.target = kinds[0]
		case "hybrid":
			if err := json.Unmarshal(v, &p.hybrid); err != nil {
				return p, badRequest("parameters.hybrid must be true or false, not %s", shortJSON(v))
			}
		default:
			return p, badRequest("unknown field parameters.%s (parameters takes top_k, target and hybrid)", key)
		}
	}
	return p, nil
}

// parseIntField reads a count (at least 1), which must be a JSON number.
func parseIntField(name string, v json.RawMessage) (int, error) {
	var i int
	if err := json.Unmarshal(v, &i); err != nil {
		return 0, badRequest("field %q must be a whole number, not %s", name, shortJSON(v))
	}
	if i < 1 {
		return 0, badRequest("%s must be at least 1, not %d", name, i)
	}
	return i, nil
}

func shortJSON(v json.RawMessage) string {
	s := string(v)
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}

// parseCompatItem reads one query: a string (a text, a data URI or one of
// this server's image URLs) or a Jina document object with text or uri.
func (s *Server) parseCompatItem(r *http.Request, n int, item json.RawMessage) (compatQuery, error) {
	what := fmt.Sprintf("data item %d", n)
	var str string
	isURI := false
	if err := json.Unmarshal(item, &str); err != nil {
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(item, &doc); err != nil || doc == nil {
			return compatQuery{}, badRequest("%s must be a string (a text or an image data URI) or an object with text or uri, not %s", what, shortJSON(item))
		}
		var text, uri string
		for key, v := range doc {
			var dst *string
			switch key {
			case "text":
				dst = &text
			case "uri":
				dst = &uri
			case "mimeType", "mime_type", "id", "tags":
				continue
			default:
				return compatQuery{}, badRequest("%s: unknown field %q (a query document has text or uri)", what, key)
			}
			if err := json.Unmarshal(v, dst); err != nil {
				return compatQuery{}, badRequest("%s: field %q must be a string", what, key)
			}
		}
		switch {
		case text != "" && uri != "":
			return compatQuery{}, badRequest("%s has both text and uri: give one", what)
		case uri != "":
			str, isURI = uri, true
		default:
			str = text
		}
	}
	if isDataURI(str) {
		up, err := s.imageFromString(what, str)
		if err != nil {
			return compatQuery{}, err
		}
		// The type read from the bytes, which may differ from the one the
		// URI claims.
		return compatQuery{uri: str, image: up, mimeType: up.mimeType}, nil
	}
	if dataURIHead.MatchString(str) {
		return compatQuery{}, badRequest("%s is not a complete data URI: the comma and the data after it are missing (want data:image/jpeg;base64,...)", what)
	}
	if id, thumb, ok := s.ownImageURL(r, str); ok {
		q := compatQuery{uri: str, imageID: id}
		if thumb {
			q.mimeType = "image/jpeg" // thumbnails are JPEG; a file's type is known once it is looked up
		}
		return q, nil
	}
	if isURI || looksLikeURL(str) {
		return compatQuery{}, badRequest("%s is a URL that is not one of this server's images: xmodal does not fetch URLs; send the image itself as a data URI (data:image/jpeg;base64,...)", what)
	}
	text := compatText(str)
	if strings.TrimSpace(text) == "" {
		// Said here, as "data item N is empty", since an empty string is
		// also what a missing query looks like to the engine.
		return compatQuery{}, badRequest("%s is empty", what)
	}
	return compatQuery{text: text, mimeType: "text/plain"}, nil
}

// urlLike tells a URL (or one of this server's paths) from a text query
// that mentions one.
var urlLike = regexp.MustCompile(`^(?:[a-zA-Z][a-zA-Z0-9+.-]*://|/api/)\S*$`)

func looksLikeURL(s string) bool { return urlLike.MatchString(s) }

// ownImagePath matches the paths of an indexed image's file and thumbnail.
var ownImagePath = regexp.MustCompile(`^/api/v1/images/([1-9][0-9]{0,18})/(file|thumbnail)$`)

// ownImageURL recognises the URLs that this server hands out for its
// images (absolute, as in POST /search answers, or as a path), which
// Jina Box sends back as the query when a result is clicked. Such a query
// is answered from the stored vector: nothing is fetched, and a URL of any
// other host is not this server's.
func (s *Server) ownImageURL(r *http.Request, str string) (id int64, thumbnail, ok bool) {
	u, err := url.Parse(str)
	if err != nil || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return 0, false, false
	}
	if u.Scheme != "" || u.Host != "" {
		if u.Scheme != "http" && u.Scheme != "https" {
			return 0, false, false
		}
		base, err := url.Parse(s.baseURL(r))
		if err != nil || (!strings.EqualFold(u.Host, base.Host) && !strings.EqualFold(u.Host, r.Host)) {
			return 0, false, false
		}
	}
	m := ownImagePath.FindStringSubmatch(u.Path)
	if m == nil {
		return 0, false, false
	}
	thumbnail = m[2] == "thumbnail"
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if !thumbnail || err != nil || len(q) != 1 || len(q["size"]) != 1 {
			return 0, false, false
		}
	}
	id, err = strconv.ParseInt(m[1], 10, 64)
	return id, thumbnail, err == nil
}

// mimeFromPath guesses an indexed image's type from its name, without
// reading it.
func mimeFromPath(path string) string {
	if f, ok := imageio.FormatOfName(path); ok {
		return f.MediaType
	}
	return "application/octet-stream"
}
