package sip

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	sipgosip "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Digest authentication (RFC 3261 §22, RFC 8760 for SHA-256), both as a
// client answering a trunk's challenge and as a server challenging inbound
// INVITEs.

// nonceLifetime bounds how long an inbound challenge can be answered.
const nonceLifetime = 5 * time.Minute

// authorize adds Authorization (401) or Proxy-Authorization (407) to req
// answering the challenge in res. With several challenges it prefers
// SHA-256 over MD5 (RFC 8760 §2.4).
func authorize(req *sipgosip.Request, res *sipgosip.Response, user, password, realm string) error {
	hdrName, credName := "WWW-Authenticate", "Authorization"
	if res.StatusCode == 407 {
		hdrName, credName = "Proxy-Authenticate", "Proxy-Authorization"
	}
	var best *digest.Challenge
	for _, h := range res.GetHeaders(hdrName) {
		chal, err := digest.ParseChallenge(h.Value())
		if err != nil || !digest.CanDigest(chal) {
			continue
		}
		if realm != "" && chal.Realm != realm {
			continue
		}
		chal.Algorithm = strings.ToUpper(chal.Algorithm)
		if best == nil || algoRank(chal.Algorithm) > algoRank(best.Algorithm) {
			best = chal
		}
	}
	if best == nil {
		return fmt.Errorf("no usable digest challenge in %d response (realm %q)", res.StatusCode, realm)
	}
	cred, err := digest.Digest(best, digest.Options{
		Method:   req.Method.String(),
		URI:      req.Recipient.Addr(),
		Username: user,
		Password: password,
	})
	if err != nil {
		return fmt.Errorf("compute digest: %w", err)
	}
	req.RemoveHeader(credName)
	req.AppendHeader(sipgosip.NewHeader(credName, cred.String()))
	return nil
}

func algoRank(a string) int {
	switch a {
	case "SHA-256":
		return 2
	case "", "MD5":
		return 1
	}
	return 0
}

// errBadCredentials means the request carried credentials that do not match.
var errBadCredentials = errors.New("bad credentials")

// challenge builds a WWW-Authenticate value with a stateless nonce: a
// timestamp signed with the UA's key, so no nonce table is kept.
func (ua *UA) challenge() string {
	ts := strconv.FormatInt(time.Now().Unix(), 16)
	chal := digest.Challenge{
		Realm:     ua.authRealm(),
		Nonce:     ts + "." + ua.nonceMAC(ts),
		Algorithm: "MD5",
		QOP:       []string{"auth"},
	}
	return chal.String()
}

func (ua *UA) authRealm() string {
	if r := ua.cfg.InboundAuth.Realm; r != "" {
		return r
	}
	return ua.host
}

func (ua *UA) nonceMAC(ts string) string {
	m := hmac.New(sha256.New, ua.nonceKey)
	m.Write([]byte(ts))
	return hex.EncodeToString(m.Sum(nil)[:12])
}

// checkAuth verifies the Authorization of an inbound request. It returns
// nil when valid, errNoCredentials-like errors otherwise.
func (ua *UA) checkAuth(req *sipgosip.Request) error {
	h := req.GetHeader("Authorization")
	if h == nil {
		return errors.New("no credentials")
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil {
		return fmt.Errorf("parse credentials: %w", err)
	}
	ia := ua.cfg.InboundAuth
	if cred.Username != ia.Username || cred.Realm != ua.authRealm() {
		return errBadCredentials
	}
	ts, mac, ok := strings.Cut(cred.Nonce, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(ua.nonceMAC(ts))) {
		return errors.New("nonce not ours")
	}
	issued, err := strconv.ParseInt(ts, 16, 64)
	if err != nil || time.Since(time.Unix(issued, 0)) > nonceLifetime {
		return errors.New("nonce expired")
	}
	chal := &digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm, Opaque: cred.Opaque}
	if cred.QOP != "" {
		chal.QOP = []string{cred.QOP}
	}
	want, err := digest.Digest(chal, digest.Options{
		Method: req.Method.String(), URI: cred.URI, Username: ia.Username, Password: ia.Password,
		Cnonce: cred.Cnonce, Count: cred.Nc,
	})
	if err != nil {
		return fmt.Errorf("compute digest: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(want.Response), []byte(cred.Response)) != 1 {
		return errBadCredentials
	}
	return nil
}
