// Package interop holds waihu's end-to-end tests: the waihu binary, built
// once per run, against real SIP peers started by internal/testpeer (sipp,
// baresip, kamailio). The tests are behind the build tag "interop":
//
//	go test -tags interop ./test/interop/
//
// See README.md for what each test proves.
package interop
