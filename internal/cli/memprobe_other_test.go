//go:build !linux

package cli

import "syscall"

// probeAttr: without Pdeathsig, a probed command outlives a killed probe
// until it ends by itself.
func probeAttr() *syscall.SysProcAttr { return nil }

// maxrssBytes is the unit of ru_maxrss: bytes on the BSDs and macOS.
const maxrssBytes = 1
