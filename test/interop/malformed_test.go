//go:build interop

package interop

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/internal/testpeer"
)

// garbageSIP are datagrams no SIP stack should choke on.
func garbageSIP(rng *rand.Rand) map[string][]byte {
	random := make([]byte, 600)
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	return map[string][]byte{
		"random bytes":         random,
		"empty keep-alive":     []byte("\r\n\r\n"),
		"truncated headers":    []byte("INVITE sip:waihu@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx1\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:"),
		"header without colon": []byte("INVITE sip:waihu@127.0.0.1 SIP/2.0\r\nVia SIP/2.0/UDP 127.0.0.1:9\r\nCall-ID x\r\n\r\n"),
		"content-length beyond body": []byte("INVITE sip:waihu@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx2\r\n" +
			"From: <sip:a@127.0.0.1>;tag=2\r\nTo: <sip:waihu@127.0.0.1>\r\nCall-ID: cl@x\r\nCSeq: 1 INVITE\r\n" +
			"Content-Type: application/sdp\r\nContent-Length: 99999\r\n\r\nv=0\r\n"),
		"nul bytes in request line": []byte("INVITE sip:wai\x00hu@127.0.0.1 SIP/2.0\x00\r\n\r\n"),
		"huge header":               []byte("OPTIONS sip:waihu@127.0.0.1 SIP/2.0\r\nX-Big: " + strings.Repeat("A", 9000) + "\r\n\r\n"),
		"stray response":            []byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKnone\r\nCall-ID: none@x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"),
		"negative content-length": []byte("OPTIONS sip:waihu@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx3\r\n" +
			"From: <sip:a@127.0.0.1>;tag=3\r\nTo: <sip:waihu@127.0.0.1>\r\nCall-ID: neg@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: -5\r\n\r\n"),
	}
}

// garbageRTP are datagrams a media port must drop: too short, wrong
// version, lying header lengths, and well-formed RTP of payload types
// nobody negotiated.
func garbageRTP(rng *rand.Rand) [][]byte {
	header := func(first, pt byte, size int) []byte {
		b := make([]byte, max(size, 12))
		b[0], b[1] = first, pt
		binary.BigEndian.PutUint16(b[2:], uint16(rng.UintN(1<<16)))
		binary.BigEndian.PutUint32(b[4:], rng.Uint32())
		binary.BigEndian.PutUint32(b[8:], rng.Uint32())
		for i := 12; i < size; i++ {
			b[i] = byte(rng.UintN(256))
		}
		return b[:size]
	}
	withPadding := header(0xa0, 0, 20)
	withPadding[19] = 255 // padding longer than the packet
	withExt := header(0x90, 0, 20)
	binary.BigEndian.PutUint16(withExt[14:], 0xffff) // extension longer than the packet
	random := make([]byte, 1400)
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	return [][]byte{
		{0x80},
		header(0x80, 0, 11),  // one byte short of a header
		header(0x40, 0, 172), // version 1
		header(0x8f, 0, 20),  // 15 CSRCs claimed, 2 present
		withPadding,
		withExt,
		header(0x80, 77, 172),      // unknown payload type
		header(0x80, 0x80|99, 172), // marker, unknown dynamic type
		header(0x80, 101, 2),       // telephone-event shorter than 4 bytes
		header(0x80, 200, 28),      // RTCP sender report on the RTP port
		random,
	}
}

// TestMalformedInputLeavesGoodCallsAlone sends broken SIP over UDP and TCP,
// INVITEs with broken SDP, and broken RTP to every media port while a good
// sipp call runs: the good call must complete with a matching recording,
// each broken INVITE must get a 4xx, and the server must stay up.
func TestMalformedInputLeavesGoodCallsAlone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rng := rand.New(rand.NewPCG(4733, 3261))
	speech := testpeer.Speech(t, "en-us", callerSentence)
	pcap := filepath.Join(t.TempDir(), "caller.pcap")
	if _, err := testpeer.WritePCMUPcap(pcap, speech, testpeer.PcapOptions{}); err != nil {
		t.Fatal(err)
	}
	srv := startServer(ctx, t, serverOptions{rtpPorts: 20})
	good := testpeer.StartSipp(ctx, t, testpeer.SippConfig{
		Scenario: testpeer.ScenarioUAC, Remote: srv.addr, Pcap: pcap,
		Hold: testpeer.Duration(speech) + 1500*time.Millisecond, Timeout: 40 * time.Second,
	})

	raw, err := testpeer.DialRawSIP(srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for name, b := range garbageSIP(rng) {
		if err := raw.Send(b); err != nil {
			t.Fatalf("send %s: %v", name, err)
		}
	}
	if conn, err := net.DialTimeout("tcp4", srv.addr, 2*time.Second); err != nil {
		t.Errorf("waihu takes no TCP on %s: %v", srv.addr, err)
	} else {
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		fmt.Fprintf(conn, "INVITE sip:waihu@127.0.0.1 SIP/2.0\r\nContent-Length: 999999999\r\n\r\n%s", strings.Repeat("x", 4000))
		conn.Close()
	}

	brokenSDP := []struct {
		name string
		sdp  string
	}{
		{name: "port not a number", sdp: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio notaport RTP/AVP 0\r\n"},
		{name: "no media line", sdp: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"},
		{name: "binary body", sdp: "\x00\x01\x02garbage\xff\xfe"},
		{name: "no common codec", sdp: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"},
	}
	for _, tc := range brokenSDP {
		callID := testpeer.NewCallID()
		invite := raw.InviteRequest("waihu", callID, testpeer.NewBranch(), tc.sdp)
		if err := raw.Send([]byte(invite)); err != nil {
			t.Fatal(err)
		}
		code := finalResponse(ctx, t, raw, invite, callID)
		if code < 400 || code > 499 {
			t.Errorf("INVITE with broken SDP (%s): final response %d, want 4xx", tc.name, code)
		}
		t.Logf("INVITE with broken SDP (%s): %d", tc.name, code)
	}

	// Broken RTP at every media port while the good call's audio flows.
	junk, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	packets := garbageRTP(rng)
	for round := 0; round < 20; round++ {
		for port := srv.rtpMin; port <= srv.rtpMax; port++ {
			for _, b := range packets {
				junk.WriteToUDP(b, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
			}
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The garbage proves something only if it hit a live call.
	ids := callIDs(good)
	if len(ids) != 1 {
		t.Fatalf("good call not answered while the garbage was sent (call ids %v)\n%s", ids, good.Diagnostics())
	}
	for _, l := range srv.logs() {
		if l.str("msg") == "call ended" && l.str("call_id") == ids[0] {
			t.Fatalf("good call ended before the garbage was all sent: make it longer")
		}
	}

	res := good.Wait(ctx)
	if res.ExitCode != 0 || res.Successful != 1 {
		t.Fatalf("good call: exit %d, %d successful\n%s\n%s", res.ExitCode, res.Successful, good.Diagnostics(), srv.Output())
	}
	isEnd := func(l logLine) bool { return l.str("msg") == "call ended" && l.str("call_id") == ids[0] }
	if _, err := srv.waitLogs(ctx, isEnd, atLeast(1)); err != nil {
		t.Fatalf("no \"call ended\" for the good call: %v\n%s", err, srv.Output())
	}
	c := matchRecording(t, srv.recording(ids[0]), speech, 3*time.Second)
	t.Logf("good call: %d/%d frames found, whole %.3f", c.Found, c.Frames, c.Whole.Score)

	probe, pcancel := context.WithTimeout(ctx, 3*time.Second)
	defer pcancel()
	if code, err := testpeer.Options(probe, srv.addr); err != nil || code != 200 {
		t.Fatalf("OPTIONS after the garbage: code %d, %v\n%s", code, err, srv.Output())
	}
	srv.stop(t)
}

// finalResponse reads responses on raw until a final one for callID, and
// acknowledges it when it is a failure.
func finalResponse(ctx context.Context, t *testing.T, raw *testpeer.RawSIP, invite, callID string) int {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		r, err := raw.Read(rctx)
		if err != nil {
			t.Errorf("no final response to INVITE %s: %v", callID, err)
			return 0
		}
		if r.Headers["call-id"] != callID || r.Code < 200 {
			continue
		}
		if r.Code >= 300 {
			raw.AckNon2xx(invite, r)
		}
		return r.Code
	}
}
