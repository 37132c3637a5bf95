package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const nluTestScript = `# a dialog script: only its intents: section matters to waihu nlu
name: reminder
intents:
  affirm:
    zh: [是的, 对, 是我, 好的, 可以, 嗯对]
    en: ["yes", "yeah", "that's me", "sure", "correct"]
  deny:
    zh: [不是, 不要, 不用了, 没有, 不对]
    en: ["no", "nope", "not me", "no thanks", "wrong"]
  promise_to_pay:
    zh: [我明天还, 下周还钱, 月底前还清, 我会还的, 发工资就还]
    en: ["i'll pay tomorrow", "i will pay next week", "i'll pay by friday", "i can pay soon", "i'll send the money"]
`

func runWaihu(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := rootCommand()
	var out bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.Execute()
	return out.String(), err
}

func TestNLUCommandPrintsOneJSONLinePerUtterance(t *testing.T) {
	// The outbound intents of speech/nlu: enough examples for confident
	// answers on long utterances.
	script := filepath.Join("..", "..", "speech", "nlu", "testdata", "outbound-intents.yaml")
	out, err := runWaihu(t, "是的\n\n我明天下午三点还三千五百块\nI'll pay $200 next Friday\n",
		"nlu", "--script", script, "--now", "2026-11-25T10:00:00+08:00")
	if err != nil {
		t.Fatalf("nlu: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3 (blank input skipped):\n%s", len(lines), out)
	}
	want := []struct {
		text, intent string
		slots        []string
	}{
		{"是的", "affirm", []string{"answer=yes"}},
		{"我明天下午三点还三千五百块", "promise_to_pay", []string{"datetime=2026-11-26T15:00", "amount=3500", "currency=CNY"}},
		{"I'll pay $200 next Friday", "promise_to_pay", []string{"amount=200", "currency=USD", "datetime=2026-12-04"}},
	}
	for i, line := range lines {
		var got struct {
			Text       string  `json:"text"`
			Intent     string  `json:"intent"`
			Confidence float64 `json:"confidence"`
			Slots      []struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			} `json:"slots"`
		}
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", i+1, err, line)
		}
		if got.Text != want[i].text || got.Intent != want[i].intent || got.Confidence <= 0 || got.Confidence > 1 {
			t.Errorf("line %d: %s", i+1, line)
		}
		var slots []string
		for _, s := range got.Slots {
			slots = append(slots, s.Name+"="+s.Value)
		}
		if strings.Join(slots, " ") != strings.Join(want[i].slots, " ") {
			t.Errorf("line %d slots %v, want %v", i+1, slots, want[i].slots)
		}
	}
}

func TestNLUCommandReadsTheIntentsOfADialogScript(t *testing.T) {
	script := filepath.Join(t.TempDir(), "script.yaml")
	if err := os.WriteFile(script, []byte(nluTestScript), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runWaihu(t, "嗯对\nno thanks\n", "nlu", "--script", script)
	if err != nil {
		t.Fatalf("nlu: %v\n%s", err, out)
	}
	for _, want := range []string{`"text":"嗯对","intent":"affirm"`, `"text":"no thanks","intent":"deny"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

func TestNLUCommandExplainsBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("intents: [oops\n"), 0o644)
	noIntents := filepath.Join(dir, "none.yaml")
	os.WriteFile(noIntents, []byte("name: x\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no script flag", []string{"nlu"}, "--script FILE is required"},
		{"missing file", []string{"nlu", "--script", filepath.Join(dir, "missing.yaml")}, "read script"},
		{"broken YAML", []string{"nlu", "--script", bad}, "parse intents YAML"},
		{"no intents section", []string{"nlu", "--script", noIntents}, "no top-level intents"},
		{"bad reference time", []string{"nlu", "--script", bad, "--now", "tomorrow"}, "--now"},
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
