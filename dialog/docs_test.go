package dialog

import (
	"os"
	"strings"
	"testing"

	"github.com/waihu/waihu/speech/nlu"
)

// TestDocsExamplesAreTheTestedScripts keeps docs/scripts.md's complete
// examples identical to the scripts the tests load, so the page never shows
// a script that does not load.
func TestDocsExamplesAreTheTestedScripts(t *testing.T) {
	doc, err := os.ReadFile("../docs/scripts.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ heading, file string }{
		{"## Complete example: English", "testdata/loan_en.yaml"},
		{"## Complete example: Chinese (中文)", "testdata/loan_zh.yaml"},
	} {
		_, rest, ok := strings.Cut(string(doc), tc.heading)
		if !ok {
			t.Fatalf("docs/scripts.md has no %q", tc.heading)
		}
		_, rest, _ = strings.Cut(rest, "```yaml\n")
		block, _, _ := strings.Cut(rest, "```")
		want, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if block != string(want) {
			t.Errorf("the example under %q differs from %s", tc.heading, tc.file)
		}
	}
}

// TestScriptIntentsTrainSpeechNLU checks the promise that a script file
// is also an intents file for speech/nlu, with the same intents.
func TestScriptIntentsTrainSpeechNLU(t *testing.T) {
	for _, file := range []string{"testdata/loan_en.yaml", "testdata/loan_zh.yaml", "testdata/engine_en.yaml"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Parse(file, data)
		if err != nil {
			t.Fatal(err)
		}
		got, err := nlu.ParseIntents(data)
		if err != nil {
			t.Fatalf("%s: nlu.ParseIntents: %v", file, err)
		}
		if len(got) != len(s.Intents) {
			t.Fatalf("%s: nlu read %d intents, dialog %d", file, len(got), len(s.Intents))
		}
		for i := range got {
			if got[i].Name != s.Intents[i].Name || strings.Join(got[i].Examples, "|") != strings.Join(s.Intents[i].Examples, "|") {
				t.Errorf("%s: intent %d: nlu %+v, dialog %+v", file, i, got[i], s.Intents[i])
			}
		}
	}
}
