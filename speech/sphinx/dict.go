package sphinx

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Dictionary maps words to pronunciations in the model's CI phones. Words
// with several pronunciations are kept as "word", "word(2)" … as in the
// CMU dictionary files.
type Dictionary struct {
	phones []uint8             // all pronunciations back to back
	index  map[string][2]int32 // word → offset, length in phones
	filler map[string]bool
}

// Pron returns the pronunciation of word (lower case as in the file) and
// whether it is known. The slice is shared: do not modify it.
func (d *Dictionary) Pron(word string) ([]uint8, bool) {
	e, ok := d.index[word]
	if !ok {
		return nil, false
	}
	return d.phones[e[0] : e[0]+e[1] : e[0]+e[1]], true
}

// Alternates returns every pronunciation of word: word, word(2), word(3)…
func (d *Dictionary) Alternates(word string) [][]uint8 {
	var out [][]uint8
	if p, ok := d.Pron(word); ok {
		out = append(out, p)
	}
	for i := 2; ; i++ {
		p, ok := d.Pron(fmt.Sprintf("%s(%d)", word, i))
		if !ok {
			return out
		}
		out = append(out, p)
	}
}

// IsFiller reports whether word came from the noise dictionary.
func (d *Dictionary) IsFiller(word string) bool { return d.filler[word] }

// Len returns the number of entries, alternates included.
func (d *Dictionary) Len() int { return len(d.index) }

// loadDict adds the entries of a dictionary file. Lines are "WORD PH1 PH2 …";
// a "#" starts a comment (cmudict-en-us uses it for notes after the phones).
func (d *Dictionary) load(path string, mdef *ModelDef, filler bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read dictionary: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if i := bytes.IndexByte(b, '#'); i >= 0 {
			b = b[:i]
		}
		fields := bytes.Fields(b)
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 2 {
			return fmt.Errorf("%s:%d: word %q has no phones: %w", path, line, fields[0], ErrFormat)
		}
		off := int32(len(d.phones))
		for _, ph := range fields[1:] {
			id, ok := mdef.ciIndex[string(ph)]
			if !ok {
				d.phones = d.phones[:off]
				return fmt.Errorf("%s:%d: word %q uses phone %q that the model does not have: %w", path, line, fields[0], ph, ErrFormat)
			}
			d.phones = append(d.phones, uint8(id))
		}
		w := string(fields[0])
		if !filler {
			w = strings.ToLower(w)
		}
		d.index[w] = [2]int32{off, int32(len(fields) - 1)}
		if filler {
			d.filler[w] = true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", path, line, err)
	}
	return nil
}

func newDictionary() *Dictionary {
	return &Dictionary{index: make(map[string][2]int32, 140000), filler: map[string]bool{}, phones: make([]uint8, 0, 1<<20)}
}
