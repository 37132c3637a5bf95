//go:build interop

package sip

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestInteropSippTakesMessageInDialog(t *testing.T) {
	p, out, addr := sippScenario(t, "sipp_uas_message.xml")
	ua := startUA(t, Config{Trunks: []Trunk{{Name: "sipp", Address: addr, Username: "waihu"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var c *Call
	var err error
	eventually(t, 10*time.Second, "sipp answers", func() bool {
		c, err = ua.Dial(ctx, DialRequest{Trunk: "sipp", To: "13812345678", Media: newFakeLeg(30000), RingTimeout: 5 * time.Second})
		return err == nil
	})
	if err := c.SendMessage(ctx, "Your code is 4821 (验证码)"); err != nil {
		t.Fatalf("SendMessage: %v\n%s", err, out.String())
	}
	if err := c.Hangup(ctx); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	sippFinished(t, p, out)
}

func TestInteropSippGatewayChecksMessageCredentials(t *testing.T) {
	cases := []struct {
		name     string
		password string
		wantErr  string
	}{
		{name: "right password", password: "secret"},
		{name: "wrong password", password: "guess", wantErr: "403"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, out, addr := sippScenario(t, "sipp_uas_message_auth.xml")
			ua := startUA(t, Config{Trunks: []Trunk{{Name: "gateway", Address: addr, Username: "10001", Password: tc.password}}})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var err error
			// sipp may need a moment to bind; a 401 loop would show as 401.
			eventually(t, 10*time.Second, "sipp answers", func() bool {
				actx, acancel := context.WithTimeout(ctx, 3*time.Second)
				defer acancel()
				err = ua.SendMessage(actx, "gateway", "13812345678", "Your appointment is at 3 pm.")
				return err == nil || strings.Contains(err.Error(), "MESSAGE answered")
			})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("SendMessage: %v\n%s", err, out.String())
				}
				sippFinished(t, p, out)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %s", err, tc.wantErr)
			}
		})
	}
}
