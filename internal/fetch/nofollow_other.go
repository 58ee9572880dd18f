//go:build !unix

package fetch

// oNoFollow is not available here; FileStore.Open checks with Lstat.
const oNoFollow = 0
