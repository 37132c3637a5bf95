// Package rtp is the RTP media leg of a call: one UDP port pair per leg
// carrying G.711 audio (PCMU/PCMA), RFC 4733 DTMF events and RTCP reports.
//
// An Engine owns the port range and a shared pacer. Every 20 ms the pacer
// walks all legs once: it takes one frame from each leg's outbound queue,
// encodes and sends it, and pops one playout frame from each leg's jitter
// buffer. It spreads the legs over four 5 ms phases of the frame, so the
// sends and the readers they wake come in small bursts. No leg has its own
// ticker, so thousands of legs cost a handful of goroutines for timing;
// each leg adds one goroutine parked on its RTP socket (draining it with
// recvmmsg on Linux). The pacer also reads the RTCP sockets that one poll
// finds readable, without blocking (on Unix; elsewhere a second goroutine
// per leg does).
//
// Between packages audio is 20 ms frames of 8 kHz mono int16 PCM
// (FrameSamples samples). ReadFrame returns the next playout frame in real
// time (with concealment when packets are missing); WriteFrame queues a frame
// for sending and blocks when the bounded queue is full. Instead of ReadFrame,
// a consumer whose per-frame work is short can set OnFrame: the leg's reader
// goroutine then runs it on each frame, saving a goroutine and a wake-up per
// frame.
//
// The leg does symmetric RTP: it sends to the source address of the peer's
// packets rather than trusting the address in SDP, which is often a private
// address behind NAT.
//
// When the application has nothing queued, the leg sends encoded silence
// rather than nothing: trunks and SBCs often hang up on RTP inactivity, and
// NAT bindings and the peer's own symmetric-RTP latching need a steady
// stream. The marker bit is set on the first packet of the call and on the
// first packet after a gap in sending (hold, or no known remote).
package rtp
