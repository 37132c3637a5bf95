package sip

import (
	"os"

	sipgosip "github.com/emiago/sipgo/sip"
)

// SIP_TRACE=1 prints every SIP message the tests send and receive (sipgo's
// own tracer, to stderr), for debugging a failing exchange.
func init() {
	if os.Getenv("SIP_TRACE") != "" {
		sipgosip.SIPDebug = true
	}
}
