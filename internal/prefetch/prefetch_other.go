//go:build !amd64 && !arm64

package prefetch

// Lines does nothing where there is no prefetch instruction written for
// the architecture: a prefetch is then only a hint not taken.
func Lines(addr uintptr) {}
