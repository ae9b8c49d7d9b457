//go:build amd64 && !purego

package nn

import "syscall"

// amxPermission asks Linux for the AMX tile state. The kernel hands it out
// only on request (arch_prctl ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA),
// and refuses it on kernels or hypervisors without support; the package then
// uses the AVX512_BF16 kernel instead. The permission is per process.
func amxPermission() bool {
	const (
		sysArchPrctl      = 158
		archReqXcompPerm  = 0x1023
		xfeatureXtiledata = 18
	)
	_, _, errno := syscall.RawSyscall(sysArchPrctl, archReqXcompPerm, xfeatureXtiledata, 0)
	return errno == 0
}
