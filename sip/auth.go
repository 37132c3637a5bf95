package sip

import (
	"fmt"
	"strings"

	sipgosip "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Digest authentication (RFC 3261 §22, RFC 8760 for SHA-256) as a client
// answering a trunk's challenge.

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

// The server side (challenging inbound REGISTER and INVITE) is in
// edge_digest.go.
