package sip

import (
	"context"
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

// registrar is a minimal digest-authenticating registrar for tests.
type registrar struct {
	addr       string
	algorithm  string
	password   string
	grant      int  // seconds granted
	minExpires int  // 423 below this, 0 = none
	tcp        bool // listen on TCP instead of UDP

	mu       sync.Mutex
	times    []time.Time // accepted REGISTERs with Expires > 0
	unregs   int
	failures int // 403s sent
}

func startRegistrar(t *testing.T, algorithm, password string, grant int) *registrar {
	t.Helper()
	return startRegistrarWith(t, &registrar{algorithm: algorithm, password: password, grant: grant})
}

// startRegistrarWith serves r, configured before it sees any request.
func startRegistrarWith(t *testing.T, r *registrar) *registrar {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-registrar"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnRegister(r.handle)
	var closer interface{ Close() error }
	serve := func() {}
	if r.tcp {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r.addr, closer = ln.Addr().String(), ln
		serve = func() { _ = srv.ServeTCP(ln) }
	} else {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r.addr, closer = pc.LocalAddr().String(), pc
		serve = func() { _ = srv.ServeUDP(pc) }
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		serve()
	}()
	t.Cleanup(func() {
		closer.Close()
		ua.Close()
		<-done
	})
	return r
}

func (r *registrar) handle(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
	h := req.GetHeader("Authorization")
	if h == nil {
		chal := digest.Challenge{Realm: "test", Nonce: sipgosip.GenerateTagN(16), Algorithm: r.algorithm, QOP: []string{"auth"}}
		res := sipgosip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
		res.AppendHeader(sipgosip.NewHeader("WWW-Authenticate", chal.String()))
		_ = tx.Respond(res)
		return
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil {
		_ = tx.Respond(sipgosip.NewResponseFromRequest(req, 400, "Bad Authorization", nil))
		return
	}
	chal := &digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm, QOP: []string{cred.QOP}}
	want, _ := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: cred.URI, Username: cred.Username, Password: r.password, Cnonce: cred.Cnonce, Count: cred.Nc})
	if want == nil || want.Response != cred.Response || !strings.EqualFold(cred.Algorithm, r.algorithm) {
		r.mu.Lock()
		r.failures++
		r.mu.Unlock()
		_ = tx.Respond(sipgosip.NewResponseFromRequest(req, 403, "Forbidden", nil))
		return
	}
	exp := req.GetHeader("Expires").Value()
	if n, _ := strconv.Atoi(exp); n > 0 && n < r.minExpires {
		res := sipgosip.NewResponseFromRequest(req, 423, "Interval Too Brief", nil)
		res.AppendHeader(sipgosip.NewHeader("Min-Expires", strconv.Itoa(r.minExpires)))
		_ = tx.Respond(res)
		return
	}
	res := sipgosip.NewResponseFromRequest(req, 200, "OK", nil)
	r.mu.Lock()
	if exp == "0" {
		r.unregs++
	} else {
		r.times = append(r.times, time.Now())
		ct := req.Contact().Clone()
		ct.Params = sipgosip.NewParams()
		ct.Params.Add("expires", strconv.Itoa(r.grant))
		res.AppendHeader(ct)
	}
	r.mu.Unlock()
	_ = tx.Respond(res)
}

func (r *registrar) counts() (registers, unregs, failures int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.times), r.unregs, r.failures
}

func TestRegisterAuthenticatesRefreshesAndUnregisters(t *testing.T) {
	for _, algo := range []string{"MD5", "SHA-256"} {
		t.Run(algo, func(t *testing.T) {
			reg := startRegistrar(t, algo, "secret", 2)
			ua, err := NewUA(Config{
				Listen: []Listener{{Network: "udp", Addr: "127.0.0.1:0"}},
				Logger: testLogger(t),
				Trunks: []Trunk{{Name: "carrier", Address: reg.addr, Username: "10001", Password: "secret", Register: true, RegisterExpiry: 60 * time.Second}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := ua.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			eventually(t, 10*time.Second, "registered", func() bool { return ua.Registration("carrier").Status == Registered })
			st := ua.Registration("carrier")
			if st.Code != 200 || st.Err != nil || time.Until(st.Expires) > 3*time.Second {
				t.Errorf("state %+v, want 200 with the 2 s the registrar granted", st)
			}
			// Granted 2 s: refreshes come at 80 % (1.6 s).
			eventually(t, 10*time.Second, "two refreshes", func() bool { n, _, _ := reg.counts(); return n >= 3 })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := ua.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if _, unregs, _ := reg.counts(); unregs != 1 {
				t.Errorf("un-REGISTERs = %d, want 1", unregs)
			}
			if st := ua.Registration("carrier"); st.Status != Unregistered {
				t.Errorf("after Close: %v", st.Status)
			}
		})
	}
}

func TestRegisterWrongPasswordBacksOff(t *testing.T) {
	reg := startRegistrar(t, "MD5", "secret", 60)
	ua := startUA(t, Config{
		RegisterRetryMin: 200 * time.Millisecond,
		RegisterRetryMax: 800 * time.Millisecond,
		Trunks:           []Trunk{{Name: "carrier", Address: reg.addr, Username: "10001", Password: "wrong", Register: true}},
	})
	eventually(t, 10*time.Second, "failed", func() bool { return ua.Registration("carrier").Status == RegFailed })
	st := ua.Registration("carrier")
	if st.Code != 403 || st.Err == nil || !strings.Contains(st.Err.Error(), "forbidden") || !strings.Contains(st.Err.Error(), "carrier") {
		t.Errorf("state %+v: want 403 with a clear error naming the trunk", st)
	}
	if st.NextAttempt.Before(time.Now().Add(-time.Second)) {
		t.Errorf("next attempt %s in the past", st.NextAttempt)
	}
	time.Sleep(3 * time.Second)
	_, _, failures := reg.counts()
	// Back-off 0.2, 0.4, 0.8, 0.8 s (±20 %) allows about 5 attempts in 3 s;
	// a tight loop would make hundreds.
	if failures < 2 || failures > 8 {
		t.Errorf("%d failed attempts in 3 s, want back-off (2..8)", failures)
	}
	if st := ua.Registration("carrier"); st.Failures != failures {
		t.Errorf("state counts %d failures, registrar saw %d", st.Failures, failures)
	}
}

func TestRegistrationOfUnknownTrunkIsUnregistered(t *testing.T) {
	ua := startUA(t, Config{})
	if st := ua.Registration("nope"); st.Status != Unregistered {
		t.Errorf("got %v", st.Status)
	}
}

func TestRegisterRetriesWithMinExpiresAfter423(t *testing.T) {
	reg := startRegistrarWith(t, &registrar{algorithm: "MD5", password: "secret", grant: 120, minExpires: 120})
	ua := startUA(t, Config{Trunks: []Trunk{{Name: "carrier", Address: reg.addr, Username: "10001", Password: "secret", Register: true, RegisterExpiry: 30 * time.Second}}})
	eventually(t, 10*time.Second, "registered", func() bool { return ua.Registration("carrier").Status == Registered })
	if st := ua.Registration("carrier"); st.Failures != 0 || time.Until(st.Expires) < 100*time.Second {
		t.Errorf("state %+v, want registered for the 120 s minimum", st)
	}
}

func TestOptionsPingToTrunk(t *testing.T) {
	callee := startUA(t, Config{})
	ua := startUA(t, Config{Trunks: []Trunk{{Name: "peer", Address: callee.Addr("udp").String(), Username: "u"}}})
	code, err := ua.ping(context.Background(), ua.trunks["peer"])
	if err != nil || code != 200 {
		t.Errorf("ping: %d %v", code, err)
	}
}

func TestRegistrationFailsWithoutListenerForTrunkTransport(t *testing.T) {
	ua := startUA(t, Config{Trunks: []Trunk{{Name: "tcp-only", Address: "127.0.0.1:9", Transport: "tcp", Username: "u", Register: true}}})
	st := ua.Registration("tcp-only")
	if st.Status != RegFailed || st.Err == nil || !strings.Contains(st.Err.Error(), "no tcp listener") {
		t.Errorf("state %+v, want failed naming the missing listener", st)
	}
}

func TestRegisterOverTCP(t *testing.T) {
	reg := startRegistrarWith(t, &registrar{algorithm: "SHA-256", password: "secret", grant: 60, tcp: true})
	ua := startUA(t, Config{
		Listen: []Listener{{Network: "tcp", Addr: "127.0.0.1:0"}},
		Trunks: []Trunk{{Name: "carrier", Address: reg.addr, Transport: "tcp", Username: "10001", Password: "secret", Register: true}},
	})
	eventually(t, 10*time.Second, "registered over TCP", func() bool { return ua.Registration("carrier").Status == Registered })
}
