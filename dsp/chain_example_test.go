package dsp_test

import (
	"fmt"

	"github.com/waihu/waihu/dsp"
)

// A call leg feeds each 20 ms frame to one Chain and acts on its events.
func ExampleChain() {
	chain, err := dsp.NewChain(dsp.ChainConfig{})
	if err != nil {
		panic(err)
	}
	var out dsp.ChainResult
	frame := make([]int16, dsp.FrameSamples) // from the RTP leg
	for range 50 {
		chain.Process(frame, &out)
		if out.VAD.Event == dsp.SpeechStart {
			fmt.Println("speech from sample", out.VAD.EventSample)
		}
	}
	fmt.Println(len(out.MFCC), "MFCC vectors of", len(out.MFCC[0]), "per frame; level", out.EnergyDBFS, "dBFS")
	// Output: 2 MFCC vectors of 13 per frame; level -120 dBFS
}

// An 8 kHz leg goes to a 16 kHz recogniser through a streaming resampler.
func ExampleResampler() {
	up, err := dsp.NewResampler(dsp.ResamplerConfig{InRate: 8000, OutRate: 16000})
	if err != nil {
		panic(err)
	}
	frame := make([]int16, dsp.FrameSamples)
	wide := make([]int16, up.MaxOut(len(frame)))
	n := up.Process(wide, frame)
	fmt.Println(n, "samples at 16 kHz")
	// Output: 320 samples at 16 kHz
}

// A sphinx-style front end reuses the mel filter bank with its own
// parameters: 16 kHz, 512-point FFT, 40 unit-area filters.
func ExampleNewMelFilterBank() {
	fb, err := dsp.NewMelFilterBank(dsp.MelConfig{SampleRate: 16000, FFTSize: 512, NumFilters: 40,
		LowHz: 133.33334, HighHz: 6855.4976, Norm: dsp.MelUnitArea})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d filters, first centred at %.0f Hz\n", fb.NumFilters(), fb.CentreHz(0))
	// Output: 40 filters, first centred at 179 Hz
}
