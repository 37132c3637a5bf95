package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/waihu/waihu/speech"
	"github.com/waihu/waihu/speech/tts"
)

func init() { register(sayCommand) }

func sayCommand() *cobra.Command {
	var engine, voice, lang, out string
	var opts []string
	cmd := &cobra.Command{
		Use:   "say --engine NAME --out FILE.wav TEXT",
		Short: "Write what a call would hear for TEXT as an 8 kHz 16-bit mono WAV",
		Long: `say synthesises TEXT with a TTS engine exactly as a call plays it — 20 ms
frames of 8 kHz mono — and writes them to an 8 kHz 16-bit mono WAV file.

Engines: flite, espeak, http, prompts (see docs/speech.md). Engine options are
given as --opt key=value, e.g. --opt url=http://127.0.0.1:8880 for http,
--opt dir=prompts/ for prompts (whose TEXT is prompt ids and {kind:value} items).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("say: --out FILE.wav is required")
			}
			o := speech.Options{}
			for _, kv := range opts {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return fmt.Errorf("say: --opt %q: want key=value", kv)
				}
				o[k] = v
			}
			if voice != "" {
				o["voice"] = voice
			}
			reg := speech.NewRegistry()
			tts.Register(reg)
			syn, err := reg.Synthesizer(engine, o)
			if err != nil {
				return fmt.Errorf("say: %w", err)
			}
			stream, err := syn.Synthesize(cmd.Context(), strings.Join(args, " "), speech.SynthOptions{Voice: voice, Language: lang, CallID: "say"})
			if err != nil {
				return fmt.Errorf("say: %w", err)
			}
			defer stream.Close()
			var pcm []int16
			frame := make([]int16, speech.FrameSamples)
			for {
				err := stream.Read(frame)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return fmt.Errorf("say: %w", err)
				}
				pcm = append(pcm, frame...)
			}
			if err := os.WriteFile(out, sayWAV(pcm), 0o644); err != nil {
				return fmt.Errorf("say: write %s: %w", out, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %.2f s at 8 kHz\n", out, float64(len(pcm))/speech.SampleRate)
			return nil
		},
	}
	cmd.Flags().StringVar(&engine, "engine", "flite", "TTS engine: flite, espeak, http, prompts")
	cmd.Flags().StringVar(&voice, "voice", "", "engine voice (flite: kal; espeak: en-us, cmn; http: the server's)")
	cmd.Flags().StringVar(&lang, "lang", "en-US", "language: en-US or zh-CN")
	cmd.Flags().StringVar(&out, "out", "", "WAV file to write")
	cmd.Flags().StringArrayVar(&opts, "opt", nil, "engine option key=value (repeatable)")
	return cmd
}

// sayWAV encodes 8 kHz mono PCM as a canonical 44-byte-header WAV.
func sayWAV(pcm []int16) []byte {
	b := make([]byte, 44, 44+2*len(pcm))
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*len(pcm)))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], speech.SampleRate)
	binary.LittleEndian.PutUint32(b[28:], 2*speech.SampleRate)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*len(pcm)))
	for _, v := range pcm {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	return b
}
