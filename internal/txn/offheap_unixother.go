//go:build unix && !linux

package txn

// adviseHugePages is Linux's (offheap_linux.go); elsewhere the pages stay
// as the system gives them.
func adviseHugePages([]byte) {}
