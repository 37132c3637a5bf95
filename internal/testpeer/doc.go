// Package testpeer starts and drives the real SIP peers that waihu's
// interoperability tests talk to — sipp, baresip and kamailio — and makes the
// media they exchange: PCMU/PCMA pcap files for sipp's play_pcap_audio, WAV
// files, a tiny RTP receiver that decodes G.711 and RFC 4733 events, and a
// normalised cross-correlation to compare what was sent with what came back.
//
// It is imported only by tests. Every peer runs on 127.0.0.1 on a free port
// (never 5060), under a context deadline, and is stopped by its PID. When a
// peer's program is missing, Need skips the test with a clear message, unless
// the environment variable CI is set: there a missing peer is a failure.
package testpeer
