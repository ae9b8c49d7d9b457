package main

import (
	"encoding/json"
	"io"
)

// jsonLines returns an encoder of JSON lines for programs to read. It
// leaves <, > and & as they are: captions are data here, not HTML.
func jsonLines(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// writeJSONLines writes each item as one JSON line.
func writeJSONLines[T any](w io.Writer, items []T) error {
	enc := jsonLines(w)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}
