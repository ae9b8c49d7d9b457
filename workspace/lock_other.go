//go:build !unix

package workspace

// lockDir is a no-op where flock is not available; concurrent writers are
// then the user's responsibility.
func lockDir(dir string) (func() error, error) {
	return func() error { return nil }, nil
}
