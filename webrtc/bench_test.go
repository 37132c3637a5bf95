package webrtc

import "testing"

// BenchmarkLegPlayoutRing measures the per-frame receive path once the call
// runs: a decoded frame pushed by the reader, popped by ReadFrame.
func BenchmarkLegPlayoutRing(b *testing.B) {
	leg, err := NewLeg(Config{CallID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer leg.Close()
	var in [FrameSamples]int16
	out := make([]int16, FrameSamples)
	leg.push(&in)
	b.ReportAllocs()
	for b.Loop() {
		leg.push(&in)
		leg.pop(out)
	}
}

// BenchmarkLegQueueFrame measures WriteFrame and the sender's dequeue.
func BenchmarkLegQueueFrame(b *testing.B) {
	leg, err := NewLeg(Config{CallID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer leg.Close()
	frame := make([]int16, FrameSamples)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if err := leg.WriteFrame(ctx, frame); err != nil {
			b.Fatal(err)
		}
		<-leg.out
	}
}

func FuzzOfferCodec(f *testing.F) {
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := OfferCodec(b)
		if err == nil && pt != PayloadPCMU && pt != PayloadPCMA {
			t.Fatalf("OfferCodec accepted payload type %d", pt)
		}
	})
}
