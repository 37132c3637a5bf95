package dsp

import (
	"math"
	"testing"
)

func TestMelScalesRoundTripAndAnchor(t *testing.T) {
	for _, s := range []MelScale{MelHTK, MelSlaney} {
		for _, hz := range []float64{0, 64, 133.33, 700, 1000, 3800, 6855.5} {
			if got := s.MelToHz(s.HzToMel(hz)); math.Abs(got-hz) > 1e-6 {
				t.Errorf("scale %d: %v Hz round-trips to %v", s, hz, got)
			}
		}
	}
	// 1000 Hz ≈ 1000 mel on the HTK scale; 1000 Hz = 15 mel on Slaney's.
	if m := MelHTK.HzToMel(1000); math.Abs(m-1000) > 0.5 {
		t.Errorf("HTK 1 kHz = %v mel", m)
	}
	if m := MelSlaney.HzToMel(1000); math.Abs(m-15) > 1e-9 {
		t.Errorf("Slaney 1 kHz = %v mel", m)
	}
}

func TestMelFilterBankShapes(t *testing.T) {
	tests := []struct {
		name string
		cfg  MelConfig
	}{
		{"default telephone bank", MelConfig{}},
		{"sphinx 16 kHz unit area", MelConfig{SampleRate: 16000, FFTSize: 512, NumFilters: 40,
			LowHz: 133.33334, HighHz: 6855.4976, Norm: MelUnitArea}},
		{"slaney scale 8 kHz", MelConfig{NumFilters: 20, Scale: MelSlaney, LowHz: 1e-9, HighHz: 4000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fb, err := NewMelFilterBank(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			cfg := fb.Config()
			binHz := float64(cfg.SampleRate) / float64(cfg.FFTSize)
			step := 0.0
			for m := 0; m < fb.NumFilters(); m++ {
				first, w := fb.Weights(m)
				if len(w) == 0 {
					t.Fatalf("filter %d is empty", m)
				}
				var sum, peak float64
				for _, v := range w {
					sum += v
					peak = math.Max(peak, v)
				}
				// Centres are equally spaced in mels.
				if m > 0 {
					d := cfg.Scale.HzToMel(fb.CentreHz(m)) - cfg.Scale.HzToMel(fb.CentreHz(m-1))
					if m > 1 && math.Abs(d-step) > 1e-6 {
						t.Fatalf("mel spacing %v then %v", step, d)
					}
					step = d
				}
				// Peak at the bin nearest the centre.
				peakBin := first
				for i, v := range w {
					if v == peak {
						peakBin = first + i
					}
				}
				if math.Abs(float64(peakBin)*binHz-fb.CentreHz(m)) > binHz {
					t.Errorf("filter %d peaks at %v Hz, centre %v", m, float64(peakBin)*binHz, fb.CentreHz(m))
				}
				switch cfg.Norm {
				case MelUnitHeight:
					if peak > 1+1e-12 {
						t.Errorf("filter %d peak %v > 1", m, peak)
					}
				case MelUnitArea:
					// Σ w·Δf approximates the area of the triangle (1), coarsely
					// for the narrow low filters.
					if area := sum * binHz; math.Abs(area-1) > 0.3 {
						t.Errorf("filter %d area %v, want ≈1", m, area)
					}
				}
			}
		})
	}
}

func TestMelFilterBankAppliesWeights(t *testing.T) {
	fb, _ := NewMelFilterBank(MelConfig{})
	power := make([]float64, 129)
	power[32] = 1 // 1 kHz
	out := make([]float64, fb.NumFilters())
	fb.Apply(out, power)
	for m := range out {
		first, w := fb.Weights(m)
		want := 0.0
		if i := 32 - first; i >= 0 && i < len(w) {
			want = w[i]
		}
		if out[m] != want {
			t.Errorf("filter %d = %v, want %v", m, out[m], want)
		}
	}
	fb.Apply(out, power[:10]) // short spectrum must not panic
}

func TestNewMelFilterBankRejectsBadEdges(t *testing.T) {
	for _, cfg := range []MelConfig{
		{LowHz: 3000, HighHz: 1000},
		{HighHz: 5000},
		{NumFilters: -3},
		{FFTSize: 1},
	} {
		if _, err := NewMelFilterBank(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func BenchmarkMelApply(b *testing.B) {
	fb, _ := NewMelFilterBank(MelConfig{})
	p := make([]float64, 129)
	for i := range p {
		p[i] = float64(i)
	}
	out := make([]float64, fb.NumFilters())
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		fb.Apply(out, p)
	}
}
