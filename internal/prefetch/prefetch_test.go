package prefetch

import (
	"testing"
	"unsafe"
)

// TestLinesNeverFaults holds Lines to its promise: a prefetch of any
// address, even one never mapped, is only a hint, so that a caller may
// prefetch through a pointer that has gone stale. A load in its place
// would crash this test.
func TestLinesNeverFaults(t *testing.T) {
	buf := make([]byte, 256)
	for _, addr := range []uintptr{
		0, 1, 64, 4095, // the zero page
		uintptr(unsafe.Pointer(&buf[0])),
		^uintptr(0) - 64, ^uintptr(0), // the top of the address space
		1 << 47, // past user space on amd64
	} {
		Lines(addr)
	}
}
