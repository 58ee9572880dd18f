//go:build unix

package txn

import "golang.org/x/sys/unix"

// mapPages returns size bytes of zeroed anonymous memory, or nil if the
// system refuses (the caller then uses the heap).
func mapPages(size int) []byte {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	adviseHugePages(b)
	return b
}

// unmapPages releases memory from mapPages (and only from it).
func unmapPages(b []byte) { _ = unix.Munmap(b) }
