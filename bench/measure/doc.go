// Package measure is the measuring half of bench: the per-packet Meter, its
// histograms, a step's result and the quality limit, process CPU and memory,
// and the test signal. It imports nothing from waihu but the standard
// library, so the diago peer builds it into its own module unchanged and both
// stacks are measured by the same code.
package measure
