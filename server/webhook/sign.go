package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers, in their canonical lower-case spelling.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// secretPrefix marks a Standard Webhooks secret: the key follows in base64.
const secretPrefix = "whsec_"

// MinSecretBytes is the shortest key accepted: HMAC-SHA256 with fewer than 16
// bytes of key is guessable offline from one signed request.
const MinSecretBytes = 16

// DefaultTolerance is how far a webhook-timestamp may be from the receiver's
// clock when Verify is given no tolerance: the Standard Webhooks default.
const DefaultTolerance = 5 * time.Minute

// Errors of ParseSecret and Verify.
var (
	// ErrSecret is a secret that cannot be used as a key.
	ErrSecret = errors.New("webhook: unusable secret")
	// ErrMissingHeaders is a request without the three webhook headers.
	ErrMissingHeaders = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature")
	// ErrTimestamp is a webhook-timestamp that is not a number or lies outside
	// the tolerance: a replayed or delayed request.
	ErrTimestamp = errors.New("webhook: timestamp outside tolerance")
	// ErrSignature is a request whose no signature matches the body.
	ErrSignature = errors.New("webhook: no matching signature")
)

// Secret is an endpoint's HMAC key.
type Secret []byte

// ParseSecret reads a secret as configured: "whsec_" followed by the key in
// standard base64 (the Standard Webhooks form, which receivers' libraries
// generate), or else any other string, used as the key's bytes as it is. The
// key must be at least MinSecretBytes long.
func ParseSecret(s string) (Secret, error) {
	key := []byte(s)
	if rest, ok := strings.CutPrefix(s, secretPrefix); ok {
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return nil, fmt.Errorf("%w: whsec_ secret is not base64: %w", ErrSecret, err)
		}
		key = b
	}
	if len(key) < MinSecretBytes {
		return nil, fmt.Errorf("%w: key has %d bytes, want at least %d", ErrSecret, len(key), MinSecretBytes)
	}
	return key, nil
}

// Sign returns the webhook-signature value for one message: "v1," and the
// base64 of HMAC-SHA256 over id + "." + Unix seconds of ts + "." + body.
func (s Secret) Sign(id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(s.mac(id, strconv.FormatInt(ts.Unix(), 10), body))
}

func (s Secret) mac(id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, s)
	// One write of "id.ts." from a stack buffer: no conversion per part.
	var buf [128]byte
	head := append(append(append(append(buf[:0], id...), '.'), ts...), '.')
	m.Write(head)
	m.Write(body)
	return m.Sum(make([]byte, 0, sha256.Size))
}

// Verify checks a received webhook as a receiver must: the three headers are
// present, webhook-timestamp is within tolerance of now (either way; 0 means
// DefaultTolerance), and one of the space-separated v1 signatures in
// webhook-signature is the HMAC of the body under secret (compared in
// constant time). secret is in ParseSecret's form. Tampering with the body,
// the id or the timestamp fails with ErrSignature.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := ParseSecret(secret)
	if err != nil {
		return err
	}
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not Unix seconds", ErrTimestamp, ts)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s off the receiver's clock, tolerance %s", ErrTimestamp, d.Round(time.Second), tolerance)
	}
	want := key.mac(id, ts, body)
	for _, sig := range strings.Fields(sigs) {
		v, b64, ok := strings.Cut(sig, ",")
		if !ok || v != "v1" {
			continue // another scheme (v1a, a future version): not ours to check
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignature
}
