package sphinx

import (
	"errors"
	"testing"
)

// FuzzParseGrammar feeds arbitrary grammar text (JSGF, keyword lists,
// phrase lists) to the parser: it must return a grammar or ErrGrammar,
// never panic or loop.
func FuzzParseGrammar(f *testing.F) {
	for _, s := range []string{
		"#JSGF V1.0;\ngrammar g;\npublic <a> = go <d> [meter | meters];\n<d> = one | two /2/ three;",
		"#JSGF V1.0; public <a> = (yes | no)+ <b>*; <b> = please;",
		"#JSGF V1.0; public <a> = <a> x;",
		"#JSGF V1.0; public <a> = ( [ ) ];",
		"call me later /1e-10/\nstop /1/",
		"bad line / here",
		"yes\nno thank you\n",
		"/* unterminated",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		g, err := ParseGrammar(text)
		if err != nil {
			if !errors.Is(err, ErrGrammar) {
				t.Fatalf("error %v does not wrap ErrGrammar", err)
			}
			return
		}
		for _, a := range g.Arcs {
			if a.From < 0 || a.From >= g.NumStates || a.To < 0 || a.To >= g.NumStates {
				t.Fatalf("arc %+v outside %d states", a, g.NumStates)
			}
		}
	})
}
