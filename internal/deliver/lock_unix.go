//go:build unix

package deliver

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Lock takes the delivery lock of the state file at path (the file
// path+".deliver-lock", an advisory lock the kernel drops when the process
// ends, however it ends). It returns false, without waiting, when another
// process holds it. unlock releases it.
func Lock(path string) (unlock func(), ok bool, err error) {
	f, err := os.OpenFile(path+".deliver-lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, true, nil
}
