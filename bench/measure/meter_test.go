package measure

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestHistQuantilesWithinBucketError(t *testing.T) {
	var h Hist
	for i := 1; i <= 1000; i++ {
		h.Add(time.Duration(i) * 10 * time.Microsecond) // 10 µs … 10 ms
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5 * time.Millisecond}, {0.99, 9900 * time.Microsecond}, {1, 10 * time.Millisecond}} {
		got := h.Quantile(tc.q)
		if got < tc.want || float64(got) > 1.13*float64(tc.want) {
			t.Errorf("q%.2f = %v, want %v … +12.5%%", tc.q, got, tc.want)
		}
	}
	if h.Max != 10*time.Millisecond || h.N != 1000 {
		t.Errorf("max %v n %d", h.Max, h.N)
	}
}

func TestBucketsAreOrderedAndContiguous(t *testing.T) {
	prev := -1
	for us := uint64(0); us < 1<<22; us += 1 + us/64 {
		b := bucketOf(us)
		if b < prev {
			t.Fatalf("bucket of %d µs = %d after %d", us, b, prev)
		}
		if up := bucketUpper(b); time.Duration(us)*time.Microsecond >= up {
			t.Fatalf("%d µs in bucket %d whose upper bound is %v", us, b, up)
		}
		prev = b
	}
}

func TestMeterCountsLateFramesAndDeviation(t *testing.T) {
	var on atomic.Bool
	on.Store(true)
	m := NewMeter(&on)
	t0 := time.Now()
	ts := uint32(1000)
	for i := range 100 {
		at := t0.Add(time.Duration(i) * 20 * time.Millisecond)
		if i == 50 {
			at = at.Add(45 * time.Millisecond) // one frame held up 45 ms
		}
		m.RTPReceived(at, uint16(i), ts+uint32(i)*160)
		m.RTPSent(t0.Add(time.Duration(i)*20*time.Millisecond+time.Duration(i%2)*time.Millisecond), ts+uint32(i)*160)
	}
	var tm Timing
	m.AddTo(&tm)
	if tm.Late != 1 {
		t.Errorf("late %d, want 1", tm.Late)
	}
	if tm.RecvDev.Max != 45*time.Millisecond {
		t.Errorf("worst arrival deviation %v, want 45ms", tm.RecvDev.Max)
	}
	if p50 := tm.SendDev.Quantile(0.5); p50 < time.Millisecond || p50 > 1100*time.Microsecond {
		t.Errorf("send deviation p50 %v, want 1 ms", p50)
	}
	on.Store(false)
	m.RTPReceived(t0.Add(3*time.Second), 100, ts+100*160)
	var tm2 Timing
	m.AddTo(&tm2)
	if tm2.Received != tm.Received {
		t.Error("counted a packet outside the window")
	}
}

func BenchmarkMeterReceived(b *testing.B) {
	var on atomic.Bool
	on.Store(true)
	m := NewMeter(&on)
	t0 := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.RTPReceived(t0.Add(time.Duration(i)*20*time.Millisecond), uint16(i), uint32(i)*160)
	}
}
