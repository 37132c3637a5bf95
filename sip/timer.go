package sip

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	sipgosip "github.com/emiago/sipgo/sip"
)

// Session timers, RFC 4028. The refresher sends a re-INVITE at half the
// interval (§10); the other side gives up with BYE shortly before expiry.

// refresherRole is the refresher parameter of Session-Expires.
type refresherRole string

const (
	refresherUAC refresherRole = "uac"
	refresherUAS refresherRole = "uas"
)

// sessionExpires is a parsed Session-Expires header.
type sessionExpires struct {
	interval  time.Duration
	refresher refresherRole // "" when absent
}

func (s sessionExpires) String() string {
	v := strconv.Itoa(int(s.interval / time.Second))
	if s.refresher != "" {
		v += ";refresher=" + string(s.refresher)
	}
	return v
}

// parseSessionExpires reads Session-Expires (or its compact form x) from
// a message; ok is false when absent.
func parseSessionExpires(m headerGetter) (se sessionExpires, ok bool, err error) {
	h := m.GetHeader("Session-Expires")
	if h == nil {
		h = m.GetHeader("x")
	}
	if h == nil {
		return se, false, nil
	}
	parts := strings.Split(h.Value(), ";")
	secs, err := strconv.ParseUint(strings.TrimSpace(parts[0]), 10, 32)
	if err != nil || secs == 0 {
		return se, true, fmt.Errorf("bad Session-Expires %q", h.Value())
	}
	se.interval = time.Duration(secs) * time.Second
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "refresher") {
			se.refresher = refresherRole(strings.ToLower(strings.TrimSpace(v)))
		}
	}
	return se, true, nil
}

// parseMinSE reads Min-SE; 0 when absent or unreadable.
func parseMinSE(m headerGetter) time.Duration {
	h := m.GetHeader("Min-SE")
	if h == nil {
		return 0
	}
	v, _, _ := strings.Cut(h.Value(), ";")
	secs, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
	if err != nil {
		return 0
	}
	return time.Duration(secs) * time.Second
}

func secondsHeader(name string, d time.Duration) sipgosip.Header {
	return sipgosip.NewHeader(name, strconv.Itoa(int(d/time.Second)))
}

// hasOptionTag reports whether a Supported or Require header lists tag.
func hasOptionTag(m headerGetter, header, tag string) bool {
	for _, h := range m.GetHeaders(header) {
		for _, t := range strings.Split(h.Value(), ",") {
			if strings.EqualFold(strings.TrimSpace(t), tag) {
				return true
			}
		}
	}
	return false
}

// refreshDue is when the refresher sends its refresh: half the interval
// (RFC 4028 §10).
func refreshDue(last time.Time, interval time.Duration) time.Time {
	return last.Add(interval / 2)
}

// expiryDue is when the non-refresher gives up: the interval minus
// min(32 s, interval/3) (RFC 4028 §10).
func expiryDue(last time.Time, interval time.Duration) time.Time {
	return last.Add(interval - min(32*time.Second, interval/3))
}

// headerGetter is the header access shared by sipgo requests and responses.
type headerGetter interface {
	GetHeader(name string) sipgosip.Header
	GetHeaders(name string) []sipgosip.Header
}
