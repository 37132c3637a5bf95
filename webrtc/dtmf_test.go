package webrtc

import (
	"errors"
	"testing"
)

func TestDTMFReceiverReportsEachKeyOnceDespiteRepeatedPackets(t *testing.T) {
	type pkt struct {
		ts      uint32
		payload []byte
	}
	tests := []struct {
		name    string
		packets []pkt
		want    string
		bad     int
	}{
		{"one key, growing duration and three end packets", []pkt{
			{1000, []byte{1, 10, 0, 160}}, {1000, []byte{1, 10, 1, 64}}, {1000, []byte{1, 0x80 | 10, 3, 32}},
			{1000, []byte{1, 0x80 | 10, 3, 32}}, {1000, []byte{1, 0x80 | 10, 3, 32}},
		}, "1", 0},
		{"the same key pressed twice", []pkt{{1000, []byte{5, 10, 0, 160}}, {5000, []byte{5, 10, 0, 160}}}, "55", 0},
		{"star, hash and letters", []pkt{{1, []byte{10, 0, 0, 1}}, {2, []byte{11, 0, 0, 1}}, {3, []byte{12, 0, 0, 1}}, {4, []byte{15, 0, 0, 1}}}, "*#AD", 0},
		{"short payload and non-key event are dropped", []pkt{{1, []byte{1, 2}}, {2, []byte{16, 0, 0, 1}}, {3, []byte{9, 0, 0, 1}}}, "9", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r dtmfReceiver
			got, bad := "", 0
			for _, p := range tt.packets {
				d, ok, err := r.packet(p.ts, p.payload)
				if errors.Is(err, errDTMFPayload) {
					bad++
					continue
				}
				if ok {
					got += string(d)
				}
			}
			if got != tt.want || bad != tt.bad {
				t.Errorf("digits %q, %d bad; want %q, %d bad", got, bad, tt.want, tt.bad)
			}
		})
	}
}
