package nlu

import (
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// OutOfScope is the intent given to utterances that fit no intent of the
// script.
const OutOfScope = "out_of_scope"

// Intent is one intent with its training examples, in any mix of languages.
type Intent struct {
	// Name is the intent name a script branches on, e.g. "affirm".
	Name string
	// Examples are utterances that mean this intent.
	Examples []string
}

// ErrBadIntents is wrapped by errors about an intents file or list.
var ErrBadIntents = errors.New("bad intents")

// ParseIntents reads intents from YAML with a top-level "intents:" mapping
// (an intents file, or a dialog script that has such a section). Each intent
// maps to a list of examples, or to a mapping from language ("zh", "en", …)
// to lists of examples:
//
//	intents:
//	  affirm:
//	    zh: [对, 是的]
//	    en: [yes, "that's right"]
//	  deny: [不是, "no"]
//
// Intents keep the file's order. Errors name the YAML line.
func ParseIntents(data []byte) ([]Intent, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse intents YAML: %w: %w", ErrBadIntents, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("parse intents YAML: %w: top level is not a mapping with an intents: key", ErrBadIntents)
	}
	var section *yaml.Node
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "intents" {
			section = top.Content[i+1]
		}
	}
	if section == nil {
		return nil, fmt.Errorf("parse intents YAML: %w: no top-level intents: key", ErrBadIntents)
	}
	if section.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("parse intents YAML line %d: %w: intents: must map intent names to examples", section.Line, ErrBadIntents)
	}
	var out []Intent
	for i := 0; i+1 < len(section.Content); i += 2 {
		name, body := section.Content[i], section.Content[i+1]
		in := Intent{Name: strings.TrimSpace(name.Value)}
		var err error
		in.Examples, err = examples(body, nil)
		if err != nil {
			return nil, fmt.Errorf("parse intents YAML line %d, intent %q: %w", body.Line, in.Name, err)
		}
		out = append(out, in)
	}
	return out, nil
}

func examples(n *yaml.Node, acc []string) ([]string, error) {
	switch n.Kind {
	case yaml.SequenceNode:
		for _, e := range n.Content {
			if e.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: %w: an example must be a string", e.Line, ErrBadIntents)
			}
			acc = append(acc, e.Value)
		}
		return acc, nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			var err error
			if acc, err = examples(n.Content[i+1], acc); err != nil {
				return nil, fmt.Errorf("%s: %w", n.Content[i].Value, err)
			}
		}
		return acc, nil
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return acc, nil
		}
		return append(acc, n.Value), nil
	}
	return nil, fmt.Errorf("line %d: %w: examples must be a list or a mapping of language to list", n.Line, ErrBadIntents)
}

// validate checks names and examples and merges duplicates.
func validate(intents []Intent) ([]Intent, error) {
	if len(intents) == 0 {
		return nil, fmt.Errorf("%w: no intents", ErrBadIntents)
	}
	index := map[string]int{}
	var out []Intent
	for _, in := range intents {
		if in.Name == "" {
			return nil, fmt.Errorf("%w: an intent has no name", ErrBadIntents)
		}
		var ex []string
		for _, e := range in.Examples {
			if strings.TrimSpace(e) != "" {
				ex = append(ex, e)
			}
		}
		if len(ex) == 0 && in.Name != OutOfScope {
			return nil, fmt.Errorf("%w: intent %q has no examples", ErrBadIntents, in.Name)
		}
		if j, ok := index[in.Name]; ok {
			out[j].Examples = append(out[j].Examples, ex...)
			continue
		}
		index[in.Name] = len(out)
		out = append(out, Intent{Name: in.Name, Examples: ex})
	}
	return out, nil
}
