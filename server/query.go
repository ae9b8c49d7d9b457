package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/xmodal/xmodal/imageio"
)

// upload is an uploaded image whose header has been checked.
type upload struct {
	data          []byte
	mimeType      string // from the bytes, not from what the client said
	width, height int
}

// checkImage reads an uploaded image's header (imageio.Probe): its format
// and declared size, which must be within MaxPixels. Nothing is decoded yet, so a decompression bomb
// costs nothing.
func (s *Server) checkImage(data []byte) (upload, error) {
	if len(data) == 0 {
		return upload{}, badRequest("the image is empty")
	}
	info, err := imageio.Probe(data)
	switch {
	case errors.Is(err, imageio.ErrUnknownFormat):
		return upload{}, errorf(http.StatusUnsupportedMediaType, "not a %s image (%s)", imageio.FormatNames(), http.DetectContentType(data))
	case errors.Is(err, imageio.ErrUnsupportedFormat):
		return upload{}, errorf(http.StatusUnsupportedMediaType, "%v (want %s)", imageio.Reason(err), imageio.FormatNames())
	case err != nil:
		return upload{}, badRequest("cannot read the image: %v", imageio.Reason(err))
	}
	if px := info.Pixels(); px > s.opts.MaxPixels {
		return upload{}, errorf(http.StatusRequestEntityTooLarge, "the image is %d×%d (%.1f megapixels), above the limit of %.1f megapixels",
			info.Width, info.Height, float64(px)/1e6, float64(s.opts.MaxPixels)/1e6)
	}
	return upload{data: data, mimeType: info.Format.MediaType, width: info.Width, height: info.Height}, nil
}

// acquireImageSlot waits for one of the ImageWorkers slots: decoding a
// large image takes tens of megabytes, so they are bounded.
func (s *Server) acquireImageSlot(ctx context.Context) (release func(), err error) {
	select {
	case s.images <- struct{}{}:
		return func() { <-s.images }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dataURIMeta matches what comes before the comma of a data URI: an
// optional media type and parameters, no spaces. Text that merely starts
// with "data:" ("data: the new oil, ...") does not match.
var dataURIMeta = regexp.MustCompile(`^(?i:data:)([a-zA-Z0-9!#$&^_.+-]+/[a-zA-Z0-9!#$&^_.+-]+)?((?:;[^,;\s]*)*),`)

// isDataURI reports whether s is a data URI rather than text.
func isDataURI(s string) bool { return dataURIMeta.MatchString(s) }

// dataURIHead matches the start of a data URI that lost its comma and
// payload ("data:image/png"), which is a mistake, not a text to search.
var dataURIHead = regexp.MustCompile(`^(?i:data:)[a-zA-Z0-9!#$&^_.+-]+/[a-zA-Z0-9!#$&^_.+-]+(?:;[^,;\s]*)*$`)

// parseDataURI returns the media type (lower case, without parameters;
// text/plain if none, as RFC 2397 says) and the bytes of a data URI.
func parseDataURI(s string) (mediaType string, data []byte, err error) {
	m := dataURIMeta.FindStringSubmatch(s)
	if m == nil {
		return "", nil, badRequest("not a data URI")
	}
	mediaType = strings.ToLower(m[1])
	if mediaType == "" {
		mediaType = "text/plain"
	}
	payload := s[len(m[0]):]
	isBase64 := false
	for _, p := range strings.Split(m[2], ";") {
		if strings.EqualFold(p, "base64") {
			isBase64 = true
		}
	}
	if !isBase64 {
		text, err := url.PathUnescape(payload)
		if err != nil {
			return "", nil, badRequest("data URI: bad percent-encoding: %v", err)
		}
		return mediaType, []byte(text), nil
	}
	data, err = decodeBase64(payload)
	if err != nil {
		return "", nil, badRequest("data URI: %v", err)
	}
	return mediaType, data, nil
}

// decodeBase64 accepts standard or URL-safe base64, padded or not, with
// line breaks (some encoders wrap their output).
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\n', '\r', '\t':
			return -1
		}
		return r
	}, s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if data, err := enc.DecodeString(s); err == nil {
			return data, nil
		}
	}
	return nil, fmt.Errorf("the payload is not valid base64")
}

// imageFromString reads an image given as a data URI or as bare base64.
func (s *Server) imageFromString(what, v string) (upload, error) {
	var data []byte
	if isDataURI(v) {
		mt, d, err := parseDataURI(v)
		if err != nil {
			return upload{}, badRequest("%s: %v", what, err)
		}
		if !strings.HasPrefix(mt, "image/") {
			return upload{}, errorf(http.StatusUnsupportedMediaType, "%s: a data URI of type %s is not an image (want image/jpeg, image/png, image/gif or image/webp)", what, mt)
		}
		data = d
	} else {
		d, err := decodeBase64(v)
		if err != nil {
			return upload{}, badRequest("%s: want a data URI (data:image/jpeg;base64,...) or base64: %v", what, err)
		}
		data = d
	}
	up, err := s.checkImage(data)
	if err != nil {
		return upload{}, prefixError(what, err)
	}
	return up, nil
}

// prefixError puts "what: " before a client error's message.
func prefixError(what string, err error) error {
	if he, ok := err.(*httpError); ok {
		return &httpError{status: he.status, msg: what + ": " + he.msg, retryAfter: he.retryAfter}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// baseURL is the absolute URL prefix of this server as the client reached
// it, for the absolute image URLs of POST /search. X-Forwarded-Proto and
// X-Forwarded-Host are honoured when a proxy sets them; they only shape the
// URLs the requesting client gets back.
func (s *Server) baseURL(r *http.Request) string {
	if s.opts.BaseURL != "" {
		return strings.TrimSuffix(s.opts.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	host := r.Host
	if h := r.Header.Get("X-Forwarded-Host"); h != "" && !strings.ContainsAny(h, "/ ,") {
		host = h
	}
	return scheme + "://" + host
}
