package tts

import (
	"io"
	"strings"

	"github.com/waihu/waihu/speech"
)

// minSentenceRunes keeps very short pieces ("Hi.", "好的。") with the next
// sentence, so splitting does not chop the prosody of short phrases.
const minSentenceRunes = 20

// splitSentences cuts text after sentence-ending punctuation in either
// language. An engine that synthesises a whole text before writing any of
// it (flite) then starts playing after the first sentence, not the last.
func splitSentences(text string) []string {
	var out []string
	var cur strings.Builder
	n := 0
	for _, r := range text {
		cur.WriteRune(r)
		n++
		if strings.ContainsRune(".!?;。！？；\n", r) && n >= minSentenceRunes {
			if s := strings.TrimSpace(cur.String()); s != "" {
				out = append(out, s)
			}
			cur.Reset()
			n = 0
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		if len(out) > 0 && n < minSentenceRunes/2 {
			sep := " "
			if prev := out[len(out)-1]; strings.HasSuffix(prev, "。") || strings.HasSuffix(prev, "！") || strings.HasSuffix(prev, "？") || strings.HasSuffix(prev, "；") {
				sep = ""
			}
			out[len(out)-1] += sep + s
		} else {
			out = append(out, s)
		}
	}
	return out
}

// seqStream plays sentences one after another, starting each engine run
// only when the previous one is finished, so Close never leaves a queue of
// processes behind.
type seqStream struct {
	parts  []string
	start  func(string) (speech.AudioStream, error)
	cur    speech.AudioStream
	closed bool
}

// Read implements speech.AudioStream.
func (s *seqStream) Read(dst []int16) error {
	if s.closed {
		return ErrClosed
	}
	for {
		if s.cur == nil {
			if len(s.parts) == 0 {
				return io.EOF
			}
			st, err := s.start(s.parts[0])
			if err != nil {
				return err
			}
			s.cur, s.parts = st, s.parts[1:]
		}
		err := s.cur.Read(dst)
		if err != io.EOF {
			return err
		}
		s.cur.Close()
		s.cur = nil
	}
}

// Close stops the sentence playing and drops the rest.
func (s *seqStream) Close() error {
	s.closed = true
	s.parts = nil
	if s.cur != nil {
		return s.cur.Close()
	}
	return nil
}
