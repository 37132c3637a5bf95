//go:build !unix

package dsp

import "testing"

// reportCPU is a no-op where getrusage is not available.
func reportCPU(*testing.B) func() { return func() {} }
