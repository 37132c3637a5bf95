package rtp

import (
	"sync"
	"testing"
	"time"
)

// countingObserver records how many packets it saw and the last timestamps.
type countingObserver struct {
	mu             sync.Mutex
	sent, received int
	lastSentTS     uint32
	lastRecvTS     uint32
}

func (o *countingObserver) RTPSent(_ time.Time, ts uint32) {
	o.mu.Lock()
	o.sent++
	o.lastSentTS = ts
	o.mu.Unlock()
}

func (o *countingObserver) RTPReceived(_ time.Time, _ uint16, ts uint32) {
	o.mu.Lock()
	o.received++
	o.lastRecvTS = ts
	o.mu.Unlock()
}

func TestObserverSeesEveryAudioPacketBothWays(t *testing.T) {
	e := newTestEngine(t, Config{})
	a, b := newPair(t, e, PayloadPCMU, 0)
	var oa, ob countingObserver
	a.Observe(&oa)
	b.Observe(&ob)
	time.Sleep(300 * time.Millisecond)
	a.Observe(nil)
	b.Observe(nil)
	time.Sleep(60 * time.Millisecond) // let packets in flight land
	sa, sb := a.Stats(), b.Stats()
	oa.mu.Lock()
	defer oa.mu.Unlock()
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if oa.sent < 10 || ob.received < 10 {
		t.Fatalf("a sent %d, b received %d observed packets in 300 ms, want ≥ 10", oa.sent, ob.received)
	}
	// Observation stopped before the counters were read, so it saw at most
	// what the counters hold and, with 50 packets a second, nearly all of it.
	if int64(oa.sent) > sa.PacketsSent || int64(ob.received) > sb.PacketsReceived {
		t.Errorf("observed more than counted: sent %d/%d received %d/%d", oa.sent, sa.PacketsSent, ob.received, sb.PacketsReceived)
	}
	if oa.sent < int(sa.PacketsSent)-5 {
		t.Errorf("observer saw %d of %d sent packets", oa.sent, sa.PacketsSent)
	}
	if ob.lastRecvTS == 0 && oa.lastSentTS == 0 {
		t.Error("no timestamps observed")
	}
}
