package sphinx

import "fmt"

// Pipeline is a front end, feature computer and decoder chained for one
// stream of samples at the model's rate. Not safe for concurrent use.
type Pipeline struct {
	fe       *FrontEnd
	feat     *Features
	dec      *Decoder
	emitCeps func([]float64)
	emitFeat func([]float32)
}

// NewPipeline returns a pipeline decoding into net.
func NewPipeline(net *Network, cfg DecoderConfig) (*Pipeline, error) {
	fe, err := NewFrontEnd(net.m.Feat)
	if err != nil {
		return nil, fmt.Errorf("new pipeline: %w", err)
	}
	p := &Pipeline{fe: fe, feat: NewFeatures(net.m.Feat.NumCeps, net.m.Feat.CMNInit), dec: NewDecoder(net, cfg)}
	p.emitFeat = p.dec.Step
	p.emitCeps = func(c []float64) { p.feat.Push(c, p.emitFeat) }
	return p, nil
}

// Write feeds samples at the model's sample rate.
func (p *Pipeline) Write(samples []int16) { p.fe.Write(samples, p.emitCeps) }

// Partial returns the best path's words so far.
func (p *Pipeline) Partial() string { return p.dec.Partial() }

// End finishes the utterance and returns its N-best hypotheses; the
// pipeline is then ready for the next utterance (CMN carries over).
func (p *Pipeline) End() []Hypothesis {
	p.fe.Flush(p.emitCeps)
	p.feat.EndUtterance(p.emitFeat)
	h := p.dec.Final()
	p.dec.Reset()
	return h
}

// Frames returns how many frames the current utterance has decoded.
func (p *Pipeline) Frames() int { return p.dec.Frames() }
