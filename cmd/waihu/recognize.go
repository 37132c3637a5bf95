package main

import (
	"fmt"
	"io"
	"os"

	"github.com/go-audio/wav"
	"github.com/spf13/cobra"

	"github.com/waihu/waihu/dsp"
	"github.com/waihu/waihu/speech/sphinx"
)

func init() { register(recognizeCommand) }

func recognizeCommand() *cobra.Command {
	var grammar, modelDir, dict string
	cmd := &cobra.Command{
		Use:   "recognize --grammar FILE AUDIO.wav...",
		Short: "Recognise WAV files with the native sphinx recogniser against a grammar",
		Long: `recognize decodes each WAV file (any sample rate; it is converted to the
8 kHz a call carries, then upsampled for the model exactly as in a call) against
a grammar: a file with one phrase per line, a JSGF grammar (#JSGF header), or
keyphrases to spot, one "phrase /threshold/" per line (threshold as a likelihood
ratio against a free phone loop, e.g. /1e-10/). It prints one line per file:
file, hypothesis (empty when rejected or nothing was spotted), confidence.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if grammar == "" {
				return fmt.Errorf("recognize: --grammar FILE is required")
			}
			text, err := os.ReadFile(grammar)
			if err != nil {
				return fmt.Errorf("recognize: read grammar: %w", err)
			}
			r, err := sphinx.New(sphinx.Config{Model: sphinx.ModelConfig{Dir: modelDir, Dict: dict}})
			if err != nil {
				return fmt.Errorf("recognize: %w", err)
			}
			phrases := []string{string(text)}
			if _, err := r.Network(phrases); err != nil {
				return fmt.Errorf("recognize: grammar %s: %w", grammar, err)
			}
			return recognizeFiles(cmd, r, phrases, args, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&grammar, "grammar", "", "phrase list (one per line) or JSGF grammar file")
	cmd.Flags().StringVar(&modelDir, "model", "", "sphinx model directory (default "+sphinx.DefaultModelDir+")")
	cmd.Flags().StringVar(&dict, "dict", "", "pronouncing dictionary (default "+sphinx.DefaultDict+")")
	return cmd
}

func recognizeFiles(cmd *cobra.Command, r *sphinx.Recognizer, phrases, files []string, out io.Writer) error {
	failed := 0
	for _, f := range files {
		audio, err := readWAV8k(f)
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "recognize: %v\n", err)
			failed++
			continue
		}
		hyps, err := r.DecodeUtterance(cmd.Context(), phrases, audio)
		if err != nil {
			return fmt.Errorf("recognize %s: %w", f, err)
		}
		text, conf := "", 0.0
		if len(hyps) > 0 {
			text, conf = hyps[0].Text, hyps[0].Confidence
		}
		fmt.Fprintf(out, "%s\t%s\t%.3f\n", f, text, conf)
	}
	if failed > 0 {
		return fmt.Errorf("recognize: %d of %d files could not be read", failed, len(files))
	}
	return nil
}

// readWAV8k reads a PCM WAV file, mixes it to mono and converts it to 8 kHz.
func readWAV8k(path string) ([]int16, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read audio: %w", err)
	}
	defer f.Close()
	d := wav.NewDecoder(f)
	if !d.IsValidFile() {
		return nil, fmt.Errorf("%s: not a PCM WAV file", path)
	}
	buf, err := d.FullPCMBuffer()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ch, rate := buf.Format.NumChannels, buf.Format.SampleRate
	if ch <= 0 || rate <= 0 {
		return nil, fmt.Errorf("%s: %d channels at %d Hz", path, ch, rate)
	}
	shift := 0
	switch {
	case d.BitDepth > 16:
		shift = int(d.BitDepth) - 16
	case d.BitDepth == 8:
		shift = -8
	}
	mono := make([]int16, 0, len(buf.Data)/ch)
	for i := 0; i+ch <= len(buf.Data); i += ch {
		sum := 0
		for c := range ch {
			v := buf.Data[i+c]
			if d.BitDepth == 8 {
				v -= 128
			}
			if shift >= 0 {
				v >>= shift
			} else {
				v <<= -shift
			}
			sum += v
		}
		mono = append(mono, int16(max(-32768, min(32767, sum/ch))))
	}
	if rate == 8000 {
		return mono, nil
	}
	rs, err := dsp.NewResampler(dsp.ResamplerConfig{InRate: rate, OutRate: 8000})
	if err != nil {
		return nil, fmt.Errorf("%s: resample %d Hz to 8 kHz: %w", path, rate, err)
	}
	out := make([]int16, rs.MaxOut(len(mono)+rs.Taps()))
	n := rs.Process(out, mono)
	n += rs.Process(out[n:], make([]int16, rs.Taps()))
	return out[:n], nil
}
