//go:build interop

package sip

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// sippScenario starts sipp as a uas running scenario from testdata for one
// call and returns the peer and its address.
func sippScenario(t *testing.T, scenario string) (*peer, *syncBuffer, string) {
	t.Helper()
	bin := needPeer(t, "sipp")
	sf, err := filepath.Abs(filepath.Join("testdata", scenario))
	if err != nil {
		t.Fatal(err)
	}
	port := freeUDPPort(t)
	mport := freeUDPPort(t)
	p, out := startPeer(t, bin, "-sf", sf, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-mp", strconv.Itoa(mport),
		"-m", "1", "-timeout", "30s", "-timeout_error", "-nostdin")
	return p, out, "127.0.0.1:" + strconv.Itoa(port)
}

// sippFinished fails t unless sipp ran its scenario to the end.
func sippFinished(t *testing.T, p *peer, out *syncBuffer) {
	t.Helper()
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("sipp: %v\n%s", p.err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Errorf("sipp did not finish its scenario\n%s", out.String())
	}
}

func TestInteropSippTransfereeTakesRefer(t *testing.T) {
	p, out, addr := sippScenario(t, "sipp_uas_refer.xml")
	ua := startUA(t, Config{Trunks: []Trunk{{Name: "sipp", Address: addr, Username: "waihu"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var c *Call
	var err error
	eventually(t, 10*time.Second, "sipp answers", func() bool {
		c, err = ua.Dial(ctx, DialRequest{Trunk: "sipp", To: "13812345678", Media: newFakeLeg(30000), RingTimeout: 5 * time.Second})
		return err == nil
	})
	if err := c.Refer(ctx, "sip:agent@127.0.0.1:5099"); err != nil {
		t.Fatalf("Refer: %v\n%s", err, out.String())
	}
	waitDone(t, c, 5*time.Second)
	if c.Reason() != HangupLocal {
		t.Errorf("transferor ended by %v, want its own BYE after the transfer", c.Reason())
	}
	sippFinished(t, p, out)
}
