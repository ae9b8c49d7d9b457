package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// readJSON reads a request's JSON body into v. The body must be declared
// as JSON (415 otherwise: a form or a file posted by mistake is named as
// such rather than misread), hold one value, and have no duplicate keys
// and no nulls, which encoding/json would silently take as "the last one
// wins" and "not given". Unknown fields are refused when strict.
func readJSON(r *http.Request, v any, strict bool) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return jsonError(err)
	}
	if err := checkJSON(data); err != nil {
		return err
	}
	return decodeJSON(bytes.NewReader(data), v, strict)
}

// requireJSON refuses a body whose Content-Type is not JSON.
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return errorf(http.StatusUnsupportedMediaType, "the request has no Content-Type: send the JSON body with Content-Type: application/json")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return errorf(http.StatusUnsupportedMediaType, "Content-Type %q is not JSON: send the body as JSON with Content-Type: application/json", ct)
	}
	return nil
}

// checkJSON reports duplicate keys and nulls, naming where they are. A
// syntax error is left for the decoder, which explains it better.
func checkJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := checkValue(dec, ""); err != errSyntax {
		return err
	}
	return nil
}

// errSyntax stops checkJSON at a syntax error, which decodeJSON reports.
var errSyntax = errors.New("syntax error")

// checkValue reads one value, whose place path names ("" for the body).
func checkValue(dec *json.Decoder, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return errSyntax
	}
	switch tok {
	case nil:
		if path == "" {
			return badRequest("invalid JSON: the body is null; want an object")
		}
		return badRequest("invalid JSON: field %q is null; leave it out or give a value", path)
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return errSyntax
			}
			key, _ := tok.(string)
			name := key
			if path != "" {
				name = path + "." + key
			}
			if seen[key] {
				return badRequest("invalid JSON: field %q is given twice", name)
			}
			seen[key] = true
			if err := checkValue(dec, name); err != nil {
				return err
			}
		}
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := checkValue(dec, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	default:
		return nil
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return errSyntax
	}
	return nil
}
