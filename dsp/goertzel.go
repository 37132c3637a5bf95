package dsp

import "math"

// fullScalePower is the mean square of a full-scale square wave, the 0 dBFS
// reference of EnergyDBFS and of every tone level here (a full-scale sine
// reads −3 dBFS).
const fullScalePower = 32768.0 * 32768.0

// Goertzel measures one frequency in a block of samples: a single DFT bin at
// any frequency, for a few multiplications per sample. The zero value measures
// 0 Hz; make one with NewGoertzel.
type Goertzel struct {
	freqHz float64
	coeff  float64 // 2 cos ω
	cosW   float64
	sinW   float64
}

// NewGoertzel returns a Goertzel filter tuned to freqHz at sampleRate.
func NewGoertzel(freqHz, sampleRate float64) Goertzel {
	w := 2 * math.Pi * freqHz / sampleRate
	return Goertzel{freqHz: freqHz, coeff: 2 * math.Cos(w), cosW: math.Cos(w), sinW: math.Sin(w)}
}

// FreqHz is the frequency the filter is tuned to.
func (g Goertzel) FreqHz() float64 { return g.freqHz }

// DFT returns the complex DFT of x at the filter's frequency, up to a phase
// factor that depends only on len(x); blocks of equal length can therefore
// be compared by phase.
func (g Goertzel) DFT(x []int16) (re, im float64) {
	var s1, s2 float64
	for _, v := range x {
		s0 := float64(v) + g.coeff*s1 - s2
		s2, s1 = s1, s0
	}
	return s1 - s2*g.cosW, s2 * g.sinW
}

// Power returns the mean square of the component of x at the filter's
// frequency: a sine of amplitude A over a whole block gives A²/2, the same
// scale as the block's own mean square, so the two can be compared as a ratio.
func (g Goertzel) Power(x []int16) float64 {
	if len(x) == 0 {
		return 0
	}
	re, im := g.DFT(x)
	n := float64(len(x))
	return 2 * (re*re + im*im) / (n * n)
}

// meanSquare is the mean of x² (0 for an empty block).
func meanSquare(x []int16) float64 {
	if len(x) == 0 {
		return 0
	}
	var s float64
	for _, v := range x {
		f := float64(v)
		s += f * f
	}
	return s / float64(len(x))
}

// dbfsToPower converts a level in dBFS (as EnergyDBFS) to mean square.
func dbfsToPower(db float64) float64 { return fullScalePower * math.Pow(10, db/10) }
