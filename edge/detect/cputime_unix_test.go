//go:build unix

package detect

import (
	"syscall"
	"time"
)

// cpuTime is the process's user+system CPU time so far: on a machine other
// jobs share, CPU time per frame says what a frame costs when wall time
// cannot.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
