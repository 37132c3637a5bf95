// Package dialog is waihu's conversation engine: it runs a call script
// (YAML, see docs/scripts.md) over one audio leg, taking turns with the
// called person through a voice activity detector, a streaming recogniser,
// an understander and a synthesiser.
//
// A Script is loaded and validated once (Load, Parse) and is then shared,
// read-only, by every call that runs it. An Engine holds the speech engines
// and tuning (Config); Engine.Run plays one Call from the script's first node
// to a hang-up, a transfer or the script's fallback, and returns its Record,
// which it also hands to the configured RecordSink.
//
// Within a call one goroutine reads the leg: it runs the VAD on every frame,
// streams the caller's speech to the recogniser, and on speech start silences
// an interruptible prompt at once (Leg.ClearOutput) so barge-in never waits
// for the rest of the engine. The call's own goroutine walks the script,
// writes synthesised frames and decides what the caller's turns mean. Stale
// synthesis is told apart by generation numbers, so no frame of an
// interrupted prompt reaches the leg after the interruption.
//
// While it runs, a call reports what happens on it (Call.Events: caller_said,
// bot_said, intent, emotion, dtmf, transferred) without ever waiting on the
// sink. Transfers are warm when the Transferer can brief the agent
// (WarmTransferer, with Summary's account of the call); voicemail nodes leave
// a message after an answering machine's beep (dsp's BeepDetector).
// AnnouncementProgress reads a carrier's early-media announcement.
//
// The package defines what it needs of its collaborators (Leg, VAD,
// CueSource, Transferer, Messenger, RecordSink, EventSink) and uses speech's
// Recognizer, Synthesizer and Understander; rtp, webrtc and speech engines
// satisfy these structurally, and the wiring code adapts what differs (the
// leg's DTMF channel, dsp's VAD).
package dialog
