package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveReal runs the fixture's server behind its own http.Server (with
// its timeouts and connection cap), as xmodal serve does, and returns its
// address.
func serveReal(t *testing.T, opts Options) (*fixture, string) {
	t.Helper()
	f := newFixture(t, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return f, ln.Addr().String()
}

// rawRequest sends bytes on a new connection and returns the connection.
func rawRequest(t *testing.T, addr, req string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return c
}

// A body that never finishes loses its connection once the read timeout
// passes, while other clients are served meanwhile.
func TestSlowBodyIsCutOff(t *testing.T) {
	const timeout = 500 * time.Millisecond
	_, addr := serveReal(t, Options{ReadTimeout: timeout})
	for name, req := range map[string]string{
		"content-length": "POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"data\":",
		"chunked":        "POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n{\"data\":\r\n",
		"headers":        "POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: appl",
	} {
		t.Run(name, func(t *testing.T) {
			c := rawRequest(t, addr, req)
			start := time.Now()
			// Meanwhile, others are answered.
			resp, err := http.Post("http://"+addr+"/search", "application/json", strings.NewReader(`{"data":["x"]}`))
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("another client: %v %v", resp, err)
			}
			resp.Body.Close()

			c.SetReadDeadline(time.Now().Add(20 * timeout))
			answer, err := io.ReadAll(c)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the connection is still open after %s", time.Since(start))
			}
			// The server either answered 408 in the JSON shape or closed.
			if len(answer) > 0 {
				resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(answer))), nil)
				if err != nil || resp.StatusCode != http.StatusRequestTimeout {
					t.Fatalf("answer %q", answer)
				}
				var body struct{ Error string }
				json.NewDecoder(resp.Body).Decode(&body)
				if !strings.Contains(body.Error, "did not arrive in time") {
					t.Errorf("408 body %+v", body)
				}
			}
		})
	}
}

// Connections over the cap get a JSON 503 at once; the open ones are
// served, and a freed slot is taken again.
func TestConnectionCap(t *testing.T) {
	_, addr := serveReal(t, Options{MaxConns: 2})
	held := []net.Conn{rawRequest(t, addr, ""), rawRequest(t, addr, "")}
	time.Sleep(50 * time.Millisecond) // let the server accept them
	c := rawRequest(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body.Error, "2 connections") {
		t.Errorf("over the cap: %d %v %+v", resp.StatusCode, resp.Header, body)
	}
	// A held connection is served.
	io.WriteString(held[0], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(held[0]), nil); err != nil || resp.StatusCode != 200 {
		t.Errorf("a connection within the cap: %v %v", resp, err)
	}
	held[1].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := rawRequest(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil && resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the freed slot is not taken again: %v %v", resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Model calls beyond the queue are refused at once, not left to time out.
func TestGate(t *testing.T) {
	g := newGate(1, 1)
	ctx := context.Background()
	release, err := g.enter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		r, err := g.enter(ctx)
		if err == nil {
			r()
		}
		waited <- err
	}()
	for g.waiting.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	if _, err := g.enter(ctx); !errors.Is(err, errOverloaded) {
		t.Errorf("over the queue: %v", err)
	}
	release()
	if err := <-waited; err != nil {
		t.Errorf("the waiting call: %v", err)
	}
	// A waiting call ends with its context.
	release, _ = g.enter(ctx)
	defer release()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := g.enter(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a call whose context ends: %v", err)
	}
}

// Oversized headers get the JSON error shape, not Go's plain text.
func TestHeadersTooLarge(t *testing.T) {
	_, addr := serveReal(t, Options{})
	req, _ := http.NewRequest("GET", "http://"+addr+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", MaxHeaderBytes+1))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Error string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 431 || !strings.Contains(body.Error, "64 KiB") {
		t.Errorf("431: %d %+v %v", resp.StatusCode, body, err)
	}
}

// Requests that Go's server refuses before any handler runs get the JSON
// error shape too.
func TestMalformedRequestsGetJSON(t *testing.T) {
	_, addr := serveReal(t, Options{})
	for name, c := range map[string]struct {
		req    string
		status int
	}{
		"garbage":      {"HELLO\r\n\r\n", 400},
		"no host":      {"GET /healthz HTTP/1.1\r\n\r\n", 400},
		"bad transfer": {"POST /search HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
		"bad header":   {"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400},
		"huge header":  {"GET /healthz HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 5*MaxHeaderBytes) + "\r\n\r\n", 431},
	} {
		t.Run(name, func(t *testing.T) {
			c2 := rawRequest(t, addr, c.req)
			resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ Error string }
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != c.status || body.Error == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("%d %v %+v %v; want %d with a JSON error", resp.StatusCode, resp.Header, body, err, c.status)
			}
		})
	}
}
