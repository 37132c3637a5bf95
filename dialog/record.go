package dialog

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/waihu/waihu/speech"
)

// Side says who spoke a transcript entry.
type Side string

// The two sides of a call.
const (
	// SideBot is waihu: prompts, answers and messages.
	SideBot Side = "bot"
	// SideCaller is the called person: utterances and DTMF.
	SideCaller Side = "caller"
)

// Record is everything that happened in one call, for campaign outcomes,
// reports and training data.
type Record struct {
	// CallID names the call.
	CallID string `json:"call_id"`
	// Script is the script's name; Variant the chosen script variant
	// ("" when the script has none).
	Script  string `json:"script"`
	Variant string `json:"variant,omitempty"`
	// NodeVariants maps node id to the variant chosen for it.
	NodeVariants map[string]string `json:"node_variants,omitempty"`
	// Start and End are wall-clock times of the engine's run.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Outcome is the hangup node's outcome, "transferred", the fallback's
	// outcome, or "hung_up" when the caller left first.
	Outcome string `json:"outcome"`
	// TransferredTo is the URI the call was handed to.
	TransferredTo string `json:"transferred_to,omitempty"`
	// TransferSummary is what a warm transfer told the agent about the
	// call (Briefing.Text).
	TransferSummary string `json:"transfer_summary,omitempty"`
	// Tags and Variables are the contact's after the call.
	Tags      []string          `json:"tags,omitempty"`
	Variables map[string]string `json:"variables,omitempty"`
	// Path lists the nodes visited, in order.
	Path []string `json:"path"`
	// Transcript is both sides' words, DTMF and messages, in order.
	Transcript []Entry `json:"transcript"`
	// Turns are the caller's answers with the latency of each stage.
	Turns []Turn `json:"turns,omitempty"`
	// BeepAt is when a voicemail node heard the answering machine's beep,
	// in frame time like Entry.At; zero when it heard none.
	BeepAt time.Duration `json:"beep_at,omitempty"`
	// Error is why the fallback ran, if it did.
	Error string `json:"error,omitempty"`
}

// Entry is one line of the transcript. At and End are offsets from the start
// of the call in the leg's frame time (frames read × 20 ms), the clock the
// audio itself keeps.
type Entry struct {
	// Side is who spoke.
	Side Side `json:"side"`
	// Node is the script node being run.
	Node string `json:"node,omitempty"`
	// At and End bound the entry in frame time.
	At  time.Duration `json:"at"`
	End time.Duration `json:"end,omitempty"`
	// Text is what was actually played (bot) or recognised (caller).
	Text string `json:"text,omitempty"`
	// Intended is the bot's full text when Interrupted cut it short.
	Intended    string `json:"intended,omitempty"`
	Interrupted bool   `json:"interrupted,omitempty"`
	// Resumed counts false interruptions after which the prompt went on.
	Resumed int `json:"resumed,omitempty"`
	// FramesPlayed counts frames written to the leg before any cut.
	FramesPlayed int `json:"frames_played,omitempty"`
	// DTMF is a digit pressed by the caller.
	DTMF string `json:"dtmf,omitempty"`
	// Message is true for a SIP MESSAGE sent, not spoken.
	Message bool `json:"message,omitempty"`
	// Backchannel is true for "mm-hm" and the like heard over a prompt.
	Backchannel bool `json:"backchannel,omitempty"`
	// Intent, Confidence and Slots are the understanding of a caller's
	// utterance.
	Intent     string        `json:"intent,omitempty"`
	Confidence float64       `json:"confidence,omitempty"`
	Slots      []speech.Slot `json:"slots,omitempty"`
	// ASRConfidence is the recogniser's confidence in Text.
	ASRConfidence float64 `json:"asr_confidence,omitempty"`
	// Emotion, Voiceprint and AMD are cues about the utterance.
	Emotion    string `json:"emotion,omitempty"`
	Voiceprint string `json:"voiceprint,omitempty"`
	AMD        string `json:"amd,omitempty"`
}

// Turn holds the wall-clock time of each stage from the end of the caller's
// speech to the bot's reply reaching the leg, one per understood utterance;
// zero times mark stages that did not happen (no reply before the hang-up).
// Keys pressed make no Turn: there is no speech to time.
type Turn struct {
	// Node is the listen node the caller answered.
	Node string `json:"node"`
	// VADEnd is when the VAD saw the caller stop.
	VADEnd time.Time `json:"vad_end"`
	// Final is when the recogniser's final result arrived.
	Final time.Time `json:"final"`
	// Understood is when the understander answered.
	Understood time.Time `json:"understood"`
	// FirstSynth is when the reply's first frame came out of synthesis.
	FirstSynth time.Time `json:"first_synth"`
	// FirstWrite is when that frame was written to the leg.
	FirstWrite time.Time `json:"first_write"`
}

// Latency is the time from VADEnd to FirstWrite, or 0 if either is missing.
func (t Turn) Latency() time.Duration {
	if t.VADEnd.IsZero() || t.FirstWrite.IsZero() {
		return 0
	}
	return t.FirstWrite.Sub(t.VADEnd)
}

// RecordSink stores finished call records.
type RecordSink interface {
	// Save stores one record.
	Save(ctx context.Context, r Record) error
}

// JSONFileSink writes each record as Dir/<call id>.json.
type JSONFileSink struct {
	// Dir is the directory; it is created if missing.
	Dir string
}

// Save implements RecordSink. The file appears complete or not at all.
func (s JSONFileSink) Save(ctx context.Context, r Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save record of call %q: %w", r.CallID, err)
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("save record of call %q: %w", r.CallID, err)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("save record of call %q: %w", r.CallID, err)
	}
	name := strings.Map(func(c rune) rune {
		if c == '/' || c == '\\' || c == 0 {
			return '_'
		}
		return c
	}, r.CallID)
	if name == "" || name == "." || name == ".." {
		name = "call-" + r.Start.Format("20060102T150405.000000000")
	}
	path := filepath.Join(s.Dir, name+".json")
	tmp, err := os.CreateTemp(s.Dir, ".record-*")
	if err != nil {
		return fmt.Errorf("save record of call %q: %w", r.CallID, err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save record of call %q to %s: %w", r.CallID, path, werr)
	}
	return nil
}
