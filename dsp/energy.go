package dsp

import "math"

// MinDBFS is the level reported for digital silence: the floor below which
// energies are clamped, well under the −96 dBFS of one LSB in int16.
const MinDBFS = -120.0

// EnergyDBFS returns the mean-square level of frame relative to a full-scale
// square wave (so a full-scale sine reads −3 dBFS), clamped at MinDBFS. An
// empty frame reads MinDBFS.
func EnergyDBFS(frame []int16) float64 {
	if len(frame) == 0 {
		return MinDBFS
	}
	var s float64
	for _, x := range frame {
		v := float64(x)
		s += v * v
	}
	return powerToDBFS(s / float64(len(frame)))
}

// EnergyDBFSFloat is EnergyDBFS for samples already in float64 on the int16
// scale (±32768 full scale).
func EnergyDBFSFloat(frame []float64) float64 {
	if len(frame) == 0 {
		return MinDBFS
	}
	var s float64
	for _, v := range frame {
		s += v * v
	}
	return powerToDBFS(s / float64(len(frame)))
}

func powerToDBFS(meanSquare float64) float64 {
	const fullScale = 32768.0 * 32768.0
	if !(meanSquare > 0) { // also catches NaN
		return MinDBFS
	}
	return math.Max(10*math.Log10(meanSquare/fullScale), MinDBFS)
}
