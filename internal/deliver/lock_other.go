//go:build !unix

package deliver

// Lock is a no-op where there is no flock: one delivering process per
// state file is then the user's to keep.
func Lock(path string) (unlock func(), ok bool, err error) {
	return func() {}, true, nil
}
