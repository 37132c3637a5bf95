//go:build interop

package interop

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/internal/testpeer"
)

// TestBaresipDTMFIsReported has baresip call waihu and key 1234# as RFC 4733
// events: waihu must log each digit once, in order, for that call.
func TestBaresipDTMFIsReported(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := startServer(ctx, t, serverOptions{})
	phone := testpeer.StartBaresip(ctx, t, testpeer.BaresipConfig{SourceLength: 30 * time.Second})
	if err := phone.Dial(ctx, fmt.Sprintf("sip:waihu@%s", srv.addr)); err != nil {
		t.Fatalf("%v\n%s\n%s", err, phone.Output(), srv.Output())
	}
	answered, err := srv.waitLogs(ctx, msgIs("call answered"), atLeast(1))
	if err != nil {
		t.Fatalf("no \"call answered\": %v\n%s", err, srv.Output())
	}
	callID := answered[0].str("call_id")
	const digits = "1234#"
	if err := phone.SendDTMF(ctx, digits); err != nil {
		t.Fatalf("%v\n%s", err, phone.Output())
	}
	isDigit := func(l logLine) bool { return l.str("msg") == "dtmf" }
	got, err := srv.waitLogs(ctx, isDigit, atLeast(len(digits)))
	var seq strings.Builder
	for _, l := range got {
		seq.WriteString(l.str("digit"))
		if id := l.str("call_id"); id != callID {
			t.Errorf("digit %q logged for call %q, want %q", l.str("digit"), id, callID)
		}
	}
	if err != nil {
		t.Fatalf("digits logged %q, want %q: %v\n%s", seq.String(), digits, err, srv.Output())
	}
	if err := phone.Hangup(ctx); err != nil {
		t.Fatalf("%v\n%s", err, phone.Output())
	}
	if _, err := srv.waitLogs(ctx, msgIs("call ended"), atLeast(1)); err != nil {
		t.Fatalf("no \"call ended\" after baresip hung up: %v\n%s", err, srv.Output())
	}
	// Late duplicates (RFC 4733 end packets are sent three times) must not
	// show up as extra digits.
	got, _ = srv.waitLogs(ctx, isDigit, atLeast(0))
	seq.Reset()
	for _, l := range got {
		seq.WriteString(l.str("digit"))
	}
	if seq.String() != digits {
		t.Fatalf("digits logged %q, want %q\n%s", seq.String(), digits, srv.Output())
	}
	srv.stop(t)
}
