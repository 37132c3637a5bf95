package sip

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	sipgosip "github.com/emiago/sipgo/sip"
)

// wsBrowser speaks SIP over one WebSocket the way JsSIP does: subprotocol
// "sip", one message per text frame, a Contact host ending in ".invalid".
type wsBrowser struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialWS(t *testing.T, ua *UA) *wsBrowser {
	t.Helper()
	return dialWebSocket(t, "ws://"+ua.Addr("ws").String(), nil)
}

func dialWebSocket(t *testing.T, url string, client *http.Client) *wsBrowser {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"sip"}, HTTPClient: client})
	if err != nil {
		t.Fatalf("dial ws: %v", err)
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	if conn.Subprotocol() != "sip" {
		t.Fatalf("subprotocol %q, want sip (RFC 7118 §4)", conn.Subprotocol())
	}
	return &wsBrowser{t: t, conn: conn}
}

func (b *wsBrowser) send(msg string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		b.t.Fatalf("ws write: %v", err)
	}
}

// next returns the next SIP message, skipping provisional responses.
func (b *wsBrowser) next() sipgosip.Message {
	b.t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, data, err := b.conn.Read(ctx)
		cancel()
		if err != nil {
			b.t.Fatalf("ws read: %v", err)
		}
		m, err := sipgosip.ParseMessage(data)
		if err != nil {
			b.t.Fatalf("parse %q: %v", data, err)
		}
		if r, ok := m.(*sipgosip.Response); ok && r.IsProvisional() {
			continue
		}
		return m
	}
}

// chromeOffer is the shape of Chromium's audio offer: Opus first, PCMU and
// PCMA further down, DTLS fingerprint, ICE credentials, discard port 9.
const chromeOffer = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
	"a=group:BUNDLE 0\r\na=msid-semantic: WMS\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\n" +
	"a=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
	"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n" +
	"a=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n" +
	"a=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"

// fakeAnswer stands in for what webrtc.Leg.Answer returns.
const fakeAnswer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:0 PCMU/8000\r\na=setup:active\r\n" +
	"a=fingerprint:sha-256 FF:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n"

func wsInvite(callID, body string) string {
	return fmt.Sprintf("INVITE sip:demo@127.0.0.1 SIP/2.0\r\n"+
		"Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK%d\r\n"+
		"From: <sip:browser@127.0.0.1>;tag=ws1\r\nTo: <sip:demo@127.0.0.1>\r\n"+
		"Call-ID: %s\r\nCSeq: 1 INVITE\r\nContact: <sip:browser@df7jal23ls0d.invalid;transport=ws>\r\nMax-Forwards: 70\r\n"+
		"Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", time.Now().UnixNano(), callID, len(body), body)
}

func wsAck(res *sipgosip.Response) string {
	return fmt.Sprintf("ACK sip:demo@127.0.0.1 SIP/2.0\r\n"+
		"Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK%dack\r\n"+
		"From: <sip:browser@127.0.0.1>;tag=ws1\r\nTo: %s\r\n"+
		"Call-ID: %s\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", time.Now().UnixNano(), res.To().Value(), res.CallID().Value())
}

// wsAckFailure acknowledges a failure response inside its INVITE
// transaction (same branch, RFC 3261 §17.1.1.3), which ends it at once.
func wsAckFailure(res *sipgosip.Response) string {
	return fmt.Sprintf("ACK sip:demo@127.0.0.1 SIP/2.0\r\nVia: %s\r\n"+
		"From: <sip:browser@127.0.0.1>;tag=ws1\r\nTo: %s\r\n"+
		"Call-ID: %s\r\nCSeq: %d ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", res.Via().Value(), res.To().Value(), res.CallID().Value(), res.CSeq().SeqNo)
}

func startWSUA(t *testing.T, h func(context.Context, *Incoming)) *UA {
	t.Helper()
	return startUAWith(t, Config{Listen: []Listener{{Network: "ws", Addr: "127.0.0.1:0"}, {Network: "udp", Addr: "127.0.0.1:0"}}}, h)
}

func TestWebRTCOfferOverWebSocketIsAnsweredWithTheApplicationsSDPAndHungUpOverTheSameSocket(t *testing.T) {
	calls := make(chan *Call, 1)
	var gotOffer, gotClassic string
	ua := startWSUA(t, func(ctx context.Context, in *Incoming) {
		offer, ok := in.WebRTCOffer()
		if !ok {
			in.Reject(488, "Not WebRTC")
			return
		}
		gotOffer = string(offer)
		if !in.Source().Addr().IsLoopback() {
			t.Errorf("Source %v, want the browser's loopback address", in.Source())
		}
		if _, ok := in.Offer(); ok {
			gotClassic = "Offer() returned an RTP offer for a WebRTC INVITE"
		}
		c, err := in.AnswerSDP(ctx, []byte(fakeAnswer), newFakeLeg(0))
		if err != nil {
			t.Errorf("AnswerSDP: %v", err)
			return
		}
		calls <- c
	})
	b := dialWS(t, ua)
	b.send(wsInvite("ws-call-1", chromeOffer))
	res, ok := b.next().(*sipgosip.Response)
	if !ok || res.StatusCode != 200 {
		t.Fatalf("want 200 OK, got %v", res)
	}
	if string(res.Body()) != fakeAnswer {
		t.Errorf("200 OK body is not the application's answer:\n%s", res.Body())
	}
	if c := res.Contact(); c == nil || !strings.EqualFold(c.Address.UriParams.GetOr("transport", ""), "ws") || c.Address.Port != int(ua.Addr("ws").Port()) {
		t.Errorf("Contact %v: want our ws listener with transport=ws", c)
	}
	b.send(wsAck(res))
	var c *Call
	select {
	case c = <-calls:
	case <-time.After(5 * time.Second):
		t.Fatal("AnswerSDP did not return after ACK")
	}
	if gotOffer != chromeOffer {
		t.Errorf("WebRTCOffer returned %q", gotOffer)
	}
	if gotClassic != "" {
		t.Error(gotClassic)
	}
	if c.Codec() != CodecPCMU {
		t.Errorf("codec %v, want PCMU from the answer", c.Codec())
	}

	// A re-INVITE with a new WebRTC offer is refused, the call goes on.
	reinv := strings.Replace(wsInvite("ws-call-1", chromeOffer), "To: <sip:demo@127.0.0.1>", "To: "+res.To().Value(), 1)
	reinv = strings.Replace(reinv, "CSeq: 1 INVITE", "CSeq: 2 INVITE", 1)
	b.send(reinv)
	r, ok := b.next().(*sipgosip.Response)
	if !ok || r.StatusCode != 488 {
		t.Fatalf("re-INVITE with WebRTC offer: want 488, got %v", r)
	}
	b.send(wsAckFailure(r))

	// Our BYE must come back over the browser's socket: its Contact host
	// (".invalid") cannot be dialled.
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		errc <- c.Hangup(ctx)
	}()
	bye, ok := b.next().(*sipgosip.Request)
	if !ok || bye.Method != sipgosip.BYE {
		t.Fatalf("want BYE over the WebSocket, got %v", bye)
	}
	b.send(sipgosip.NewResponseFromRequest(bye, 200, "OK", nil).String())
	if err := <-errc; err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	waitDone(t, c, 5*time.Second)
}

func TestSettledTellsAHandlerThatTheBrowserCancelled(t *testing.T) {
	settled := make(chan error, 1)
	ua := startWSUA(t, func(ctx context.Context, in *Incoming) {
		in.Ring()
		select {
		case <-in.Settled():
			_, err := in.AnswerSDP(ctx, []byte(fakeAnswer), newFakeLeg(0))
			settled <- err
		case <-time.After(5 * time.Second):
			settled <- fmt.Errorf("Settled did not close on CANCEL")
		}
	})
	b := dialWS(t, ua)
	inv := wsInvite("ws-call-3", chromeOffer)
	b.send(inv)
	time.Sleep(100 * time.Millisecond) // let the handler ring
	via := inv[strings.Index(inv, "Via: ")+5 : strings.Index(inv, "\r\nFrom:")]
	b.send(fmt.Sprintf("CANCEL sip:demo@127.0.0.1 SIP/2.0\r\nVia: %s\r\n"+
		"From: <sip:browser@127.0.0.1>;tag=ws1\r\nTo: <sip:demo@127.0.0.1>\r\n"+
		"Call-ID: ws-call-3\r\nCSeq: 1 CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", via))
	if err := <-settled; !errors.Is(err, ErrAlreadyDecided) {
		t.Fatalf("AnswerSDP after CANCEL: err = %v, want ErrAlreadyDecided", err)
	}
	for {
		r, ok := b.next().(*sipgosip.Response)
		if !ok {
			t.Fatal("want responses only")
		}
		if r.CSeq().MethodName == sipgosip.INVITE {
			if r.StatusCode != 487 {
				t.Fatalf("INVITE answered %d after CANCEL, want 487", r.StatusCode)
			}
			b.send(wsAckFailure(r))
			return
		}
	}
}

func TestAnswerSDPRefusesAnRTPOffer(t *testing.T) {
	errc := make(chan error, 1)
	ua := startWSUA(t, func(ctx context.Context, in *Incoming) {
		if _, ok := in.WebRTCOffer(); ok {
			errc <- fmt.Errorf("plain RTP offer reported as WebRTC")
		}
		_, err := in.AnswerSDP(ctx, []byte(fakeAnswer), newFakeLeg(0))
		errc <- err
		in.Reject(488, "Not Acceptable Here")
	})
	b := dialWS(t, ua)
	rtpOffer := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
	b.send(wsInvite("ws-call-2", rtpOffer))
	r, ok := b.next().(*sipgosip.Response)
	if !ok || r.StatusCode != 488 {
		t.Fatalf("want 488, got %v", r)
	}
	b.send(wsAckFailure(r))
	if err := <-errc; err == nil || !strings.Contains(err.Error(), ErrNotWebRTC.Error()) {
		t.Fatalf("AnswerSDP on RTP offer: err = %v, want ErrNotWebRTC", err)
	}
}

func TestWebSocketListenerRejectsBadConfigAndBindsPortZero(t *testing.T) {
	if _, err := NewUA(Config{Listen: []Listener{{Network: "wss", Addr: "127.0.0.1:0"}}}); err == nil {
		t.Error("NewUA accepted network wss")
	}
	ua := startWSUA(t, func(context.Context, *Incoming) {})
	if ua.Addr("ws").Port() == 0 {
		t.Error("ws listener has no port")
	}
	if err := ua.AddListener(Listener{Network: "ws", Addr: "127.0.0.1:0"}); err == nil {
		t.Error("AddListener accepted a listener after Start")
	}
}

func TestAddListenerBeforeStartBindsAWebSocket(t *testing.T) {
	ua, err := NewUA(Config{Listen: []Listener{{Network: "udp", Addr: "127.0.0.1:0"}}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := ua.AddListener(Listener{Network: "sctp", Addr: "127.0.0.1:0"}); err == nil {
		t.Error("AddListener accepted sctp")
	}
	if err := ua.AddListener(Listener{Network: "ws", Addr: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	if err := ua.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer ua.Close(context.Background())
	dialWS(t, ua)
}

// selfSigned is a certificate for 127.0.0.1, as a test CA would issue.
func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "waihu test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func TestSecureWebSocketCarriesTheCallBothWays(t *testing.T) {
	if _, err := NewUA(Config{Listen: []Listener{{Network: "wss", Addr: "127.0.0.1:0"}}}); err == nil {
		t.Error("NewUA accepted wss without a certificate")
	}
	calls := make(chan *Call, 1)
	ua, err := NewUA(Config{Listen: []Listener{{Network: "udp", Addr: "127.0.0.1:0"}}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := ua.AddListener(Listener{Network: "wss", Addr: "127.0.0.1:0"}); err == nil {
		t.Error("AddListener accepted wss before SetTLS")
	}
	if err := ua.SetTLS(selfSigned(t)); err != nil {
		t.Fatal(err)
	}
	if err := ua.AddListener(Listener{Network: "wss", Addr: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	ua.OnCall(func(ctx context.Context, in *Incoming) {
		c, err := in.AnswerSDP(ctx, []byte(fakeAnswer), newFakeLeg(0))
		if err != nil {
			t.Errorf("AnswerSDP: %v", err)
			return
		}
		calls <- c
	})
	if err := ua.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer ua.Close(context.Background())
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	b := dialWebSocket(t, "wss://"+ua.Addr("wss").String(), client)
	b.send(strings.ReplaceAll(wsInvite("wss-call-1", chromeOffer), "SIP/2.0/WS ", "SIP/2.0/WSS "))
	res, ok := b.next().(*sipgosip.Response)
	if !ok || res.StatusCode != 200 {
		t.Fatalf("want 200 OK over wss, got %v", res)
	}
	if c := res.Contact(); c == nil || c.Address.UriParams.GetOr("transport", "") != "wss" {
		t.Errorf("Contact %v: want transport=wss", c)
	}
	b.send(wsAck(res))
	c := <-calls
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		errc <- c.Hangup(ctx)
	}()
	bye, ok := b.next().(*sipgosip.Request)
	if !ok || bye.Method != sipgosip.BYE {
		t.Fatalf("want BYE over the secure WebSocket, got %v", bye)
	}
	b.send(sipgosip.NewResponseFromRequest(bye, 200, "OK", nil).String())
	if err := <-errc; err != nil {
		t.Fatalf("Hangup: %v", err)
	}
}
