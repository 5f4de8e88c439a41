package judge

import (
	"encoding/binary"
	"math"
	"reflect"
	"testing"
)

// FuzzJudge feeds arbitrary configurations and counts (negative, above
// their totals, near the int64 maximum) to Judge: it must not panic, must
// give a verdict that serializes with every figure in its range, and must
// give the same verdict twice. The seed corpus is in testdata/fuzz/FuzzJudge.
func FuzzJudge(f *testing.F) {
	f.Add(0.01, 2.0, 0.95, uint8(10), []byte{})
	f.Add(0.0, 0.0, 0.0, uint8(3), counts(300, 3, 2700, 27, 300, 9, 2700, 27, 300, 30, 2700, 27))
	f.Add(0.5, 1000.0, 0.5, uint8(1), counts(math.MaxInt64, math.MaxInt64, math.MaxInt64, 0))
	f.Add(math.NaN(), 1.0, 1.0, uint8(0), counts(-1, 0, 0, 0))
	f.Fuzz(func(t *testing.T, alpha, detect, power float64, n uint8, data []byte) {
		cfg := Config{Alpha: alpha, Detect: detect, Power: power, Looks: int(n)}
		ls := decodeLooks(data)
		v := Judge(cfg, ls)
		if v.Reason != ReasonInvalidConfig && v.Reason != ReasonInvalidCounts {
			checkFinite(t, v)
		}
		if again := Judge(cfg, ls); !reflect.DeepEqual(v, again) {
			t.Fatalf("two verdicts for the same looks:\n%+v\n%+v", v, again)
		}
		if v.Look < 0 || v.Look > len(ls) || v.Look > max(cfg.Looks, 0) {
			t.Fatalf("look %d of %d (Looks %d)", v.Look, len(ls), cfg.Looks)
		}
	})
}

// counts encodes int64s as FuzzJudge's data: four per look (canary total
// and bad, stable total and bad), then, per look, one byte of sub-intervals
// is read only when data remains.
func counts(vs ...int64) []byte {
	var out []byte
	for _, v := range vs {
		out = binary.LittleEndian.AppendUint64(out, uint64(v))
	}
	return out
}

// decodeLooks reads looks of four little-endian int64s; a look's fifth
// 8-byte word, when its top byte is 0xff, gives two stable sub-intervals
// splitting its counts unevenly.
func decodeLooks(data []byte) []Look {
	var ls []Look
	word := func() (int64, bool) {
		if len(data) < 8 {
			return 0, false
		}
		v := int64(binary.LittleEndian.Uint64(data))
		data = data[8:]
		return v, true
	}
	for {
		var v [4]int64
		for i := range v {
			w, ok := word()
			if !ok {
				return ls
			}
			v[i] = w
		}
		l := look(v[0], v[1], v[2], v[3])
		if len(data) >= 8 && data[7] == 0xff {
			w, _ := word()
			share := w & 0xff
			sub := func(c int64) int64 { return c / 256 * share }
			l.StableSub = []Counts{{sub(v[2]), sub(v[3])}, {v[2] - sub(v[2]), v[3] - sub(v[3])}}
		}
		ls = append(ls, l)
	}
}
