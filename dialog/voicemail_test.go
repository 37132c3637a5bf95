package dialog

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/dsp"
	"github.com/waihu/waihu/speech"
)

// amdCues runs dsp's answering-machine detector on the caller's audio, as
// cmd/waihu's cues do on placed calls.
type amdCues struct {
	amd     *dsp.AMDDetector
	verdict string
}

func (a *amdCues) Write(frame []int16) {
	if a.amd.Done() {
		return
	}
	for _, r := range a.amd.Process(frame) {
		switch r.Kind {
		case dsp.AMDHuman:
			a.verdict = "human"
		case dsp.AMDUnknown:
			a.verdict = "unknown"
		default:
			a.verdict = "machine"
		}
	}
}

func (a *amdCues) Utterance() Cues {
	if a.verdict == "" {
		return Cues{AMD: "unknown"}
	}
	return Cues{AMD: a.verdict}
}

const voicemailScript = `name: voicemail_test
language: en-US
variables: {name: Alex}
intents:
  affirm: ["yes", "yes it is", "speaking"]
  deny: ["no", "wrong number"]
fallback: {text: "Goodbye."}
nodes:
  - id: hello
    kind: listen
    text: "Hello, is this ${name}?"
    timeout: 3s
    retries: 2
    branches:
      - {amd: machine, goto: message}
      - {intent: affirm, goto: bye}
    on_no_input: message
  - id: message
    kind: voicemail
    text: "Hi ${name}, this is Harbor Bank about your loan offer. Please call us back. Goodbye."
    beep_timeout: 4s
  - id: bye
    kind: hangup
    outcome: interested
`

// tone is a sine of freqHz at levelDBFS (as dsp.EnergyDBFS reads it).
func tone(d time.Duration, levelDBFS, freqHz float64) []int16 {
	n := int(d * speech.SampleRate / time.Second)
	amp := 32768 * math.Sqrt2 * math.Pow(10, levelDBFS/20)
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*freqHz*float64(i)/speech.SampleRate))
	}
	return out
}

func silence(d time.Duration) []int16 { return make([]int16, int(d*speech.SampleRate/time.Second)) }

func concat(parts ...[]int16) []int16 {
	var out []int16
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func samplesDuration(n int) time.Duration { return time.Duration(n) * time.Second / speech.SampleRate }

// TestVoicemailLeavesTheMessageAfterTheBeep calls an answering machine
// made of real parts: flite's greeting (about 5 s), a pause, a beep, then
// the silence of a recorder. The bot talks first, the greeting cuts it,
// dsp's AMD calls it a machine, and the voicemail node must start the
// message after the beep, never during the greeting; without a beep it
// waits beep_timeout and then leaves the message, or goes to on_no_beep.
func TestVoicemailLeavesTheMessageAfterTheBeep(t *testing.T) {
	t.Parallel()
	greeting := fliteClip(t, "Hi, you have reached John Smith. Please leave a message after the tone.")
	if d := samplesDuration(len(greeting)); d < 3*time.Second || d > 7*time.Second {
		t.Fatalf("greeting lasts %v, want a machine's 3 to 5 s or so", d)
	}
	pause := silence(600 * time.Millisecond)
	for _, tc := range []struct {
		name     string
		beep     []int16 // nil: a machine without a beep
		onNoBeep bool    // the script goes to a hangup node without a beep
		global   bool    // the script's on_machine, not a branch, leads to the node
		outcome  string
	}{
		{"1 kHz beep", tone(500*time.Millisecond, -12, 1000), false, false, "voicemail"},
		{"440 Hz beep", tone(700*time.Millisecond, -15, 440), false, false, "voicemail"},
		{"1 kHz beep, reached by on_machine", tone(400*time.Millisecond, -12, 1000), false, true, "voicemail"},
		{"no beep: the message after beep_timeout", nil, false, false, "voicemail"},
		{"no beep: on_no_beep", nil, true, false, "no_input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			script := voicemailScript
			if tc.onNoBeep {
				script = strings.Replace(script, "    beep_timeout: 4s\n", "    beep_timeout: 4s\n    on_no_beep: nobeep\n", 1) +
					"  - id: nobeep\n    kind: hangup\n    outcome: no_input\n"
			}
			if tc.global {
				script = strings.Replace(script, "      - {amd: machine, goto: message}\n", "", 1)
				script = strings.Replace(script, "nodes:\n", "on_machine: message\nnodes:\n", 1)
			}
			machine := concat(greeting, pause, tc.beep, silence(20*time.Second))
			r := newRigScript(t, script, step{say: machine, text: "hi you have reached the voicemail of john smith"})
			e, err := New(r.cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			rec, err := e.Run(ctx, Call{ID: "vm", Leg: r.leg, DTMF: r.leg.dtmf, Cues: &amdCues{amd: dsp.NewAMDDetector(dsp.AMDConfig{})}})
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, dump(rec))
			}
			if rec.Outcome != tc.outcome || !strings.HasPrefix(strings.Join(rec.Path, " "), "hello message") {
				t.Fatalf("outcome %q path %v, want %s via the voicemail node\n%s", rec.Outcome, rec.Path, tc.outcome, dump(rec))
			}
			// The machine was told apart by dsp's AMD, not by silence.
			amd := ""
			for _, e := range rec.Transcript {
				if e.Node == "hello" && e.Side == SideCaller && e.AMD != "" {
					amd = e.AMD
				}
			}
			if amd != "machine" {
				t.Errorf("the greeting's AMD cue is %q, want machine\n%s", amd, dump(rec))
			}
			_, _, clips := r.leg.snapshot()
			start := time.Duration(clips[0].start) * speech.FrameDuration
			greetingEnd := start + samplesDuration(len(greeting))
			beepEnd := greetingEnd + samplesDuration(len(pause)+len(tc.beep))
			msg := botEntries(rec, "message")
			if tc.onNoBeep {
				if len(msg) != 0 || rec.BeepAt != 0 {
					t.Errorf("message %+v beep %v: want no message and no beep", msg, rec.BeepAt)
				}
				return
			}
			if len(msg) != 1 || msg[0].Interrupted || msg[0].FramesPlayed != estimateFrames(msg[0].Text) || !strings.HasPrefix(msg[0].Text, "Hi Alex, this is Harbor Bank") {
				t.Fatalf("message entries %+v, want the whole message once", msg)
			}
			at := msg[0].At
			// What the leg actually played: the message is the last prompt,
			// so its first frame is FramesPlayed from the end.
			r.leg.mu.Lock()
			played := append([]int64(nil), r.leg.played...)
			r.leg.mu.Unlock()
			heardAt := time.Duration(played[len(played)-msg[0].FramesPlayed]) * speech.FrameDuration
			if heardAt < at || heardAt > at+200*time.Millisecond {
				t.Errorf("the message's first frame played at %v, want just after the node started it at %v", heardAt, at)
			}
			if first, last := played[len(played)-msg[0].FramesPlayed], played[len(played)-1]; last-first != int64(msg[0].FramesPlayed-1) {
				t.Errorf("the message played over frames %d–%d, want its %d frames without a gap", first, last, msg[0].FramesPlayed)
			}
			if tc.beep != nil {
				if rec.BeepAt < beepEnd || rec.BeepAt > beepEnd+200*time.Millisecond {
					t.Errorf("beep heard at %v, want just after it ended at %v", rec.BeepAt, beepEnd)
				}
				// After the beep, and promptly: the recorder is running.
				// (The bot's question may be heard over the greeting: it
				// talks first, and the greeting's pauses resume it.)
				if at < beepEnd || at > beepEnd+time.Second {
					t.Errorf("message started at %v, want after the beep ending at %v and within 1 s of it (greeting ended at %v)", at, beepEnd, greetingEnd)
				}
			} else {
				if rec.BeepAt != 0 {
					t.Errorf("beep heard at %v in a machine that has none", rec.BeepAt)
				}
				// The node began once the greeting's turn ended, and waited
				// its 4 s.
				node := time.Duration(0)
				for _, e := range rec.Transcript {
					if e.Node == "hello" && e.Side == SideCaller {
						node = max(node, e.End)
					}
				}
				if at < node+4*time.Second || at > node+5500*time.Millisecond {
					t.Errorf("message started at %v, want beep_timeout (4 s) after the node began, which was soon after the greeting's end was heard at %v", at, node)
				}
			}
			t.Logf("greeting %v–%v, beep end %v, beep heard %v, message at %v", start, greetingEnd, beepEnd, rec.BeepAt, at)
		})
	}
}
