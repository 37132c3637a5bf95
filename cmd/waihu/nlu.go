package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/waihu/waihu/speech"
	"github.com/waihu/waihu/speech/nlu"
)

func init() { register(nluCommand) }

// nluLine is one output line of waihu nlu.
type nluLine struct {
	Text         string               `json:"text"`
	Intent       string               `json:"intent"`
	Confidence   float64              `json:"confidence"`
	Language     string               `json:"language,omitempty"`
	Slots        []speech.Slot        `json:"slots"`
	Alternatives []speech.IntentScore `json:"alternatives,omitempty"`
}

func nluCommand() *cobra.Command {
	var script, now string
	var threshold float64
	cmd := &cobra.Command{
		Use:   "nlu --script FILE",
		Short: "Classify utterances from stdin with a script's intents, one JSON line each",
		Long: `nlu trains the intent classifier from FILE — an intents file, or a dialog
script with a top-level intents: section — then reads one utterance per line
on stdin and prints one JSON line per utterance:
{"text", "intent", "confidence", "language", "slots", "alternatives"}.
Relative dates ("明天下午三点", "next Friday at 3 pm") are resolved against
--now (RFC 3339), or the current time.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if script == "" {
				return fmt.Errorf("nlu: --script FILE is required")
			}
			data, err := os.ReadFile(script)
			if err != nil {
				return fmt.Errorf("nlu: read script: %w", err)
			}
			ref := time.Now()
			if now != "" {
				if ref, err = time.Parse(time.RFC3339, now); err != nil {
					return fmt.Errorf("nlu: --now %q: want RFC 3339 such as 2026-11-25T10:00:00+08:00: %w", now, err)
				}
			}
			c, err := nlu.NewFromYAML(cmd.Context(), data, nlu.Config{Threshold: threshold})
			if err != nil {
				return fmt.Errorf("nlu: script %s: %w", script, err)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetEscapeHTML(false)
			sc := bufio.NewScanner(cmd.InOrStdin())
			sc.Buffer(make([]byte, 64*1024), 1<<20)
			for sc.Scan() {
				text := strings.TrimSpace(sc.Text())
				if text == "" {
					continue
				}
				u, err := c.UnderstandAt(cmd.Context(), text, ref)
				if err != nil {
					return fmt.Errorf("nlu: %w", err)
				}
				line := nluLine{Text: text, Intent: u.Intent, Confidence: round3(u.Confidence), Language: u.Language, Slots: u.Slots}
				if line.Slots == nil {
					line.Slots = []speech.Slot{}
				}
				for _, a := range u.Alternatives[:min(2, len(u.Alternatives))] {
					line.Alternatives = append(line.Alternatives, speech.IntentScore{Intent: a.Intent, Confidence: round3(a.Confidence)})
				}
				if err := enc.Encode(line); err != nil {
					return fmt.Errorf("nlu: write: %w", err)
				}
			}
			if err := sc.Err(); err != nil {
				return fmt.Errorf("nlu: read stdin: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&script, "script", "", "intents YAML or dialog script with an intents: section")
	cmd.Flags().StringVar(&now, "now", "", "reference time for relative dates (RFC 3339; default now)")
	cmd.Flags().Float64Var(&threshold, "threshold", 0, "confidence under which an utterance is out_of_scope (default 0.5; negative disables)")
	return cmd
}

func round3(v float64) float64 { return float64(int(v*1000+0.5)) / 1000 }
