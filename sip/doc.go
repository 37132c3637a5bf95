// Package sip is waihu's SIP user agent, built on github.com/emiago/sipgo:
// trunk registration with digest auth, outbound calls (Dial), inbound calls
// (OnCall), in-dialog re-INVITE/UPDATE (hold, new media, session refresh),
// RFC 4028 session timers, a media-timeout watchdog, blind transfer by REFER
// (Call.Refer, following the NOTIFY progress), text messages (RFC 3428
// MESSAGE, in dialog with Call.SendMessage or through a trunk with
// UA.SendMessage) and SDP offer/answer with github.com/pion/sdp/v3.
//
// The media itself is not here: the application gives each call a MediaLeg
// (rtp.Leg satisfies it) and sip/ tells the leg where to send, which codec
// was negotiated and when the peer holds. The application owns and closes
// the leg.
//
// Every log line carries component=sip, and call_id for a call; phone
// numbers are masked (138****5678) unless Config.ShowNumbers is set.
//
// Outbound failures come back as *CallError (Kind: busy, no answer,
// rejected, ...); an established call ends with a HangupReason (remote BYE,
// media timeout, session expired, ...). UA.Registration reports each
// trunk's registration. Tests run two UAs in one process: listen on
// 127.0.0.1:0 and read the bound port with UA.Addr.
//
// Usage:
//
//	ua, err := sip.NewUA(sip.Config{
//		Listen: []sip.Listener{{Network: "udp", Addr: "0.0.0.0:5080"}},
//		ExternalHost: "203.0.113.7",
//		Trunks: []sip.Trunk{{
//			Name: "carrier", Address: "sip.carrier.example:5060",
//			Username: "10001", Password: secret, Register: true,
//			PAssertedIdentity: "sip:+8675512345678@sip.carrier.example",
//		}},
//	})
//	if err != nil { ... }
//	ua.OnCall(func(ctx context.Context, in *sip.Incoming) {
//		leg := newLeg() // the application's RTP leg
//		call, err := in.Answer(ctx, leg)
//		if err != nil { leg.Close(); return }
//		<-call.Done()
//		leg.Close()
//	})
//	if err := ua.Start(ctx); err != nil { ... }
//	defer ua.Close(context.Background())
//
//	call, err := ua.Dial(ctx, sip.DialRequest{Trunk: "carrier", To: "13812345678", Media: leg})
//	var ce *sip.CallError
//	if errors.As(err, &ce) && ce.Kind == sip.FailureBusy { ... }
//	...
//	select {
//	case <-call.Done(): // the customer hung up: call.Reason() says why
//	case <-scriptDone:
//		call.Hangup(ctx)
//	}
package sip
