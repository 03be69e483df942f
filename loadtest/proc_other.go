//go:build !linux

package loadtest

import (
	"errors"
	"time"
)

// Server sampling reads /proc; elsewhere -pid is refused with this error.
var errNoProc = errors.New("-pid needs Linux's /proc")

func procCPU(pid int) (time.Duration, error)                { return 0, errNoProc }
func procRSS(pid int) (int64, error)                        { return 0, errNoProc }
func machineBusy() (procs, kernel time.Duration, err error) { return 0, 0, errNoProc }
func selfCPU() time.Duration                                { return 0 }
func selfMaxRSS() int64                                     { return 0 }
func procName(pid int) string                               { return "" }
