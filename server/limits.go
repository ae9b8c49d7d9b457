package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// errOverloaded answers requests beyond what the server takes at once.
var errOverloaded = &httpError{status: http.StatusServiceUnavailable, msg: "the server is busy: too many requests are waiting for the model; retry shortly", retryAfter: "1"}

// gate bounds the model calls in flight and the callers waiting for one:
// beyond the queue, a caller is refused at once (503 with Retry-After)
// rather than left to wait until its timeout.
type gate struct {
	slots   chan struct{}
	waiting atomic.Int64
	queue   int64
	refused atomic.Uint64
}

func newGate(slots, queue int) *gate {
	return &gate{slots: make(chan struct{}, slots), queue: int64(queue)}
}

// enter waits for a slot; the caller must call the release it returns.
func (g *gate) enter(ctx context.Context) (release func(), err error) {
	select {
	case g.slots <- struct{}{}:
		return g.leave, nil
	default:
	}
	if g.waiting.Add(1) > g.queue {
		g.waiting.Add(-1)
		g.refused.Add(1)
		return nil, errOverloaded
	}
	defer g.waiting.Add(-1)
	select {
	case g.slots <- struct{}{}:
		return g.leave, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (g *gate) leave() { <-g.slots }

// connLimiter caps the open connections of a listener. A connection over
// the cap is answered at once with a 503 in the JSON error shape and
// closed, so that clients that hold connections open (slow or unfinished
// requests) cannot make the server stop answering others: each is also
// bounded in time by the server's read and idle timeouts.
type connLimiter struct {
	net.Listener
	slots   chan struct{}
	open    atomic.Int64
	refused atomic.Uint64
}

func newConnLimiter(ln net.Listener, max int) *connLimiter {
	return &connLimiter{Listener: ln, slots: make(chan struct{}, max)}
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			l.open.Add(1)
			return &limitedConn{Conn: c, release: sync.OnceFunc(func() {
				l.open.Add(-1)
				<-l.slots
			})}, nil
		default:
			l.refused.Add(1)
			go refuseConn(c, cap(l.slots))
		}
	}
}

// refuseConn answers a connection over the cap and closes it.
func refuseConn(c net.Conn, max int) {
	defer c.Close()
	body := fmt.Sprintf(`{"error":"the server is busy: %d connections are open, the most it takes; retry shortly"}`+"\n", max)
	c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// limitedConn gives its slot back when closed, and answers in JSON where
// Go's server would answer in plain text.
type limitedConn struct {
	net.Conn
	release func()
}

// cannedError matches the answers that Go's server writes on the
// connection itself, before any handler runs, to requests it cannot read
// (a malformed request line, a missing Host, an unknown transfer coding):
// a status line, these two headers and a line of text, with no Date
// header, which every answer of a handler has.
var cannedError = regexp.MustCompile(`^HTTP/1\.1 ([45]\d\d) ([^\r\n]*)\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n([^\r\n]*)$`)

func (c *limitedConn) Write(p []byte) (int, error) {
	if len(p) > 10 && (p[9] == '4' || p[9] == '5') && bytes.HasPrefix(p, []byte("HTTP/1.1 ")) {
		if m := cannedError.FindSubmatch(p); m != nil {
			code, _ := strconv.Atoi(string(m[1]))
			body, _ := json.Marshal(errorBody{Error: "the request could not be read: " + string(m[3])})
			body = append(body, '\n')
			resp := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
				code, http.StatusText(code), len(body), body)
			if _, err := io.WriteString(c.Conn, resp); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return c.Conn.Write(p)
}

func (c *limitedConn) Close() error {
	c.release()
	return c.Conn.Close()
}
