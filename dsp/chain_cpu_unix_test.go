//go:build unix

package dsp

import (
	"syscall"
	"testing"
)

// reportCPU adds a cpu-ns/op metric: process CPU time per operation, which
// unlike ns/op does not grow when other processes share the cores.
func reportCPU(b *testing.B) func() {
	var start syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &start); err != nil {
		return func() {}
	}
	return func() {
		var end syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &end); err != nil || b.N == 0 {
			return
		}
		cpu := end.Utime.Nano() - start.Utime.Nano() + end.Stime.Nano() - start.Stime.Nano()
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	}
}
