package nlu

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/waihu/waihu/speech"
)

// Config tunes a Classifier. The zero value gives the documented defaults.
type Config struct {
	// L2 is the weight of the L2 penalty on feature weights; 0 means 3e-4.
	L2 float64
	// Threshold is the calibrated probability under which the best intent
	// is rejected as OutOfScope; 0 means 0.5, negative disables rejection.
	Threshold float64
	// Folds is the number of cross-validation folds used to calibrate
	// confidence; 0 means 4, 1 or less than 0 disables calibration
	// (temperature 1).
	Folds int
	// Iterations bounds L-BFGS iterations per fit; 0 means 300.
	Iterations int
	// NoBuiltinOutOfScope leaves out the built-in unrelated sentences that
	// teach the out-of-scope class; a script's own out_of_scope examples
	// are always used.
	NoBuiltinOutOfScope bool
	// Now gives the reference time for relative dates ("明天", "next
	// Friday"); nil means time.Now.
	Now func() time.Time
	// Logger receives training statistics; nil means slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.L2 == 0 {
		c.L2 = 3e-4
	}
	if c.Threshold == 0 {
		c.Threshold = 0.5
	}
	if c.Folds == 0 {
		c.Folds = 4
	}
	if c.Iterations == 0 {
		c.Iterations = 300
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Classifier is a trained intent classifier with slot extraction. It
// implements speech.Understander and is safe for concurrent use.
type Classifier struct {
	cfg         Config
	names       []string
	vocab       map[uint64]int32
	m           *model
	temperature float64
}

var _ speech.Understander = (*Classifier)(nil)

// NewFromYAML parses intents with ParseIntents and trains a Classifier.
func NewFromYAML(ctx context.Context, data []byte, cfg Config) (*Classifier, error) {
	intents, err := ParseIntents(data)
	if err != nil {
		return nil, err
	}
	return New(ctx, intents, cfg)
}

// New trains a Classifier from intents and their examples. An OutOfScope
// intent is always added, trained from the built-in unrelated sentences
// (unless Config.NoBuiltinOutOfScope) plus any out_of_scope examples given.
// Training takes from tens of milliseconds to a few seconds depending on the
// number of examples; ctx cancels it.
func New(ctx context.Context, intents []Intent, cfg Config) (*Classifier, error) {
	cfg = cfg.withDefaults()
	intents, err := validate(intents)
	if err != nil {
		return nil, err
	}
	hasOOS := false
	for i := range intents {
		if intents[i].Name == OutOfScope {
			hasOOS = true
			if !cfg.NoBuiltinOutOfScope {
				intents[i].Examples = append(slices.Clip(intents[i].Examples), builtinOutOfScope...)
			}
		}
	}
	if !hasOOS {
		in := Intent{Name: OutOfScope}
		if !cfg.NoBuiltinOutOfScope {
			in.Examples = builtinOutOfScope
		}
		intents = append(intents, in)
	}
	c := &Classifier{cfg: cfg, vocab: map[uint64]int32{}}
	var rows []sparseRow
	var labels []int
	for _, in := range intents {
		k := len(c.names)
		c.names = append(c.names, in.Name)
		for _, ex := range in.Examples {
			fs := extract(ex)
			row := sparseRow{cols: make([]int32, len(fs)), vals: make([]float64, len(fs))}
			for i, f := range fs {
				col, ok := c.vocab[f.hash]
				if !ok {
					col = int32(len(c.vocab))
					c.vocab[f.hash] = col
				}
				row.cols[i], row.vals[i] = col, f.weight
			}
			rows = append(rows, row)
			labels = append(labels, k)
		}
	}
	if len(c.names) < 2 {
		return nil, fmt.Errorf("%w: need at least one intent besides %s", ErrBadIntents, OutOfScope)
	}
	ts := trainSettings{l2: cfg.L2, iterations: cfg.Iterations}
	start := time.Now()
	c.temperature = 1
	if cfg.Folds > 1 && len(rows) >= 2*cfg.Folds {
		logits, err := foldLogits(ctx, rows, labels, len(c.names), len(c.vocab), cfg.Folds, ts)
		if err != nil {
			return nil, fmt.Errorf("calibrate intent classifier: %w", err)
		}
		c.temperature = fitTemperature(logits, labels)
	}
	c.m, err = train(ctx, rows, labels, len(c.names), len(c.vocab), ts)
	if err != nil {
		return nil, fmt.Errorf("train intent classifier: %w", err)
	}
	cfg.Logger.Debug("nlu: trained intent classifier",
		"intents", len(c.names), "examples", len(rows), "features", len(c.vocab),
		"temperature", c.temperature, "elapsed", time.Since(start))
	return c, nil
}

// Intents lists the classifier's intents, OutOfScope included.
func (c *Classifier) Intents() []string { return slices.Clone(c.names) }

// Temperature is the calibration temperature fitted on held-out folds;
// above 1 means the raw model was over-confident.
func (c *Classifier) Temperature() float64 { return c.temperature }

// Classify returns the intents of text, most likely first, with calibrated
// probabilities summing to 1. The first is OutOfScope when the best
// intent's probability is under Config.Threshold.
func (c *Classifier) Classify(text string) []speech.IntentScore {
	fs := extract(text)
	x := sparseRow{cols: make([]int32, 0, len(fs)), vals: make([]float64, 0, len(fs))}
	for _, f := range fs {
		if col, ok := c.vocab[f.hash]; ok {
			x.cols = append(x.cols, col)
			x.vals = append(x.vals, f.weight)
		}
	}
	z := make([]float64, len(c.names))
	out := make([]speech.IntentScore, len(c.names))
	if len(x.cols) == 0 {
		// Nothing we have ever seen: the model would answer with its
		// biases alone, which says nothing about this utterance.
		for k, n := range c.names {
			out[k] = speech.IntentScore{Intent: n}
			if n == OutOfScope {
				out[k].Confidence = 1
			}
		}
	} else {
		c.m.scores(z, x)
		softmax(z, c.temperature)
		for k, n := range c.names {
			out[k] = speech.IntentScore{Intent: n, Confidence: z[k]}
		}
	}
	slices.SortStableFunc(out, func(a, b speech.IntentScore) int {
		switch {
		case a.Confidence > b.Confidence:
			return -1
		case a.Confidence < b.Confidence:
			return 1
		}
		return 0
	})
	if c.cfg.Threshold > 0 && out[0].Intent != OutOfScope && out[0].Confidence < c.cfg.Threshold {
		for i := range out {
			if out[i].Intent == OutOfScope {
				oos := out[i]
				copy(out[1:i+1], out[:i])
				out[0] = oos
				break
			}
		}
	}
	return out
}

// Understand classifies text and extracts its slots, with relative dates
// resolved against Config.Now. It implements speech.Understander.
func (c *Classifier) Understand(ctx context.Context, text string) (speech.Understanding, error) {
	return c.UnderstandAt(ctx, text, c.cfg.Now())
}

// UnderstandAt is Understand with an explicit reference time for relative
// dates and times.
func (c *Classifier) UnderstandAt(ctx context.Context, text string, ref time.Time) (speech.Understanding, error) {
	if err := ctx.Err(); err != nil {
		return speech.Understanding{}, fmt.Errorf("understand %q: %w", text, err)
	}
	scores := c.Classify(text)
	conf := scores[0].Confidence
	if scores[0].Intent == OutOfScope && len(scores) > 1 && scores[1].Confidence > conf {
		// Rejected by the threshold: report how sure we are that the best
		// intent is wrong, not the out-of-scope class's own probability.
		conf = 1 - scores[1].Confidence
	}
	u := speech.Understanding{
		Intent:       scores[0].Intent,
		Confidence:   conf,
		Alternatives: scores[1:],
		Slots:        ExtractSlots(text, ref),
		Language:     "en",
	}
	if hasHan(text) {
		u.Language = "zh"
	}
	if strings.TrimSpace(text) == "" {
		u.Language = ""
	}
	return u, nil
}
