//go:build eval

package dsp

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// asteriskAMD is a port of the decision loop of Asterisk's app_amd
// (apps/app_amd.c) for comparison: silence is a frame whose mean absolute
// amplitude is under silenceThreshold (ast_dsp_silence), everything else is
// voice. It gives first verdicts only.
type asteriskAMD struct {
	initialSilence, greeting, afterGreetingSilence, totalAnalysisTime int // ms
	minWordLength, betweenWordsSilence, maxWords, silenceThreshold    int
}

func asteriskDefaults(maxWords int) asteriskAMD {
	return asteriskAMD{2500, 1500, 800, 5000, 100, 50, maxWords, 256}
}

func (p asteriskAMD) run(x []int16) []AMDResult {
	const frameMs = 20
	inWord := true // app_amd starts in STATE_IN_WORD
	inInitialSilence, inGreeting := true, false
	var total, silenceMs, voiceMs, consecutiveVoice, words int
	at := func() time.Duration { return time.Duration(total) * time.Millisecond }
	for i := 0; i+FrameSamples <= len(x); i += FrameSamples {
		total += frameMs
		if total >= p.totalAnalysisTime {
			return []AMDResult{{Kind: AMDUnknown, At: at(), Reason: "TOOLONG"}}
		}
		var sum int
		for _, v := range x[i : i+FrameSamples] {
			sum += max(int(v), -int(v))
		}
		if sum/FrameSamples < p.silenceThreshold {
			silenceMs += frameMs
			if silenceMs >= p.betweenWordsSilence {
				inWord = false
				consecutiveVoice = 0
			}
			if inInitialSilence && silenceMs >= p.initialSilence {
				return []AMDResult{{Kind: AMDMachineStart, At: at(), Reason: "INITIALSILENCE"}}
			}
			if silenceMs >= p.afterGreetingSilence && inGreeting {
				return []AMDResult{{Kind: AMDHuman, At: at(), Reason: "HUMAN"}}
			}
			continue
		}
		consecutiveVoice += frameMs
		voiceMs += frameMs
		if consecutiveVoice >= p.minWordLength && !inWord {
			words++
			inWord = true
		}
		if words >= p.maxWords {
			return []AMDResult{{Kind: AMDMachineStart, At: at(), Reason: "MAXWORDS"}}
		}
		if inGreeting && voiceMs >= p.greeting {
			return []AMDResult{{Kind: AMDMachineStart, At: at(), Reason: "LONGGREETING"}}
		}
		if voiceMs >= p.minWordLength {
			inInitialSilence, inGreeting = false, true
		}
		silenceMs = 0
	}
	return nil
}

func amdWithVAD(cfg AMDConfig) amdDetect {
	return func(x []int16) []AMDResult {
		d := NewAMDDetector(cfg)
		d.vad, _ = NewVAD(VADConfig{})
		var out []AMDResult
		for i := 0; i+FrameSamples <= len(x); i += FrameSamples {
			out = append(out, d.Process(x[i:i+FrameSamples])...)
		}
		return out
	}
}

// TestAMDReport prints the tables of docs/dsp-amd-report.md:
//
//	go test -tags eval -run TestAMDReport -v ./dsp
func TestAMDReport(t *testing.T) {
	noises := []amdNoise{{}, {"pink", 20, ""}, {"white", 20, ""}, {"babble", 20, ""}, {"pink", 10, ""}, {"babble", 10, ""}, {"pink", 20, "alaw"}, {"babble", 10, "ulaw"}}
	start := time.Now()
	eval := amdCorpus(t, []amdTexts{amdEvalEN(8), amdEvalCMN(3)}, noises, 2026)
	tune := amdCorpus(t, []amdTexts{amdTuneEN, amdTuneCMN}, noises, 1)
	t.Logf("corpus: %d held-out clips, %d tuning clips, synthesised in %v", len(eval), len(tune), time.Since(start))

	var b strings.Builder
	row := func(name string, s amdScore) {
		fmt.Fprintf(&b, "| %s | %d | %d | %.1f%% | %.1f%% (%d) | %.1f%% (%d) | %.1f%% (%d) | %.1f%% (%d) | %s |\n",
			name, s.humans, s.machines, 100*s.accuracy(),
			pct(s.humanAsMachine, s.humans), s.humanAsMachine, pct(s.humanUnk, s.humans), s.humanUnk,
			pct(s.machineAsHuman, s.machines), s.machineAsHuman, pct(s.machUnk+s.machineLate, s.machines), s.machUnk+s.machineLate,
			endCell(s))
	}
	header := "| detector | humans | machines | accuracy | human→machine | human→unknown | machine→human | machine→unknown/late | greeting end right |\n|---|---|---|---|---|---|---|---|---|\n"

	b.WriteString("\nHeld-out corpus, all noise conditions:\n\n" + header)
	row("waihu AMD (defaults)", scoreAMD(amdRun(AMDConfig{}), eval))
	row("waihu AMD, dsp.VAD as speech detector", scoreAMD(amdWithVAD(AMDConfig{}), eval))
	row("Asterisk app_amd, max words 3", scoreAMD(asteriskDefaults(3).run, eval))
	row("Asterisk app_amd, max words 2", scoreAMD(asteriskDefaults(2).run, eval))
	aGreet := asteriskDefaults(3)
	aGreet.greeting = 1800
	aGreet.maxWords = 6
	row("Asterisk app_amd, waihu's greeting 1.8 s / max words 6", scoreAMD(aGreet.run, eval))

	b.WriteString("\nTuning corpus (the defaults were chosen on it):\n\n" + header)
	row("waihu AMD (defaults)", scoreAMD(amdRun(AMDConfig{}), tune))
	row("Asterisk app_amd, max words 3", scoreAMD(asteriskDefaults(3).run, tune))

	b.WriteString("\nHeld-out corpus per noise condition:\n\n" + header)
	for _, n := range noises {
		var sub []amdClip
		for _, c := range eval {
			if strings.HasSuffix(c.name, " "+n.String()) {
				sub = append(sub, c)
			}
		}
		row("waihu, "+n.String(), scoreAMD(amdRun(AMDConfig{}), sub))
		row("Asterisk (3 words), "+n.String(), scoreAMD(asteriskDefaults(3).run, sub))
	}

	b.WriteString("\nHeld-out corpus, greeting limit swept (the trade between the two errors):\n\n" + header)
	for _, g := range []time.Duration{1200, 1500, 1800, 2200, 2600, 3000} {
		row(fmt.Sprintf("Greeting %v", g*time.Millisecond), scoreAMD(amdRun(AMDConfig{Greeting: g * time.Millisecond}), eval))
	}
	// Latency of right first verdicts, from answer (the clip's start).
	var humanAt, machineAt []float64
	for _, c := range eval {
		res := amdRun(AMDConfig{})(c.audio)
		if len(res) == 0 {
			continue
		}
		switch {
		case c.human && res[0].Kind == AMDHuman:
			humanAt = append(humanAt, res[0].At.Seconds())
		case !c.human && res[0].Kind == AMDMachineStart:
			machineAt = append(machineAt, res[0].At.Seconds())
		}
	}
	q := func(x []float64, p float64) float64 { slices.Sort(x); return x[int(p*float64(len(x)-1))] }
	b.WriteString("\nTime from answer to a right first verdict, held-out corpus (lead-in silence 0.2–1.0 s included):\n\n| verdict | median | 90th percentile | max |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| human | %.2f s | %.2f s | %.2f s |\n", q(humanAt, 0.5), q(humanAt, 0.9), q(humanAt, 1))
	fmt.Fprintf(&b, "| machine_start | %.2f s | %.2f s | %.2f s |\n", q(machineAt, 0.5), q(machineAt, 0.9), q(machineAt, 1))
	t.Log(b.String())
	s := scoreAMD(amdRun(AMDConfig{}), eval)
	for _, f := range s.failures {
		t.Log("held-out failure: " + f)
	}
}

func endCell(s amdScore) string {
	if s.endCorrect == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f%% (%d/%d)", pct(s.endCorrect, s.endTotal), s.endCorrect, s.endTotal)
}

// The tuning corpus: the phrases and voices the defaults were chosen on.
var (
	amdTuneEN = amdTexts{
		voices: []amdVoice{{"en-us", nil}, {"en+f3", []string{"-s", "160"}}, {"en-gb+m3", []string{"-s", "190"}}, {"en-us+f2", []string{"-s", "140", "-p", "60"}}},
		humans: []string{"Hello?", "Yes?", "Hello, who is this?", "Yes, who is it?", "Hello, this is John.",
			"Hi, John speaking.", "Hello, Smith residence.", "Yeah, hello?"},
		machine: []string{
			"Hi, you have reached the voicemail of John Smith. I can't take your call right now. Please leave a message after the tone.",
			"Hello, you've reached Mary and Tom. We're not available at the moment, so leave your name and number and we'll call you back.",
			"The person you are calling is not available. Please leave a message after the beep.",
			"Thank you for calling Acme Dental. Our office is currently closed. Please call again during business hours.",
			"Hi, this is Dave. I'm away from the phone, leave a message.",
		},
	}
	amdTuneCMN = amdTexts{
		voices:  []amdVoice{{"cmn", nil}, {"cmn+f3", []string{"-s", "160"}}},
		humans:  []string{"喂？", "喂，你好。", "你好，哪位？", "喂，哪位呀？"},
		machine: []string{"您好，您拨打的用户暂时无法接通，请在提示音后留言。", "您好，我现在不方便接听电话，请留言，我会尽快给您回电。"},
	}
)

func (s amdScore) accuracy() float64 {
	return float64(s.humans+s.machines-s.humanAsMachine-s.humanUnk-s.machineAsHuman-s.machUnk-s.machineLate) / float64(s.humans+s.machines)
}
