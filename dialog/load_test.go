package dialog

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestExampleScriptsLoad(t *testing.T) {
	for _, tc := range []struct {
		file, name, lang string
		nodes            int
	}{
		{"testdata/loan_en.yaml", "loan_offer_en", "en-US", 14},
		{"testdata/loan_zh.yaml", "loan_offer_zh", "zh-CN", 14},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Load(tc.file)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if s.Name != tc.name || s.Language != tc.lang || len(s.Nodes) != tc.nodes {
				t.Errorf("got name %q language %q %d nodes, want %q %q %d", s.Name, s.Language, len(s.Nodes), tc.name, tc.lang, tc.nodes)
			}
			if s.Start != "greet" {
				t.Errorf("start = %q, want greet", s.Start)
			}
			offer := s.Node("offer")
			if offer == nil || offer.Listen == nil || offer.Listen.Timeout != 5*time.Second || offer.Listen.Retries != 2 {
				t.Fatalf("offer node not loaded as a 5 s, 2-retry listen: %+v", offer)
			}
			if s.Node("disclosure").Interruptible {
				t.Error("disclosure is interruptible, want interruptible: false")
			}
			if len(s.Knowledge) != 2 || s.Fallback.Transfer == "" {
				t.Errorf("knowledge %v fallback %+v", s.Knowledge, s.Fallback)
			}
			if len(s.Intents) != 8 || len(s.Intents[0].Examples) < 5 {
				t.Errorf("intents = %+v", s.Intents)
			}
		})
	}
}

// base is a minimal valid script; each bad case changes one thing.
const base = `name: t
intents:
  yes: [yes, sure]
fallback:
  text: bye
nodes:
  - id: ask
    kind: listen
    text: ok?
    branches:
      - intent: yes
        goto: done
  - id: done
    kind: hangup
    outcome: interested
`

func TestBaseScriptIsValid(t *testing.T) {
	if _, err := Parse("base.yaml", []byte(base)); err != nil {
		t.Fatal(err)
	}
}

func TestParseRejectsBadScriptsNamingFileAndLine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script string
		want   string // "file:line: part of message"
	}{
		{"not YAML", "name: [t\n", "bad.yaml:1: not valid YAML"},
		{"unknown node kind", strings.Replace(base, "kind: hangup", "kind: hangpu", 1), `bad.yaml:14: node "done" has unknown kind "hangpu"`},
		{"node without kind", strings.Replace(base, "    kind: hangup\n", "", 1), `bad.yaml:13: node "done" has no kind:`},
		{"missing goto target", strings.Replace(base, "goto: done", "goto: dnoe", 1), `bad.yaml:11: node "ask": goto "dnoe" is not a node`},
		{"unreachable node", base + "  - id: orphan\n    kind: hangup\n    outcome: failed\n", `bad.yaml:16: node "orphan" is unreachable`},
		{"unknown intent", strings.Replace(base, "intent: yes", "intent: maybe", 1), `bad.yaml:11: node "ask": branch on intent "maybe", which intents: does not define`},
		{"duplicate id", strings.Replace(base, "id: done", "id: ask", 1), `bad.yaml:13: duplicate node id "ask" (first defined at line 7)`},
		{"bad duration", strings.Replace(base, "    text: ok?\n", "    text: ok?\n    timeout: 5 seconds\n", 1), `bad.yaml:10: timeout "5 seconds" is not a positive duration`},
		{"negative duration", strings.Replace(base, "    text: ok?\n", "    text: ok?\n    timeout: -2s\n", 1), `bad.yaml:10: timeout "-2s"`},
		{"unknown field", strings.Replace(base, "outcome: interested", "outcome: interested\n    nxt: ask", 1), `bad.yaml:16: unknown field "nxt" in hangup node "done"`},
		{"unknown outcome", strings.Replace(base, "outcome: interested", "outcome: maybe_later", 1), `bad.yaml:13: hangup node "done": unknown outcome "maybe_later"`},
		{"no fallback", strings.Replace(base, "fallback:\n  text: bye\n", "", 1), "bad.yaml:1: the script has no fallback:"},
		{"empty fallback", strings.Replace(base, "  text: bye\n", "  outcome: failed\n", 1), "bad.yaml:5: fallback: needs a text, a prompt or a transfer"},
		{"no name", strings.Replace(base, "name: t\n", "", 1), "bad.yaml:1: the script has no name:"},
		{"no nodes", "name: t\nfallback: {text: bye}\nnodes: []\n", "bad.yaml:3: nodes: must be a non-empty list"},
		{"say without next", strings.Replace(base, "nodes:\n", "start: hi\nnodes:\n  - id: hi\n    kind: say\n    text: hello\n", 1), `bad.yaml:8: say node "hi" has no next:`},
		{"bad start", strings.Replace(base, "nodes:\n", "start: hello\nnodes:\n", 1), `bad.yaml:6: start node "hello" is not a node`},
		{"branch without condition", strings.Replace(base, "      - intent: yes\n", "      - goto: done\n      - intent: yes\n", 1), `bad.yaml:11: node "ask": branch has no condition`},
		{"bad dtmf", strings.Replace(base, "intent: yes", "dtmf: \"12\"", 1), `bad.yaml:11: node "ask": dtmf "12" is not one of`},
		{"listen without branches", strings.Replace(base, "    branches:\n      - intent: yes\n        goto: done\n", "    branches: []\n", 1), `bad.yaml:7: listen node "ask" needs a non-empty branches:`},
		{"knowledge of unknown intent", strings.Replace(base, "fallback:", "knowledge:\n  price: it is free\nfallback:", 1), `bad.yaml:5: knowledge answers intent "price"`},
		{"bad slot op", strings.Replace(base, "intent: yes", "slot: {name: amount, op: about, value: \"3\"}", 1), `bad.yaml:11: slot condition op "about"`},
		{"slot compares non-number", strings.Replace(base, "intent: yes", "slot: {name: amount, op: \">\", value: lots}", 1), `bad.yaml:11: slot condition amount > "lots" compares numbers`},
		{"bad weight", strings.Replace(base, "nodes:\n", "variants:\n  - name: a\n    weight: 0\n    start: ask\nnodes:\n", 1), "bad.yaml:8: weight must be a number above 0"},
		{"bad transfer mode", strings.Replace(base, "    kind: hangup\n    outcome: interested\n", "    kind: transfer\n    to: sip:a@b\n    mode: carrier\n", 1), `bad.yaml:13: transfer node "done": mode "carrier"`},
		{"voicemail without a message", strings.Replace(base, "    kind: hangup\n    outcome: interested\n", "    kind: voicemail\n    beep_timeout: 10s\n", 1), `bad.yaml:13: voicemail node "done" has neither text nor prompt`},
		{"voicemail on_no_beep to nowhere", strings.Replace(base, "    kind: hangup\n    outcome: interested\n", "    kind: voicemail\n    text: call us\n    on_no_beep: gone\n", 1), `bad.yaml:13: node "done": on_no_beep "gone" is not a node`},
		{"voicemail bad beep_timeout", strings.Replace(base, "    kind: hangup\n    outcome: interested\n", "    kind: voicemail\n    text: call us\n    beep_timeout: soon\n", 1), `bad.yaml:16: beep_timeout "soon" is not a positive duration`},
		{"voicemail unknown field", strings.Replace(base, "    kind: hangup\n    outcome: interested\n", "    kind: voicemail\n    text: call us\n    next: ask\n", 1), `bad.yaml:16: unknown field "next" in voicemail node "done"`},
		{"summary neither bool nor text", strings.Replace(base, "    kind: hangup\n    outcome: interested\n", "    kind: transfer\n    to: sip:a@b\n    summary: \"\"\n", 1), `bad.yaml:16: summary must be true, false or the text`},
		{"on_machine to nowhere", strings.Replace(base, "nodes:\n", "on_machine: vm\nnodes:\n", 1), `bad.yaml:6: on_machine "vm" is not a node`},
		{"bad boolean", strings.Replace(base, "    text: ok?\n", "    text: ok?\n    interruptible: sometimes\n", 1), `bad.yaml:10: interruptible "sometimes" is not true or false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.script))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tc.script)
			}
			if !errors.Is(err, ErrBadScript) {
				t.Errorf("error %v does not wrap ErrBadScript", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n  %v\nwant it to contain\n  %s", err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	for _, file := range []string{"testdata/loan_en.yaml", "testdata/loan_zh.yaml", "testdata/engine_en.yaml"} {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("nodes: [{id: a, kind: say}]"))
	f.Add([]byte("- x\n- y"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err == nil && s.Node(s.Start) == nil {
			t.Fatal("valid script without its start node")
		}
	})
}
