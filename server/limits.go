package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
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

// limitedConn gives its slot back when closed.
type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	c.release()
	return c.Conn.Close()
}
