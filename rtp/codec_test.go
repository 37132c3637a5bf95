package rtp

import (
	"encoding/binary"
	"testing"

	"github.com/zaf/g711"
)

func TestCodecNamesRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		pt   uint8
		name string
	}{{PayloadPCMU, "PCMU"}, {PayloadPCMA, "PCMA"}} {
		if got := CodecName(tc.pt); got != tc.name {
			t.Errorf("CodecName(%d) = %q, want %q", tc.pt, got, tc.name)
		}
		for _, n := range []string{tc.name, "pcm" + tc.name[3:]} {
			if pt, ok := PayloadTypeByName(n); !ok || pt != tc.pt {
				t.Errorf("PayloadTypeByName(%q) = %d, %v", n, pt, ok)
			}
		}
	}
	for _, name := range []string{"", "G729", "PCM", "PCMUX", "opus"} {
		if _, ok := PayloadTypeByName(name); ok {
			t.Errorf("PayloadTypeByName(%q) accepted", name)
		}
	}
	if CodecName(18) != "" || IsAudioPayload(18) || IsAudioPayload(101) {
		t.Error("non-G.711 payload type treated as audio")
	}
}

// TestG711MatchesReferenceSliceCodec checks the per-sample path against
// zaf/g711's own (allocating) slice functions over every 16-bit sample.
func TestG711MatchesReferenceSliceCodec(t *testing.T) {
	all := make([]int16, 65536)
	lpcm := make([]byte, 2*len(all))
	for i := range all {
		all[i] = int16(i - 32768)
		binary.LittleEndian.PutUint16(lpcm[2*i:], uint16(all[i]))
	}
	for _, tc := range []struct {
		pt     uint8
		encode func([]byte) []byte
		decode func([]byte) []byte
	}{
		{PayloadPCMU, g711.EncodeUlaw, g711.DecodeUlaw},
		{PayloadPCMA, g711.EncodeAlaw, g711.DecodeAlaw},
	} {
		enc := make([]byte, len(all))
		encodeG711(tc.pt, enc, all)
		want := tc.encode(lpcm)
		for i := range enc {
			if enc[i] != want[i] {
				t.Fatalf("%s: sample %d encodes to %#x, reference %#x", CodecName(tc.pt), all[i], enc[i], want[i])
			}
		}
		codes := make([]byte, 256)
		for i := range codes {
			codes[i] = byte(i)
		}
		dec := make([]int16, 256)
		decodeG711(tc.pt, dec, codes)
		ref := tc.decode(codes)
		for i := range dec {
			if r := int16(binary.LittleEndian.Uint16(ref[2*i:])); dec[i] != r || decodeSample(tc.pt, codes[i]) != r {
				t.Fatalf("%s: code %#x decodes to %d, reference %d", CodecName(tc.pt), i, dec[i], r)
			}
		}
	}
}

func TestSilenceEncodesZero(t *testing.T) {
	for _, pt := range []uint8{PayloadPCMU, PayloadPCMA} {
		b := make([]byte, 4)
		fillSilence(pt, b)
		zero := make([]byte, 1)
		encodeG711(pt, zero, []int16{0})
		// A-law has no zero code: its quietest codes decode to ±8.
		if d := decodeSample(pt, b[0]); b[0] != zero[0] || d < -8 || d > 8 {
			t.Errorf("%s silence byte %#x, encoder gives %#x for 0", CodecName(pt), b[0], zero[0])
		}
	}
}

func TestG711ShortBuffersDoNotOverrun(t *testing.T) {
	if n := encodeG711(PayloadPCMU, make([]byte, 3), make([]int16, 10)); n != 3 {
		t.Errorf("encode into 3 bytes wrote %d", n)
	}
	if n := decodeG711(PayloadPCMA, make([]int16, 10), make([]byte, 4)); n != 4 {
		t.Errorf("decode of 4 bytes wrote %d", n)
	}
}
