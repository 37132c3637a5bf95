package rtp

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// dtmfPkt is one telephone-event packet of a receive trace.
type dtmfPkt struct {
	ts       uint32
	code     uint8
	end      bool
	duration uint16
}

func TestDTMFReceiverReportsEachDigitOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkts []dtmfPkt
		want string
		durs []time.Duration
	}{
		{"one digit with three end packets", []dtmfPkt{
			{100, 5, false, 160}, {100, 5, false, 320}, {100, 5, false, 480},
			{100, 5, true, 800}, {100, 5, true, 800}, {100, 5, true, 800},
		}, "5", []time.Duration{100 * time.Millisecond}},
		{"two digits in a row", []dtmfPkt{
			{100, 1, false, 160}, {100, 1, true, 800}, {100, 1, true, 800}, {100, 1, true, 800},
			{2000, 11, false, 160}, {2000, 11, true, 640}, {2000, 11, true, 640},
		}, "1#", nil},
		{"end packets all lost: next event ends the previous", []dtmfPkt{
			{100, 9, false, 160}, {100, 9, false, 320},
			{2000, 10, false, 160}, {2000, 10, true, 480},
		}, "9*", nil},
		{"out of order: update after the end is ignored", []dtmfPkt{
			{100, 3, false, 160}, {100, 3, true, 800}, {100, 3, false, 480}, {100, 3, true, 800},
		}, "3", []time.Duration{100 * time.Millisecond}},
		{"late end of an older event is not reported again", []dtmfPkt{
			{100, 3, true, 800}, {2000, 4, true, 800}, {100, 3, true, 800},
		}, "34", nil},
		{"only end packets arrive", []dtmfPkt{{100, 12, true, 400}, {100, 12, true, 400}}, "A", nil},
		{"non-digit events are not reported", []dtmfPkt{{100, 16, true, 400}, {200, 0, true, 400}}, "0", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r dtmfReceiver
			var got []rune
			var durs []time.Duration
			now := time.Unix(1000, 0)
			for _, p := range tc.pkts {
				now = now.Add(20 * time.Millisecond)
				out := r.receive(p.ts, dtmfPayload{Event: p.code, End: p.end, Duration: p.duration}, now)
				for i := range out.n {
					got = append(got, out.ev[i].Digit)
					durs = append(durs, out.ev[i].Duration)
				}
			}
			if string(got) != tc.want {
				t.Errorf("digits %q, want %q", string(got), tc.want)
			}
			if tc.durs != nil && !slices.Equal(durs, tc.durs) {
				t.Errorf("durations %v, want %v", durs, tc.durs)
			}
		})
	}
}

func TestDTMFReceiverExpiresEventWithoutEnd(t *testing.T) {
	var r dtmfReceiver
	now := time.Unix(1000, 0)
	r.receive(100, dtmfPayload{Event: 7, Duration: 160}, now)
	if out := r.expire(now.Add(100 * time.Millisecond)); out.n != 0 {
		t.Fatalf("expired too early: %+v", out)
	}
	out := r.expire(now.Add(2 * time.Second))
	if out.n != 1 || out.ev[0].Digit != '7' {
		t.Fatalf("expire = %+v, want digit 7", out)
	}
	if out := r.receive(100, dtmfPayload{Event: 7, End: true, Duration: 800}, now.Add(3*time.Second)); out.n != 0 {
		t.Errorf("late end packet reported again: %+v", out)
	}
}

func TestDTMFPayloadRoundTrip(t *testing.T) {
	for _, p := range []dtmfPayload{
		{Event: 0, Volume: 10, Duration: 160},
		{Event: 11, End: true, Volume: 63, Duration: 65535},
	} {
		var b [4]byte
		p.marshalTo(b[:])
		got, err := parseDTMF(b[:])
		if err != nil || got != p {
			t.Errorf("round trip of %+v = %+v, %v", p, got, err)
		}
	}
	if _, err := parseDTMF([]byte{1, 2, 3}); !errors.Is(err, ErrDTMFPayload) {
		t.Errorf("short payload: err %v, want ErrDTMFPayload", err)
	}
}

func TestDTMFSenderSendsRisingDurationsThenThreeEnds(t *testing.T) {
	s := dtmfSender{active: true, code: 4, total: 640, done: make(chan struct{})}
	var durs []uint16
	var ends int
	for i := 0; s.active; i++ {
		p, first := s.next(uint32(5000 + i*FrameSamples))
		if first != (i == 0) {
			t.Errorf("packet %d first=%v", i, first)
		}
		if p.Event != 4 {
			t.Errorf("packet %d event %d", i, p.Event)
		}
		durs = append(durs, p.Duration)
		if p.End {
			ends++
		}
	}
	want := []uint16{160, 320, 480, 640, 640, 640}
	if !slices.Equal(durs, want) || ends != dtmfEndPackets || s.ts != 5000 {
		t.Errorf("durations %v ends %d ts %d, want %v, 3 ends, ts 5000", durs, ends, s.ts, want)
	}
	select {
	case <-s.done:
	default:
		t.Error("done not closed after the last end packet")
	}
}

func TestLegSendsAndReceivesDTMF(t *testing.T) {
	e := newTestEngine(t, Config{})
	a, b := newPair(t, e, PayloadPCMU, 101)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const digits = "19*#AD0"
	if err := a.SendDTMF(ctx, digits, 60*time.Millisecond, 40*time.Millisecond); err != nil {
		t.Fatalf("SendDTMF: %v", err)
	}
	var got []rune
	for len(got) < len(digits) {
		select {
		case ev := <-b.DTMF():
			got = append(got, ev.Digit)
			if ev.Duration != 60*time.Millisecond {
				t.Errorf("digit %c duration %v, want 60ms", ev.Digit, ev.Duration)
			}
		case <-ctx.Done():
			t.Fatalf("received %q, want %q", string(got), digits)
		}
	}
	if string(got) != digits {
		t.Errorf("received %q, want %q", string(got), digits)
	}
	select {
	case ev := <-b.DTMF():
		t.Errorf("extra digit %c", ev.Digit)
	case <-time.After(200 * time.Millisecond):
	}
	if st := a.Stats(); st.DTMFSent != int64(len(digits)) {
		t.Errorf("DTMFSent %d, want %d", st.DTMFSent, len(digits))
	}
}

func TestLegSendDTMFErrors(t *testing.T) {
	e := newTestEngine(t, Config{})
	a, _ := newPair(t, e, PayloadPCMU, 0)
	ctx := context.Background()
	if err := a.SendDTMF(ctx, "1", 0, 0); !errors.Is(err, ErrNoDTMF) {
		t.Errorf("without telephone-event: %v, want ErrNoDTMF", err)
	}
	if err := a.SendDTMF(ctx, "1x", 0, 0); !errors.Is(err, ErrDTMFDigit) {
		t.Errorf("bad digit: %v, want ErrDTMFDigit", err)
	}
}

func TestLegCancelledDTMFStillEndsBeforeTheNextDigit(t *testing.T) {
	e := newTestEngine(t, Config{})
	a, b := newPair(t, e, PayloadPCMU, 101)
	short, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := a.SendDTMF(short, "7", 300*time.Millisecond, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SendDTMF with a short deadline: %v", err)
	}
	ctx, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := a.SendDTMF(ctx, "8", 60*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	var got []DTMFEvent
	for len(got) < 2 {
		select {
		case ev := <-b.DTMF():
			got = append(got, ev)
		case <-ctx.Done():
			t.Fatalf("received %+v, want 7 then 8", got)
		}
	}
	if got[0].Digit != '7' || got[0].Duration != 300*time.Millisecond || got[1].Digit != '8' {
		t.Errorf("received %+v, want a full 300ms 7, then 8", got)
	}
}
