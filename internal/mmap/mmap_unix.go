//go:build unix

// Package mmap maps files read-only into memory, where the platform can;
// elsewhere it reads them.
package mmap

import (
	"fmt"
	"os"
	"syscall"
)

// File maps path read-only and returns its bytes with the function that
// unmaps them. The mapping outlives the descriptor, which is closed at
// once. An empty file gives an empty slice.
func File(path string) ([]byte, func() error, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, nil, err
	}
	return Region(path, st.Size())
}

// Region maps the first size bytes of path read-only, size may exceed the
// file's length: pages past the end become readable as the file grows
// (reading them before that faults), so a reader of an append-only file
// can map once with room to spare.
func Region(path string, size int64) ([]byte, func() error, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fd.Close()
	if size <= 0 {
		return []byte{}, func() error { return nil }, nil
	}
	if int64(int(size)) != size {
		return nil, nil, fmt.Errorf("%s: %d bytes is too large to map", path, size)
	}
	data, err := syscall.Mmap(int(fd.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}
