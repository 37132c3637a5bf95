package sip

import (
	"strings"
	"testing"

	sipgosip "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

func authUA(t *testing.T) *UA {
	ua, err := NewUA(Config{InboundAuth: &DigestCredentials{Realm: "waihu", Username: "trunk", Password: "pw"}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ua.nonceKey = []byte("test-key")
	return ua
}

func inviteTo(uri string) *sipgosip.Request {
	var u sipgosip.Uri
	_ = sipgosip.ParseUri(uri, &u)
	return sipgosip.NewRequest(sipgosip.INVITE, u)
}

// answer computes credentials for chal as a client would.
func answer(t *testing.T, req *sipgosip.Request, chal, user, pw string) {
	t.Helper()
	res := sipgosip.NewResponse(401, "Unauthorized")
	res.AppendHeader(sipgosip.NewHeader("WWW-Authenticate", chal))
	if err := authorize(req, res, user, pw, ""); err != nil {
		t.Fatal(err)
	}
}

func TestInboundDigestAuth(t *testing.T) {
	ua := authUA(t)
	tests := []struct {
		name    string
		prepare func(req *sipgosip.Request)
		wantErr string
	}{
		{"valid credentials", func(req *sipgosip.Request) { answer(t, req, ua.challenge(), "trunk", "pw") }, ""},
		{"no credentials", func(req *sipgosip.Request) {}, "no credentials"},
		{"wrong password", func(req *sipgosip.Request) { answer(t, req, ua.challenge(), "trunk", "nope") }, "bad credentials"},
		{"wrong user", func(req *sipgosip.Request) { answer(t, req, ua.challenge(), "other", "pw") }, "bad credentials"},
		{"forged nonce", func(req *sipgosip.Request) {
			answer(t, req, `Digest realm="waihu", nonce="1234.abcd", algorithm=MD5, qop="auth"`, "trunk", "pw")
		}, "nonce not ours"},
		{"expired nonce", func(req *sipgosip.Request) {
			ts := "1"
			answer(t, req, `Digest realm="waihu", nonce="`+ts+"."+ua.nonceMAC(ts)+`", algorithm=MD5, qop="auth"`, "trunk", "pw")
		}, "expired"},
		{"garbage header", func(req *sipgosip.Request) { req.AppendHeader(sipgosip.NewHeader("Authorization", "Basic Zm9v")) }, "parse credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := inviteTo("sip:1001@127.0.0.1")
			tt.prepare(req)
			err := ua.checkAuth(req)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("checkAuth: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("checkAuth: %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestAuthorizePrefersSHA256AndHonoursRealm(t *testing.T) {
	md5 := `Digest realm="a", nonce="n1", algorithm=MD5, qop="auth"`
	sha := `Digest realm="a", nonce="n2", algorithm=SHA-256, qop="auth"`
	other := `Digest realm="b", nonce="n3", algorithm=MD5, qop="auth"`
	tests := []struct {
		name      string
		chals     []string
		realm     string
		status    int
		wantHdr   string
		wantNonce string
		wantErr   bool
	}{
		{"sha-256 over md5", []string{md5, sha}, "", 401, "Authorization", "n2", false},
		{"md5 alone", []string{md5}, "", 401, "Authorization", "n1", false},
		{"proxy challenge", []string{sha}, "", 407, "Proxy-Authorization", "n2", false},
		{"configured realm", []string{other, md5}, "b", 401, "Authorization", "n3", false},
		{"no challenge for realm", []string{md5}, "z", 401, "", "", true},
		{"unparsable challenge", []string{"Digest garbage"}, "", 401, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := sipgosip.NewResponse(tt.status, "Auth")
			name := "WWW-Authenticate"
			if tt.status == 407 {
				name = "Proxy-Authenticate"
			}
			for _, c := range tt.chals {
				res.AppendHeader(sipgosip.NewHeader(name, c))
			}
			req := sipgosip.NewRequest(sipgosip.REGISTER, sipgosip.Uri{Scheme: "sip", Host: "registrar"})
			err := authorize(req, res, "u", "p", tt.realm)
			if (err != nil) != tt.wantErr {
				t.Fatalf("authorize: %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			h := req.GetHeader(tt.wantHdr)
			if h == nil {
				t.Fatalf("no %s header", tt.wantHdr)
			}
			cred, err := digest.ParseCredentials(h.Value())
			if err != nil || cred.Nonce != tt.wantNonce || cred.URI != "sip:registrar" {
				t.Errorf("credentials %+v (%v), want nonce %s for sip:registrar", cred, err, tt.wantNonce)
			}
		})
	}
}
