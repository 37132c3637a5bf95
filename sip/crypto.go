package sip

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/pion/srtp/v3"
)

// SDES: SRTP keys carried in SDP a=crypto attributes (RFC 4568). The keys
// are in the SDP in clear text, so they are only as secret as the SIP
// signalling that carries them: see Trunk.AllowSDESWithoutTLS.

// ErrBadCrypto is wrapped by ParseCrypto for a malformed a=crypto value.
var ErrBadCrypto = errors.New("sdp: malformed a=crypto attribute")

// CryptoSuite names an SRTP crypto suite of an a=crypto attribute (RFC 4568
// §6.2).
type CryptoSuite string

// Crypto suites waihu negotiates. Others are parsed and skipped.
const (
	SuiteAES128SHA1_80 CryptoSuite = "AES_CM_128_HMAC_SHA1_80" // RFC 4568 §6.2.1
	SuiteAES128SHA1_32 CryptoSuite = "AES_CM_128_HMAC_SHA1_32" // RFC 4568 §6.2.2
)

// supportedSuites is our offer and preference order: the 80-bit tag first,
// as RFC 4568 §6.2.2 recommends for voice unless bandwidth is scarce.
var supportedSuites = []CryptoSuite{SuiteAES128SHA1_80, SuiteAES128SHA1_32}

// profile maps a suite to pion's protection profile; ok is false for a
// suite we do not do.
func (s CryptoSuite) profile() (srtp.ProtectionProfile, bool) {
	switch s {
	case SuiteAES128SHA1_80:
		return srtp.ProtectionProfileAes128CmHmacSha1_80, true
	case SuiteAES128SHA1_32:
		return srtp.ProtectionProfileAes128CmHmacSha1_32, true
	}
	return 0, false
}

// keyLen is the master key plus master salt length of a supported suite.
func (s CryptoSuite) keyLen() int {
	p, ok := s.profile()
	if !ok {
		return 0
	}
	k, _ := p.KeyLen()
	salt, _ := p.SaltLen()
	return k + salt
}

// minLifetimePackets is the smallest key lifetime we accept: 2^20 packets,
// about 5.8 hours of 20 ms audio. waihu does not re-key within a call, so
// a shorter lifetime would be broken by a long call.
const minLifetimePackets = 1 << 20

// Crypto is one a=crypto attribute: a tag, a suite and one inline key.
// Its String and LogValue leave the key out, so logging a Crypto is safe.
type Crypto struct {
	// Tag identifies the attribute within the media description; the
	// answer echoes the tag of the offer it accepts (RFC 4568 §5.1).
	Tag int
	// Suite is the crypto suite.
	Suite CryptoSuite
	// Key is the master key followed by the master salt (the decoded
	// inline key of the first key parameter).
	Key []byte
	// Lifetime is the key lifetime in packets, 0 when not given.
	Lifetime uint64
	// MKI is the master key identifier "value:length", "" when absent.
	MKI string
	// Keys is the number of key parameters (more than one needs MKIs).
	Keys int
	// SessionParams are the session parameters as written (KDR=, WSH=,
	// UNENCRYPTED_SRTP …).
	SessionParams []string
}

// String describes c without its key.
func (c Crypto) String() string {
	return fmt.Sprintf("%d %s inline:<%d-byte key hidden>", c.Tag, c.Suite, len(c.Key))
}

// LogValue keeps the key out of structured logs.
func (c Crypto) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Marshal returns the attribute value for "a=crypto:", key included.
func (c Crypto) Marshal() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(c.Tag))
	b.WriteByte(' ')
	b.WriteString(string(c.Suite))
	b.WriteString(" inline:")
	b.WriteString(base64.StdEncoding.EncodeToString(c.Key))
	for _, p := range c.SessionParams {
		b.WriteByte(' ')
		b.WriteString(p)
	}
	return b.String()
}

// usable says why we cannot use c, nil if we can: a suite we support, one
// key without MKI, a lifetime long enough, and only session parameters
// that change nothing (WSH, KDR=0, FEC_ORDER=FEC_SRTP).
func (c Crypto) usable() error {
	if _, ok := c.Suite.profile(); !ok {
		return fmt.Errorf("crypto tag %d: suite %s not supported", c.Tag, c.Suite)
	}
	if c.Keys != 1 || c.MKI != "" {
		return fmt.Errorf("crypto tag %d: master key identifiers (MKI) not supported", c.Tag)
	}
	if c.Lifetime != 0 && c.Lifetime < minLifetimePackets {
		return fmt.Errorf("crypto tag %d: key lifetime %d packets too short (waihu does not re-key)", c.Tag, c.Lifetime)
	}
	for _, p := range c.SessionParams {
		name, val, _ := strings.Cut(p, "=")
		switch {
		case name == "WSH":
		case name == "KDR" && val == "0":
		case name == "FEC_ORDER" && val == "FEC_SRTP":
		default:
			return fmt.Errorf("crypto tag %d: session parameter %s not supported", c.Tag, name)
		}
	}
	return nil
}

// ParseCrypto parses the value of an a=crypto attribute (RFC 4568 §9.1):
//
//	<tag> <crypto-suite> inline:<key||salt>[|<lifetime>][|<mki>:<length>][;inline:…] [<session-param> …]
//
// Errors wrap ErrBadCrypto and say which part is wrong, never quoting the
// key. Unknown suites parse (their key length is not checked); known
// suites must carry a key of the right length.
func ParseCrypto(value string) (Crypto, error) {
	var c Crypto
	fields := strings.Fields(value)
	if len(fields) < 3 {
		return c, fmt.Errorf("want <tag> <suite> <key-params>, got %d fields: %w", len(fields), ErrBadCrypto)
	}
	tag, err := strconv.ParseUint(fields[0], 10, 32)
	if err != nil || len(fields[0]) > 9 {
		return c, fmt.Errorf("tag %q is not 1 to 9 digits: %w", clip(fields[0]), ErrBadCrypto)
	}
	c.Tag = int(tag)
	c.Suite = CryptoSuite(fields[1])
	if !validSuiteName(fields[1]) {
		return c, fmt.Errorf("crypto tag %d: suite %q is not a suite name: %w", c.Tag, clip(fields[1]), ErrBadCrypto)
	}
	keyParams := strings.Split(fields[2], ";")
	c.Keys = len(keyParams)
	for i, kp := range keyParams {
		method, info, ok := strings.Cut(kp, ":")
		if !ok || method != "inline" {
			return c, fmt.Errorf("crypto tag %d: key parameter %d: method is not inline: %w", c.Tag, i+1, ErrBadCrypto)
		}
		parts := strings.Split(info, "|")
		if len(parts) > 3 {
			return c, fmt.Errorf("crypto tag %d: key parameter %d: too many '|' fields: %w", c.Tag, i+1, ErrBadCrypto)
		}
		key, err := base64.StdEncoding.DecodeString(parts[0])
		if err != nil {
			// Some peers drop base64 padding.
			key, err = base64.RawStdEncoding.DecodeString(parts[0])
		}
		if err != nil || len(key) == 0 {
			return c, fmt.Errorf("crypto tag %d: key parameter %d: key is not base64: %w", c.Tag, i+1, ErrBadCrypto)
		}
		if n := c.Suite.keyLen(); n != 0 && len(key) != n {
			return c, fmt.Errorf("crypto tag %d: key of %d bytes, %s needs %d: %w", c.Tag, len(key), c.Suite, n, ErrBadCrypto)
		}
		var lifetime uint64
		var mki string
		for _, p := range parts[1:] {
			if strings.Contains(p, ":") {
				if mki != "" || !validMKI(p) {
					return c, fmt.Errorf("crypto tag %d: key parameter %d: bad MKI %q: %w", c.Tag, i+1, clip(p), ErrBadCrypto)
				}
				mki = p
				continue
			}
			if lifetime != 0 {
				return c, fmt.Errorf("crypto tag %d: key parameter %d: two lifetimes: %w", c.Tag, i+1, ErrBadCrypto)
			}
			if lifetime, err = parseLifetime(p); err != nil {
				return c, fmt.Errorf("crypto tag %d: key parameter %d: %w: %w", c.Tag, i+1, err, ErrBadCrypto)
			}
		}
		if i == 0 {
			c.Key, c.Lifetime, c.MKI = key, lifetime, mki
		}
	}
	for _, p := range fields[3:] {
		if strings.ContainsAny(p, "\r\n") {
			return c, fmt.Errorf("crypto tag %d: control character in session parameter: %w", c.Tag, ErrBadCrypto)
		}
		c.SessionParams = append(c.SessionParams, p)
	}
	return c, nil
}

// parseLifetime reads "2^n" or a decimal packet count.
func parseLifetime(s string) (uint64, error) {
	if exp, ok := strings.CutPrefix(s, "2^"); ok {
		n, err := strconv.ParseUint(exp, 10, 8)
		if err != nil || n == 0 || n > 63 {
			return 0, fmt.Errorf("lifetime %q out of range", clip(s))
		}
		return 1 << n, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("lifetime %q is not a packet count", clip(s))
	}
	return n, nil
}

// validMKI checks "value:length": a decimal value and a length 1..128 bytes.
func validMKI(s string) bool {
	v, l, ok := strings.Cut(s, ":")
	if !ok || v == "" || strings.Trim(v, "0123456789") != "" {
		return false
	}
	n, err := strconv.Atoi(l)
	return err == nil && n >= 1 && n <= 128
}

func validSuiteName(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return s != ""
}

// clip shortens what an error quotes from the network.
func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// newCrypto makes an attribute with a fresh random key.
func newCrypto(tag int, suite CryptoSuite) (Crypto, error) {
	key := make([]byte, suite.keyLen())
	if _, err := rand.Read(key); err != nil {
		return Crypto{}, fmt.Errorf("generate srtp key: %w", err)
	}
	return Crypto{Tag: tag, Suite: suite, Key: key, Keys: 1}, nil
}
