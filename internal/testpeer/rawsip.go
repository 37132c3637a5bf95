package testpeer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"
)

// RawSIP is a bare UDP socket for hand-written SIP: tests use it to send
// what no well-behaved peer would (garbage, truncated headers, broken SDP)
// and to read the answers.
type RawSIP struct {
	conn *net.UDPConn
	to   *net.UDPAddr
}

// DialRawSIP opens a UDP socket on 127.0.0.1 towards addr (host:port).
func DialRawSIP(addr string) (*RawSIP, error) {
	to, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return nil, fmt.Errorf("raw sip to %s: %w", addr, err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("raw sip to %s: %w", addr, err)
	}
	return &RawSIP{conn: conn, to: to}, nil
}

// LocalAddr is the socket's host:port, for Via and Contact headers.
func (c *RawSIP) LocalAddr() string { return c.conn.LocalAddr().String() }

// Close closes the socket.
func (c *RawSIP) Close() error { return c.conn.Close() }

// Send writes b as one datagram.
func (c *RawSIP) Send(b []byte) error {
	_, err := c.conn.WriteToUDP(b, c.to)
	return err
}

// SIPResponse is a received response: status code, raw text, and headers
// by lower-case name (first value only).
type SIPResponse struct {
	Code    int
	Raw     string
	Headers map[string]string
}

// Read returns the next SIP response, or an error at ctx's deadline.
// Requests (e.g. a server's OPTIONS) and unparsable datagrams are skipped.
func (c *RawSIP) Read(ctx context.Context) (SIPResponse, error) {
	buf := make([]byte, 65535)
	for {
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(5 * time.Second)
		}
		c.conn.SetReadDeadline(deadline)
		n, _, err := c.conn.ReadFromUDP(buf)
		if err != nil {
			return SIPResponse{}, fmt.Errorf("read sip response: %w", err)
		}
		if r, ok := parseSIPResponse(string(buf[:n])); ok {
			return r, nil
		}
	}
}

func parseSIPResponse(msg string) (SIPResponse, bool) {
	if !strings.HasPrefix(msg, "SIP/2.0 ") || len(msg) < 11 {
		return SIPResponse{}, false
	}
	code, err := strconv.Atoi(msg[8:11])
	if err != nil {
		return SIPResponse{}, false
	}
	r := SIPResponse{Code: code, Raw: msg, Headers: map[string]string{}}
	head, _, _ := strings.Cut(msg, "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n")[1:] {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if _, seen := r.Headers[name]; !seen {
			r.Headers[name] = strings.TrimSpace(value)
		}
	}
	return r, true
}

// InviteRequest builds an INVITE from this socket to user@target with the
// given SDP body (empty for none), a fresh branch and Call-ID.
func (c *RawSIP) InviteRequest(user, callID, branch, sdp string) string {
	target := c.to.String()
	local := c.LocalAddr()
	var b strings.Builder
	fmt.Fprintf(&b, "INVITE sip:%s@%s SIP/2.0\r\n", user, target)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=%s;rport\r\n", local, branch)
	fmt.Fprintf(&b, "Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <sip:test@%s>;tag=%s\r\n", local, callID[:8])
	fmt.Fprintf(&b, "To: <sip:%s@%s>\r\n", user, target)
	fmt.Fprintf(&b, "Call-ID: %s\r\n", callID)
	fmt.Fprintf(&b, "CSeq: 1 INVITE\r\n")
	fmt.Fprintf(&b, "Contact: <sip:test@%s>\r\n", local)
	if sdp != "" {
		fmt.Fprintf(&b, "Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(sdp), sdp)
	return b.String()
}

// NewBranch returns an RFC 3261 §8.1.1.7 branch (magic cookie prefix).
func NewBranch() string { return fmt.Sprintf("z9hG4bK%016x", rand.Uint64()) }

// NewCallID returns a random Call-ID.
func NewCallID() string { return fmt.Sprintf("%016x@testpeer", rand.Uint64()) }

// InviteOnce sends an INVITE without SDP to addr and returns the final
// response code, acknowledging a non-2xx final response (RFC 3261 §17.1.1.3).
// With cancel set, it sends CANCEL on the first provisional response >100.
// A 2xx is answered with ACK and BYE so that no call is left up.
func InviteOnce(ctx context.Context, addr string, cancel bool) (string, error) {
	c, err := DialRawSIP(addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	callID, branch := NewCallID(), NewBranch()
	invite := c.InviteRequest("waihu", callID, branch, "")
	if err := c.Send([]byte(invite)); err != nil {
		return "", err
	}
	for {
		r, err := c.Read(ctx)
		if err != nil {
			return "", fmt.Errorf("invite %s: %w", addr, err)
		}
		if r.Headers["call-id"] != callID {
			continue
		}
		if r.Code < 200 {
			if cancel && r.Code > 100 {
				cancel = false
				if err := c.Send([]byte(inDialog(invite, "CANCEL", r.Headers["to"], false))); err != nil {
					return "", err
				}
			}
			continue
		}
		if strings.HasSuffix(r.Headers["cseq"], "CANCEL") {
			continue
		}
		if r.Code < 300 {
			c.Send([]byte(inDialog(invite, "ACK", r.Headers["to"], true)))
			c.Send([]byte(inDialog(invite, "BYE", r.Headers["to"], true)))
		} else {
			c.Send([]byte(inDialog(invite, "ACK", r.Headers["to"], false)))
		}
		return strconv.Itoa(r.Code), nil
	}
}

// inDialog derives a CANCEL, ACK or BYE from invite. A CANCEL and the ACK
// of a non-2xx reuse the INVITE's branch (RFC 3261 §9.1, §17.1.1.3); an ACK
// of a 2xx and a BYE are new transactions.
func inDialog(invite, method, to string, newTxn bool) string {
	lines := strings.Split(strings.SplitN(invite, "\r\n\r\n", 2)[0], "\r\n")
	var b strings.Builder
	for i, line := range lines {
		lower := strings.ToLower(line)
		switch {
		case i == 0:
			fmt.Fprintf(&b, "%s %s\r\n", method, strings.Fields(line)[1])
		case strings.HasPrefix(lower, "via:") && newTxn:
			via, _, _ := strings.Cut(line, ";branch=")
			fmt.Fprintf(&b, "%s;branch=%s;rport\r\n", via, NewBranch())
		case strings.HasPrefix(lower, "to:") && method != "CANCEL":
			fmt.Fprintf(&b, "To: %s\r\n", to)
		case strings.HasPrefix(lower, "cseq:"):
			n := 1
			if method == "BYE" {
				n = 2
			}
			fmt.Fprintf(&b, "CSeq: %d %s\r\n", n, method)
		case strings.HasPrefix(lower, "content-"):
		default:
			b.WriteString(line + "\r\n")
		}
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.String()
}

func udpAddr(port int) *net.UDPAddr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
}

// Options sends an OPTIONS to addr and returns the response code: a
// readiness probe for any SIP server.
func Options(ctx context.Context, addr string) (int, error) {
	c, err := DialRawSIP(addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	callID := NewCallID()
	local := c.LocalAddr()
	req := fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=%s;rport\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:probe@%s>;tag=%s\r\n"+
		"To: <sip:%s>\r\n"+
		"Call-ID: %s\r\n"+
		"CSeq: 1 OPTIONS\r\n"+
		"Content-Length: 0\r\n\r\n", addr, local, NewBranch(), local, callID[:8], addr, callID)
	if err := c.Send([]byte(req)); err != nil {
		return 0, err
	}
	r, err := c.Read(ctx)
	if err != nil {
		return 0, fmt.Errorf("options %s: %w", addr, err)
	}
	return r.Code, nil
}

// WaitSIP probes addr with OPTIONS until any response comes, or ctx ends.
func WaitSIP(ctx context.Context, addr string) error {
	for {
		probe, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err := Options(probe, addr)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sip server %s not answering OPTIONS: %w", addr, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// AckNon2xx acknowledges a non-2xx final response to invite, in the
// INVITE's transaction (RFC 3261 §17.1.1.3), so the server stops
// retransmitting it.
func (c *RawSIP) AckNon2xx(invite string, resp SIPResponse) error {
	return c.Send([]byte(inDialog(invite, "ACK", resp.Headers["to"], false)))
}
