//go:build unix

package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// A second writer is refused with an error that names the first.
func TestLockNamesHolder(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, testModel)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_, err = Create(dir, testModel)
	var locked *LockedError
	if !errors.As(err, &locked) || !errors.Is(err, ErrLocked) {
		t.Fatalf("second Create: %v", err)
	}
	if want := fmt.Sprintf("pid %d (", os.Getpid()); !strings.HasPrefix(locked.Holder, want) || !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the workspace and %s...", err, want)
	}
}

func TestCreateWait(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, testModel)
	if err != nil {
		t.Fatal(err)
	}
	// Gives up when the context ends, saying on whom it waited.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	calls := 0
	_, err = CreateWait(ctx, dir, testModel, Options{}, func(*LockedError) { calls++ })
	if !errors.Is(err, ErrLocked) || !errors.Is(err, context.DeadlineExceeded) || calls != 1 {
		t.Fatalf("CreateWait with the lock held: %v (waiting called %d times)", err, calls)
	}
	// Takes the lock once it is released.
	go func() {
		time.Sleep(300 * time.Millisecond)
		w.Close()
	}()
	calls = 0
	w2, err := CreateWait(context.Background(), dir, testModel, Options{}, func(*LockedError) { calls++ })
	if err != nil || calls != 1 {
		t.Fatalf("CreateWait: %v (waiting called %d times)", err, calls)
	}
	w2.Close()
}
