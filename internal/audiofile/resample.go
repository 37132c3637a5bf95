package audiofile

import "math"

// resampleTo8k converts a whole file to 8 kHz. Prompts are converted once at load,
// so this favours quality over speed: a Kaiser-windowed sinc evaluated at each output
// instant, with the cut-off below the lower of the two Nyquist frequencies. The
// per-frame 8↔16 kHz path of calls lives in dsp/, not here.
func resampleTo8k(in []float64, fromRate int) []int16 {
	if fromRate == SampleRate {
		out := make([]int16, len(in))
		for i, v := range in {
			out[i] = toInt16(v)
		}
		return out
	}
	ratio := float64(SampleRate) / float64(fromRate)
	cutoff := 0.45 * math.Min(1, ratio) // of the input rate, leaves a guard band
	const halfTaps = 32                 // at the output rate's scale
	const beta = 8.0                    // Kaiser β: ≈80 dB side lobes
	step := 1 / ratio
	support := float64(halfTaps) * math.Max(1, step)
	n := int(float64(len(in)) * ratio)
	out := make([]int16, n)
	i0beta := besselI0(beta)
	for k := range n {
		t := float64(k) * step // position in input samples
		lo := int(math.Ceil(t - support))
		hi := int(math.Floor(t + support))
		var acc float64
		for j := max(lo, 0); j <= hi && j < len(in); j++ {
			x := float64(j) - t
			w := x / support
			if w <= -1 || w >= 1 {
				continue
			}
			kaiser := besselI0(beta*math.Sqrt(1-w*w)) / i0beta
			acc += in[j] * 2 * cutoff * sinc(2*cutoff*x) * kaiser
		}
		out[k] = toInt16(acc)
	}
	return out
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// besselI0 is the zeroth-order modified Bessel function of the first kind, by its
// power series; it converges fast for the β used in Kaiser windows.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < 1e-12*sum {
			break
		}
	}
	return sum
}
