//go:build amd64 || arm64

package prefetch

// Lines asks the processor to bring the two cache lines at addr into its
// cache, without waiting for them. A prefetch never faults, whatever addr
// is, so it may be given an address read without a lock that has since
// gone stale (txn.Dedup.Prefetch).
//
//go:noescape
func Lines(addr uintptr)
