package main

// ulawToLinear is the G.711 µ-law expansion table (ITU-T G.711 table 2a).
var ulawToLinear = func() (t [256]int16) {
	for i := range t {
		u := ^uint8(i)
		sign := u & 0x80
		exp := (u >> 4) & 7
		mant := int16(u & 0x0f)
		v := ((mant << 3) + 0x84) << exp
		v -= 0x84
		if sign != 0 {
			v = -v
		}
		t[i] = v
	}
	return t
}()

// linearToUlaw compresses one sample (ITU-T G.711).
func linearToUlaw(s int16) uint8 {
	const bias, clip = 0x84, 32635
	sign := uint8(0)
	v := int32(s)
	if v < 0 {
		v = -v
		sign = 0x80
	}
	v = min(v, clip) + bias
	exp := uint8(7)
	for mask := int32(0x4000); v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := uint8(v>>(exp+3)) & 0x0f
	return ^(sign | exp<<4 | mant)
}

// encodeSignal cuts PCM into 20 ms µ-law payloads.
func encodeSignal(pcm []int16) [][]byte {
	var out [][]byte
	for off := 0; off+160 <= len(pcm); off += 160 {
		p := make([]byte, 160)
		for i := range p {
			p[i] = linearToUlaw(pcm[off+i])
		}
		out = append(out, p)
	}
	return out
}
