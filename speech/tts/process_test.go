package tts

import (
	"errors"
	"testing"
	"time"

	"github.com/waihu/waihu/speech"
	"go.uber.org/goleak"
)

func TestProcessEnginesSpeakAt8kHz(t *testing.T) {
	tests := []struct {
		name, program, text, lang string
		build                     func() (speech.Synthesizer, error)
	}{
		{"flite english", "flite", "Hello, this is a reminder that your payment is due tomorrow.", "en-US",
			func() (speech.Synthesizer, error) { return NewFlite(FliteConfig{}) }},
		{"espeak english", "espeak-ng", "Hello, this is a reminder that your payment is due tomorrow.", "en-US",
			func() (speech.Synthesizer, error) { return NewEspeak(EspeakConfig{}) }},
		{"espeak chinese", "espeak-ng", "您好，提醒您明天是还款日。", "zh-CN",
			func() (speech.Synthesizer, error) { return NewEspeak(EspeakConfig{}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireProgram(t, tc.program)
			requireProgram(t, "sox")
			s, err := tc.build()
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			stream, err := s.Synthesize(bg, tc.text, speech.SynthOptions{Language: tc.lang, CallID: "test"})
			if err != nil {
				t.Fatal(err)
			}
			pcm, first := readStream(t, stream, start)
			secs := float64(len(pcm)) / speech.SampleRate
			t.Logf("%s: %.2f s of audio, first frame after %v, rms %.0f", tc.name, secs, first, rms(pcm))
			if len(pcm)%speech.FrameSamples != 0 {
				t.Errorf("%d samples is not whole frames", len(pcm))
			}
			if secs < 1 || secs > 8 {
				t.Errorf("%.2f s of audio for one sentence at 8 kHz: wrong rate?", secs)
			}
			if rms(pcm) < 300 {
				t.Errorf("rms %.0f: no speech", rms(pcm))
			}
		})
	}
}

func TestProcessEnginesStopOnClose(t *testing.T) {
	long := "This sentence is long enough that the program is still speaking when the caller interrupts it. "
	for i := 0; i < 4; i++ {
		long += long
	}
	for _, program := range []string{"flite", "espeak-ng"} {
		t.Run(program, func(t *testing.T) {
			requireProgram(t, program)
			requireProgram(t, "sox")
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			var s speech.Synthesizer
			var err error
			if program == "flite" {
				s, err = NewFlite(FliteConfig{})
			} else {
				s, err = NewEspeak(EspeakConfig{})
			}
			if err != nil {
				t.Fatal(err)
			}
			stream, err := s.Synthesize(bg, long, speech.SynthOptions{})
			if err != nil {
				t.Fatal(err)
			}
			frame := make([]int16, speech.FrameSamples)
			if err := stream.Read(frame); err != nil {
				t.Fatal(err)
			}
			inner := stream
			if lt, isTrim := inner.(*leadTrimmer); isTrim {
				inner = lt.AudioStream
			}
			proc, ok := inner.(*procStream)
			if seq, isSeq := inner.(*seqStream); isSeq {
				proc, ok = seq.cur.(*procStream)
			}
			if !ok {
				t.Fatalf("stream is %T", stream)
			}
			start := time.Now()
			if err := stream.Close(); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("Close took %v", d)
			}
			for _, c := range proc.cmds {
				if c.ProcessState == nil {
					t.Errorf("%s still running after Close", c.Path)
				}
			}
			if err := stream.Read(frame); !errors.Is(err, ErrClosed) {
				t.Errorf("Read after Close: %v, want ErrClosed", err)
			}
		})
	}
}

func TestProcessEngineReportsProgramFailure(t *testing.T) {
	// flite falls back to its default voice when asked for an unknown one,
	// so a program that exits 1 without output stands in for a crash.
	requireProgram(t, "false")
	s, err := NewFlite(FliteConfig{Path: "false"})
	if err != nil {
		t.Fatal(err)
	}
	stream, err := s.Synthesize(bg, "hello", speech.SynthOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	frame := make([]int16, speech.FrameSamples)
	var rerr error
	for rerr == nil {
		rerr = stream.Read(frame)
	}
	if !errors.Is(rerr, ErrSynthesis) {
		t.Fatalf("failing program gave %v, want ErrSynthesis", rerr)
	}
}

func TestMissingProgramSaysHowToInstall(t *testing.T) {
	_, err := NewFlite(FliteConfig{Path: "/nonexistent/flite"})
	if !errors.Is(err, speech.ErrEngineUnavailable) || err.Error() != "/nonexistent/flite not found in PATH: install Debian package flite" {
		t.Fatalf("err = %v", err)
	}
	_, err = NewEspeak(EspeakConfig{SoxPath: "/nonexistent/sox"})
	if !errors.Is(err, speech.ErrEngineUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

func BenchmarkFirstFrame(b *testing.B) {
	for _, program := range []string{"flite", "espeak-ng"} {
		b.Run(program, func(b *testing.B) {
			requireProgram(b, program)
			requireProgram(b, "sox")
			var s speech.Synthesizer
			var err error
			if program == "flite" {
				s, err = NewFlite(FliteConfig{})
			} else {
				s, err = NewEspeak(EspeakConfig{})
			}
			if err != nil {
				b.Fatal(err)
			}
			frame := make([]int16, speech.FrameSamples)
			for b.Loop() {
				stream, err := s.Synthesize(bg, "Your payment of three hundred dollars is due on Friday.", speech.SynthOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if err := stream.Read(frame); err != nil {
					b.Fatal(err)
				}
				stream.Close()
			}
		})
	}
}
