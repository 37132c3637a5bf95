package sip

import (
	"context"
	"testing"
	"time"
)

// BenchmarkCallSetupTeardown measures one INVITE/200/ACK/BYE/200 round
// between two UAs on loopback UDP.
func BenchmarkCallSetupTeardown(b *testing.B) {
	calls := make(chan *Call, 1)
	callee := startUAWith(b, Config{}, func(ctx context.Context, in *Incoming) {
		c, err := in.Answer(ctx, newFakeLeg(40000))
		if err == nil {
			calls <- c
		}
	})
	caller := startUA(b, Config{Trunks: []Trunk{{Name: "callee", Address: callee.Addr("udp").String(), Username: "u"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
		if err != nil {
			b.Fatal(err)
		}
		remote := <-calls
		if err := c.Hangup(ctx); err != nil {
			b.Fatal(err)
		}
		<-remote.Done()
	}
}

func BenchmarkParseSDP(b *testing.B) {
	body := []byte(offerSDP(1, "192.0.2.1", 4000, "sendrecv"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSDP(body); err != nil {
			b.Fatal(err)
		}
	}
}
