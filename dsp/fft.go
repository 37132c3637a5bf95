package dsp

import (
	"fmt"
	"math"
	"math/bits"
	"sync"

	"gonum.org/v1/gonum/dsp/fourier"
)

// FFT is a reusable real FFT of a fixed length. Powers of two from 8 up run
// on the package's own table-driven transform (radix2.go's doc says why);
// other lengths use gonum's general plan. Its buffers are owned by the
// value, so it is not safe for concurrent use; make one per goroutine.
type FFT struct {
	n     int
	plan  *fourier.FFT
	in    []float64
	coeff []complex128
	r2    *radix2 // nil unless n is a power of two ≥ 8
}

// NewFFT returns an FFT of length n. Any n ≥ 2 works; powers of two are
// fastest.
func NewFFT(n int) (*FFT, error) {
	if n < 2 {
		return nil, fmt.Errorf("fft length %d: %w", n, ErrConfig)
	}
	f := &FFT{n: n}
	if n >= 8 && n&(n-1) == 0 {
		f.r2 = newRadix2(n)
	} else {
		f.plan = fourier.NewFFT(n)
	}
	return f, nil
}

// Len returns the transform length.
func (f *FFT) Len() int { return f.n }

// Bins returns the number of non-negative frequency bins, Len()/2+1.
func (f *FFT) Bins() int { return f.n/2 + 1 }

// The buffers below are made on first use: the speech chain's transforms
// only ever take full-length input to a power spectrum, and a few KB less
// per transform is a few MB less cache traffic over thousands of legs.

// input returns src zero-padded or truncated to Len, copying only when it
// must.
func (f *FFT) input(src []float64) []float64 {
	if len(src) >= f.n {
		return src[:f.n]
	}
	if f.in == nil {
		f.in = make([]float64, f.n)
	}
	m := copy(f.in, src)
	clear(f.in[m:])
	return f.in
}

func (f *FFT) coefficients() []complex128 {
	if f.coeff == nil {
		f.coeff = make([]complex128, f.n/2+1)
	}
	return f.coeff
}

func (f *FFT) gonumPlan() *fourier.FFT {
	if f.plan == nil {
		f.plan = fourier.NewFFT(f.n)
	}
	return f.plan
}

// Transform returns the unnormalised DFT X[k] = Σ x[n]·e^(−2πikn/N) for
// k = 0…N/2 of src, zero-padded or truncated to Len. The returned slice is
// owned by f and overwritten by the next call.
func (f *FFT) Transform(src []float64) []complex128 {
	x := f.input(src)
	c := f.coefficients()
	if f.r2 == nil {
		return f.gonumPlan().Coefficients(c, x)
	}
	f.r2.forward(x)
	f.r2.spectrum(func(k int, re, im float64) { c[k] = complex(re, im) })
	return c
}

// Inverse computes the real sequence whose non-negative spectrum is coeff
// (length Bins) into dst (length Len), unnormalised: Inverse(Transform(x))
// is Len·x. It returns false, leaving dst alone, if the lengths are wrong.
func (f *FFT) Inverse(dst []float64, coeff []complex128) bool {
	if len(coeff) != f.Bins() || len(dst) != f.n {
		return false
	}
	f.gonumPlan().Sequence(dst, coeff)
	return true
}

// BinHz returns the centre frequency of bin k for sampleRate.
func (f *FFT) BinHz(k int, sampleRate float64) float64 {
	return float64(k) * sampleRate / float64(f.n)
}

// nextPow2 returns the smallest power of two ≥ n (and ≥ 2).
func nextPow2(n int) int {
	p := 2
	for p < n {
		p <<= 1
	}
	return p
}

// radix2 is a real FFT of a power-of-two length n: the real input is packed
// into a complex sequence of n/2 points (even samples real, odd samples
// imaginary), transformed, and split into the spectrum of the real input.
//
// The complex transform is an iterative decimation-in-time FFT on separate
// real and imaginary arrays, two radix-2 stages fused per pass (radix-2²),
// with every twiddle factor read from a table. gonum's radix-2 routine
// instead advances each twiddle by a complex multiply per butterfly and
// works on complex128 values, which costs about twice the arithmetic and
// twice the passes over memory; at the 256 points of the speech chain the
// table-driven form is about 4× faster (BenchmarkPowerSpectrum256). The bit
// reversal is folded into packing, so it costs no pass of its own.
type radix2 struct {
	*radix2Plan
	re, im []float64 // the complex sequence, length h
}

// radix2Plan holds the read-only tables of a radix2 of one length. They
// are shared by every transform of that length in the process (see
// sharedTables): a media server runs a few FFTs per call leg on thousands
// of legs, and one copy of the tables stays in cache where a copy per leg
// would not.
type radix2Plan struct {
	h      int
	rev    []int32 // bit reversal of 0…h−1
	stages []r22Stage
	// e^(−2πik/n) for k = 0…h, for the split into the real spectrum, and
	// c[k] = −i/2·e^(−2πik/n) for the power spectrum's form of it.
	twr, twi []float64
	cr, ci   []float64
}

// r22Stage holds the twiddles of one fused pass: the pass joins blocks of
// span s into blocks of 4s, with w1[j] = e^(−2πij/2s) for the first
// radix-2 stage and w2[j] = e^(−2πij/4s) for the second, j < s.
type r22Stage struct {
	s                  int
	w1r, w1i, w2r, w2i []float64
}

// sharedTables memoises read-only tables by key for the whole process.
// Nothing in them changes after they are built, so sharing them is as safe
// as sharing a constant; only the map is guarded.
type sharedTables[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

// get returns the tables for k, building them with build the first time.
// A key that is not equal to itself (a NaN in a config) is built afresh
// each time rather than filling the map with entries never found again.
func (c *sharedTables[K, V]) get(k K, build func() V) V {
	if k != k {
		return build()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m[k]; ok {
		return v
	}
	if c.m == nil {
		c.m = make(map[K]V)
	}
	v := build()
	c.m[k] = v
	return v
}

var radix2Plans sharedTables[int, *radix2Plan]

func newRadix2(n int) *radix2 {
	p := radix2Plans.get(n, func() *radix2Plan { return newRadix2Plan(n) })
	return &radix2{radix2Plan: p, re: make([]float64, p.h), im: make([]float64, p.h)}
}

func newRadix2Plan(n int) *radix2Plan {
	h := n / 2
	logH := bits.TrailingZeros(uint(h))
	r := &radix2Plan{h: h, rev: make([]int32, h),
		twr: make([]float64, h+1), twi: make([]float64, h+1),
		cr: make([]float64, h+1), ci: make([]float64, h+1)}
	for i := range r.rev {
		r.rev[i] = int32(bits.Reverse(uint(i)) >> (bits.UintSize - logH))
	}
	s := 1
	if logH%2 == 1 {
		s = 2 // an odd number of stages starts with one plain radix-2 pass
	}
	for ; 4*s <= h; s *= 4 {
		st := r22Stage{s: s, w1r: make([]float64, s), w1i: make([]float64, s),
			w2r: make([]float64, s), w2i: make([]float64, s)}
		for j := 0; j < s; j++ {
			st.w1i[j], st.w1r[j] = math.Sincos(-2 * math.Pi * float64(j) / float64(2*s))
			st.w2i[j], st.w2r[j] = math.Sincos(-2 * math.Pi * float64(j) / float64(4*s))
		}
		r.stages = append(r.stages, st)
	}
	for k := range r.twr {
		r.twi[k], r.twr[k] = math.Sincos(-2 * math.Pi * float64(k) / float64(n))
		r.cr[k], r.ci[k] = 0.5*r.twi[k], -0.5*r.twr[k]
	}
	return r
}

// forward packs x (length 2h) and runs the complex transform in place.
func (r *radix2) forward(x []float64) {
	re, im := r.re, r.im
	x = x[:2*len(r.rev)]
	for i, j := range r.rev {
		re[j], im[j] = x[2*i], x[2*i+1]
	}
	if r.stages == nil || r.stages[0].s == 2 {
		// The plain radix-2 pass of span 1: twiddle 1.
		for i := 0; i+1 < len(re); i += 2 {
			ar, ai, br, bi := re[i], im[i], re[i+1], im[i+1]
			re[i], im[i], re[i+1], im[i+1] = ar+br, ai+bi, ar-br, ai-bi
		}
	}
	for si := range r.stages {
		st := &r.stages[si]
		s := st.s
		w1r, w1i, w2r, w2i := st.w1r, st.w1i[:s], st.w2r[:s], st.w2i[:s]
		for k := 0; k+4*s <= len(re); k += 4 * s {
			ar, br, cr, dr := re[k:k+s], re[k+s:k+2*s], re[k+2*s:k+3*s], re[k+3*s:k+4*s]
			ai, bi, ci, di := im[k:k+s], im[k+s:k+2*s], im[k+2*s:k+3*s], im[k+3*s:k+4*s]
			// j = 0: every twiddle is 1 (and −i), no multiplies.
			{
				a1r, a1i := ar[0]+br[0], ai[0]+bi[0]
				b1r, b1i := ar[0]-br[0], ai[0]-bi[0]
				c1r, c1i := cr[0]+dr[0], ci[0]+di[0]
				d1r, d1i := cr[0]-dr[0], ci[0]-di[0]
				ar[0], ai[0] = a1r+c1r, a1i+c1i
				cr[0], ci[0] = a1r-c1r, a1i-c1i
				br[0], bi[0] = b1r+d1i, b1i-d1r
				dr[0], di[0] = b1r-d1i, b1i+d1r
			}
			for j := 1; j < len(w1r); j++ {
				w1, v1, u2, v2 := w1r[j], w1i[j], w2r[j], w2i[j]
				// First stage (span s): b and d times w1.
				tbr, tbi := w1*br[j]-v1*bi[j], w1*bi[j]+v1*br[j]
				tdr, tdi := w1*dr[j]-v1*di[j], w1*di[j]+v1*dr[j]
				a1r, a1i := ar[j]+tbr, ai[j]+tbi
				b1r, b1i := ar[j]-tbr, ai[j]-tbi
				c1r, c1i := cr[j]+tdr, ci[j]+tdi
				d1r, d1i := cr[j]-tdr, ci[j]-tdi
				// Second stage (span 2s): c1 times w2, d1 times −i·w2.
				ucr, uci := u2*c1r-v2*c1i, u2*c1i+v2*c1r
				udr, udi := u2*d1i+v2*d1r, v2*d1i-u2*d1r
				ar[j], ai[j] = a1r+ucr, a1i+uci
				cr[j], ci[j] = a1r-ucr, a1i-uci
				br[j], bi[j] = b1r+udr, b1i+udi
				dr[j], di[j] = b1r-udr, b1i-udi
			}
		}
	}
}

// spectrum splits the transformed half-length sequence Z into the spectrum
// of the real input and calls put for k = 0…h: Z's even and odd parts are
// the spectra E and O of the even and odd samples, and X[k] = E[k] +
// e^(−2πik/n)·O[k].
func (r *radix2) spectrum(put func(k int, re, im float64)) {
	h := r.h
	zr, zi := r.re[:h], r.im[:h]
	twr, twi := r.twr[:h+1], r.twi[:h+1]
	put(0, zr[0]+zi[0], 0)
	put(h, zr[0]-zi[0], 0)
	for k := 1; k < h; k++ {
		ar, ai, br, bi := zr[k], zi[k], zr[h-k], zi[h-k]
		er, ei := (ar+br)*0.5, (ai-bi)*0.5
		or, oi := (ai+bi)*0.5, (br-ar)*0.5
		wr, wi := twr[k], twi[k]
		put(k, er+wr*or-wi*oi, ei+wr*oi+wi*or)
	}
}

// power writes |X[k]|² for k < len(dst) (at most h+1 bins). Bins k and
// h−k come from the same two values of Z, so they are computed together:
// with S = Z[k] + conj(Z[h−k]) and D = Z[k] − conj(Z[h−k]),
// X[k] = S/2 + c[k]·D and X[h−k] = conj(S)/2 − c[h−k]·conj(D), where
// c[k] = −i/2·e^(−2πik/n).
func (r *radix2) power(dst []float64) {
	h := r.h
	if len(dst) < h+1 {
		r.powerShort(dst)
		return
	}
	dst = dst[:h+1]
	zr, zi := r.re[:h], r.im[:h]
	cr, ci := r.cr[:h+1], r.ci[:h+1]
	x0, xh := zr[0]+zi[0], zr[0]-zi[0]
	dst[0], dst[h] = x0*x0, xh*xh
	for k := 1; k <= h/2; k++ {
		m := h - k
		sr, si := zr[k]+zr[m], zi[k]-zi[m]
		dr, di := zr[k]-zr[m], zi[k]+zi[m]
		// X[k] = S/2 + c[k]·D
		xr := 0.5*sr + cr[k]*dr - ci[k]*di
		xi := 0.5*si + cr[k]*di + ci[k]*dr
		dst[k] = xr*xr + xi*xi
		// X[h−k] = conj(S)/2 − c[h−k]·conj(D)
		yr := 0.5*sr - cr[m]*dr - ci[m]*di
		yi := -0.5*si - ci[m]*dr + cr[m]*di
		dst[m] = yr*yr + yi*yi
	}
}

// powerShort is power for a dst shorter than h+1 bins.
func (r *radix2) powerShort(dst []float64) {
	r.spectrum(func(k int, re, im float64) {
		if k < len(dst) {
			dst[k] = re*re + im*im
		}
	})
}
