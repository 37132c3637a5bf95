package asr

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/waihu/waihu/speech"
)

// fakeVosk speaks the vosk-server protocol over a WebSocket: a config
// message, binary 16-bit PCM answered one message each, its own end-points
// after 300 ms of silence, and a last result after {"eof": 1}. Its
// "recogniser" says one word per 200 ms of loud audio, so tests know what
// text to expect.
type fakeVosk struct {
	mode string // "", "drop", "mute", "garbage", "reject"
	t    *testing.T
}

var fakeWords = strings.Fields("one two three four five six seven eight nine ten")

func (f *fakeVosk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.mode == "reject" {
		http.Error(w, "model not loaded", http.StatusInternalServerError)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	typ, b, err := c.Read(ctx)
	var cfg struct {
		Config struct {
			SampleRate int `json:"sample_rate"`
		} `json:"config"`
	}
	if err != nil || typ != websocket.MessageText || json.Unmarshal(b, &cfg) != nil || cfg.Config.SampleRate != 8000 {
		c.Close(websocket.StatusPolicyViolation, "config with sample_rate 8000 expected first")
		return
	}
	var speech, silence, chunks int // samples of loud audio in this utterance, trailing silence
	var uttStart, pos int           // sample positions in the session
	result := func() string {
		n := min(speech/1600, len(fakeWords))
		words := fakeWords[:n]
		res := make([]map[string]any, len(words))
		for i, w := range words {
			st := float64(uttStart+i*1600) / 8000
			res[i] = map[string]any{"conf": 0.9, "start": st, "end": st + 0.2, "word": w}
		}
		b, _ := json.Marshal(map[string]any{"text": strings.Join(words, " "), "result": res})
		return string(b)
	}
	send := func(s string) bool { return c.Write(ctx, websocket.MessageText, []byte(s)) == nil }
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		if typ == websocket.MessageText {
			if !strings.Contains(string(b), `"eof"`) {
				continue
			}
			if f.mode == "mute" {
				<-ctx.Done()
				return
			}
			send(result())
			c.Close(websocket.StatusNormalClosure, "")
			return
		}
		chunks++
		if f.mode == "drop" && chunks == 3 {
			return // the server dies mid-utterance
		}
		if f.mode == "garbage" {
			send("{partial")
			continue
		}
		var ss float64
		n := len(b) / 2
		for i := 0; i < n; i++ {
			v := float64(int16(binary.LittleEndian.Uint16(b[2*i:])))
			ss += v * v
		}
		loud := math.Sqrt(ss/float64(max(n, 1))) > 500
		switch {
		case loud:
			if speech == 0 {
				uttStart = pos
			}
			speech += n
			silence = 0
		case speech > 0:
			silence += n
		}
		pos += n
		if speech > 0 && silence >= 2400 {
			send(result())
			speech, silence = 0, 0
			continue
		}
		words := fakeWords[:min(speech/1600, len(fakeWords))]
		p, _ := json.Marshal(map[string]string{"partial": strings.Join(words, " ")})
		send(string(p))
	}
}

func startFakeVosk(t *testing.T, mode string) string {
	srv := httptest.NewServer(&fakeVosk{mode: mode, t: t})
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// tone writes seconds of a loud tone (speech) or silence as frames.
func writeAudio(t *testing.T, s speech.RecognizerStream, seconds float64, loud bool) error {
	t.Helper()
	frame := make([]int16, speech.FrameSamples)
	for f := 0; f < int(seconds*50); f++ {
		for i := range frame {
			frame[i] = 0
			if loud {
				frame[i] = int16(6000 * math.Sin(2*math.Pi*300*float64(f*160+i)/8000))
			}
		}
		if err := s.Write(frame); err != nil {
			return err
		}
	}
	return nil
}

// collect reads results until a final arrives or the deadline passes.
func collect(t *testing.T, s speech.RecognizerStream, d time.Duration) (partials []string, final *speech.Result) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case r, ok := <-s.Results():
			if !ok {
				return partials, nil
			}
			if r.Final {
				return partials, &r
			}
			partials = append(partials, r.Text)
		case <-deadline:
			return partials, nil
		}
	}
}

var bg = context.Background()

func fmtResult(r *speech.Result) string {
	if r == nil {
		return "<none>"
	}
	return fmt.Sprintf("%q conf %.2f [%v, %v]", r.Text, r.Confidence, r.Start, r.End)
}
