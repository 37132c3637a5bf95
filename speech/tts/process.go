package tts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"time"
)

// ErrSynthesis is wrapped by errors of an engine that failed while
// speaking: a program that exited non-zero, a server that answered with an
// error.
var ErrSynthesis = errors.New("synthesis failed")

// limitedBuffer keeps the first bytes of a program's stderr for error
// messages without letting a chatty program grow memory.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write keeps what fits and reports everything written, so the program
// never blocks on a full stderr.
func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := 2048 - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// String returns the kept bytes, trimmed.
func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(bytes.TrimSpace(l.buf.Bytes()))
}

// procStream reads audio from the stdout of a pipeline of programs (flite,
// or espeak-ng | sox). Close kills them all.
type procStream struct {
	what   string // "flite" or "espeak-ng", for errors
	ctx    context.Context
	cancel context.CancelFunc
	cmds   []*exec.Cmd
	stderr []*limitedBuffer
	out    io.ReadCloser
	raw    *pcmFormat // nil: stdout is a WAV stream
	fr     *frameReader
	ended  bool
	once   sync.Once
	err    error
}

// startPipeline starts argvs, each piping its stdout into the next, with
// stdin (if not empty) fed to the first.
func startPipeline(ctx context.Context, what string, argvs [][]string, stdin string, raw *pcmFormat) (*procStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	p := &procStream{what: what, ctx: ctx, cancel: cancel, raw: raw}
	var prev io.Reader
	if stdin != "" {
		prev = bytes.NewReader([]byte(stdin))
	}
	for i, argv := range argvs {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.WaitDelay = time.Second
		cmd.Stdin = prev
		eb := &limitedBuffer{}
		cmd.Stderr = eb
		out, err := cmd.StdoutPipe()
		if err != nil {
			p.kill()
			return nil, fmt.Errorf("start %s: %w", argv[0], err)
		}
		if err := cmd.Start(); err != nil {
			p.kill()
			return nil, fmt.Errorf("start %s: %w", argv[0], err)
		}
		p.cmds = append(p.cmds, cmd)
		p.stderr = append(p.stderr, eb)
		if i == len(argvs)-1 {
			p.out = out
		}
		prev = out
	}
	return p, nil
}

func (p *procStream) kill() {
	p.cancel()
	for _, c := range p.cmds {
		_ = c.Wait()
	}
}

// Read implements speech.AudioStream.
func (p *procStream) Read(dst []int16) error {
	if p.ctx.Err() != nil && !p.ended {
		return fmt.Errorf("%s: %w", p.what, ErrClosed)
	}
	if p.fr == nil {
		var f pcmFormat
		if p.raw != nil {
			f = *p.raw
		} else {
			var err error
			if f, err = readWAVHeader(p.out); err != nil {
				return p.fail(err)
			}
		}
		fr, err := newFrameReader(p.out, f)
		if err != nil {
			return p.fail(err)
		}
		p.fr = fr
	}
	err := p.fr.Read(dst)
	if err == io.EOF {
		p.ended = true
		if werr := p.wait(); werr != nil {
			return werr
		}
		return io.EOF
	}
	if err != nil {
		return p.fail(err)
	}
	return nil
}

// fail turns a read error into the program's own complaint when it has one.
func (p *procStream) fail(err error) error {
	if werr := p.wait(); werr != nil {
		return werr
	}
	if p.ctx.Err() != nil {
		return fmt.Errorf("%s: %w", p.what, ErrClosed)
	}
	return fmt.Errorf("%s output: %w", p.what, err)
}

// wait reaps the programs once and reports the first that failed.
func (p *procStream) wait() error {
	p.once.Do(func() {
		for i, c := range p.cmds {
			if err := c.Wait(); err != nil && p.ctx.Err() == nil && p.err == nil {
				p.err = fmt.Errorf("%s: %s: %w: %w: %s", p.what, c.Path, ErrSynthesis, err, p.stderr[i])
			}
		}
	})
	return p.err
}

// Close kills the programs (barge-in) and reaps them.
func (p *procStream) Close() error {
	p.cancel()
	_ = p.wait()
	return nil
}
