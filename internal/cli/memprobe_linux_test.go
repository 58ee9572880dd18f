package cli

import "syscall"

// probeAttr makes the probed command die with the probe, when a test's
// deadline kills the probe. Pdeathsig is bound to the thread that starts
// the child: the probe locks its thread first.
func probeAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// maxrssBytes is the unit of ru_maxrss: KiB on Linux.
const maxrssBytes = 1024
