package dialog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/waihu/waihu/speech"
)

// synthFrame is one message from a synthesis pump.
type synthFrame struct {
	gen   uint64
	buf   *[speech.FrameSamples]int16
	chunk int
	eoc   bool // end of chunk
	done  bool // end of the whole prompt
	err   error
	at    time.Time // when synthesis produced the frame
}

// synthJob reads synthesis streams on its own goroutine, since Read may
// block for as long as the engine takes, while the call's goroutine must
// keep reacting to the caller within a frame.
type synthJob struct {
	out    chan synthFrame
	free   chan *[speech.FrameSamples]int16
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	st     speech.AudioStream
	closed bool
}

// stop cancels the synthesis and closes its stream at once, mid-sentence,
// without waiting for the pump goroutine; wait does that.
func (j *synthJob) stop() {
	j.cancel()
	j.mu.Lock()
	defer j.mu.Unlock()
	j.closed = true
	if j.st != nil {
		j.st.Close()
		j.st = nil
	}
}

func (j *synthJob) setStream(st speech.AudioStream) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		st.Close()
		return false
	}
	j.st = st
	return true
}

func (j *synthJob) endStream() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.st != nil {
		j.st.Close()
		j.st = nil
	}
}

// startSynth starts a pump for chunks of text (or one prompt id).
func (c *conv) startSynth(ctx context.Context, gen uint64, synth speech.Synthesizer, chunks []string) *synthJob {
	ctx, cancel := context.WithCancel(ctx)
	j := &synthJob{out: make(chan synthFrame, 4), free: make(chan *[speech.FrameSamples]int16, 6), cancel: cancel}
	for range cap(j.free) {
		j.free <- new([speech.FrameSamples]int16)
	}
	opts := speech.SynthOptions{Voice: c.s.Voice, Language: c.s.Language, CallID: c.call.ID}
	send := func(f synthFrame) bool {
		select {
		case j.out <- f:
			return true
		case <-ctx.Done():
			return false
		}
	}
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		for i, text := range chunks {
			st, err := synth.Synthesize(ctx, text, opts)
			if err != nil {
				send(synthFrame{gen: gen, err: fmt.Errorf("synthesise %q: %w", text, err)})
				return
			}
			if !j.setStream(st) {
				return
			}
			for {
				var buf *[speech.FrameSamples]int16
				select {
				case buf = <-j.free:
				case <-ctx.Done():
					j.endStream()
					return
				}
				err := st.Read(buf[:])
				if errors.Is(err, io.EOF) {
					j.free <- buf
					break
				}
				if err != nil {
					j.endStream()
					if ctx.Err() == nil {
						send(synthFrame{gen: gen, err: fmt.Errorf("synthesise %q: %w", text, err)})
					}
					return
				}
				if !send(synthFrame{gen: gen, buf: buf, chunk: i, at: c.cfg.Now()}) {
					j.endStream()
					return
				}
			}
			j.endStream()
			if !send(synthFrame{gen: gen, chunk: i, eoc: true}) {
				return
			}
		}
		send(synthFrame{gen: gen, done: true})
	}()
	return j
}

// playResult says how a prompt ended.
type playResult struct {
	// input is the caller's answer that cut the prompt, if any.
	input *input
}

// play speaks text (or plays prompt) to the caller. An interruptible prompt
// stops when the caller barges in or presses a key, and play returns that
// input; false interruptions and backchannels let it go on. The transcript
// gets what was actually played.
func (c *conv) play(ctx context.Context, node, text, prompt string, interruptible bool) (playResult, error) {
	synth, chunks := c.cfg.Synthesizer, clauses(text)
	if prompt != "" && c.cfg.Prompts != nil {
		synth, chunks = c.cfg.Prompts, []string{prompt}
		if text == "" {
			text = "[prompt " + prompt + "]"
		}
	}
	if len(chunks) == 0 {
		if prompt != "" {
			return playResult{}, engineError{fmt.Errorf("node %q: prompt %q needs a prompt player, and the node has no text to speak instead", node, prompt)}
		}
		return playResult{}, nil
	}
	c.gen++
	gen := c.gen
	job := c.startSynth(ctx, gen, synth, chunks)
	defer func() {
		job.stop()
		job.wg.Wait()
	}()
	c.r.setPlaying(true, interruptible)
	defer c.r.setPlaying(false, false)

	p := &playback{c: c, node: node, free: job.free, chunks: chunks, chunkFrames: make([]int, len(chunks)), chunkDone: make([]bool, len(chunks))}
	p.entry = Entry{Side: SideBot, Node: node, At: c.r.now(), Text: text}
	cuts := c.r.cuts.Load()
	paused, confirmed := false, false
	// held is a frame taken from the pump while the reader was cutting the
	// prompt; it is written if the prompt resumes. A value, not a pointer,
	// so receiving frames allocates nothing.
	var held synthFrame
	hasHeld := false
	timer := time.NewTimer(c.cfg.SynthTimeout)
	defer timer.Stop()
	finish := func(in *input) (playResult, error) {
		p.entry.End = c.r.now()
		if in != nil {
			p.truncate(text)
			c.playEnd = c.r.frameCount.Load()
			if p.written > 0 {
				c.emit(Event{Kind: EventBotSaid, Node: node, Text: p.entry.Text, Interrupted: true})
			}
		} else {
			p.entry.FramesPlayed = int(p.written - p.dropped)
			// Frames play one per tick after the first, except those
			// cleared by false interruptions, and not while paused.
			c.playEnd = p.firstFrame + p.pausedFrames + p.written - p.dropped
		}
		c.rec.Transcript = append(c.rec.Transcript, p.entry)
		return playResult{input: in}, nil
	}
	pause := func(frame int64) {
		if paused {
			return
		}
		paused = true
		timer.Stop()
		p.pause(frame)
	}
	resume := func() {
		paused = false
		p.resume(c.r.frameCount.Load())
		p.entry.Resumed++
		cuts = c.r.cuts.Load()
		timer.Reset(c.cfg.SynthTimeout)
		c.log.Debug("false interruption, prompt resumes", "node", node)
	}
	cut := func(in *input) (playResult, error) {
		if !confirmed {
			job.stop()
			c.gen++ // frames still in flight belong to a dead generation
		}
		c.log.Info("barge-in", "node", node, "played_frames", p.played)
		return finish(in)
	}
	for {
		if !paused && p.replay > 0 {
			if err := p.writeReplay(ctx); err != nil {
				return playResult{}, err
			}
			continue
		}
		if !paused && hasHeld {
			hasHeld = false
			if err := p.write(ctx, &held); err != nil {
				return playResult{}, err
			}
			continue
		}
		frameCh := job.out
		if paused {
			frameCh = nil
		}
		select {
		case f := <-frameCh:
			switch {
			case f.gen != c.gen:
				if f.buf != nil {
					job.free <- f.buf
				}
			case f.buf != nil && interruptible && c.r.cuts.Load() != cuts:
				// The reader already cleared the leg; its event is on its
				// way. Writing this frame would play stale audio.
				held, hasHeld = f, true
				pause(c.r.frameCount.Load())
			case f.err != nil:
				return playResult{}, engineError{f.err}
			case f.done:
				return finish(nil)
			case f.eoc:
				p.chunkDone[f.chunk] = true
			default:
				if !timer.Stop() {
					select {
					case <-timer.C:
					default:
					}
				}
				timer.Reset(c.cfg.SynthTimeout)
				if err := p.write(ctx, &f); err != nil {
					return playResult{}, err
				}
			}
		case ev := <-c.r.events:
			switch ev.kind {
			case evSpeechStart:
				if ev.barged && interruptible {
					pause(ev.frame)
				}
			case evSpeechLong:
				if paused && !confirmed {
					// Too long for a backchannel: drop the rest of the prompt now.
					confirmed = true
					job.stop()
					c.gen++
				}
			case evSpeechEnd:
				if paused && !confirmed && ev.speechFrames < frames(c.cfg.MinBargeIn) {
					resume()
				}
			case evUtterance:
				u := ev.utt
				if !interruptible || u.overGuarded {
					c.callerEntry(node, u, "")
					continue
				}
				if !confirmed && (u.text == "" || (paused && c.backchannel(u.text))) {
					if u.text != "" {
						c.callerEntry(node, u, "backchannel")
					}
					if paused {
						resume()
					}
					continue
				}
				if !paused {
					// The caller began before this prompt armed the reader's
					// cut, so nothing was cleared yet.
					c.call.Leg.ClearOutput()
					pause(c.r.frameCount.Load())
				}
				return cut(&input{utt: u})
			case evError:
				return playResult{}, ev.err
			}
		case d := <-c.call.DTMF:
			c.emitDigit(node, d)
			if !interruptible {
				c.digits = append(c.digits, d)
				continue
			}
			c.call.Leg.ClearOutput()
			pause(c.r.frameCount.Load())
			return cut(&input{digit: &d})
		case <-timer.C:
			return playResult{}, engineError{fmt.Errorf("synthesis of node %q gave no audio for %v", node, c.cfg.SynthTimeout)}
		case <-ctx.Done():
			return playResult{}, errHungUp
		}
	}
}

// replayFrames is how many recent frames a prompt keeps to replay after a
// false interruption: more than the leg's output queue holds.
const replayFrames = 16

// playback counts what one prompt wrote and played.
type playback struct {
	c           *conv
	node        string
	chunks      []string
	chunkFrames []int
	chunkDone   []bool
	entry       Entry
	written     int64 // frames written to the leg
	firstFrame  int64 // reader's frame count at the first write
	played      int64 // frames heard when paused (written minus those cleared)
	dropped     int64 // frames cleared from the leg's queue over all pauses
	pausedAt    int64 // frame of the latest pause
	lost        int64 // frames the latest pause dropped from the leg
	replay      int64 // frames of history still to write again
	// history keeps the last frames written, to replay those a false
	// interruption dropped from the leg's queue (rtp.Leg queues 10).
	history      [replayFrames][speech.FrameSamples]int16
	histN        int64 // frames ever put in history
	pausedFrames int64 // frames spent paused, which played nothing
	free         chan *[speech.FrameSamples]int16
}

func (p *playback) write(ctx context.Context, f *synthFrame) error {
	c := p.c
	if p.written == 0 && c.turn >= 0 {
		c.rec.Turns[c.turn].FirstSynth = f.at
	}
	err := c.call.Leg.WriteFrame(ctx, f.buf[:])
	p.chunkFrames[f.chunk]++
	p.history[p.histN%replayFrames] = *f.buf
	p.histN++
	p.free <- f.buf // never blocks: the pool has room for every buffer
	if err != nil {
		if ctx.Err() != nil {
			return errHungUp
		}
		return fmt.Errorf("play to caller: %w: %w", errHungUp, err)
	}
	if p.written == 0 {
		// The leg may still be playing the previous prompt's queued
		// frames; this one is heard only after them.
		p.firstFrame = max(c.r.frameCount.Load(), c.playEnd)
		if c.turn >= 0 {
			c.rec.Turns[c.turn].FirstWrite = c.cfg.Now()
			c.turn = -1
		}
		c.emit(Event{Kind: EventBotSaid, Node: p.node, Text: p.entry.Text})
	}
	p.written++
	return nil
}

// pause notes how much had been heard when the leg's queue was cleared at
// frame: frames cannot play faster than the clock, so no more than the
// frames elapsed while playing since the first write were heard; the rest
// were dropped from the queue.
func (p *playback) pause(frame int64) {
	heard := p.written - p.dropped
	if p.written > 0 {
		heard = min(heard, max(0, frame-p.firstFrame-p.pausedFrames))
	}
	p.lost = p.written - p.dropped - heard
	p.dropped = p.written - heard
	p.played = heard
	p.pausedAt = frame
}

// resume counts the frames spent paused, which played nothing, and queues
// the frames the cut dropped from the leg to be written again, so the
// caller hears the prompt go on from where it stopped.
func (p *playback) resume(frame int64) {
	p.pausedFrames += max(0, frame-p.pausedAt)
	p.replay = min(p.lost, replayFrames, p.histN)
	p.lost = 0
}

// writeReplay writes the oldest frame still to be replayed.
func (p *playback) writeReplay(ctx context.Context) error {
	i := (p.histN - p.replay) % replayFrames
	if err := p.c.call.Leg.WriteFrame(ctx, p.history[i][:]); err != nil {
		if ctx.Err() != nil {
			return errHungUp
		}
		return fmt.Errorf("play to caller: %w: %w", errHungUp, err)
	}
	p.replay--
	p.written++
	return nil
}

// truncate sets the entry's text to the part of the prompt that was heard:
// whole clauses, then the words of the cut clause in proportion to the
// frames heard of it.
func (p *playback) truncate(full string) {
	p.entry.Interrupted = true
	p.entry.Intended = full
	p.entry.FramesPlayed = int(p.played)
	if len(p.chunks) == 1 && p.chunks[0] != full { // a recorded prompt
		return
	}
	left := int(p.played)
	var b strings.Builder
	for i, ch := range p.chunks {
		if p.chunkDone[i] && p.chunkFrames[i] <= left {
			b.WriteString(ch)
			left -= p.chunkFrames[i]
			continue
		}
		total := p.chunkFrames[i]
		if !p.chunkDone[i] {
			total = max(total, estimateFrames(ch))
		}
		if left > 0 && total > 0 {
			b.WriteString(prefixWords(ch, float64(left)/float64(total)))
		}
		break
	}
	p.entry.Text = strings.TrimSpace(b.String())
	if p.entry.Text != strings.TrimSpace(full) {
		p.entry.Text += "…"
	}
}

// estimateFrames guesses how long text takes to say: about 70 ms a Latin
// letter and 230 ms a Han character at ordinary speaking rates.
func estimateFrames(text string) int {
	var ms int
	for _, r := range text {
		if unicode.Is(unicode.Han, r) {
			ms += 230
		} else if !unicode.IsSpace(r) {
			ms += 70
		}
	}
	return ms / 20
}

// prefixWords returns the first fraction of text's words (of its
// characters, for Chinese), ending at a word boundary.
func prefixWords(text string, fraction float64) string {
	if fraction >= 1 {
		return text
	}
	rs := []rune(text)
	n := int(float64(len(rs)) * fraction)
	if n <= 0 {
		return ""
	}
	for n < len(rs) && !unicode.IsSpace(rs[n]) && !unicode.Is(unicode.Han, rs[n-1]) {
		n--
		if n == 0 {
			return ""
		}
	}
	return string(rs[:n])
}

// clauses splits text into sentences (and Chinese clauses), each
// synthesised in turn: the first is heard sooner, and after a cut the
// transcript knows which ones were played whole.
func clauses(text string) []string {
	var out []string
	start := 0
	rs := []rune(text)
	for i, r := range rs {
		end := strings.ContainsRune("。！？；，!?;", r) ||
			(strings.ContainsRune(".", r) && (i+1 == len(rs) || unicode.IsSpace(rs[i+1])))
		if end {
			if s := strings.TrimSpace(string(rs[start : i+1])); s != "" {
				out = append(out, s+spaceAfter(s))
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(string(rs[start:])); s != "" {
		out = append(out, s)
	}
	if len(out) > 0 {
		out[len(out)-1] = strings.TrimRight(out[len(out)-1], " ")
	}
	return out
}

// spaceAfter keeps the space between English sentences when clauses are
// joined back into a transcript.
func spaceAfter(s string) string {
	rs := []rune(s)
	if unicode.Is(unicode.Han, rs[len(rs)-1]) || strings.ContainsRune("。！？；，", rs[len(rs)-1]) {
		return ""
	}
	return " "
}

// backchannel reports whether text only says "go on".
func (c *conv) backchannel(text string) bool {
	t := strings.ToLower(strings.TrimFunc(text, func(r rune) bool {
		return unicode.IsPunct(r) || unicode.IsSpace(r)
	}))
	for _, b := range c.cfg.Backchannels {
		if t == b {
			return true
		}
	}
	return false
}
