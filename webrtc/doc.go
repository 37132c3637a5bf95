// Package webrtc is the WebRTC media leg of a call: a pion/webrtc peer
// connection (ICE host candidates, DTLS-SRTP, RTCP reports) carrying one
// G.711 audio track, so a browser softphone reaches the speech pipeline
// without transcoding.
//
// A Leg answers the browser's SDP offer with PCMU (PCMA when the offer has
// no PCMU) and then behaves like an rtp.Leg: ReadFrame and WriteFrame move
// 20 ms frames of 8 kHz int16 PCM in real time, ClearOutput drops queued
// audio for barge-in. It also satisfies sip.MediaLeg, so the SIP layer can
// watch it for the media timeout.
//
// Signalling is not here: the SDP travels in SIP over WebSocket (sip/ws.go)
// and the application hands it to Leg.Answer.
package webrtc
