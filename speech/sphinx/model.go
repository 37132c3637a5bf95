package sphinx

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Default locations of the Debian packages pocketsphinx-en-us.
const (
	DefaultModelDir = "/usr/share/pocketsphinx/model/en-us/en-us"
	DefaultDict     = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
)

// ModelConfig says where a model is and how to precompute it. The zero value
// loads the en-us model of the Debian package pocketsphinx-en-us.
type ModelConfig struct {
	// Dir holds feat.params, mdef, means, variances, sendump,
	// transition_matrices and noisedict; empty means DefaultModelDir.
	Dir string
	// Dict is the pronouncing dictionary; empty means DefaultDict.
	Dict string
	// VarFloor bounds variances from below; zero means 1e-4 (pocketsphinx -varfloor).
	VarFloor float64
	// TmatFloor bounds transition probabilities; zero means 1e-4 (-tmatfloor).
	TmatFloor float64
}

// FeatParams are the front-end settings a model was trained with, read from
// its feat.params; fields not in the file keep pocketsphinx's defaults.
type FeatParams struct {
	SampleRate  int     // -samprate, 16000
	FrameRate   int     // -frate, frames per second, 100
	WindowSec   float64 // -wlen, 0.025625
	FFTSize     int     // -nfft, 512
	NumFilters  int     // -nfilt, 40
	LowerHz     float64 // -lowerf, 133.33334
	UpperHz     float64 // -upperf, 6855.4976
	NumCeps     int     // -ncep, 13
	Lifter      float64 // -lifter, 0 (none)
	PreEmphasis float64 // -alpha, 0.97
	Transform   string  // -transform, "legacy"
	Feat        string  // -feat, "1s_c_d_dd"
	CMN         string  // -cmn, "live"
	CMNInit     []float64
	VarNorm     bool   // -varnorm
	AGC         string // -agc
	ModelType   string // -model, "ptm" or "semi"
	SVSpec      [][2]int
	// Dither adds sphinx's +1 LSB to a random quarter of the samples
	// (-dither yes).
	Dither bool
	// NoiseLSB, when positive, adds to the mel filters whose lower edge is
	// at or above NoiseFromHz the expected energy of white noise of this
	// standard deviation (in LSB): a spectral floor for bands the audio
	// does not carry. See parseFeatParams for the defaults and why.
	NoiseLSB, NoiseFromHz float64
}

func defaultFeatParams() FeatParams {
	return FeatParams{SampleRate: 16000, FrameRate: 100, WindowSec: 0.025625, FFTSize: 512, NumFilters: 40,
		LowerHz: 133.33334, UpperHz: 6855.4976, NumCeps: 13, PreEmphasis: 0.97, Transform: "legacy",
		Feat: "1s_c_d_dd", CMN: "live", AGC: "none"}
}

// parseFeatParams reads "-name value" lines.
func parseFeatParams(path string) (FeatParams, error) {
	p := defaultFeatParams()
	f, err := os.Open(path)
	if err != nil {
		return p, fmt.Errorf("read front-end parameters: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) != 2 || !strings.HasPrefix(fields[0], "-") {
			return p, fmt.Errorf("%s:%d: %q is not \"-name value\": %w", path, line, sc.Text(), ErrFormat)
		}
		name, v := fields[0][1:], fields[1]
		bad := func(err error) error { return fmt.Errorf("%s:%d: -%s %q: %w", path, line, name, v, err) }
		var err error
		switch name {
		case "samprate":
			var x float64
			x, err = strconv.ParseFloat(v, 64)
			p.SampleRate = int(x)
		case "frate":
			p.FrameRate, err = strconv.Atoi(v)
		case "wlen":
			p.WindowSec, err = strconv.ParseFloat(v, 64)
		case "nfft":
			p.FFTSize, err = strconv.Atoi(v)
		case "nfilt":
			p.NumFilters, err = strconv.Atoi(v)
		case "lowerf":
			p.LowerHz, err = strconv.ParseFloat(v, 64)
		case "upperf":
			p.UpperHz, err = strconv.ParseFloat(v, 64)
		case "ncep":
			p.NumCeps, err = strconv.Atoi(v)
		case "lifter":
			p.Lifter, err = strconv.ParseFloat(v, 64)
		case "alpha":
			p.PreEmphasis, err = strconv.ParseFloat(v, 64)
		case "transform":
			p.Transform = v
		case "feat":
			p.Feat = v
		case "cmn":
			p.CMN = v
		case "varnorm":
			p.VarNorm = v == "yes"
		case "agc":
			p.AGC = v
		case "model":
			p.ModelType = v
		case "cmninit":
			p.CMNInit = p.CMNInit[:0]
			for _, s := range strings.Split(v, ",") {
				var x float64
				if x, err = strconv.ParseFloat(s, 64); err != nil {
					break
				}
				p.CMNInit = append(p.CMNInit, x)
			}
		case "svspec":
			p.SVSpec = nil
			for _, part := range strings.Split(v, "/") {
				a, b, ok := strings.Cut(part, "-")
				lo, err1 := strconv.Atoi(a)
				hi, err2 := strconv.Atoi(b)
				if !ok || err1 != nil || err2 != nil || hi < lo {
					err = ErrFormat
					break
				}
				p.SVSpec = append(p.SVSpec, [2]int{lo, hi})
			}
		}
		if err != nil {
			return p, bad(err)
		}
	}
	if err := sc.Err(); err != nil {
		return p, fmt.Errorf("read %s: %w", path, err)
	}
	switch {
	case p.Feat != "1s_c_d_dd":
		return p, fmt.Errorf("%s: -feat %s (only 1s_c_d_dd is implemented): %w", path, p.Feat, ErrUnsupported)
	case p.ModelType != "ptm" && p.ModelType != "semi":
		return p, fmt.Errorf("%s: -model %q (only ptm and semi are implemented): %w", path, p.ModelType, ErrUnsupported)
	case p.Transform != "dct":
		return p, fmt.Errorf("%s: -transform %s (only dct is implemented): %w", path, p.Transform, ErrUnsupported)
	case p.AGC != "none" || p.VarNorm:
		return p, fmt.Errorf("%s: -agc %s / -varnorm (not implemented): %w", path, p.AGC, ErrUnsupported)
	case p.NumCeps <= 0 || p.NumCeps > 64 || p.SampleRate <= 0 || p.FrameRate <= 0 || p.FFTSize < 64:
		return p, fmt.Errorf("%s: implausible front-end sizes: %w", path, ErrFormat)
	}
	if p.CMNInit != nil && len(p.CMNInit) != p.NumCeps {
		return p, fmt.Errorf("%s: -cmninit has %d values for %d cepstra: %w", path, len(p.CMNInit), p.NumCeps, ErrFormat)
	}
	if p.CMNInit == nil {
		p.CMNInit = make([]float64, p.NumCeps)
		p.CMNInit[0] = 8 // pocketsphinx's default initial c0 mean
	}
	// Telephone audio upsampled to 16 kHz has nothing above 4 kHz, and the
	// log of nothing in the top mel bands throws the cepstra far from
	// anything the model was trained on (pocketsphinx hides this with its
	// -remove_noise spectral floor). A fixed floor in the filters above
	// 3.8 kHz, worth white noise of 300 LSB, fixes it: measured on the
	// docs/asr-report.md set, word accuracy 0/30/100/300/1000/3000 LSB =
	// 9.7 (floor on every band at 30)/65.0/75.6/79.3/80.6/63.6 %, real
	// recordings 84/88/92/96/92/68 %.
	p.Dither, p.NoiseLSB, p.NoiseFromHz = true, 300, 3800
	if p.SVSpec == nil {
		p.SVSpec = [][2]int{{0, 3*p.NumCeps - 1}}
	}
	return p, nil
}

// Model is a loaded acoustic model with its dictionary. It is read-only
// after Load and safe to share between any number of concurrent streams.
type Model struct {
	Feat FeatParams
	Mdef *ModelDef
	Dict *Dictionary

	nFeat, nDensity int
	veclen          []int
	featOff         []int // start of each stream in the 39-dim vector
	// means, ivar: [codebook][feat] nDensity*veclen floats; ivar is 1/(2σ²).
	means, ivar [][][]float32
	// logNorm[codebook][feat][density] = Σ log(1/√(2πσ²)).
	logNorm [][][]float32
	mixw    *mixtureWeights
	// tmatLog[t][from*(NumState+1)+to] = log P, −Inf where the model has no arc.
	tmatLog [][]float32

	// LoadTime is how long Load took, for logs and the report.
	LoadTime time.Duration
}

// Load reads and validates every file of a model directory and the
// dictionary, and precomputes what scoring needs.
func Load(cfg ModelConfig) (*Model, error) {
	start := time.Now()
	if cfg.Dir == "" {
		cfg.Dir = DefaultModelDir
	}
	if cfg.Dict == "" {
		cfg.Dict = DefaultDict
	}
	if cfg.VarFloor == 0 {
		cfg.VarFloor = 1e-4
	}
	if cfg.TmatFloor == 0 {
		cfg.TmatFloor = 1e-4
	}
	if st, err := os.Stat(cfg.Dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("load sphinx model: %q is not a model directory: %w", cfg.Dir, os.ErrNotExist)
	}
	file := func(name string) string { return filepath.Join(cfg.Dir, name) }
	m := &Model{}
	var err error
	if m.Feat, err = parseFeatParams(file("feat.params")); err != nil {
		return nil, fmt.Errorf("load sphinx model: %w", err)
	}
	if m.Mdef, err = readMdef(file("mdef")); err != nil {
		return nil, fmt.Errorf("load sphinx model: %w", err)
	}
	means, err := readGaussians(file("means"))
	if err != nil {
		return nil, fmt.Errorf("load sphinx model: %w", err)
	}
	vars, err := readGaussians(file("variances"))
	if err != nil {
		return nil, fmt.Errorf("load sphinx model: %w", err)
	}
	if err := m.initGaussians(means, vars, cfg.VarFloor); err != nil {
		return nil, fmt.Errorf("load sphinx model: %w", err)
	}
	if m.mixw, err = readSendump(file("sendump"), m.nFeat, m.Mdef.NumSenone); err != nil {
		return nil, fmt.Errorf("load sphinx model: %w", err)
	}
	if m.mixw.nCodeword != m.nDensity {
		return nil, fmt.Errorf("load sphinx model: %s has %d codewords, the Gaussians %d: %w", file("sendump"), m.mixw.nCodeword, m.nDensity, ErrFormat)
	}
	tmat, nState, err := readTransitions(file("transition_matrices"))
	if err != nil {
		return nil, fmt.Errorf("load sphinx model: %w", err)
	}
	if nState != m.Mdef.NumState || len(tmat) != m.Mdef.NumTmat {
		return nil, fmt.Errorf("load sphinx model: %s has %d matrices of %d states, mdef wants %d of %d: %w",
			file("transition_matrices"), len(tmat), nState, m.Mdef.NumTmat, m.Mdef.NumState, ErrFormat)
	}
	m.tmatLog = make([][]float32, len(tmat))
	for i, t := range tmat {
		m.tmatLog[i] = make([]float32, len(t))
		for j, p := range t {
			switch {
			case p <= 0:
				m.tmatLog[i][j] = float32(math.Inf(-1))
			case float64(p) < cfg.TmatFloor:
				m.tmatLog[i][j] = float32(math.Log(cfg.TmatFloor))
			default:
				m.tmatLog[i][j] = float32(math.Log(float64(p)))
			}
		}
	}
	m.Dict = newDictionary()
	if err := m.Dict.load(cfg.Dict, m.Mdef, false); err != nil {
		return nil, fmt.Errorf("load sphinx model: %w", err)
	}
	if err := m.Dict.load(file("noisedict"), m.Mdef, true); err != nil {
		return nil, fmt.Errorf("load sphinx model: %w", err)
	}
	m.LoadTime = time.Since(start)
	return m, nil
}

func (m *Model) initGaussians(means, vars *gaussianFile, varFloor float64) error {
	if means.nMgau != vars.nMgau || means.nFeat != vars.nFeat || means.nDensity != vars.nDensity {
		return fmt.Errorf("means (%d×%d×%d) and variances (%d×%d×%d) differ: %w",
			means.nMgau, means.nFeat, means.nDensity, vars.nMgau, vars.nFeat, vars.nDensity, ErrFormat)
	}
	nCB := means.nMgau
	switch m.Feat.ModelType {
	case "ptm":
		if nCB != len(m.Mdef.CIPhones) {
			return fmt.Errorf("ptm model with %d codebooks for %d CI phones: %w", nCB, len(m.Mdef.CIPhones), ErrFormat)
		}
	case "semi":
		if nCB != 1 {
			return fmt.Errorf("semi-continuous model with %d codebooks: %w", nCB, ErrFormat)
		}
	}
	if len(m.Feat.SVSpec) != means.nFeat {
		return fmt.Errorf("feat.params -svspec has %d streams, the Gaussians %d: %w", len(m.Feat.SVSpec), means.nFeat, ErrFormat)
	}
	m.nFeat, m.nDensity, m.veclen = means.nFeat, means.nDensity, means.veclen
	dim := 0
	for f, s := range m.Feat.SVSpec {
		if s[0] != dim || s[1]-s[0]+1 != means.veclen[f] {
			return fmt.Errorf("feat.params -svspec %v does not match stream %d of length %d: %w", s, f, means.veclen[f], ErrUnsupported)
		}
		m.featOff = append(m.featOff, dim)
		dim += means.veclen[f]
	}
	if dim != 3*m.Feat.NumCeps {
		return fmt.Errorf("gaussians of %d dimensions for 1s_c_d_dd of %d cepstra: %w", dim, m.Feat.NumCeps, ErrFormat)
	}
	m.means = means.data
	m.ivar = make([][][]float32, nCB)
	m.logNorm = make([][][]float32, nCB)
	for cb := range nCB {
		m.ivar[cb] = make([][]float32, m.nFeat)
		m.logNorm[cb] = make([][]float32, m.nFeat)
		for f := range m.nFeat {
			v := vars.data[cb][f]
			iv := make([]float32, len(v))
			ln := make([]float32, m.nDensity)
			vl := m.veclen[f]
			for d := range m.nDensity {
				sum := 0.0
				for k := range vl {
					x := float64(v[d*vl+k])
					if x < varFloor {
						x = varFloor
					}
					sum += -0.5 * math.Log(2*math.Pi*x)
					iv[d*vl+k] = float32(1 / (2 * x))
				}
				ln[d] = float32(sum)
			}
			m.ivar[cb][f] = iv
			m.logNorm[cb][f] = ln
		}
	}
	return nil
}
