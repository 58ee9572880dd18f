//go:build !amd64 && !arm64

package txn

// prefetch does nothing where there is no prefetch instruction written
// for the architecture: Dedup.Prefetch is then only a hint not taken.
func prefetch(addr uintptr) {}
