// Package pickle reads Python pickles (protocols 0 to 5) into Go values,
// for the files that model checkpoints come in: PyTorch's containers and
// the vocabulary pickles of VSE++.
//
// Unpickling in Python runs code: any class named in the stream is
// imported and called. Here nothing runs. A global the caller does not
// list in Unpickler.Globals is an error naming it, and the listed ones are
// Go functions that build plain values. Without a Globals entry, a class
// may still be instantiated through NEWOBJ or BUILD as an *Object that
// only records its name and state (argparse.Namespace, a Vocabulary).
package pickle

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Values are nil (None), bool, int64, *big.Int (ints beyond int64),
// float64, string (str, and Python 2 str), []byte (bytes), *List, Tuple,
// *Dict, *Set, *Object, or what a Globals function returns.

// List is a Python list.
type List struct{ Items []any }

// Tuple is a Python tuple.
type Tuple []any

// Dict is a Python dict, in insertion order. Attrs holds what BUILD set on
// it (an OrderedDict's _metadata).
type Dict struct {
	Keys, Values []any
	Attrs        map[string]any
}

// Get returns the value of a string key.
func (d *Dict) Get(key string) (any, bool) {
	for i, k := range d.Keys {
		if s, ok := k.(string); ok && s == key {
			return d.Values[i], true
		}
	}
	return nil, false
}

// Set is a Python set or frozenset.
type Set struct{ Items []any }

// Global names a class or function: module and name.
type Global struct{ Module, Name string }

// String returns the dotted name, as Python prints it.
func (g Global) String() string { return g.Module + "." + g.Name }

// Object is an instance of a class with no Globals entry, made by NEWOBJ
// (or OBJ/INST) with Args, its state set by BUILD.
type Object struct {
	Class Global
	Args  []any
	State any // usually a *Dict of attributes
}

// Attr returns an attribute of the object's state.
func (o *Object) Attr(name string) (any, bool) {
	if d, ok := o.State.(*Dict); ok {
		return d.Get(name)
	}
	return nil, false
}

// Unpickler reads pickles.
type Unpickler struct {
	// Globals are the callables a pickle may name, by "module.name": each
	// builds a value from the arguments of REDUCE. A class that is only
	// instantiated (NEWOBJ, then BUILD) needs an entry in Classes instead.
	Globals map[string]func(args Tuple) (any, error)
	// Classes may be instantiated as an *Object without running anything.
	Classes map[string]bool
	// PersistentLoad resolves persistent ids (PyTorch's storages).
	PersistentLoad func(pid any) (any, error)
}

// Unpickle reads one pickle from r, leaving r just after its STOP.
func (u *Unpickler) Unpickle(r io.Reader) (any, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	m := &machine{u: u, r: br, memo: map[int]any{}}
	v, err := m.run()
	if err != nil {
		return nil, fmt.Errorf("pickle: %w", err)
	}
	return v, nil
}

// Load reads a whole pickle held in memory.
func (u *Unpickler) Load(data []byte) (any, error) {
	return u.Unpickle(bytes.NewReader(data))
}

// mark is the stack marker of MARK.
type mark struct{}

type machine struct {
	u     *Unpickler
	r     *bufio.Reader
	stack []any
	memo  map[int]any
}

var errStack = errors.New("stack underflow")

func (m *machine) push(v any) { m.stack = append(m.stack, v) }

func (m *machine) pop() (any, error) {
	if len(m.stack) == 0 {
		return nil, errStack
	}
	v := m.stack[len(m.stack)-1]
	m.stack = m.stack[:len(m.stack)-1]
	return v, nil
}

func (m *machine) top() (any, error) {
	if len(m.stack) == 0 {
		return nil, errStack
	}
	return m.stack[len(m.stack)-1], nil
}

// popMark pops the items above the topmost MARK, and the mark.
func (m *machine) popMark() ([]any, error) {
	for i := len(m.stack) - 1; i >= 0; i-- {
		if _, ok := m.stack[i].(mark); ok {
			items := append([]any(nil), m.stack[i+1:]...)
			m.stack = m.stack[:i]
			return items, nil
		}
	}
	return nil, errors.New("MARK not found")
}

// read reads n bytes. The buffer grows with what arrives rather than
// being allocated from the length the input declares, which may be a lie.
func (m *machine) read(n int) ([]byte, error) {
	if n < 0 || n > 1<<40 {
		return nil, fmt.Errorf("bad length %d", n)
	}
	if n <= 1<<16 {
		buf := make([]byte, n)
		_, err := io.ReadFull(m.r, buf)
		return buf, err
	}
	buf, err := io.ReadAll(io.LimitReader(m.r, int64(n)))
	if err == nil && len(buf) < n {
		err = io.ErrUnexpectedEOF
	}
	return buf, err
}

// sized reads a length of width bytes (1, 4 or 8, little-endian), then
// that many bytes.
func (m *machine) sized(width int) ([]byte, error) {
	var n int
	var err error
	switch width {
	case 1:
		n, err = m.u8()
	case 4:
		n, err = m.u32()
	default:
		n, err = m.u64()
	}
	if err != nil {
		return nil, err
	}
	return m.read(n)
}

func (m *machine) readLine() (string, error) {
	line, err := m.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

func (m *machine) u8() (int, error) {
	b, err := m.r.ReadByte()
	return int(b), err
}

func (m *machine) u16() (int, error) {
	b, err := m.read(2)
	if err != nil {
		return 0, err
	}
	return int(binary.LittleEndian.Uint16(b)), nil
}

func (m *machine) u32() (int, error) {
	b, err := m.read(4)
	if err != nil {
		return 0, err
	}
	return int(binary.LittleEndian.Uint32(b)), nil
}

func (m *machine) u64() (int, error) {
	b, err := m.read(8)
	if err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint64(b)
	if v > 1<<40 {
		return 0, fmt.Errorf("bad length %d", v)
	}
	return int(v), nil
}

func (m *machine) run() (any, error) {
	for {
		op, err := m.r.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("truncated: %w", err)
		}
		if op == '.' { // STOP
			v, err := m.pop()
			if err != nil {
				return nil, err
			}
			return v, nil
		}
		if err := m.step(op); err != nil {
			return nil, fmt.Errorf("opcode %q: %w", op, err)
		}
	}
}

func (m *machine) step(op byte) error {
	switch op {
	case 0x80: // PROTO
		_, err := m.u8()
		return err
	case 0x95: // FRAME
		_, err := m.read(8)
		return err
	case '(': // MARK
		m.push(mark{})
	case '0': // POP
		_, err := m.pop()
		return err
	case '1': // POP_MARK
		_, err := m.popMark()
		return err
	case '2': // DUP
		v, err := m.top()
		if err != nil {
			return err
		}
		m.push(v)
	case 'N':
		m.push(nil)
	case 0x88:
		m.push(true)
	case 0x89:
		m.push(false)

	case 'I': // INT, text; "01" and "00" are True and False
		line, err := m.readLine()
		if err != nil {
			return err
		}
		switch line {
		case "01":
			m.push(true)
		case "00":
			m.push(false)
		default:
			v, err := strconv.ParseInt(line, 10, 64)
			if err != nil {
				return err
			}
			m.push(v)
		}
	case 'J': // BININT
		b, err := m.read(4)
		if err != nil {
			return err
		}
		m.push(int64(int32(binary.LittleEndian.Uint32(b))))
	case 'K': // BININT1
		v, err := m.u8()
		m.push(int64(v))
		return err
	case 'M': // BININT2
		v, err := m.u16()
		m.push(int64(v))
		return err
	case 'L': // LONG, text with a trailing L
		line, err := m.readLine()
		if err != nil {
			return err
		}
		return m.pushBig(strings.TrimSuffix(line, "L"))
	case 0x8a, 0x8b: // LONG1, LONG4: little-endian two's complement
		b, err := m.sized(map[byte]int{0x8a: 1, 0x8b: 4}[op])
		if err != nil {
			return err
		}
		m.push(decodeLong(b))
	case 'F': // FLOAT, text
		line, err := m.readLine()
		if err != nil {
			return err
		}
		v, err := strconv.ParseFloat(line, 64)
		if err != nil {
			return err
		}
		m.push(v)
	case 'G': // BINFLOAT, big-endian
		b, err := m.read(8)
		if err != nil {
			return err
		}
		m.push(math.Float64frombits(binary.BigEndian.Uint64(b)))

	case 'S': // STRING, quoted text
		line, err := m.readLine()
		if err != nil {
			return err
		}
		s, err := strconv.Unquote(pyQuoted(line))
		if err != nil {
			return fmt.Errorf("STRING %s: %w", line, err)
		}
		m.push(s)
	case 'T', 'U', 'B', 'C', 0x8e, 0x96: // BINSTRING, SHORT_BINSTRING, BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
		b, err := m.sized(map[byte]int{'U': 1, 'C': 1, 'T': 4, 'B': 4, 0x8e: 8, 0x96: 8}[op])
		if err != nil {
			return err
		}
		if op == 'T' || op == 'U' {
			m.push(string(b)) // a Python 2 str: bytes, used as text here
		} else {
			m.push(b)
		}
	case 'V': // UNICODE, raw-unicode-escape text
		line, err := m.readLine()
		if err != nil {
			return err
		}
		m.push(rawUnicodeEscape(line))
	case 'X', 0x8c, 0x8d: // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
		b, err := m.sized(map[byte]int{0x8c: 1, 'X': 4, 0x8d: 8}[op])
		if err != nil {
			return err
		}
		m.push(string(b))

	case ']':
		m.push(&List{})
	case 'l':
		items, err := m.popMark()
		if err != nil {
			return err
		}
		m.push(&List{Items: items})
	case 'a', 'e': // APPEND, APPENDS
		var items []any
		if op == 'a' {
			v, err := m.pop()
			if err != nil {
				return err
			}
			items = []any{v}
		} else {
			var err error
			if items, err = m.popMark(); err != nil {
				return err
			}
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		switch c := t.(type) {
		case *List:
			c.Items = append(c.Items, items...)
		case *Set:
			c.Items = append(c.Items, items...)
		default:
			return fmt.Errorf("APPEND to %T", t)
		}
	case ')':
		m.push(Tuple{})
	case 't':
		items, err := m.popMark()
		if err != nil {
			return err
		}
		m.push(Tuple(items))
	case 0x85, 0x86, 0x87: // TUPLE1..3
		n := int(op - 0x84)
		if len(m.stack) < n {
			return errStack
		}
		t := Tuple(append([]any(nil), m.stack[len(m.stack)-n:]...))
		m.stack = m.stack[:len(m.stack)-n]
		m.push(t)
	case '}':
		m.push(&Dict{})
	case 'd':
		items, err := m.popMark()
		if err != nil {
			return err
		}
		d := &Dict{}
		if err := setItems(d, items); err != nil {
			return err
		}
		m.push(d)
	case 's', 'u': // SETITEM, SETITEMS
		var items []any
		if op == 's' {
			if len(m.stack) < 2 {
				return errStack
			}
			items = append([]any(nil), m.stack[len(m.stack)-2:]...)
			m.stack = m.stack[:len(m.stack)-2]
		} else {
			var err error
			if items, err = m.popMark(); err != nil {
				return err
			}
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		d, ok := t.(*Dict)
		if !ok {
			return fmt.Errorf("SETITEM on %T", t)
		}
		return setItems(d, items)
	case 0x8f: // EMPTY_SET
		m.push(&Set{})
	case 0x90: // ADDITEMS
		items, err := m.popMark()
		if err != nil {
			return err
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		s, ok := t.(*Set)
		if !ok {
			return fmt.Errorf("ADDITEMS to %T", t)
		}
		s.Items = append(s.Items, items...)
	case 0x91: // FROZENSET
		items, err := m.popMark()
		if err != nil {
			return err
		}
		m.push(&Set{Items: items})

	case 'p': // PUT, text
		line, err := m.readLine()
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(line)
		if err != nil {
			return err
		}
		return m.put(n)
	case 'q':
		n, err := m.u8()
		if err != nil {
			return err
		}
		return m.put(n)
	case 'r':
		n, err := m.u32()
		if err != nil {
			return err
		}
		return m.put(n)
	case 0x94: // MEMOIZE
		return m.put(len(m.memo))
	case 'g', 'h', 'j': // GET, BINGET, LONG_BINGET
		var n int
		var err error
		switch op {
		case 'g':
			var line string
			if line, err = m.readLine(); err == nil {
				n, err = strconv.Atoi(line)
			}
		case 'h':
			n, err = m.u8()
		default:
			n, err = m.u32()
		}
		if err != nil {
			return err
		}
		v, ok := m.memo[n]
		if !ok {
			return fmt.Errorf("memo %d is not set", n)
		}
		m.push(v)

	case 'c': // GLOBAL module\nname\n
		mod, err := m.readLine()
		if err != nil {
			return err
		}
		name, err := m.readLine()
		if err != nil {
			return err
		}
		m.push(Global{mod, name})
	case 0x93: // STACK_GLOBAL
		name, err := m.pop()
		if err != nil {
			return err
		}
		mod, err := m.pop()
		if err != nil {
			return err
		}
		ms, ok1 := mod.(string)
		ns, ok2 := name.(string)
		if !ok1 || !ok2 {
			return fmt.Errorf("STACK_GLOBAL of %T and %T", mod, name)
		}
		m.push(Global{ms, ns})
	case 'R': // REDUCE
		args, err := m.pop()
		if err != nil {
			return err
		}
		fn, err := m.pop()
		if err != nil {
			return err
		}
		t, ok := args.(Tuple)
		if !ok {
			return fmt.Errorf("REDUCE with %T arguments", args)
		}
		v, err := m.call(fn, t)
		if err != nil {
			return err
		}
		m.push(v)
	case 0x81, 0x92: // NEWOBJ, NEWOBJ_EX
		if op == 0x92 {
			if _, err := m.pop(); err != nil { // kwargs
				return err
			}
		}
		args, err := m.pop()
		if err != nil {
			return err
		}
		cls, err := m.pop()
		if err != nil {
			return err
		}
		t, _ := args.(Tuple)
		v, err := m.instantiate(cls, t)
		if err != nil {
			return err
		}
		m.push(v)
	case 'o': // OBJ: MARK cls args...
		items, err := m.popMark()
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return errStack
		}
		v, err := m.instantiate(items[0], Tuple(items[1:]))
		if err != nil {
			return err
		}
		m.push(v)
	case 'i': // INST module\nname\n, MARK args
		mod, err := m.readLine()
		if err != nil {
			return err
		}
		name, err := m.readLine()
		if err != nil {
			return err
		}
		items, err := m.popMark()
		if err != nil {
			return err
		}
		v, err := m.instantiate(Global{mod, name}, Tuple(items))
		if err != nil {
			return err
		}
		m.push(v)
	case 'b': // BUILD
		state, err := m.pop()
		if err != nil {
			return err
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		return build(t, state)
	case 'P', 'Q': // PERSID, BINPERSID
		var pid any
		if op == 'P' {
			line, err := m.readLine()
			if err != nil {
				return err
			}
			pid = line
		} else {
			var err error
			if pid, err = m.pop(); err != nil {
				return err
			}
		}
		if m.u.PersistentLoad == nil {
			return errors.New("a persistent id, and no PersistentLoad")
		}
		v, err := m.u.PersistentLoad(pid)
		if err != nil {
			return err
		}
		m.push(v)
	default:
		return errors.New("unsupported opcode")
	}
	return nil
}

func (m *machine) put(n int) error {
	v, err := m.top()
	if err != nil {
		return err
	}
	m.memo[n] = v
	return nil
}

func (m *machine) pushBig(s string) error {
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return fmt.Errorf("bad LONG %q", s)
	}
	if b.IsInt64() {
		m.push(b.Int64())
	} else {
		m.push(b)
	}
	return nil
}

// decodeLong reads a little-endian two's complement integer.
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	be := make([]byte, len(b))
	for i, c := range b {
		be[len(b)-1-i] = c
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if v.IsInt64() {
		return v.Int64()
	}
	return v
}

func (m *machine) call(fn any, args Tuple) (any, error) {
	g, ok := fn.(Global)
	if !ok {
		return nil, fmt.Errorf("REDUCE on %T", fn)
	}
	if f, ok := m.u.Globals[g.String()]; ok {
		return f(args)
	}
	if m.u.Classes[g.String()] {
		return &Object{Class: g, Args: args}, nil
	}
	return nil, fmt.Errorf("global %s is not allowed here", g)
}

func (m *machine) instantiate(cls any, args Tuple) (any, error) {
	g, ok := cls.(Global)
	if !ok {
		return nil, fmt.Errorf("instantiating %T", cls)
	}
	if f, ok := m.u.Globals[g.String()]; ok {
		return f(args)
	}
	if !m.u.Classes[g.String()] {
		return nil, fmt.Errorf("class %s is not allowed here", g)
	}
	return &Object{Class: g, Args: args}, nil
}

// build applies BUILD's state: attributes of an object, or of a dict.
func build(target, state any) error {
	switch t := target.(type) {
	case *Object:
		if t.State == nil {
			t.State = state
			return nil
		}
		if d, ok := t.State.(*Dict); ok {
			if s, ok := state.(*Dict); ok {
				d.Keys, d.Values = append(d.Keys, s.Keys...), append(d.Values, s.Values...)
				return nil
			}
		}
		t.State = state
	case *Dict:
		// (state, slotstate) or a dict of attributes.
		if tu, ok := state.(Tuple); ok && len(tu) == 2 {
			state = tu[0]
		}
		if s, ok := state.(*Dict); ok {
			if t.Attrs == nil {
				t.Attrs = map[string]any{}
			}
			for i, k := range s.Keys {
				if ks, ok := k.(string); ok {
					t.Attrs[ks] = s.Values[i]
				}
			}
		}
	default:
		return fmt.Errorf("BUILD on %T", target)
	}
	return nil
}

func setItems(d *Dict, items []any) error {
	if len(items)%2 != 0 {
		return errors.New("odd number of dict items")
	}
	for i := 0; i < len(items); i += 2 {
		d.Keys = append(d.Keys, items[i])
		d.Values = append(d.Values, items[i+1])
	}
	return nil
}

// pyQuoted turns a Python 2 quoted string ('abc' or "abc") into a Go one.
func pyQuoted(s string) string {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		inner := strings.ReplaceAll(s[1:len(s)-1], `\'`, `'`)
		return `"` + strings.ReplaceAll(inner, `"`, `\"`) + `"`
	}
	return s
}

// rawUnicodeEscape decodes Python's raw-unicode-escape: \uXXXX and
// \UXXXXXXXX escapes, other bytes as Latin-1.
func rawUnicodeEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
			n := 4
			if s[i+1] == 'U' {
				n = 8
			}
			if i+2+n <= len(s) {
				if r, err := strconv.ParseUint(s[i+2:i+2+n], 16, 32); err == nil {
					b.WriteRune(rune(r))
					i += 1 + n
					continue
				}
			}
		}
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}
