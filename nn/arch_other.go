//go:build !amd64 || purego

package nn

func detectEngine() *engine { return portable }
