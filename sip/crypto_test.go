package sip

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// key30 is a fixed 30-byte AES-128 master key || salt for parser tests.
var key30 = bytes.Repeat([]byte{0xa5}, 30)

var key30b64 = base64.StdEncoding.EncodeToString(key30)

func TestParseCryptoReadsRFC4568Attributes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value string
		want  Crypto
	}{
		{"RFC 4568 §4 example 80", "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|2^20|1:4",
			Crypto{Tag: 1, Suite: SuiteAES128SHA1_80, Key: key30, Lifetime: 1 << 20, MKI: "1:4", Keys: 1}},
		{"plain 32", "2 AES_CM_128_HMAC_SHA1_32 inline:" + key30b64,
			Crypto{Tag: 2, Suite: SuiteAES128SHA1_32, Key: key30, Keys: 1}},
		{"decimal lifetime", "3 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|1048576",
			Crypto{Tag: 3, Suite: SuiteAES128SHA1_80, Key: key30, Lifetime: 1 << 20, Keys: 1}},
		{"session parameters", "4 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + " KDR=0 WSH=128",
			Crypto{Tag: 4, Suite: SuiteAES128SHA1_80, Key: key30, Keys: 1, SessionParams: []string{"KDR=0", "WSH=128"}}},
		{"unpadded base64", "5 AEAD_AES_128_GCM inline:" + base64.RawStdEncoding.EncodeToString(make([]byte, 28)),
			Crypto{Tag: 5, Suite: "AEAD_AES_128_GCM", Key: make([]byte, 28), Keys: 1}},
		{"unknown suite, any key length", "6 AEAD_AES_256_GCM inline:" + base64.StdEncoding.EncodeToString(make([]byte, 44)),
			Crypto{Tag: 6, Suite: "AEAD_AES_256_GCM", Key: make([]byte, 44), Keys: 1}},
		{"two keys with MKIs", "7 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|1:1;inline:" + key30b64 + "|2:1",
			Crypto{Tag: 7, Suite: SuiteAES128SHA1_80, Key: key30, MKI: "1:1", Keys: 2}},
		{"tabs and extra spaces", "8\tAES_CM_128_HMAC_SHA1_80   inline:" + key30b64,
			Crypto{Tag: 8, Suite: SuiteAES128SHA1_80, Key: key30, Keys: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCrypto(tc.value)
			if err != nil {
				t.Fatalf("ParseCrypto: %v", err)
			}
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestParseCryptoRejectsMalformedAttributesClearly(t *testing.T) {
	for _, tc := range []struct {
		name, value, wantMsg string
	}{
		{"empty", "", "got 0 fields"},
		{"no key params", "1 AES_CM_128_HMAC_SHA1_80", "got 2 fields"},
		{"tag not a number", "x AES_CM_128_HMAC_SHA1_80 inline:" + key30b64, `tag "x"`},
		{"tag of ten digits", "1234567890 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64, "1 to 9 digits"},
		{"negative tag", "-1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64, "1 to 9 digits"},
		{"suite with punctuation", "1 AES-CM inline:" + key30b64, "not a suite name"},
		{"method not inline", "1 AES_CM_128_HMAC_SHA1_80 uri:http://x", "method is not inline"},
		{"key not base64", "1 AES_CM_128_HMAC_SHA1_80 inline:!!!notbase64!!!", "key is not base64"},
		{"empty key", "1 AES_CM_128_HMAC_SHA1_80 inline:", "key is not base64"},
		{"short key for the suite", "1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.StdEncoding.EncodeToString(key30[:16]), "key of 16 bytes"},
		{"lifetime zero", "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|0", "not a packet count"},
		{"lifetime exponent too big", "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|2^64", "out of range"},
		{"lifetime garbage", "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|forever", "not a packet count"},
		{"mki length zero", "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|1:0", "bad MKI"},
		{"mki value not decimal", "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|a:4", "bad MKI"},
		{"two mkis", "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|1:4|2:4", "bad MKI"},
		{"two lifetimes", "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|2^20|2^30", "two lifetimes"},
		{"too many fields", "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|2^20|1:4|x", "too many"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCrypto(tc.value)
			if !errors.Is(err, ErrBadCrypto) {
				t.Fatalf("ParseCrypto(%q) = %v, want ErrBadCrypto", tc.value, err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not say %q", err, tc.wantMsg)
			}
			if strings.Contains(err.Error(), key30b64) {
				t.Errorf("error quotes the key: %v", err)
			}
		})
	}
}

func TestCryptoMarshalRoundTripsAndStringHidesKey(t *testing.T) {
	c, err := newCrypto(3, SuiteAES128SHA1_32)
	if err != nil {
		t.Fatal(err)
	}
	c.SessionParams = []string{"WSH=64"}
	back, err := ParseCrypto(c.Marshal())
	if err != nil {
		t.Fatalf("parse our own attribute %q: %v", c.Marshal(), err)
	}
	if back.Tag != 3 || back.Suite != SuiteAES128SHA1_32 || !bytes.Equal(back.Key, c.Key) || len(back.SessionParams) != 1 {
		t.Errorf("round trip: %+v", back)
	}
	enc := base64.StdEncoding.EncodeToString(c.Key)
	for _, s := range []string{c.String(), fmt.Sprint(c), c.LogValue().String()} {
		if strings.Contains(s, enc) || !strings.Contains(s, "hidden") {
			t.Errorf("%q shows the key or does not say it is hidden", s)
		}
	}
}

func TestNewCryptoKeysAreFreshPerAttribute(t *testing.T) {
	seen := map[string]bool{}
	for i := range 50 {
		c, err := newCrypto(1, SuiteAES128SHA1_80)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Key) != 30 {
			t.Fatalf("key of %d bytes", len(c.Key))
		}
		if seen[string(c.Key)] {
			t.Fatalf("key repeated after %d draws", i)
		}
		seen[string(c.Key)] = true
	}
}

func TestCryptoUsableOnlyForWhatWeCanDo(t *testing.T) {
	good := Crypto{Tag: 1, Suite: SuiteAES128SHA1_80, Key: key30, Keys: 1}
	for _, tc := range []struct {
		name    string
		mutate  func(*Crypto)
		wantErr string
	}{
		{"plain attribute", func(*Crypto) {}, ""},
		{"long lifetime", func(c *Crypto) { c.Lifetime = 1 << 31 }, ""},
		{"harmless session params", func(c *Crypto) { c.SessionParams = []string{"WSH=64", "KDR=0", "FEC_ORDER=FEC_SRTP"} }, ""},
		{"unknown suite", func(c *Crypto) { c.Suite = "F8_128_HMAC_SHA1_80" }, "not supported"},
		{"mki", func(c *Crypto) { c.MKI = "1:4" }, "MKI"},
		{"two keys", func(c *Crypto) { c.Keys = 2 }, "MKI"},
		{"short lifetime", func(c *Crypto) { c.Lifetime = 1 << 10 }, "too short"},
		{"unencrypted srtp", func(c *Crypto) { c.SessionParams = []string{"UNENCRYPTED_SRTP"} }, "UNENCRYPTED_SRTP"},
		{"key derivation rate", func(c *Crypto) { c.SessionParams = []string{"KDR=24"} }, "KDR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mutate(&c)
			err := c.usable()
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("usable() = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}

// FuzzParseCrypto: no input panics, every error wraps ErrBadCrypto, and an
// accepted supported attribute survives Marshal and a second parse.
//
//	go test -run '^$' -fuzz FuzzParseCrypto -fuzztime 1m ./sip
func FuzzParseCrypto(f *testing.F) {
	for _, s := range []string{
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64,
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|2^20|1:4",
		"2 AES_CM_128_HMAC_SHA1_32 inline:" + key30b64 + " KDR=0 WSH=64",
		"7 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|1:1;inline:" + key30b64 + "|2:1",
		"1 X inline:AAAA|2^",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		c, err := ParseCrypto(v)
		if err != nil {
			if !errors.Is(err, ErrBadCrypto) {
				t.Fatalf("error %v does not wrap ErrBadCrypto", err)
			}
			return
		}
		if c.usable() != nil {
			return
		}
		back, err := ParseCrypto(c.Marshal())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", c.Marshal(), err)
		}
		if back.Tag != c.Tag || back.Suite != c.Suite || !bytes.Equal(back.Key, c.Key) {
			t.Fatalf("round trip changed %+v into %+v", c, back)
		}
	})
}
