package sip

import (
	"errors"
	"fmt"
)

// ErrClosed is returned by operations on a closed UA.
var ErrClosed = errors.New("sip: user agent closed")

// ErrUnknownTrunk is returned by Dial for a trunk name not in Config.Trunks.
var ErrUnknownTrunk = errors.New("sip: unknown trunk")

// FailureKind classifies why an outbound call did not connect.
type FailureKind int

// Failure kinds, from the final response or local event that ended the call.
const (
	FailureUnknown       FailureKind = iota
	FailureBusy                      // 486, 600
	FailureNoAnswer                  // ring timeout (we sent CANCEL), 480, 408 from the far end
	FailureRejected                  // 403, 603, other 4xx/6xx
	FailureNotFound                  // 404, 604, 484
	FailureNotAcceptable             // 488, 606, 415
	FailureUnreachable               // transport error, 503, 502, 5xx
	FailureTimeout                   // no final response at all (timer B)
	FailureCancelled                 // the caller's context ended
	FailureAuth                      // 401/407 we could not satisfy
)

var failureNames = [...]string{"unknown", "busy", "no answer", "rejected", "not found", "not acceptable", "unreachable", "timeout", "cancelled", "authentication failed"}

// String returns the kind in words, e.g. "busy".
func (k FailureKind) String() string {
	if k < 0 || int(k) >= len(failureNames) {
		return fmt.Sprintf("FailureKind(%d)", int(k))
	}
	return failureNames[k]
}

// failureForCode maps a final SIP status code to a FailureKind.
func failureForCode(code int) FailureKind {
	switch code {
	case 486, 600:
		return FailureBusy
	case 408, 480, 487:
		return FailureNoAnswer
	case 404, 604, 484, 410:
		return FailureNotFound
	case 488, 606, 415:
		return FailureNotAcceptable
	case 401, 407:
		return FailureAuth
	}
	switch {
	case code >= 500 && code < 600:
		return FailureUnreachable
	case code >= 400:
		return FailureRejected
	}
	return FailureUnknown
}

// CallError is why Dial failed.
type CallError struct {
	Kind   FailureKind
	Code   int    // final SIP status code, 0 when none was received
	Reason string // reason phrase, or what happened locally
	Trunk  string
	CallID string
	Err    error // underlying error, if any
}

// Error reads like: call 1234 via trunk "carrier": busy (486 Busy Here).
func (e *CallError) Error() string {
	detail := e.Reason
	if e.Code != 0 {
		detail = fmt.Sprintf("%d %s", e.Code, e.Reason)
	}
	s := fmt.Sprintf("call %s via trunk %q: %s", e.CallID, e.Trunk, e.Kind)
	if detail != "" {
		s += " (" + detail + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *CallError) Unwrap() error { return e.Err }

// HangupReason says why an established call ended.
type HangupReason int

// Hangup reasons.
const (
	HangupNone           HangupReason = iota // call still up
	HangupRemote                             // remote sent BYE
	HangupLocal                              // Call.Hangup
	HangupMediaTimeout                       // no RTP for Config.MediaTimeout
	HangupSessionExpired                     // RFC 4028 refresh missing or failed
	HangupShutdown                           // UA.Close
	HangupAckTimeout                         // our 200 OK was never ACKed
)

var hangupNames = [...]string{"none", "remote hangup", "local hangup", "media timeout", "session expired", "shutdown", "ack timeout"}

// String returns the reason in words, e.g. "media timeout".
func (r HangupReason) String() string {
	if r < 0 || int(r) >= len(hangupNames) {
		return fmt.Sprintf("HangupReason(%d)", int(r))
	}
	return hangupNames[r]
}
