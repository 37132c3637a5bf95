package sip

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipgosip "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// sipgoPeer is the far end of a call written with sipgo directly, because
// our UA takes neither REFER nor MESSAGE: it answers INVITE, then answers
// MESSAGE and REFER the way a test sets, and sends REFER's NOTIFYs.
type sipgoPeer struct {
	t     testing.TB
	addr  string
	cache *sipgo.DialogServerCache

	// Set before the call; read by the handlers.
	messageCode int // response to in-dialog MESSAGE (default 200)
	referCode   int // response to REFER (default 202)
	// transfer runs after a 2xx to REFER with the Refer-To URI and returns
	// the final status for the last NOTIFY; final false sends none.
	transfer func(ctx context.Context, target string) (code int, reason string, final bool)
	// password, when set, challenges out-of-dialog MESSAGE with digest
	// auth, and in-dialog MESSAGE too with challengeInDialog.
	password          string
	challengeInDialog bool

	mu      sync.Mutex
	sess    *sipgo.DialogServerSession // the last call answered
	contact sipgosip.Uri               // its caller's Contact

	messages    chan *sipgosip.Request
	refers      chan *sipgosip.Request
	notifyCodes chan int // our UA's answers to each NOTIFY
	byes        chan struct{}
}

// newSipgoPeer starts the peer; configure, if given, sets its behaviour
// fields before the server goroutine starts, so handlers read them safely.
func newSipgoPeer(t testing.TB, configure ...func(*sipgoPeer)) *sipgoPeer {
	t.Helper()
	p := &sipgoPeer{t: t, messageCode: 200, referCode: 202,
		messages: make(chan *sipgosip.Request, 8), refers: make(chan *sipgosip.Request, 8),
		notifyCodes: make(chan int, 16), byes: make(chan struct{}, 4)}
	for _, f := range configure {
		f(p)
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("sipgo-peer"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	p.addr = "127.0.0.1:" + strconv.Itoa(port)
	cl, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(port))
	if err != nil {
		t.Fatal(err)
	}
	p.cache = sipgo.NewDialogServerCache(cl, sipgosip.ContactHeader{Address: sipgosip.Uri{Scheme: "sip", User: "peer", Host: "127.0.0.1", Port: port}})
	srv.OnInvite(p.onInvite)
	srv.OnAck(func(req *sipgosip.Request, tx sipgosip.ServerTransaction) { _ = p.cache.ReadAck(req, tx) })
	srv.OnBye(func(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
		_ = p.cache.ReadBye(req, tx)
		p.byes <- struct{}{}
	})
	srv.OnMessage(p.onMessage)
	srv.OnRefer(p.onRefer)
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.ServeUDP(pc) })
	t.Cleanup(func() {
		_ = pc.Close()
		_ = ua.Close()
		wg.Wait()
	})
	return p
}

func (p *sipgoPeer) onInvite(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
	sess, err := p.cache.ReadInvite(req, tx)
	if err != nil {
		p.t.Errorf("peer: read INVITE: %v", err)
		return
	}
	answer := "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30010 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	if err := sess.RespondSDP([]byte(answer)); err != nil {
		p.t.Logf("peer: answer INVITE: %v", err)
	}
	// Published only once answered: sipgo's session is not safe to use from
	// another goroutine while RespondSDP is still writing its state.
	p.mu.Lock()
	p.sess, p.contact = sess, *req.Contact().Address.Clone()
	p.mu.Unlock()
}

func (p *sipgoPeer) onMessage(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
	respond := func(code int, reason string, hdrs ...sipgosip.Header) {
		res := sipgosip.NewResponseFromRequest(req, code, reason, nil)
		for _, h := range hdrs {
			res.AppendHeader(h)
		}
		_ = tx.Respond(res)
	}
	_, err := p.cache.MatchDialogRequest(req)
	inDialog := err == nil
	if (!inDialog || p.challengeInDialog) && p.password != "" && !p.authorized(req, respond) {
		return
	}
	p.messages <- req
	if !inDialog {
		respond(202, "Accepted") // a gateway's usual answer
		return
	}
	respond(p.messageCode, "Reply")
}

// authorized checks req's digest against p.password, challenging (401) or
// refusing (403) it when it does not pass.
func (p *sipgoPeer) authorized(req *sipgosip.Request, respond func(int, string, ...sipgosip.Header)) bool {
	h := req.GetHeader("Authorization")
	if h == nil {
		chal := digest.Challenge{Realm: "gateway", Nonce: "n" + strconv.FormatInt(time.Now().UnixNano(), 36), Algorithm: "MD5", QOP: []string{"auth"}}
		respond(401, "Unauthorized", sipgosip.NewHeader("WWW-Authenticate", chal.String()))
		return false
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil {
		respond(400, "Bad Authorization")
		return false
	}
	want, err := digest.Digest(&digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm, QOP: []string{cred.QOP}},
		digest.Options{Method: req.Method.String(), URI: cred.URI, Username: cred.Username, Password: p.password, Cnonce: cred.Cnonce, Count: cred.Nc})
	if err != nil || want.Response != cred.Response {
		respond(403, "Forbidden")
		return false
	}
	return true
}

func (p *sipgoPeer) onRefer(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
	sess, err := p.cache.MatchDialogRequest(req)
	if err != nil {
		_ = tx.Respond(sipgosip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	p.refers <- req
	_ = tx.Respond(sipgosip.NewResponseFromRequest(req, p.referCode, "Reply", nil))
	if p.referCode >= 300 {
		return
	}
	var target sipgosip.Uri
	referTo := headerValue(req, "Refer-To")
	if err := sipgosip.ParseUri(trimAngles(referTo), &target); err != nil {
		p.t.Errorf("peer: Refer-To %q: %v", referTo, err)
		return
	}
	contact := req.Contact()
	if contact == nil {
		p.t.Errorf("peer: REFER without Contact")
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		p.notify(ctx, sess, contact.Address, "SIP/2.0 100 Trying", "active;expires=60")
		if p.transfer == nil {
			return
		}
		code, reason, final := p.transfer(ctx, target.String())
		if final {
			p.notify(ctx, sess, contact.Address, "SIP/2.0 "+strconv.Itoa(code)+" "+reason, "terminated;reason=noresource")
		}
	}()
}

func (p *sipgoPeer) notify(ctx context.Context, sess *sipgo.DialogServerSession, to sipgosip.Uri, frag, state string) {
	req := sipgosip.NewRequest(sipgosip.NOTIFY, *to.Clone())
	req.AppendHeader(sipgosip.NewHeader("Event", "refer"))
	req.AppendHeader(sipgosip.NewHeader("Subscription-State", state))
	req.AppendHeader(sipgosip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	req.SetBody([]byte(frag + "\r\n"))
	res, err := sess.Do(ctx, req)
	if err != nil {
		p.notifyCodes <- 0
		return
	}
	p.notifyCodes <- res.StatusCode
}

// strayNotify sends a NOTIFY in the last call's dialog and returns the
// status our UA answered.
func (p *sipgoPeer) strayNotify(ctx context.Context, event, frag string) int {
	var (
		sess *sipgo.DialogServerSession
		to   sipgosip.Uri
	)
	for deadline := time.Now().Add(5 * time.Second); sess == nil && time.Now().Before(deadline); {
		p.mu.Lock()
		sess, to = p.sess, p.contact
		p.mu.Unlock()
		if sess == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if sess == nil {
		p.t.Fatal("stray NOTIFY: the peer never answered a call")
	}
	req := sipgosip.NewRequest(sipgosip.NOTIFY, to)
	req.AppendHeader(sipgosip.NewHeader("Event", event))
	req.AppendHeader(sipgosip.NewHeader("Subscription-State", "terminated"))
	req.AppendHeader(sipgosip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	req.SetBody([]byte(frag))
	res, err := sess.Do(ctx, req)
	if err != nil {
		p.t.Errorf("stray NOTIFY: %v", err)
		return 0
	}
	return res.StatusCode
}

func trimAngles(s string) string {
	if len(s) >= 2 && s[0] == '<' {
		if i := len(s) - 1; s[i] == '>' {
			return s[1:i]
		}
	}
	return s
}

// dialPeer calls p from a fresh UA and returns the established call.
func dialPeer(t *testing.T, p *sipgoPeer) (*UA, *Call) {
	t.Helper()
	return dialPeerWith(t, p, "")
}

// dialPeerWith calls p through a trunk with password.
func dialPeerWith(t *testing.T, p *sipgoPeer, password string) (*UA, *Call) {
	t.Helper()
	ua := startUA(t, Config{Trunks: []Trunk{{Name: "peer", Address: p.addr, Username: "waihu", Password: password}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ua.Dial(ctx, DialRequest{Trunk: "peer", To: "13812345678", Media: newFakeLeg(30000)})
	if err != nil {
		t.Fatalf("dial sipgo peer: %v", err)
	}
	return ua, c
}

func TestReferFollowsNotifiesToTheFinalStatus(t *testing.T) {
	// The transfer target is a real UA the transferee dials, so a success
	// means a call to it was answered.
	answered := make(chan struct{}, 1)
	target := startUAWith(t, Config{}, func(ctx context.Context, in *Incoming) {
		c, err := in.Answer(ctx, newFakeLeg(30020))
		if err != nil {
			return
		}
		answered <- struct{}{}
		<-c.Done()
	})
	dialer := startUA(t, Config{Trunks: []Trunk{{Name: "target", Address: target.Addr("udp").String(), Username: "transferee"}}})
	dialTarget := func(ctx context.Context, uri string) (int, string, bool) {
		if _, err := dialer.Dial(ctx, DialRequest{Trunk: "target", To: uri, Media: newFakeLeg(30030)}); err != nil {
			var ce *CallError
			if errors.As(err, &ce) && ce.Code != 0 {
				return ce.Code, ce.Reason, true
			}
			return 500, "Dial Failed", true
		}
		return 200, "OK", true
	}
	cases := []struct {
		name        string
		referCode   int
		transfer    func(context.Context, string) (int, string, bool)
		timeout     time.Duration
		wantCode    int  // 0: success
		unsupported bool // errors.Is(err, ErrReferNotSupported)
		accepted    bool // TransferError.Accepted: the target, not the REFER, failed
	}{
		{name: "answered target hangs up the transferor", referCode: 202, transfer: dialTarget},
		{name: "busy target keeps the call", referCode: 202, wantCode: 486, accepted: true,
			transfer: func(context.Context, string) (int, string, bool) { return 486, "Busy Here", true }},
		{name: "405 asks for a bridge", referCode: 405, wantCode: 405, unsupported: true},
		{name: "501 asks for a bridge", referCode: 501, wantCode: 501, unsupported: true},
		{name: "603 is a refusal", referCode: 603, wantCode: 603},
		{name: "no final notify times out", referCode: 202, timeout: 1500 * time.Millisecond, wantCode: 0, accepted: true,
			transfer: func(context.Context, string) (int, string, bool) { return 0, "", false }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newSipgoPeer(t, func(p *sipgoPeer) { p.referCode, p.transfer = tc.referCode, tc.transfer })
			_, call := dialPeer(t, p)
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			agent := "sip:agent@" + target.Addr("udp").String()
			err := call.Refer(ctx, agent)

			select {
			case req := <-p.refers:
				if got := headerValue(req, "Refer-To"); got != "<"+agent+">" {
					t.Errorf("Refer-To %q, want <%s>", got, agent)
				}
				if got := headerValue(req, "Referred-By"); got == "" {
					t.Error("REFER without Referred-By")
				}
			default:
				t.Fatal("peer got no REFER")
			}
			if tc.wantCode == 0 && tc.timeout == 0 {
				if err != nil {
					t.Fatalf("Refer: %v", err)
				}
				waitDone(t, call, 5*time.Second)
				if call.Reason() != HangupLocal {
					t.Errorf("transferor ended with %v, want local hangup", call.Reason())
				}
				// The target's Answer returns once our ACK arrives, which
				// may trail the final NOTIFY by a scheduling slice.
				select {
				case <-answered:
				case <-time.After(5 * time.Second):
					t.Error("transfer reported success but the target never answered")
				}
				select {
				case <-p.byes:
				case <-time.After(5 * time.Second):
					t.Error("transferee got no BYE after the transfer")
				}
				for range 2 {
					if code := <-p.notifyCodes; code != 200 {
						t.Errorf("NOTIFY answered %d, want 200", code)
					}
				}
				return
			}
			var te *TransferError
			if !errors.As(err, &te) {
				t.Fatalf("Refer error %v (%T), want *TransferError", err, err)
			}
			if te.Code != tc.wantCode {
				t.Errorf("code %d, want %d: %v", te.Code, tc.wantCode, err)
			}
			if te.Accepted != tc.accepted {
				t.Errorf("Accepted %v, want %v: %v", te.Accepted, tc.accepted, err)
			}
			if errors.Is(err, ErrReferNotSupported) != tc.unsupported {
				t.Errorf("errors.Is(ErrReferNotSupported) = %v, want %v: %v", !tc.unsupported, tc.unsupported, err)
			}
			if !strings.Contains(err.Error(), call.ID()) {
				t.Errorf("error %q does not name the call", err)
			}
			select {
			case <-call.Done():
				t.Errorf("failed transfer ended the call (%v)", call.Reason())
			default:
			}
		})
	}
}

func TestReferRefusesNotifiesItDidNotAskFor(t *testing.T) {
	p := newSipgoPeer(t)
	_, call := dialPeer(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cases := []struct {
		name, event, frag string
		want              int
	}{
		{name: "other event package", event: "presence", frag: "SIP/2.0 200 OK", want: 489},
		{name: "refer event without a REFER", event: "refer;id=7", frag: "SIP/2.0 200 OK", want: 481},
	}
	for _, tc := range cases {
		if got := p.strayNotify(ctx, tc.event, tc.frag); got != tc.want {
			t.Errorf("%s: NOTIFY answered %d, want %d", tc.name, got, tc.want)
		}
	}
	select {
	case <-call.Done():
		t.Errorf("a stray NOTIFY ended the call (%v)", call.Reason())
	default:
	}
}

func TestReferErrorMasksTheNumber(t *testing.T) {
	p := newSipgoPeer(t, func(p *sipgoPeer) { p.referCode = 603 })
	_, call := dialPeer(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := call.Refer(ctx, "13912345678")
	if err == nil || strings.Contains(err.Error(), "13912345678") || !strings.Contains(err.Error(), "139****5678") {
		t.Errorf("error %v: want the number masked as 139****5678", err)
	}
	// The peer must still get the number itself.
	if req := <-p.refers; !strings.Contains(headerValue(req, "Refer-To"), "sip:13912345678@") {
		t.Errorf("Refer-To %q lost the number", headerValue(req, "Refer-To"))
	}
}

func TestReferRejectsAnUnusableTarget(t *testing.T) {
	p := newSipgoPeer(t)
	_, call := dialPeer(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, target := range []string{"", "not a uri", "sip:"} {
		if err := call.Refer(ctx, target); err == nil {
			t.Errorf("Refer(%q) succeeded", target)
		}
	}
	select {
	case <-p.refers:
		t.Error("a REFER went out for an unusable target")
	default:
	}
}

func TestParseSipfragReadsTheStatusLine(t *testing.T) {
	cases := []struct {
		body   string
		code   int
		reason string
		bad    bool
	}{
		{body: "SIP/2.0 200 OK\r\n", code: 200, reason: "OK"},
		{body: "SIP/2.0 100 Trying", code: 100, reason: "Trying"},
		{body: "SIP/2.0 486 Busy Here\r\nContent-Length: 0\r\n", code: 486, reason: "Busy Here"},
		{body: "SIP/2.0 603", code: 603},
		{body: "", bad: true},
		{body: "HTTP/1.1 200 OK", bad: true},
		{body: "SIP/2.0 2000 OK", bad: true},
		{body: "SIP/2.0 099 Low", bad: true},
		{body: "SIP/2.0 abc", bad: true},
	}
	for _, tc := range cases {
		code, reason, err := parseSipfrag([]byte(tc.body))
		if (err != nil) != tc.bad || code != tc.code || reason != tc.reason {
			t.Errorf("parseSipfrag(%q) = %d %q %v", tc.body, code, reason, err)
		}
	}
}

func FuzzParseSipfrag(f *testing.F) {
	f.Add([]byte("SIP/2.0 200 OK\r\n"))
	f.Add([]byte("SIP/2.0 1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		code, _, err := parseSipfrag(b)
		if err == nil && (code < 100 || code > 699) {
			t.Fatalf("accepted code %d", code)
		}
	})
}
