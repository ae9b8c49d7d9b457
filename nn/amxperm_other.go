//go:build amd64 && !purego && !linux

package nn

// amxPermission reports false: the package asks for the AMX tile state only
// on Linux.
func amxPermission() bool { return false }
