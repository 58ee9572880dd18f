package txn

import "unsafe"

// The duplicate set's large arrays (segment buckets, position blocks) hold
// no pointers and live as long as the run, so they are kept outside the Go
// heap where the system allows it (offheap_unix.go): on the heap they would
// also raise the garbage collector's heap goal, and the process would peak
// near twice the set's size. Small arrays stay on the heap.
const offHeapMin = 64 << 10

// allocSlice returns n zeroed values of a pointer-free type T, and whether
// they are off the heap (then they must be given back with freeSlice).
func allocSlice[T any](n int) (s []T, offHeap bool) {
	var z T
	size := n * int(unsafe.Sizeof(z))
	if size >= offHeapMin {
		if b := mapPages(size); b != nil {
			return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n), true
		}
	}
	return make([]T, n), false
}

// freeSlice gives back a slice allocSlice took off the heap; heap slices
// are left to the garbage collector. s must not be used afterwards.
func freeSlice[T any](s []T, offHeap bool) {
	if !offHeap || len(s) == 0 {
		return
	}
	var z T
	unmapPages(unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(z))))
}
