package server

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

// recorder remembers the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// recoverPanics turns a handler's panic into a 500 and a log entry with the
// stack, instead of the connection being dropped. It is the last resort:
// handlers report client mistakes as errors, never by panicking.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // the handler asked for the connection to be cut
			}
			s.metrics.panics.Add(1)
			s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if rec.status == 0 {
				writeJSON(rec, http.StatusInternalServerError, errorBodyFor(r, "internal error: the server failed on this request (it is logged)"))
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// instrument records each request's route, status and latency in the
// metrics and, with AccessLog, in the log.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		defer func() {
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			// ServeMux sets r.Pattern on the request it was given, which is
			// this one: middleware below must not replace the request.
			route := r.Pattern
			if r.Method == http.MethodOptions {
				route = "preflight"
			} else if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			s.metrics.observeRequest(route, r.Method, status, d)
			if s.opts.AccessLog {
				s.log.Info("request", "method", r.Method, "path", r.URL.Path, "route", route, "status", status, "bytes", rec.bytes, "duration", d.Round(time.Microsecond), "remote", r.RemoteAddr)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// cors lets pages from other origins call the API, as the original example's
// front end did. Every OPTIONS request is answered as a preflight. The
// endpoints that change the workspace refuse cross-origin requests anyway
// (see mutating), so the wildcard exposes only reads.
func (s *Server) cors(next http.Handler) http.Handler {
	origin := s.opts.CORSOrigin
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		if origin != "*" {
			h.Add("Vary", "Origin")
		}
		h.Set("Access-Control-Expose-Headers", "ETag, Retry-After, Location")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, DELETE, OPTIONS")
			if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
				h.Set("Access-Control-Allow-Headers", req)
			} else {
				h.Set("Access-Control-Allow-Headers", "Content-Type")
			}
			h.Set("Access-Control-Max-Age", "600")
			h.Set("Allow", "GET, HEAD, POST, DELETE, OPTIONS")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every response should carry.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// limitHeaders answers requests whose header lines exceed MaxHeaderBytes
// with a JSON 431. (Go's server, left to itself, answers in plain text;
// it is given room above this limit so that this check comes first.)
func limitHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + len(r.Host) + 12
		for k, vs := range r.Header {
			for _, v := range vs {
				n += len(k) + len(v) + 4
			}
		}
		if n > MaxHeaderBytes {
			w.Header().Set("Connection", "close")
			writeError(w, r, errorf(http.StatusRequestHeaderFieldsTooLarge, "the request's header lines take %d bytes, above the limit of %s", n, sizeString(MaxHeaderBytes)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps request bodies: a declared length over the cap is refused
// at once, an undeclared one fails when the handler reads past the cap.
func (s *Server) limitBody(next http.Handler) http.Handler {
	limit := s.opts.MaxBodyBytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			w.Header().Set("Connection", "close")
			writeError(w, r, errorf(http.StatusRequestEntityTooLarge, "request body of %d bytes is larger than the limit of %s", r.ContentLength, sizeString(limit)))
			return
		}
		// MaxBytesReader closes the connection after an overflow only when
		// given the server's own writer, so unwrap ours.
		r.Body = http.MaxBytesReader(unwrapWriter(w), r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

func unwrapWriter(w http.ResponseWriter) http.ResponseWriter {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}

// allowHeader lists a route's methods for the Allow header.
func allowHeader(methods map[string]apiFunc) string {
	var out []string
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
		if _, ok := methods[m]; ok || (m == "HEAD" && methods["GET"] != nil) {
			out = append(out, m)
		}
	}
	return strings.Join(append(out, "OPTIONS"), ", ")
}
