package main

import (
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readSayWAV checks the header of a WAV written by say and returns its
// duration in seconds.
func readSayWAV(t *testing.T, path string) float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		t.Fatalf("%s is not a canonical WAV", path)
	}
	rate := binary.LittleEndian.Uint32(b[24:])
	ch := binary.LittleEndian.Uint16(b[22:])
	bits := binary.LittleEndian.Uint16(b[34:])
	n := binary.LittleEndian.Uint32(b[40:])
	if rate != 8000 || ch != 1 || bits != 16 || int(n) != len(b)-44 {
		t.Fatalf("%s: %d Hz, %d channels, %d bits, %d data bytes of %d", path, rate, ch, bits, n, len(b)-44)
	}
	return float64(n) / 2 / 8000
}

func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed in CI", name)
		}
		t.Skipf("%s not installed; skipping", name)
	}
}

func TestSayCommandWritesWhatACallHears(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// An OpenAI-compatible server answering raw 24 kHz PCM: 1 s of a ramp.
		pcm := make([]byte, 2*24000)
		for i := 0; i < 24000; i++ {
			binary.LittleEndian.PutUint16(pcm[2*i:], uint16(int16((i%200)*50)))
		}
		w.Write(pcm)
	}))
	defer srv.Close()
	prompts := t.TempDir()
	os.MkdirAll(filepath.Join(prompts, "zh"), 0o755)
	for id, secs := range map[string]float64{"greeting": 0.5, "zh/3": 0.2, "zh/1000": 0.2, "zh/5": 0.2, "zh/100": 0.2, "zh/yuan": 0.2} {
		os.WriteFile(filepath.Join(prompts, id+".wav"), sayWAV(make([]int16, int(secs*8000))), 0o644)
	}
	tests := []struct {
		name     string
		tools    []string
		args     []string
		min, max float64 // seconds
	}{
		{"prompts with a spoken amount", nil, []string{"--engine", "prompts", "--opt", "dir=" + prompts, "--lang", "zh-CN", "greeting {amount:3500}"}, 1.5, 1.52},
		{"flite", []string{"flite"}, []string{"--engine", "flite", "Your payment is due on Friday."}, 1, 5},
		{"espeak chinese", []string{"espeak-ng", "sox"}, []string{"--engine", "espeak", "--lang", "zh-CN", "您好，您的账单明天到期。"}, 1, 8},
		{"http pcm", nil, []string{"--engine", "http", "--opt", "url=" + srv.URL, "--opt", "format=pcm", "--voice", "alloy", "hello"}, 0.98, 1.02},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, tool := range tc.tools {
				requireTool(t, tool)
			}
			out := filepath.Join(t.TempDir(), "out.wav")
			msg, err := runWaihu(t, "", append([]string{"say", "--out", out}, tc.args...)...)
			if err != nil {
				t.Fatalf("say: %v\n%s", err, msg)
			}
			if secs := readSayWAV(t, out); secs < tc.min || secs > tc.max {
				t.Errorf("%.2f s of audio, want %.2f–%.2f", secs, tc.min, tc.max)
			}
			if !strings.Contains(msg, "s at 8 kHz") {
				t.Errorf("output %q", msg)
			}
		})
	}
}

func TestSayCommandExplainsBadEngines(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown engine lists the known", []string{"say", "--out", "x.wav", "--engine", "festival", "hi"}, `tts engine "festival" (choose one of: espeak, flite, http, prompts)`},
		{"missing program says how to install", []string{"say", "--out", "x.wav", "--engine", "flite", "--opt", "path=/nonexistent/flite", "hi"}, "install Debian package flite"},
		{"http needs a url", []string{"say", "--out", "x.wav", "--engine", "http", "hi"}, "no server URL configured"},
		{"bad option", []string{"say", "--out", "x.wav", "--opt", "novalue", "hi"}, "want key=value"},
		{"no output file", []string{"say", "hi"}, "--out FILE.wav is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runWaihu(t, "", tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
