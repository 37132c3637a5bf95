package dialog

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waihu/waihu/dsp"
	"github.com/waihu/waihu/speech"
)

// scriptedVAD reports speech start and end at given frames (1-based, as
// the reader counts them).
type scriptedVAD struct {
	n      int64
	starts map[int64]bool
	ends   map[int64]bool
}

func (v *scriptedVAD) Process([]int16) VADEvent {
	v.n++
	switch {
	case v.starts[v.n]:
		return VADSpeechStart
	case v.ends[v.n]:
		return VADSpeechEnd
	}
	return VADNone
}

// fixedRecognizer gives each end of utterance a final of fixed confidence,
// with words numbered in order.
type fixedRecognizer struct {
	confidence float64
	mu         sync.Mutex
	count      int
}

func (f *fixedRecognizer) NewStream(context.Context, speech.StreamOptions) (speech.RecognizerStream, error) {
	return &fixedStream{f: f, results: make(chan speech.Result, 4)}, nil
}

type fixedStream struct {
	f       *fixedRecognizer
	results chan speech.Result
	closed  bool
}

func (s *fixedStream) Write([]int16) error { return nil }
func (s *fixedStream) EndUtterance() error {
	s.f.mu.Lock()
	s.f.count++
	text := []string{"", "one", "two", "three"}[min(s.f.count, 3)]
	s.f.mu.Unlock()
	s.results <- speech.Result{Text: text, Final: true, Confidence: s.f.confidence}
	return nil
}
func (s *fixedStream) Results() <-chan speech.Result { return s.results }
func (s *fixedStream) Close() error {
	if !s.closed {
		s.closed = true
		close(s.results)
	}
	return nil
}

// newTestReader builds a reader over a silent memLeg outside any engine run.
func newTestReader(t testing.TB, vad VAD, asr speech.Recognizer) (*reader, *memLeg) {
	s, err := Parse("t.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Script: s, Recognizer: asr, Understander: nopUnderstander{}, Synthesizer: &toneSynth{},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	leg := newMemLeg()
	c := &conv{e: e, cfg: &e.cfg, s: s, call: Call{ID: "r", Leg: leg}, log: e.cfg.Logger, turn: -1}
	r := newReader(c, vad)
	c.r = r
	return r, leg
}

type nopUnderstander struct{}

func (nopUnderstander) Understand(context.Context, string) (speech.Understanding, error) {
	return speech.Understanding{Intent: "out_of_scope"}, nil
}

func TestTurnEndsAfterEndSilenceUnlessTheFinalIsConfident(t *testing.T) {
	endSilence := frames(400 * time.Millisecond)
	for _, tc := range []struct {
		name       string
		confidence float64
		starts     []int64
		ends       []int64
		wantFrame  int64 // frame of evUtterance
		wantText   string
	}{
		{"confident final ends the turn at the VAD's end", 0.95, []int64{10}, []int64{30}, 30, "one"},
		{"unsure final waits for the end silence", 0.5, []int64{10}, []int64{30}, 30 + endSilence, "one"},
		{"speech resuming within the silence is the same turn", 0.5, []int64{10, 40}, []int64{30, 60}, 60 + endSilence, "one two"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vad := &scriptedVAD{starts: map[int64]bool{}, ends: map[int64]bool{}}
			for _, f := range tc.starts {
				vad.starts[f] = true
			}
			for _, f := range tc.ends {
				vad.ends[f] = true
			}
			r, _ := newTestReader(t, vad, &fixedRecognizer{confidence: tc.confidence})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			done := make(chan struct{})
			go func() {
				defer close(done)
				r.run(ctx, cancel)
			}()
			defer func() { cancel(); <-done; r.close() }()
			var kinds []eventKind
			for {
				select {
				case ev := <-r.events:
					kinds = append(kinds, ev.kind)
					if ev.kind != evUtterance {
						continue
					}
					if ev.frame != tc.wantFrame || ev.utt.text != tc.wantText || ev.utt.start != tc.starts[0] {
						t.Fatalf("utterance %q from frame %d at frame %d, want %q from %d at %d",
							ev.utt.text, ev.utt.start, ev.frame, tc.wantText, tc.starts[0], tc.wantFrame)
					}
					return
				case <-ctx.Done():
					t.Fatalf("no utterance; events %v", kinds)
				}
			}
		})
	}
}

func TestReaderCutsOnlyInterruptiblePrompts(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		playing, interruptible bool
		wantCut, wantGuarded   bool
	}{
		{"interruptible prompt", true, true, true, false},
		{"uninterruptible prompt", true, false, false, true},
		{"no prompt", false, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vad := &scriptedVAD{starts: map[int64]bool{5: true}, ends: map[int64]bool{40: true}}
			r, leg := newTestReader(t, vad, &fixedRecognizer{confidence: 0.9})
			r.setPlaying(tc.playing, tc.interruptible)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			done := make(chan struct{})
			go func() {
				defer close(done)
				r.run(ctx, cancel)
			}()
			defer func() { cancel(); <-done; r.close() }()
			for {
				ev := <-r.events
				if ev.kind == evSpeechStart {
					clears, _, _ := leg.snapshot()
					if ev.barged != tc.wantCut || (len(clears) > 0) != tc.wantCut {
						t.Errorf("barged %v, clears %v; want cut %v", ev.barged, clears, tc.wantCut)
					}
					if tc.wantCut && clears[0] != 5 {
						t.Errorf("cleared at frame %d, want 5, the frame the VAD decided", clears[0])
					}
				}
				if ev.kind == evUtterance {
					if ev.utt.overGuarded != tc.wantGuarded {
						t.Errorf("overGuarded %v, want %v", ev.utt.overGuarded, tc.wantGuarded)
					}
					return
				}
			}
		})
	}
}

// BenchmarkReaderFrame measures the reader's work per caller frame outside
// speech (the VAD, the pre-roll, the deadline): it must not allocate.
func BenchmarkReaderFrame(b *testing.B) {
	r, _ := newTestReader(b, &scriptedVAD{}, &fixedRecognizer{})
	r.vad = mustDSPVAD(b)
	frame := make([]int16, speech.FrameSamples)
	for i := range frame {
		frame[i] = int16(300 * sin440(i))
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		copy(r.preroll[r.head], frame)
		r.head = (r.head + 1) % len(r.preroll)
		if err := r.frame(ctx, int64(i+1), frame); err != nil {
			b.Fatal(err)
		}
	}
}

func mustDSPVAD(b *testing.B) VAD {
	v, err := NewDSPVAD(dsp.VADConfig{})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// nullLeg takes frames and drops them.
type nullLeg struct{}

func (nullLeg) ReadFrame(ctx context.Context, dst []int16) error  { <-ctx.Done(); return ctx.Err() }
func (nullLeg) WriteFrame(ctx context.Context, src []int16) error { return nil }
func (nullLeg) ClearOutput()                                      {}

func TestPlayAllocatesNothingPerFrame(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events EventSink
	}{{"no event sink", nil}, {"with an event sink", &countSink{}}} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := newTestReader(t, &scriptedVAD{}, &fixedRecognizer{})
			c := r.c
			c.call.Leg = nullLeg{}
			c.call.Events = tc.events
			ctx := context.Background()
			allocs := func(text string) float64 {
				return testing.AllocsPerRun(5, func() {
					if _, err := c.play(ctx, "n", text, "", true); err != nil {
						t.Fatal(err)
					}
				})
			}
			short := allocs("Hi there")                                  // 16 frames
			long := allocs("Hi there" + strings.Repeat(" and more", 60)) // 500 frames more
			t.Logf("allocations per prompt: %.0f for 16 frames, %.0f for 516", short, long)
			if long-short > 2 {
				t.Errorf("a prompt 500 frames longer costs %.0f more allocations (%.0f vs %.0f), want none per frame", long-short, long, short)
			}
			if s, ok := tc.events.(*countSink); ok && s.n == 0 {
				t.Error("no bot_said event reached the sink")
			}
		})
	}
}
