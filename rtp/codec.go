package rtp

import (
	"time"

	"github.com/zaf/g711"
)

// Audio format shared by every package of waihu.
const (
	// SampleRate is the audio sample rate in Hz.
	SampleRate = 8000
	// FrameSamples is the number of samples in one 20 ms frame.
	FrameSamples = 160
	// FrameDuration is the duration of one frame.
	FrameDuration = 20 * time.Millisecond
)

// Static RTP payload types of the G.711 codecs (RFC 3551 §6).
const (
	// PayloadPCMU is G.711 µ-law.
	PayloadPCMU uint8 = 0
	// PayloadPCMA is G.711 A-law.
	PayloadPCMA uint8 = 8
)

// samplesPerMs converts milliseconds to samples at SampleRate.
const samplesPerMs = SampleRate / 1000

// CodecName returns the SDP encoding name (rtpmap) of a static G.711 payload
// type, "PCMU" or "PCMA", and "" for any other payload type.
func CodecName(payloadType uint8) string {
	switch payloadType {
	case PayloadPCMU:
		return "PCMU"
	case PayloadPCMA:
		return "PCMA"
	}
	return ""
}

// PayloadTypeByName returns the static payload type for an SDP encoding name
// ("PCMU" or "PCMA", case-insensitive) and whether the name is supported.
func PayloadTypeByName(name string) (uint8, bool) {
	switch {
	case equalFold(name, "PCMU"):
		return PayloadPCMU, true
	case equalFold(name, "PCMA"):
		return PayloadPCMA, true
	}
	return 0, false
}

// IsAudioPayload reports whether the leg can encode and decode payloadType.
func IsAudioPayload(payloadType uint8) bool {
	return payloadType == PayloadPCMU || payloadType == PayloadPCMA
}

// equalFold compares ASCII strings case-insensitively without allocating.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// encodeG711 encodes src into dst (one byte per sample) and returns the
// number of bytes written. It uses zaf/g711's per-sample functions because
// its slice functions allocate their result.
func encodeG711(payloadType uint8, dst []byte, src []int16) int {
	n := min(len(dst), len(src))
	if payloadType == PayloadPCMA {
		for i := 0; i < n; i++ {
			dst[i] = g711.EncodeAlawFrame(src[i])
		}
		return n
	}
	for i := 0; i < n; i++ {
		dst[i] = g711.EncodeUlawFrame(src[i])
	}
	return n
}

// decodeG711 decodes src into dst and returns the number of samples written.
func decodeG711(payloadType uint8, dst []int16, src []byte) int {
	n := min(len(dst), len(src))
	if payloadType == PayloadPCMA {
		for i := 0; i < n; i++ {
			dst[i] = g711.DecodeAlawFrame(src[i])
		}
		return n
	}
	for i := 0; i < n; i++ {
		dst[i] = g711.DecodeUlawFrame(src[i])
	}
	return n
}

// decodeSample decodes one G.711 byte.
func decodeSample(payloadType uint8, b byte) int16 {
	if payloadType == PayloadPCMA {
		return g711.DecodeAlawFrame(b)
	}
	return g711.DecodeUlawFrame(b)
}
