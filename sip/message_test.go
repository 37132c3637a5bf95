package sip

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCallSendMessageDeliversTextInDialog(t *testing.T) {
	cases := []struct {
		name     string
		text     string
		peerCode int
		wantCode int // 0: delivered
		wantSent bool
	}{
		{name: "accepted text arrives as utf-8 plain text", text: "您的验证码是 4821, reply STOP", peerCode: 200, wantSent: true},
		{name: "refusal names the code", text: "hello", peerCode: 488, wantCode: 488, wantSent: true},
		{name: "empty text is not sent", text: "", peerCode: 200},
		{name: "oversized text is not sent", text: strings.Repeat("x", maxMessageBytes+1), peerCode: 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newSipgoPeer(t, func(p *sipgoPeer) { p.messageCode = tc.peerCode })
			_, call := dialPeer(t, p)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := call.SendMessage(ctx, tc.text)
			var req = func() string {
				select {
				case r := <-p.messages:
					if ct := headerValue(r, "Content-Type"); ct != messageContentType {
						t.Errorf("Content-Type %q, want %q", ct, messageContentType)
					}
					if got := r.CallID().Value(); got != call.ID() {
						t.Errorf("MESSAGE Call-ID %q, want the call's %q", got, call.ID())
					}
					return string(r.Body())
				default:
					return ""
				}
			}()
			if tc.wantSent != (req != "") {
				t.Fatalf("sent %v, want %v (err %v)", req != "", tc.wantSent, err)
			}
			if tc.wantSent && req != tc.text {
				t.Errorf("peer got %q, want %q", req, tc.text)
			}
			switch {
			case tc.wantCode == 0 && tc.wantSent:
				if err != nil {
					t.Fatalf("SendMessage: %v", err)
				}
			case tc.wantCode != 0:
				var re *ResponseError
				if !errors.As(err, &re) || re.Code != tc.wantCode || re.Method != "MESSAGE" {
					t.Fatalf("error %v, want a MESSAGE ResponseError %d", err, tc.wantCode)
				}
				if !strings.Contains(err.Error(), call.ID()) {
					t.Errorf("error %q does not name the call", err)
				}
			default:
				if err == nil {
					t.Fatal("bad text was accepted")
				}
			}
		})
	}
}

func TestUASendMessageAnswersTheGatewaysChallenge(t *testing.T) {
	cases := []struct {
		name      string
		trunk     string
		password  string
		wantErr   string
		delivered bool
	}{
		{name: "right password delivers", trunk: "gw", password: "secret", delivered: true},
		{name: "wrong password is rejected", trunk: "gw", password: "wrong", wantErr: "403"},
		{name: "unknown trunk", trunk: "nope", password: "secret", wantErr: "unknown trunk"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newSipgoPeer(t, func(p *sipgoPeer) { p.password = "secret" })
			ua := startUA(t, Config{Trunks: []Trunk{{Name: "gw", Address: p.addr, Username: "10001", Password: tc.password}}})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := ua.SendMessage(ctx, tc.trunk, "13812345678", "Your appointment is at 3 pm.")
			if tc.delivered {
				if err != nil {
					t.Fatalf("SendMessage: %v", err)
				}
				r := <-p.messages
				if string(r.Body()) != "Your appointment is at 3 pm." || r.Recipient.User != "13812345678" {
					t.Errorf("gateway got %q for %q", r.Body(), r.Recipient.User)
				}
				if r.GetHeader("Authorization") == nil {
					t.Error("delivered without credentials")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), `"`+tc.trunk+`"`) || strings.Contains(err.Error(), "13812345678") {
				t.Errorf("error %q should name the trunk and mask the number", err)
			}
		})
	}
}

func TestCallSendMessageAnswersAChallengeWithTheTrunksCredentials(t *testing.T) {
	cases := []struct {
		name     string
		password string
		wantCode int // 0: delivered
	}{
		{name: "right password delivers", password: "secret"},
		{name: "wrong password is refused", password: "guess", wantCode: 403},
		{name: "no password leaves the challenge", password: "", wantCode: 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newSipgoPeer(t, func(p *sipgoPeer) { p.password, p.challengeInDialog = "secret", true })
			_, call := dialPeerWith(t, p, tc.password)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := call.SendMessage(ctx, "hello")
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatalf("SendMessage: %v", err)
				}
				if r := <-p.messages; r.GetHeader("Authorization") == nil || string(r.Body()) != "hello" {
					t.Errorf("peer got %q with Authorization %v", r.Body(), r.GetHeader("Authorization"))
				}
				return
			}
			var re *ResponseError
			if !errors.As(err, &re) || re.Code != tc.wantCode {
				t.Fatalf("error %v, want a %d", err, tc.wantCode)
			}
		})
	}
}
