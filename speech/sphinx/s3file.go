package sphinx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
)

// Errors a model load can wrap; test with errors.Is.
var (
	// ErrFormat reports a model file whose content does not follow its format.
	ErrFormat = errors.New("sphinx: malformed model file")
	// ErrTruncated reports a model file that ends before its header says it should.
	ErrTruncated = errors.New("sphinx: truncated model file")
	// ErrChecksum reports a model file whose trailing checksum does not match.
	ErrChecksum = errors.New("sphinx: checksum mismatch")
	// ErrUnsupported reports a model type or option this package does not implement.
	ErrUnsupported = errors.New("sphinx: unsupported model")
)

// s3byteOrderMagic follows the text header of every Sphinx-3 binary file; read
// in the file's byte order it equals this value, which is how readers detect a
// file written on a machine of the other endianness.
const s3byteOrderMagic = 0x11223344

// s3reader walks the body of a Sphinx-3 binary parameter file (means,
// variances, transition_matrices): "s3\n", "name value\n" lines up to
// "endhdr\n", the byte-order magic, then int32 and float32 data, and with
// "chksum0" in the header a trailing uint32 checksum over everything read.
type s3reader struct {
	path   string
	data   []byte
	off    int
	order  binary.ByteOrder
	header map[string]string
	sum    uint32
	hasSum bool
}

func openS3(path string) (*s3reader, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model file: %w", err)
	}
	r := &s3reader{path: path, data: data, header: map[string]string{}}
	if !bytes.HasPrefix(data, []byte("s3\n")) {
		return nil, fmt.Errorf("%s: no \"s3\" header line: %w", path, ErrFormat)
	}
	end := bytes.Index(data, []byte("endhdr\n"))
	if end < 0 {
		return nil, fmt.Errorf("%s: no endhdr line: %w", path, ErrTruncated)
	}
	for i, line := range strings.Split(string(data[3:end]), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("%s: header line %d %q is not \"name value\": %w", path, i+2, line, ErrFormat)
		}
		r.header[f[0]] = f[1]
	}
	r.off = end + len("endhdr\n")
	if len(data) < r.off+4 {
		return nil, fmt.Errorf("%s: no byte-order magic: %w", path, ErrTruncated)
	}
	switch {
	case binary.LittleEndian.Uint32(data[r.off:]) == s3byteOrderMagic:
		r.order = binary.LittleEndian
	case binary.BigEndian.Uint32(data[r.off:]) == s3byteOrderMagic:
		r.order = binary.BigEndian
	default:
		return nil, fmt.Errorf("%s: bad byte-order magic %#x: %w", path, data[r.off:r.off+4], ErrFormat)
	}
	r.off += 4
	_, r.hasSum = r.header["chksum0"]
	return r, nil
}

// accum folds one 32-bit word into the running checksum the way Sphinx
// writers do: rotate left by 20, add.
func (r *s3reader) accum(v uint32) { r.sum = (r.sum<<20 | r.sum>>12) + v }

func (r *s3reader) int32() (int, error) {
	if len(r.data)-r.off < 4 {
		return 0, fmt.Errorf("%s: at byte %d: %w", r.path, r.off, ErrTruncated)
	}
	v := r.order.Uint32(r.data[r.off:])
	r.off += 4
	r.accum(v)
	return int(int32(v)), nil
}

// floats reads n float32 values, checking first that they are there so a
// corrupt count cannot make us allocate gigabytes.
func (r *s3reader) floats(n int) ([]float32, error) {
	if n < 0 || (len(r.data)-r.off)/4 < n {
		return nil, fmt.Errorf("%s: %d floats announced at byte %d, %d bytes left: %w", r.path, n, r.off, len(r.data)-r.off, ErrTruncated)
	}
	out := make([]float32, n)
	for i := range out {
		v := r.order.Uint32(r.data[r.off:])
		r.off += 4
		r.accum(v)
		out[i] = math.Float32frombits(v)
	}
	return out, nil
}

// finish verifies the checksum, when the header promised one, and that no
// data is left over.
func (r *s3reader) finish() error {
	if r.hasSum {
		if len(r.data)-r.off < 4 {
			return fmt.Errorf("%s: no checksum at the end: %w", r.path, ErrTruncated)
		}
		want := r.order.Uint32(r.data[r.off:])
		r.off += 4
		if want != r.sum {
			return fmt.Errorf("%s: checksum %#x, computed %#x: %w", r.path, want, r.sum, ErrChecksum)
		}
	}
	if r.off != len(r.data) {
		return fmt.Errorf("%s: %d bytes after the data: %w", r.path, len(r.data)-r.off, ErrFormat)
	}
	return nil
}

// gaussianFile is a means or variances file: for each codebook and feature
// stream, nDensity vectors of veclen[f] floats.
type gaussianFile struct {
	nMgau, nFeat, nDensity int
	veclen                 []int
	// data[mgau][feat] holds nDensity*veclen[feat] floats, density-major.
	data [][][]float32
}

func readGaussians(path string) (*gaussianFile, error) {
	r, err := openS3(path)
	if err != nil {
		return nil, err
	}
	g := &gaussianFile{}
	if g.nMgau, err = r.int32(); err != nil {
		return nil, err
	}
	if g.nFeat, err = r.int32(); err != nil {
		return nil, err
	}
	if g.nDensity, err = r.int32(); err != nil {
		return nil, err
	}
	if g.nMgau <= 0 || g.nMgau > 1<<16 || g.nFeat <= 0 || g.nFeat > 16 || g.nDensity <= 0 || g.nDensity > 1<<16 {
		return nil, fmt.Errorf("%s: implausible sizes %d codebooks × %d streams × %d densities: %w", path, g.nMgau, g.nFeat, g.nDensity, ErrFormat)
	}
	blk := 0
	for range g.nFeat {
		n, err := r.int32()
		if err != nil {
			return nil, err
		}
		if n <= 0 || n > 1024 {
			return nil, fmt.Errorf("%s: stream length %d: %w", path, n, ErrFormat)
		}
		g.veclen = append(g.veclen, n)
		blk += n
	}
	total, err := r.int32()
	if err != nil {
		return nil, err
	}
	if total != g.nMgau*g.nDensity*blk {
		return nil, fmt.Errorf("%s: %d floats announced, dimensions give %d×%d×%d: %w", path, total, g.nMgau, g.nDensity, blk, ErrFormat)
	}
	all, err := r.floats(total)
	if err != nil {
		return nil, err
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	g.data = make([][][]float32, g.nMgau)
	off := 0
	for m := range g.data {
		g.data[m] = make([][]float32, g.nFeat)
		for f := range g.nFeat {
			n := g.nDensity * g.veclen[f]
			g.data[m][f] = all[off : off+n : off+n]
			off += n
		}
	}
	return g, nil
}

// readTransitions reads transition_matrices: nTmat matrices of nSrc rows
// (emitting states) by nSrc+1 columns (the last is the exit).
func readTransitions(path string) (tmat [][]float32, nState int, err error) {
	r, err := openS3(path)
	if err != nil {
		return nil, 0, err
	}
	nTmat, err := r.int32()
	if err != nil {
		return nil, 0, err
	}
	nSrc, err := r.int32()
	if err != nil {
		return nil, 0, err
	}
	nDst, err := r.int32()
	if err != nil {
		return nil, 0, err
	}
	total, err := r.int32()
	if err != nil {
		return nil, 0, err
	}
	if nTmat <= 0 || nTmat > 1<<16 || nSrc <= 0 || nSrc > 16 || nDst != nSrc+1 || total != nTmat*nSrc*nDst {
		return nil, 0, fmt.Errorf("%s: %d matrices of %d×%d with %d floats: %w", path, nTmat, nSrc, nDst, total, ErrFormat)
	}
	all, err := r.floats(total)
	if err != nil {
		return nil, 0, err
	}
	if err := r.finish(); err != nil {
		return nil, 0, err
	}
	tmat = make([][]float32, nTmat)
	for i := range tmat {
		tmat[i] = all[i*nSrc*nDst : (i+1)*nSrc*nDst]
	}
	return tmat, nSrc, nil
}
