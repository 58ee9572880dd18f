//go:build !unix

package txn

func mapPages(int) []byte { return nil }
func unmapPages([]byte)   {}
