package dataset

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
)

// readJSONArrays streams the JSON object in file (relative to the root) and
// calls elem[key] for each element of the array under key; other members are
// skipped. Streaming element by element, rather than unmarshaling the whole
// file, lets an entry of the wrong shape be reported as a Problem while the
// rest is read. A syntax error is fatal: after it nothing can be trusted.
func (b *builder) readJSONArrays(file string, elem map[string]func(dec *json.Decoder, i int) error) error {
	f, err := os.Open(b.path(file))
	if err != nil {
		return err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(f, 1<<20))
	if err := walkJSON(dec, elem); err != nil {
		return fmt.Errorf("%s: %w", b.path(file), err)
	}
	return nil
}

func walkJSON(dec *json.Decoder, elem map[string]func(dec *json.Decoder, i int) error) error {
	if err := expectDelim(dec, '{', "an object"); err != nil {
		return err
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		fn := elem[key]
		if fn == nil {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
			continue
		}
		if err := expectDelim(dec, '[', fmt.Sprintf("%q to be an array", key)); err != nil {
			return err
		}
		for i := 0; dec.More(); i++ {
			if err := fn(dec, i); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // the closing ']'
			return err
		}
	}
	_, err := dec.Token() // the closing '}'
	return err
}

func expectDelim(dec *json.Decoder, want json.Delim, what string) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %s, got %v", what, t)
	}
	return nil
}

// decodeEntry decodes the next array element into v. A value of the wrong
// type (a number where a string belongs, say) spoils only this entry: the
// decoder has still consumed all of it, so the type error comes back as a
// message for a Problem and err stays nil. Any other error is fatal.
func decodeEntry(dec *json.Decoder, v any) (problem string, err error) {
	err = dec.Decode(v)
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return "", err
	}
	if te.Field == "" { // the entry itself, say a string among objects
		return "want an object, got " + te.Value, nil
	}
	return fmt.Sprintf("%s: want %s, got %s", te.Field, jsonKind(te.Type), te.Value), nil
}

// jsonKind names the JSON kind a Go type is decoded from, for messages that
// speak of the file rather than of this package's types.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}
