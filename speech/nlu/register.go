package nlu

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/waihu/waihu/speech"
)

// Register adds the classifier to r under the name "classifier", built from
// options:
//
//	intents    path of an intents YAML file (or a dialog script with intents:)
//	threshold  rejection threshold (default 0.5)
//
// A dialog engine that has its script's intents in memory calls New
// directly instead.
func Register(r *speech.Registry) {
	r.RegisterUnderstander("classifier", "set intents to an intents YAML file", func(o speech.Options) (speech.Understander, error) {
		path := o.Get("intents", "")
		if path == "" {
			return nil, &speech.UnavailableError{Missing: "no intents file configured"}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read intents: %w", err)
		}
		var cfg Config
		if v := o.Get("threshold", ""); v != "" {
			if cfg.Threshold, err = strconv.ParseFloat(v, 64); err != nil {
				return nil, fmt.Errorf("option threshold=%q: %w", v, err)
			}
		}
		c, err := NewFromYAML(context.Background(), data, cfg)
		if err != nil {
			return nil, fmt.Errorf("intents %s: %w", path, err)
		}
		return c, nil
	})
}
