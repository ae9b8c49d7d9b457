package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/xmodal/xmodal/search"
)

// httpError is an error with the status to answer it with. Its message is
// meant for the client.
type httpError struct {
	status     int
	msg        string
	retryAfter string // Retry-After header, if any
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// badRequest is errorf(400, ...).
func badRequest(format string, args ...any) error {
	return errorf(http.StatusBadRequest, format, args...)
}

// errorBody is the JSON of every error response.
type errorBody struct {
	Error string `json:"error"`
}

// classify turns any error into a status and a message for the client.
// Client mistakes (httpError, search.ErrBadQuery, oversized bodies) keep
// their message; anything else is the server's fault and gets a generic one,
// the details going to the log.
func classify(err error) *httpError {
	var he *httpError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he
	case errors.As(err, &tooBig):
		return &httpError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body is larger than the limit of %s", sizeString(tooBig.Limit))}
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The connection's read deadline passed while the body was read.
		return &httpError{status: http.StatusRequestTimeout, msg: "the request did not arrive in time (the server's read timeout); send it again"}
	case errors.Is(err, search.ErrBadQuery):
		return &httpError{status: http.StatusBadRequest, msg: strings.Replace(err.Error(), search.ErrBadQuery.Error()+": ", "", 1)}
	case errors.Is(err, search.ErrNotFound):
		return &httpError{status: http.StatusNotFound, msg: strings.Replace(err.Error(), search.ErrNotFound.Error()+": ", "", 1)}
	case errors.Is(err, search.ErrBusy):
		return &httpError{status: http.StatusConflict, msg: err.Error() + "; try again when it has finished", retryAfter: "5"}
	case errors.Is(err, context.DeadlineExceeded):
		return &httpError{status: http.StatusServiceUnavailable, msg: "the request took too long and was stopped", retryAfter: "5"}
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this.
		return &httpError{status: http.StatusServiceUnavailable, msg: "request cancelled"}
	}
	return &httpError{status: http.StatusInternalServerError, msg: "internal error: " + err.Error()}
}

// writeError answers with a JSON error and logs server-side failures.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	he := classify(err)
	if he.status >= 500 && !errors.Is(err, context.Canceled) {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", he.status, "err", err)
	}
	if he.retryAfter != "" {
		w.Header().Set("Retry-After", he.retryAfter)
	}
	writeJSON(w, he.status, errorBodyFor(r, he.msg))
}

// writeError is Server.writeError for code that has no server at hand; it
// logs nothing.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	he := classify(err)
	writeJSON(w, he.status, errorBodyFor(r, he.msg))
}

// errorBodyFor is the error body for a request: errorBody everywhere but on
// POST /search, whose clients read Jina's envelope (see compatResponse).
// Both carry the message in "error".
func errorBodyFor(r *http.Request, msg string) any {
	if r.URL.Path == "/search" {
		return compatError(msg)
	}
	return errorBody{Error: msg}
}

// writeJSON writes v as the response body. An error here means the client
// is gone; there is nothing to answer it with.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Del("Content-Length")
	h.Del("Content-Encoding")
	h.Del("ETag")
	h.Del("Cache-Control")
	if status >= 400 {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
	return nil
}

// decodeJSON reads one JSON value from the body into v. Unknown fields are
// refused when strict, so that a typo ("topk") is reported instead of being
// silently ignored.
func decodeJSON(r io.Reader, v any, strict bool) error {
	dec := json.NewDecoder(r)
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return badRequest("invalid JSON: unexpected data after the request object")
	}
	return nil
}

// jsonError explains a decoding error to the client.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig), errors.Is(err, os.ErrDeadlineExceeded):
		return err
	case errors.Is(err, io.EOF):
		return badRequest("empty request body: want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("invalid JSON: the body ends in the middle of a value")
	case errors.As(err, &syntax):
		return badRequest("invalid JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return badRequest("invalid JSON: field %q must be %s, not %s", typ.Field, jsonKind(typ.Type.String()), typ.Value)
		}
		return badRequest("invalid JSON: want %s, not %s", jsonKind(typ.Type.String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return badRequest("invalid JSON: %v", err)
}

// jsonKind names a Go type as the JSON a client should send.
func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return "an object"
}

// sizeString writes a byte count for people.
func sizeString(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
