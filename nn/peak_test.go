package nn

import (
	"runtime"
	"testing"
	"time"
)

func TestMeasurePeak(t *testing.T) {
	p := MeasurePeak(50 * time.Millisecond)
	if fmaLoop(1) == 0 {
		if p != 0 {
			t.Errorf("no FMA kernel but peak %v", p)
		}
		return
	}
	// Any machine with FMA does more than a GFLOP/s, and none here does a
	// hundred TFLOP/s on float32 FMAs.
	if p < 1 || p > 1e5 {
		t.Errorf("peak %v GFLOP/s", p)
	}
	t.Logf("FMA peak: %.0f GFLOP/s on %d threads", p, testingThreads())
}

func testingThreads() int { return runtime.GOMAXPROCS(0) }
