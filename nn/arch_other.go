//go:build !amd64 || purego

package nn

func detectEngine() *engine { return portable }

// engines lists the engines this build can run: only the portable one.
func engines() []*engine { return []*engine{portable} }
