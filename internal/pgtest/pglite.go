package pgtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/xmodal/xmodal/internal/npmtest"
)

// PGlite starts PGlite (PostgreSQL compiled to WebAssembly, from npm) with
// the pgvector extension, serving the PostgreSQL wire protocol on a free
// port, and returns a URL for it; it stops with the test. It is how tests
// run pgvector's SQL here, where Debian's PostgreSQL has no pgvector.
//
// Its limits shape what to test on it: every connection shares one
// session (no real locking or parallelism), pgx must not cache prepared
// statements (the URL asks for the exec mode), and it is slow, so keep it
// to a few thousand rows.
func PGlite(t testing.TB) string {
	t.Helper()
	missing := func(t testing.TB, msg string) {
		t.Helper()
		if os.Getenv(RequireEnv) == "1" {
			t.Fatal(msg + "; " + RequireEnv + "=1 forbids skipping")
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node is not installed: PGlite runs on it")
	}
	_, file, _, _ := runtime.Caller(0)
	modules := npmtest.Install(t, filepath.Join(filepath.Dir(file), "testdata", "pglite"), missing)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(modules, "@electric-sql", "pglite-socket", "dist", "scripts", "server.js")
	cmd := exec.Command(node, script, "-p", strconv.Itoa(port), "-e", "@electric-sql/pglite-pgvector:vector", "-m", "8")
	cmd.Dir = filepath.Dir(modules) // where node resolves the extension
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// Compiling PostgreSQL's WebAssembly takes seconds on an idle machine
	// and minutes when the cores are shared (CI beside a training run).
	deadline := time.Now().Add(3 * time.Minute)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			t.Fatalf("PGlite exited before listening on %s: %v\n%s", addr, waitErr, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done // out is complete and no longer written
			t.Fatalf("PGlite did not listen on %s within 3 minutes: %v\n%s", addr, err, out.String())
		}
	}
	return fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable&default_query_exec_mode=exec", addr)
}
