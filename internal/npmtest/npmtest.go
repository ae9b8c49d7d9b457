// Package npmtest installs pinned npm packages for tests that run real
// JavaScript: the Jina Box client, PGlite.
package npmtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Install installs the packages pinned by dir's package.json and
// package-lock.json with `npm ci`, and returns their node_modules folder.
// The install goes to the user's cache, keyed by the lock file, so that
// the source tree stays clean and later runs reuse it. Without npm or the
// registry, it calls missing, which skips or fails the test.
func Install(t testing.TB, dir string, missing func(t testing.TB, msg string)) string {
	t.Helper()
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256(append(append([]byte{}, manifest...), lock...))
	final := filepath.Join(cache, "xmodal-tests", "npm-"+hex.EncodeToString(sum[:8]))
	modules := filepath.Join(final, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, ".package-lock.json")); err == nil {
		return modules
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		missing(t, "npm is not installed: it fetches the pinned packages in "+dir)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		t.Fatal(err)
	}
	// Install beside the final folder and rename, so that an interrupted
	// install is never taken for a finished one.
	tmp, err := os.MkdirTemp(filepath.Dir(final), "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	for name, data := range map[string][]byte{"package.json": manifest, "package-lock.json": lock} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		missing(t, fmt.Sprintf("npm ci in a copy of %s failed (%v): %s", dir, err, out))
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, serr := os.Stat(modules); serr != nil {
			t.Fatal(err)
		}
		// Another test process finished the same install first.
	}
	return modules
}
