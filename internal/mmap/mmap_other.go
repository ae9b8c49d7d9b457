//go:build !unix

// Package mmap maps files read-only into memory, where the platform can;
// elsewhere it reads them.
package mmap

import "os"

// File reads the whole file where memory mapping is not available.
func File(path string) ([]byte, func() error, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return data, func() error { return nil }, nil
}
