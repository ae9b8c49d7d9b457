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

// Region reads the file where memory mapping is not available; bytes past
// its end read as zero and do not follow the file.
func Region(path string, size int64) ([]byte, func() error, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if int64(len(data)) < size {
		data = append(data, make([]byte, size-int64(len(data)))...)
	}
	return data[:size], func() error { return nil }, nil
}
