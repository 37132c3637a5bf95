package dialog

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/waihu/waihu/dsp"
	"github.com/waihu/waihu/internal/audiofile"
	"github.com/waihu/waihu/speech"
)

// memLeg is a test double of the leg only: a pipe of frames with one clock.
// Every ReadFrame is one 20 ms tick: it plays (pops) one queued bot frame and
// returns one caller frame from a caller script that reacts to what the bot
// plays. WriteFrame queues like rtp.Leg (10 frames) and blocks while full.
// Frames run at legSpeed times real time, so the engine has a real (if
// short) frame period to keep up in; while the bot is talking a read also
// waits a little for the engine's next frame, so a loaded machine that is
// slow to schedule the engine does not chop prompts into pieces.
type memLeg struct {
	mu    sync.Mutex
	out   [][]int16
	depth int
	space chan struct{}
	data  chan struct{}

	lastRead     time.Time
	closed       bool
	idle         func() bool // reports the engine is not synthesising
	clearsBot    []int64     // botPlayed at each ClearOutput
	frame        int64       // frames read
	botPlayed    int64       // bot frames played
	lastBotFrame int64       // frame at which the last bot frame played
	played       []int64     // frame at which each bot frame played
	talking      bool
	clears       []int64 // frames at which ClearOutput was called

	steps    []step
	stepAt   int64 // frame at which the current step began
	stepBot  int64 // botPlayed when the current step began
	clip     []int16
	clipPos  int
	clips    []clipRec
	dtmf     chan Digit
	onsetDBF float64
}

// legSpeed is how many times faster than real time memLeg's clock runs.
const legSpeed = 10

type clipRec struct {
	text  string
	start int64 // frame the clip began
	onset int64 // frame its first loud frame played
	used  bool  // the recogniser has reported it
}

// step is one action of the simulated caller.
type step struct {
	// waitSilent waits until the bot has played something since the step
	// began and has then been silent this many frames, with no synthesis
	// under way: the bot is waiting for the caller.
	waitSilent int64
	// waitBot waits until the bot has played this many frames since the
	// step began.
	waitBot int64
	// pause is silence for this many frames.
	pause int64
	// say plays a clip; text is what the test recogniser will hear.
	say  []int16
	text string
	// key presses a DTMF key.
	key rune
	// hangup closes the leg: reads fail from then on.
	hangup bool
}

var errLegClosed = errors.New("leg closed")

func newMemLeg(steps ...step) *memLeg {
	return &memLeg{
		depth: 10, space: make(chan struct{}, 1), data: make(chan struct{}, 1),
		steps: steps, dtmf: make(chan Digit, 4), onsetDBF: -40,
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (l *memLeg) WriteFrame(ctx context.Context, src []int16) error {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return errLegClosed
		}
		if len(l.out) < l.depth {
			l.out = append(l.out, append([]int16(nil), src...))
			l.mu.Unlock()
			signal(l.data)
			return nil
		}
		l.mu.Unlock()
		select {
		case <-l.space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *memLeg) ClearOutput() {
	l.mu.Lock()
	l.out = l.out[:0]
	l.clears = append(l.clears, l.frame)
	l.clearsBot = append(l.clearsBot, l.botPlayed)
	l.mu.Unlock()
	signal(l.space)
}

func (l *memLeg) ReadFrame(ctx context.Context, dst []int16) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	// Pace from the previous read, not from the start: after a stall of
	// the machine the clock must not rush to catch up, or the engine would
	// fall behind through no fault of its own.
	due := l.lastRead.Add(speech.FrameDuration / legSpeed)
	l.mu.Unlock()
	if d := time.Until(due); d > 0 {
		time.Sleep(d)
	}
	l.mu.Lock()
	wait := l.talking && len(l.out) == 0
	l.mu.Unlock()
	if wait {
		t := time.NewTimer(30 * time.Millisecond)
		select {
		case <-l.data:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		t.Stop()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errLegClosed
	}
	l.lastRead = time.Now()
	l.frame++
	l.talking = len(l.out) > 0
	if l.talking {
		l.out = l.out[1:]
		l.botPlayed++
		l.lastBotFrame = l.frame
		l.played = append(l.played, l.frame)
		signal(l.space)
	}
	clear(dst)
	l.caller(dst)
	return nil
}

// caller advances the caller script by one frame (l.mu held).
func (l *memLeg) caller(dst []int16) {
	for len(l.steps) > 0 {
		s := &l.steps[0]
		switch {
		case s.waitSilent > 0:
			if l.lastBotFrame <= l.stepAt || l.frame-l.lastBotFrame < s.waitSilent || (l.idle != nil && !l.idle()) {
				return
			}
		case s.waitBot > 0:
			if l.botPlayed-l.stepBot < s.waitBot {
				return
			}
		case s.pause > 0:
			if l.frame-l.stepAt < s.pause {
				return
			}
		case s.say != nil:
			if l.clip == nil {
				l.clip, l.clipPos = s.say, 0
				l.clips = append(l.clips, clipRec{text: s.text, start: l.frame, onset: -1})
			}
			if l.clipPos < len(l.clip) {
				copy(dst, l.clip[l.clipPos:min(len(l.clip), l.clipPos+len(dst))])
				l.clipPos += len(dst)
				c := &l.clips[len(l.clips)-1]
				if c.onset < 0 && dsp.EnergyDBFS(dst) > l.onsetDBF {
					c.onset = l.frame
				}
				return
			}
			l.clip = nil
		case s.key != 0:
			l.dtmf <- Digit{Digit: s.key, At: time.Now()}
		case s.hangup:
			l.closed = true
		}
		l.steps = l.steps[1:]
		l.stepAt, l.stepBot = l.frame, l.botPlayed
	}
}

// heard returns the text of the latest clip the recogniser has not
// reported yet, once: that is what a perfect recogniser would hear.
func (l *memLeg) heard() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.clips) - 1; i >= 0; i-- {
		if !l.clips[i].used {
			l.clips[i].used = true
			return l.clips[i].text
		}
	}
	return ""
}

func (l *memLeg) snapshot() (clears, clearsBot []int64, clips []clipRec) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int64(nil), l.clears...), append([]int64(nil), l.clearsBot...), append([]clipRec(nil), l.clips...)
}

// scriptedRecognizer stands in for speech/sphinx, which has not landed: at
// each end of utterance it reports, with confidence 0.9, the text of the clip
// the leg is playing. It is what a recogniser that never errs would say; the
// VAD deciding when utterances start and end is dsp's real one.
type scriptedRecognizer struct {
	leg     *memLeg
	failNew error
	mute    bool // never give a final
	mu      sync.Mutex
	phrases [][]string
}

func (r *scriptedRecognizer) NewStream(ctx context.Context, opts speech.StreamOptions) (speech.RecognizerStream, error) {
	if r.failNew != nil {
		return nil, r.failNew
	}
	r.mu.Lock()
	r.phrases = append(r.phrases, opts.Phrases)
	r.mu.Unlock()
	return &scriptedStream{leg: r.leg, results: make(chan speech.Result, 8), mute: r.mute}, nil
}

type scriptedStream struct {
	leg     *memLeg
	results chan speech.Result
	frames  int
	closed  bool
	mute    bool
}

func (s *scriptedStream) Write(frame []int16) error {
	if len(frame) != speech.FrameSamples {
		return errors.New("bad frame")
	}
	s.frames++
	return nil
}

func (s *scriptedStream) EndUtterance() error {
	if s.mute {
		return nil // a recogniser that hangs
	}
	s.results <- speech.Result{Text: s.leg.heard(), Final: true, Confidence: 0.9}
	return nil
}

func (s *scriptedStream) Results() <-chan speech.Result { return s.results }

func (s *scriptedStream) Close() error {
	if !s.closed {
		s.closed = true
		close(s.results)
	}
	return nil
}

// fliteClip is real speech for the simulated caller: flite's kal voice
// speaks at 8 kHz, so no resampling stands between it and the VAD.
func fliteClip(t testing.TB, text string) []int16 {
	t.Helper()
	if _, err := exec.LookPath("flite"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("flite not installed (Debian package flite): %v", err)
		}
		t.Skip("flite not installed (Debian package flite)")
	}
	path := filepath.Join(t.TempDir(), "clip.wav")
	if out, err := exec.Command("flite", "-t", text, "-o", path).CombinedOutput(); err != nil {
		t.Fatalf("flite %q: %v: %s", text, err, out)
	}
	pcm, _, err := audiofile.ReadFile(path)
	if err != nil {
		t.Fatalf("read flite clip: %v", err)
	}
	return pcm
}

// toneSynth is a fast stand-in synthesiser: a 440 Hz tone lasting as long
// as estimateFrames says the text takes. It can fail on cue.
type toneSynth struct {
	mu        sync.Mutex
	failOn    string // Synthesize fails for text containing this
	failAfter int    // ... or Read fails after this many frames (0: never)
	texts     []string
	open      int // streams not closed yet
}

func (s *toneSynth) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open == 0
}

func (s *toneSynth) Synthesize(ctx context.Context, text string, opts speech.SynthOptions) (speech.AudioStream, error) {
	s.mu.Lock()
	s.texts = append(s.texts, text)
	s.mu.Unlock()
	if s.failOn != "" && containsFold(text, s.failOn) && s.failAfter == 0 {
		return nil, errors.New("synthesiser crashed")
	}
	n := max(1, estimateFrames(text))
	st := &toneStream{s: s, left: n}
	s.mu.Lock()
	s.open++
	s.mu.Unlock()
	if s.failOn != "" && containsFold(text, s.failOn) {
		st.failAt = s.failAfter
	}
	return st, nil
}

type toneStream struct {
	s      *toneSynth
	left   int
	i      int
	failAt int
	closed bool
}

func (t *toneStream) Read(dst []int16) error {
	if t.failAt > 0 && t.i >= t.failAt {
		return errors.New("synthesiser died mid-sentence")
	}
	if t.left == 0 {
		return errIOEOF
	}
	for k := range dst[:speech.FrameSamples] {
		dst[k] = int16(3000 * sin440(t.i*speech.FrameSamples+k))
	}
	t.left--
	t.i++
	return nil
}

func (t *toneStream) Close() error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if !t.closed {
		t.closed = true
		t.s.open--
	}
	return nil
}
