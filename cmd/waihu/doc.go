// Command waihu is the one binary of waihu: the SIP/RTP media server with its speech
// pipeline and demo bot (serve), and the tools around it: call (one outbound call),
// campaign (the dialer), bench (channels and voice-to-voice latency), recognize, nlu
// and say (the speech engines on their own, for script authors).
//
// Each subcommand lives in its own file and adds itself with register from an init
// function, so main.go stays short.
package main
