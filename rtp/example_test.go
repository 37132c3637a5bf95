package rtp_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/waihu/waihu/rtp"
)

// Example shows one call's media: allocate a leg, put its address in the
// SDP, apply the peer's answer, then read and write 20 ms frames.
func Example() {
	engine, err := rtp.NewEngine(rtp.Config{
		BindIP:  netip.MustParseAddr("127.0.0.1"),
		PortMin: 30000, PortMax: 30999,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer engine.Close()

	leg, err := engine.NewLeg("call-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer leg.Close()
	_ = leg.LocalAddr() // goes into the SDP offer (c= and m=audio)

	// From the SDP answer: PCMU, telephone-event on 101.
	peer := netip.MustParseAddrPort("127.0.0.1:30998")
	if err := leg.SetRemote(peer, rtp.PayloadPCMU, 101); err != nil {
		fmt.Println(err)
		return
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	frame := make([]int16, rtp.FrameSamples)
	if err := leg.WriteFrame(ctx, frame); err != nil { // speak
		fmt.Println(err)
	}
	if err := leg.ReadFrame(ctx, frame); err != nil { // listen
		fmt.Println(err)
	}
	fmt.Println(rtp.CodecName(rtp.PayloadPCMU), len(frame), rtp.FrameDuration)
	// Output: PCMU 160 20ms
}
