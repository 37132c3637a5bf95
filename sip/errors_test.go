package sip

import (
	"errors"
	"testing"
)

func TestCallErrorReadsWell(t *testing.T) {
	tests := []struct {
		err  *CallError
		want string
	}{
		{&CallError{Kind: FailureBusy, Code: 486, Reason: "Busy Here", Trunk: "carrier", CallID: "1234"}, `call 1234 via trunk "carrier": busy (486 Busy Here)`},
		{&CallError{Kind: FailureNoAnswer, Reason: "no answer in 1m0s, sent CANCEL", Trunk: "carrier", CallID: "1"}, `call 1 via trunk "carrier": no answer (no answer in 1m0s, sent CANCEL)`},
		{&CallError{Kind: FailureCancelled, Trunk: "t", CallID: "2", Err: ErrClosed}, `call 2 via trunk "t": cancelled: sip: user agent closed`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
	if !errors.Is(tests[2].err, ErrClosed) {
		t.Error("CallError does not unwrap")
	}
}

func TestFailureForCode(t *testing.T) {
	tests := []struct {
		code int
		want FailureKind
	}{
		{486, FailureBusy}, {600, FailureBusy}, {480, FailureNoAnswer}, {408, FailureNoAnswer},
		{404, FailureNotFound}, {484, FailureNotFound}, {488, FailureNotAcceptable}, {606, FailureNotAcceptable},
		{403, FailureRejected}, {603, FailureRejected}, {401, FailureAuth}, {407, FailureAuth},
		{503, FailureUnreachable}, {500, FailureUnreachable},
	}
	for _, tt := range tests {
		if got := failureForCode(tt.code); got != tt.want {
			t.Errorf("failureForCode(%d) = %v, want %v", tt.code, got, tt.want)
		}
	}
	if FailureKind(99).String() != "FailureKind(99)" || HangupReason(-1).String() != "HangupReason(-1)" || RegStatus(9).String() != "RegStatus(9)" {
		t.Error("out of range names")
	}
}
