package sphinx

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
)

// WordPos is the position of a phone inside its word, which selects the
// triphone model: the same phone sounds different at a word's edge.
type WordPos uint8

// Word positions as the binary mdef numbers them.
const (
	PosInternal WordPos = iota
	PosBegin
	PosEnd
	PosSingle
)

// triKey names a context-dependent phone: base phone, left and right
// context, all CI phone ids, and the position in the word.
type triKey struct {
	base, left, right uint8
	pos               WordPos
}

// ModelDef is the model definition (mdef): the CI phone set, which triphones
// exist, and the senone sequence and transition matrix of each phone.
type ModelDef struct {
	CIPhones  []string // CI phone names; index is the CI phone id
	NumSenone int      // senones in the model, CI ones first
	NumCISen  int      // senones of the CI phones
	NumState  int      // emitting states per phone
	NumTmat   int
	Sil       int      // CI phone id of silence
	Filler    []bool   // per CI phone: a filler (silence, noise)
	phoneSSeq []int32  // per phone: its senone sequence id
	phoneTmat []int32  // per phone: its transition matrix id
	sseq      []uint16 // NumState senones per sequence
	ciIndex   map[string]int
	tri       map[triKey]int32
	// SenoneCI maps each senone to the CI phone it belongs to, which in a
	// ptm model is also its codebook.
	SenoneCI []int32
}

// bmdfMagic is "BMDF" read as a 32-bit integer in the file's byte order.
const bmdfMagic = 0x46444d42

// readMdef reads the binary model definition that sphinxtrain's
// mdef_convert writes.
func readMdef(path string) (*ModelDef, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model definition: %w", err)
	}
	if bytes.HasPrefix(data, []byte("0.3\n")) {
		return nil, fmt.Errorf("%s: text mdef; convert it with sphinxtrain's mdef_convert -bin: %w", path, ErrUnsupported)
	}
	if len(data) < 12 {
		return nil, fmt.Errorf("%s: %d bytes: %w", path, len(data), ErrTruncated)
	}
	var order binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint32(data) == bmdfMagic:
		order = binary.LittleEndian
	case binary.BigEndian.Uint32(data) == bmdfMagic:
		order = binary.BigEndian
	default:
		return nil, fmt.Errorf("%s: no BMDF magic: %w", path, ErrFormat)
	}
	off := 4
	need := func(n int) error {
		if n < 0 || len(data)-off < n {
			return fmt.Errorf("%s: needs %d bytes at %d, has %d: %w", path, n, off, len(data)-off, ErrTruncated)
		}
		return nil
	}
	i32 := func() int { v := int(int32(order.Uint32(data[off:]))); off += 4; return v }
	if version := i32(); version != 1 {
		return nil, fmt.Errorf("%s: mdef format version %d, want 1: %w", path, version, ErrUnsupported)
	}
	hlen := i32()
	if err := need(hlen + 40); err != nil {
		return nil, err
	}
	off += hlen
	var h [10]int
	for i := range h {
		h[i] = i32()
	}
	nCI, nPhone, nEmit, nCISen, nSen, nTmat, nSSeq, nCtx, nTree, sil := h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]
	if nCI <= 0 || nCI > 255 || nPhone < nCI || nPhone > 1<<20 || nSen <= 0 || nSen > 1<<20 || nCISen > nSen ||
		nTmat <= 0 || nSSeq <= 0 || nSSeq > 1<<20 || nTree < 0 || nTree > 1<<22 || sil < 0 || sil >= nCI {
		return nil, fmt.Errorf("%s: implausible header %v: %w", path, h, ErrFormat)
	}
	if nEmit <= 0 || nEmit > 8 {
		return nil, fmt.Errorf("%s: %d emitting states (0 = mixed topologies): %w", path, nEmit, ErrUnsupported)
	}
	if nCtx != 3 {
		return nil, fmt.Errorf("%s: %d phones of context, want 3: %w", path, nCtx, ErrUnsupported)
	}
	m := &ModelDef{NumSenone: nSen, NumCISen: nCISen, NumState: nEmit, NumTmat: nTmat, Sil: sil,
		ciIndex: map[string]int{}}
	for range nCI {
		end := bytes.IndexByte(data[off:], 0)
		if end < 0 {
			return nil, fmt.Errorf("%s: CI phone names run off the end: %w", path, ErrTruncated)
		}
		name := string(data[off : off+end])
		m.ciIndex[name] = len(m.CIPhones)
		m.CIPhones = append(m.CIPhones, name)
		off += end + 1
	}
	off = (off + 3) &^ 3
	// The cd_tree is a lookup index over the phone table; the table itself
	// carries each triphone's context, so a map built from it replaces the tree.
	if err := need(nTree*8 + nPhone*12 + 4 + nSSeq*nEmit*2); err != nil {
		return nil, err
	}
	off += nTree * 8
	m.tri = make(map[triKey]int32, nPhone-nCI)
	m.phoneSSeq = make([]int32, nPhone)
	m.phoneTmat = make([]int32, nPhone)
	m.Filler = make([]bool, nCI)
	attrs := make([][4]byte, nPhone)
	for p := range nPhone {
		m.phoneSSeq[p] = int32(i32())
		m.phoneTmat[p] = int32(i32())
		copy(attrs[p][:], data[off:off+4])
		off += 4
		if m.phoneSSeq[p] < 0 || int(m.phoneSSeq[p]) >= nSSeq || m.phoneTmat[p] < 0 || int(m.phoneTmat[p]) >= nTmat {
			return nil, fmt.Errorf("%s: phone %d has senone sequence %d / matrix %d out of range: %w", path, p, m.phoneSSeq[p], m.phoneTmat[p], ErrFormat)
		}
	}
	// The senone sequences are preceded by their element count.
	if n := i32(); n != nSSeq*nEmit {
		return nil, fmt.Errorf("%s: %d senone sequence entries, header gives %d×%d: %w", path, n, nSSeq, nEmit, ErrFormat)
	}
	m.sseq = make([]uint16, nSSeq*nEmit)
	for i := range m.sseq {
		m.sseq[i] = order.Uint16(data[off:])
		off += 2
		if int(m.sseq[i]) >= nSen {
			return nil, fmt.Errorf("%s: senone %d out of range: %w", path, m.sseq[i], ErrFormat)
		}
	}
	if off != len(data) {
		return nil, fmt.Errorf("%s: %d bytes after the senone sequences: %w", path, len(data)-off, ErrFormat)
	}
	m.SenoneCI = make([]int32, nSen)
	for p := range nPhone {
		a := attrs[p]
		base := p
		if p < nCI {
			m.Filler[p] = a[0] != 0
		} else {
			if int(a[1]) >= nCI || int(a[2]) >= nCI || int(a[3]) >= nCI || a[0] > byte(PosSingle) {
				return nil, fmt.Errorf("%s: triphone %d has context %v out of range: %w", path, p, a, ErrFormat)
			}
			base = int(a[1])
			m.tri[triKey{base: a[1], left: a[2], right: a[3], pos: WordPos(a[0])}] = int32(p)
		}
		for _, s := range m.senones(int32(p)) {
			m.SenoneCI[s] = int32(base)
		}
	}
	return m, nil
}

// senones returns the senone sequence of phone p.
func (m *ModelDef) senones(p int32) []uint16 {
	s := int(m.phoneSSeq[p]) * m.NumState
	return m.sseq[s : s+m.NumState]
}

// CIPhone returns the id of the CI phone called name.
func (m *ModelDef) CIPhone(name string) (int, bool) {
	id, ok := m.ciIndex[name]
	return id, ok
}

// Phone returns the phone to use for base in context left_right at pos:
// the triphone when the model has it, otherwise the same triphone at another
// word position, otherwise the CI phone. Filler contexts count as silence,
// as the trainer saw them. A negative context means "unknown" and selects
// the CI phone.
func (m *ModelDef) Phone(base, left, right int, pos WordPos) int32 {
	if left < 0 || right < 0 || m.Filler[base] {
		return int32(base)
	}
	if m.Filler[left] {
		left = m.Sil
	}
	if m.Filler[right] {
		right = m.Sil
	}
	k := triKey{base: uint8(base), left: uint8(left), right: uint8(right), pos: pos}
	if p, ok := m.tri[k]; ok {
		return p
	}
	for _, alt := range [...]WordPos{PosInternal, PosBegin, PosEnd, PosSingle} {
		k.pos = alt
		if p, ok := m.tri[k]; ok {
			return p
		}
	}
	return int32(base)
}
