package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// testSecret is a Standard Webhooks secret: whsec_ + base64 of a 24-byte key.
const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func signedHeaders(t *testing.T, secret, id string, ts time.Time, body []byte) http.Header {
	t.Helper()
	key, err := ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, key.Sign(id, ts, body))
	return h
}

func TestSignMatchesTheStandardWebhooksConstruction(t *testing.T) {
	// Computed independently of Sign: HMAC-SHA256 under the decoded key over
	// "msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}", the
	// Standard Webhooks specification's example message.
	key, _ := base64.StdEncoding.DecodeString("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	body := []byte(`{"test": 2432232314}`)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))

	s, err := ParseSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), body); got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	// The specification publishes this signature for its example.
	if want != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("the specification's example signs to %s", want)
	}
}

func TestParseSecret(t *testing.T) {
	tests := []struct {
		name    string
		secret  string
		wantLen int
		wantErr bool
	}{
		{"whsec_ form is base64-decoded", testSecret, 24, false},
		{"other strings are used as they are", "a-shared-secret-of-32-characters", 32, false},
		{"whsec_ with bad base64 is refused", "whsec_not*base64!", 0, true},
		{"short key is refused", "whsec_" + base64.StdEncoding.EncodeToString([]byte("short")), 0, true},
		{"empty is refused", "", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSecret(tc.secret)
			if tc.wantErr {
				if !errors.Is(err, ErrSecret) {
					t.Fatalf("err %v, want ErrSecret", err)
				}
				return
			}
			if err != nil || len(s) != tc.wantLen {
				t.Fatalf("key of %d bytes, %v; want %d", len(s), err, tc.wantLen)
			}
		})
	}
}

func TestVerifyAcceptsOnlyAFreshUntamperedSignedRequest(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"type":"call.completed","data":{"call_id":7}}`)
	other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("another key of 24 bytes!"))
	tests := []struct {
		name    string
		headers func() http.Header
		body    []byte
		secret  string
		want    error
	}{
		{"signed request", func() http.Header { return signedHeaders(t, testSecret, "msg_1", now, body) }, body, testSecret, nil},
		{"tampered body", func() http.Header { return signedHeaders(t, testSecret, "msg_1", now, body) },
			[]byte(`{"type":"call.completed","data":{"call_id":8}}`), testSecret, ErrSignature},
		{"tampered id", func() http.Header {
			h := signedHeaders(t, testSecret, "msg_1", now, body)
			h.Set(HeaderID, "msg_2")
			return h
		}, body, testSecret, ErrSignature},
		{"tampered timestamp", func() http.Header {
			h := signedHeaders(t, testSecret, "msg_1", now, body)
			h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10))
			return h
		}, body, testSecret, ErrSignature},
		{"stale timestamp", func() http.Header { return signedHeaders(t, testSecret, "msg_1", now.Add(-6*time.Minute), body) },
			body, testSecret, ErrTimestamp},
		{"timestamp from the future", func() http.Header { return signedHeaders(t, testSecret, "msg_1", now.Add(6*time.Minute), body) },
			body, testSecret, ErrTimestamp},
		{"timestamp not a number", func() http.Header {
			h := signedHeaders(t, testSecret, "msg_1", now, body)
			h.Set(HeaderTimestamp, "yesterday")
			return h
		}, body, testSecret, ErrTimestamp},
		{"wrong secret", func() http.Header { return signedHeaders(t, other, "msg_1", now, body) }, body, testSecret, ErrSignature},
		{"missing signature", func() http.Header {
			h := signedHeaders(t, testSecret, "msg_1", now, body)
			h.Del(HeaderSignature)
			return h
		}, body, testSecret, ErrMissingHeaders},
		{"one of several signatures matches (secret rotation)", func() http.Header {
			h := signedHeaders(t, testSecret, "msg_1", now, body)
			old := signedHeaders(t, other, "msg_1", now, body)
			h.Set(HeaderSignature, "v1a,bm90IG91cnM= "+old.Get(HeaderSignature)+" "+h.Get(HeaderSignature))
			return h
		}, body, testSecret, nil},
		{"only other schemes", func() http.Header {
			h := signedHeaders(t, testSecret, "msg_1", now, body)
			h.Set(HeaderSignature, "v2,"+h.Get(HeaderSignature)[3:])
			return h
		}, body, testSecret, ErrSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secret, tc.headers(), tc.body, now, 0)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
}

func BenchmarkSign(b *testing.B) {
	key, err := ParseSecret(testSecret)
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 4096) // a call.completed with a short transcript
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	ts := time.Unix(1764072000, 0)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		key.Sign("msg_call_123456", ts, body)
	}
}
