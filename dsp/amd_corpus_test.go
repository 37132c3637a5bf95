package dsp

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/dsp/internal/testaudio"
)

// amdClip is one synthetic call: what answered and the audio from answer.
type amdClip struct {
	name    string
	human   bool
	beep    bool
	beepEnd time.Duration // end of the beep, when beep
	audio   []int16
}

// amdVoice is an espeak-ng voice and its extra arguments (speed, pitch), or
// "flite:VOICE" for flite.
type amdVoice struct {
	voice string
	args  []string
}

// amdTexts are the phrases of one language, to be spoken in its voices.
type amdTexts struct {
	voices          []amdVoice
	humans, machine []string
}

// amdNoise is one channel condition: noise (an empty kind means none) and
// optionally a G.711 round trip ("ulaw", "alaw") after it.
type amdNoise struct {
	kind  string
	snrDB float64
	law   string
}

func (n amdNoise) String() string {
	s := "clean"
	if n.kind != "" {
		s = fmt.Sprintf("%s %g dB", n.kind, n.snrDB)
	}
	if n.law != "" {
		s += " " + n.law
	}
	return s
}

// amdCorpus synthesises calls: each phrase in each voice of each language,
// under each noise condition. A person says the phrase, waits about two
// seconds and says it again; a machine says its greeting and, two times in
// three, beeps after a short pause. Lead-in silences, beeps and noise come
// from seed.
func amdCorpus(t testing.TB, langs []amdTexts, noises []amdNoise, seed int64) []amdClip {
	rng := rand.New(rand.NewSource(seed))
	ms := func(lo, hi int) time.Duration { return time.Duration(lo+rng.Intn(hi-lo+1)) * time.Millisecond }
	var clips []amdClip
	add := func(voices []amdVoice, texts []string, human bool) {
		for _, v := range voices {
			for _, text := range texts {
				var speech []int16
				if voice, ok := strings.CutPrefix(v.voice, "flite:"); ok {
					speech = testaudio.Flite(t, voice, text)
				} else {
					speech = testaudio.Espeak(t, v.voice, v.args, text)
				}
				for _, noise := range noises {
					c := amdClip{name: fmt.Sprintf("%s%v %q %v", v.voice, v.args, text, noise), human: human}
					lead := testaudio.Silence(ms(200, 1000))
					if human {
						c.audio = testaudio.Concat(lead, speech, testaudio.Silence(ms(1800, 2500)), speech, testaudio.Silence(2*time.Second))
					} else {
						c.audio = testaudio.Concat(lead, speech)
						if rng.Intn(3) > 0 {
							c.beep = true
							freq := []float64{440, 850, 1000, 1400, 1800}[rng.Intn(5)]
							c.audio = testaudio.Concat(c.audio, testaudio.Silence(ms(200, 800)), testaudio.Tone(ms(150, 600), -12, freq))
							c.beepEnd = time.Duration(len(c.audio)) * time.Second / SampleRate
						}
						c.audio = testaudio.Concat(c.audio, testaudio.Silence(4*time.Second))
					}
					if noise.kind != "" {
						c.audio = testaudio.MixNoise(c.audio, noise.kind, noise.snrDB, rng.Int63())
					}
					if noise.law != "" {
						c.audio = testaudio.G711(c.audio, noise.law)
					}
					clips = append(clips, c)
				}
			}
		}
	}
	for _, l := range langs {
		add(l.voices, l.humans, true)
	}
	for _, l := range langs {
		add(l.voices, l.machine, false)
	}
	return clips
}

// amdDetect runs a detector over a clip and returns every verdict.
type amdDetect func(x []int16) []AMDResult

func amdRun(cfg AMDConfig) amdDetect {
	return func(x []int16) []AMDResult {
		d := NewAMDDetector(cfg)
		var out []AMDResult
		for _, f := range testaudio.Frames(x) {
			out = append(out, d.Process(f)...)
		}
		return out
	}
}

// amdScore tallies first verdicts per class — humans called machines (the
// harmful error: the dialer hangs up on a person or plays a recording at
// them) and machines called humans — and the end-of-greeting verdicts.
type amdScore struct {
	humans, machines         int
	humanAsMachine, humanUnk int
	machineAsHuman, machUnk  int
	machineLate              int // machine_start after 5 s
	endCorrect, endTotal     int // machine_end verdicts on machine clips called machines
	failures                 []string
}

// amdEndSlack bounds how long after a beep's end machine_end_beep may come.
const amdEndSlack = 300 * time.Millisecond

func scoreAMD(detect amdDetect, clips []amdClip) amdScore {
	var s amdScore
	for _, c := range clips {
		res := detect(c.audio)
		first := AMDResult{Kind: AMDUnknown}
		if len(res) > 0 {
			first = res[0]
		}
		fail := func(why string) { s.failures = append(s.failures, fmt.Sprintf("%s: %s (got %v)", c.name, why, res)) }
		if c.human {
			s.humans++
			switch first.Kind {
			case AMDHuman:
			case AMDUnknown:
				s.humanUnk++
				fail("human unknown")
			default:
				s.humanAsMachine++
				fail("human as machine")
			}
			continue
		}
		s.machines++
		switch first.Kind {
		case AMDMachineStart, AMDMachineEndBeep, AMDMachineEndSilence, AMDMachineEndOther:
			if first.At > 5*time.Second {
				s.machineLate++
				fail("late")
			}
		case AMDHuman:
			s.machineAsHuman++
			fail("machine as human")
			continue
		default:
			s.machUnk++
			fail("machine unknown")
			continue
		}
		if first.Kind != AMDMachineStart {
			continue // a baseline without end detection
		}
		s.endTotal++
		if len(res) < 2 {
			fail("no end of greeting")
			continue
		}
		end := res[1]
		switch {
		case c.beep && end.Kind == AMDMachineEndBeep && end.At >= c.beepEnd && end.At <= c.beepEnd+amdEndSlack:
			s.endCorrect++
		case !c.beep && end.Kind == AMDMachineEndSilence:
			s.endCorrect++
		default:
			fail(fmt.Sprintf("end %v, beep=%v ending at %v", end, c.beep, c.beepEnd))
		}
	}
	return s
}

func pct(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return 100 * float64(n) / float64(d)
}

// amdEvalEN returns the held-out English corpus with its first n voices:
// phrases and voices not used to choose the defaults.
func amdEvalEN(n int) amdTexts {
	voices := []amdVoice{
		{"en-gb-scotland", nil}, {"en-us+m5", []string{"-s", "170"}}, {"en+f4", []string{"-s", "150", "-p", "70"}},
		{"en-029", nil}, {"en-gb-x-rp+f1", []string{"-s", "180"}}, {"en-us-nyc+m2", []string{"-s", "130"}},
		{"flite:kal", nil}, {"flite:slt", nil}, // another synthesiser altogether
	}
	return amdTexts{
		voices: voices[:min(n, len(voices))],
		humans: []string{"Hi, who's calling?", "Speaking.", "Hello, yes?", "Good morning, Sarah here.",
			"Hey, what's up?", "Yes, hello, can I help you?", "Hello, Mike speaking.", "Uh, hello?"},
		machine: []string{
			"You've reached the office of Doctor Patel. We are unable to answer your call. Please leave your name, number and a brief message.",
			"Hey, it's Jenny. Sorry I missed you. Leave a message and I'll get back to you.",
			"Your call has been forwarded to an automated voice messaging system. At the tone, please record your message.",
			"Hello. Nobody is home right now. Please leave a message.",
			"Thanks for calling. I'm either on the other line or away from my desk. Leave your details after the beep.",
		},
	}
}

// amdEvalCMN returns the held-out Mandarin corpus with its first n voices.
func amdEvalCMN(n int) amdTexts {
	voices := []amdVoice{{"cmn+m3", []string{"-s", "150"}}, {"cmn+f2", []string{"-s", "190"}}, {"cmn+f4", []string{"-p", "70"}}}
	return amdTexts{
		voices: voices[:min(n, len(voices))],
		humans: []string{"喂，您好？", "哪位？", "喂，我是小王。", "嗯，你好，请问是谁？"},
		machine: []string{
			"对不起，您拨打的电话暂时无人接听，请稍后再拨。",
			"您好，这里是张先生的语音信箱，我现在无法接听，请在嘀声后留言。",
			"您好，欢迎致电，我们的工作时间是周一至周五上午九点到下午六点，请在工作时间再来电。",
		},
	}
}
