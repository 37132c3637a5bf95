package sphinx

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// mixwUnitNats is the size of one step of the 8-bit quantised mixture weights
// in sendump: each byte is −log(w) in units of 1.0001^1024, the log base
// Sphinx uses shifted right by 10 bits.
var mixwUnitNats = 1024 * math.Log(1.0001)

// mixtureWeights holds the quantised weights of a sendump file:
// w[feat][codeword][senone] = −log(weight) / mixwUnitNats.
type mixtureWeights struct {
	nFeat, nCodeword, nSenone, stride int
	w                                 []uint8 // feat-major, then codeword, then senone (stride bytes per row)
}

func (m *mixtureWeights) row(feat, cw int) []uint8 {
	o := (feat*m.nCodeword + cw) * m.stride
	return m.w[o : o+m.nSenone : o+m.nSenone]
}

// readSendump reads the pre-quantised mixture weights pocketsphinx ships
// with semi-continuous and ptm models. The layout: length-prefixed,
// NUL-terminated strings (title, source, "name value" lines) ended by a zero
// length, then rows and columns as int32, then rows of column bytes per
// feature stream. The file has no byte-order magic: the first length is
// small, so a huge value means the other byte order.
func readSendump(path string, nFeat, nSenone int) (*mixtureWeights, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read mixture weights: %w", err)
	}
	if len(data) < 4 {
		return nil, fmt.Errorf("%s: %d bytes: %w", path, len(data), ErrTruncated)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if n := order.Uint32(data); n < 1 || n > 999 {
		order = binary.BigEndian
		if n := order.Uint32(data); n < 1 || n > 999 {
			return nil, fmt.Errorf("%s: title length %#x out of range, not a sendump file: %w", path, data[:4], ErrFormat)
		}
	}
	off := 0
	clusters := -1
	featCount := nFeat
	for {
		if len(data)-off < 4 {
			return nil, fmt.Errorf("%s: header strings run off the end: %w", path, ErrTruncated)
		}
		n := int(order.Uint32(data[off:]))
		off += 4
		if n == 0 {
			break
		}
		if n < 0 || n > 1<<16 || len(data)-off < n {
			return nil, fmt.Errorf("%s: header string of %d bytes at %d: %w", path, n, off, ErrTruncated)
		}
		s := strings.TrimRight(string(data[off:off+n]), "\x00")
		off += n
		if v, ok := strings.CutPrefix(s, "cluster_count "); ok {
			clusters, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		if v, ok := strings.CutPrefix(s, "feature_count "); ok {
			featCount, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if clusters != 0 {
		return nil, fmt.Errorf("%s: cluster_count %d (only the 8-bit format with cluster_count 0 is supported): %w", path, clusters, ErrUnsupported)
	}
	if featCount != nFeat {
		return nil, fmt.Errorf("%s: %d feature streams, the Gaussians have %d: %w", path, featCount, nFeat, ErrFormat)
	}
	if len(data)-off < 8 {
		return nil, fmt.Errorf("%s: no dimensions: %w", path, ErrTruncated)
	}
	rows := int(int32(order.Uint32(data[off:])))
	cols := int(int32(order.Uint32(data[off+4:])))
	off += 8
	if rows <= 0 || rows > 1<<16 || cols < nSenone || cols > nSenone+3 {
		return nil, fmt.Errorf("%s: %d codewords × %d senones, the model has %d senones: %w", path, rows, cols, nSenone, ErrFormat)
	}
	need := nFeat * rows * cols
	if len(data)-off != need {
		if len(data)-off < need {
			return nil, fmt.Errorf("%s: %d weight bytes, want %d: %w", path, len(data)-off, need, ErrTruncated)
		}
		return nil, fmt.Errorf("%s: %d bytes after the weights: %w", path, len(data)-off-need, ErrFormat)
	}
	return &mixtureWeights{nFeat: nFeat, nCodeword: rows, nSenone: nSenone, stride: cols, w: data[off:]}, nil
}
