//go:build unix

package workspace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// lockDir takes an exclusive advisory lock on dir/lock, so that two
// writers cannot interleave their batches, and writes who holds it into
// the file for the next one to report. The kernel drops the lock when the
// process dies, so a killed run never leaves the workspace locked.
//
// flock locks belong to an open file, not to a process: two Creates in
// one process exclude each other too, so a process must serialise its own
// writers (search.Engine does).
func lockDir(dir string) (func() error, error) {
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Dir: dir, Holder: readHolder(path)}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// Best effort: the holder's name only makes messages clearer.
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(holderName()+"\n"), 0)
	}
	return f.Close, nil
}

// holderName describes this process for others that find the lock taken.
func holderName() string {
	cmd := filepath.Base(os.Args[0])
	if len(os.Args) > 1 {
		cmd += " " + strings.Join(os.Args[1:], " ")
	}
	if len(cmd) > 200 {
		cmd = cmd[:197] + "..."
	}
	return fmt.Sprintf("pid %d (%s)", os.Getpid(), cmd)
}

func readHolder(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}
