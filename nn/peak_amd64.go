//go:build amd64 && !purego

package nn

//go:noescape
func fmaLoop512(n int)

//go:noescape
func fmaLoop256(n int)

// fmaLoop runs n iterations of twelve vector FMAs and returns the float32
// operations they amount to, or 0 without FMA.
func fmaLoop(n int) float64 {
	switch {
	case hasAVX512():
		fmaLoop512(n)
		return float64(n) * 12 * 16 * 2
	case hasAVX2():
		fmaLoop256(n)
		return float64(n) * 12 * 8 * 2
	}
	return 0
}
