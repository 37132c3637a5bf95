package measure

import "math"

// sampleRate is G.711's 8 kHz.
const sampleRate = 8000

// Signal returns one second of speech-like audio: a 120 Hz voice with
// harmonics in syllables of 200 ms and pauses of 100 ms, so the VAD toggles
// and the pitch tracker has work, shared read-only by every call.
func Signal() []int16 {
	const n = sampleRate
	out := make([]int16, n)
	for i := range out {
		t := float64(i) / sampleRate
		ms := (i * 1000 / sampleRate) % 300
		if ms >= 200 {
			continue
		}
		env := math.Sin(math.Pi * float64(ms) / 200)
		f0 := 110 + 20*math.Sin(2*math.Pi*1.5*t)
		var v float64
		for h := 1; h <= 8; h++ {
			v += math.Sin(2*math.Pi*f0*float64(h)*t) / float64(h)
		}
		out[i] = int16(6000 * env * v)
	}
	return out
}
