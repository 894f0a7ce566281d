package ndarray

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// hexBytes reads a hand-written hex fixture (spaces ignored).
func hexBytes(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A float32 [1] array holding 1.0, written by hand in msgpack: a 4-entry map
// with bin keys in openpi's order, dtype as str, shape as an array.
const f4Fixture = "84" +
	" c4 0b 5f5f6e6461727261795f5f c3" + // b"__ndarray__": True
	" c4 04 64617461 c4 04 0000803f" + // b"data": b"\x00\x00\x80\x3f"
	" c4 05 6474797065 a3 3c6634" + // b"dtype": "<f4"
	" c4 05 7368617065 91 01" // b"shape": [1]

func TestPackFixture(t *testing.T) {
	got, err := Pack(NewFloat32([]float32{1}, 1))
	if err != nil {
		t.Fatal(err)
	}
	if want := hexBytes(t, f4Fixture); !bytes.Equal(got, want) {
		t.Fatalf("Pack = % x\nwant   % x", got, want)
	}
	// An observation map: str keys, sorted.
	got, err = Pack(map[string]any{"prompt": "push", "a": true})
	if err != nil {
		t.Fatal(err)
	}
	if want := hexBytes(t, "82 a1 61 c3 a6 70726f6d7074 a4 70757368"); !bytes.Equal(got, want) {
		t.Fatalf("Pack map = % x\nwant       % x", got, want)
	}
}

func TestUnpackFixture(t *testing.T) {
	v, err := Unpack(hexBytes(t, f4Fixture))
	if err != nil {
		t.Fatal(err)
	}
	a, ok := v.(*Array)
	if !ok {
		t.Fatalf("got %T", v)
	}
	f, err := a.Float32s()
	if err != nil || len(f) != 1 || f[0] != 1 || a.DType != "<f4" || !reflect.DeepEqual(a.Shape, []int{1}) {
		t.Fatalf("got %+v %v %v", a, f, err)
	}
	// The same with str keys (an old packer without bin type) and a
	// npgeneric scalar inside a map with a bin key.
	v, err = Unpack(hexBytes(t, "82 a1 78 83 ad 5f5f6e7067656e657269635f5f c3 a4 64617461 cb 3ff8000000000000 a5 6474797065 a3 3c6638"+
		" c4 01 79 84 ab 5f5f6e6461727261795f5f c3 a4 64617461 c4 01 07 a5 6474797065 a3 7c7531 a5 7368617065 90"))
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	if m["x"] != 1.5 {
		t.Errorf("npgeneric: %v", m["x"])
	}
	if y := m["y"].(*Array); y.DType != "|u1" || len(y.Shape) != 0 || y.Data[0] != 7 {
		t.Errorf("0-d array: %+v", y)
	}
}

func TestArrayRoundTrip(t *testing.T) {
	cases := []struct {
		a    *Array
		want []float32
	}{
		{NewFloat32([]float32{1.5, -2, float32(math.Inf(1)), 0}, 2, 2), []float32{1.5, -2, float32(math.Inf(1)), 0}},
		{NewUint8([]uint8{0, 128, 255}, 3), []float32{0, 128, 255}},
		{&Array{DType: "<f8", Shape: []int{2}, Data: hexBytes(t, "000000000000f83f 00000000000000c0")}, []float32{1.5, -2}},
		{&Array{DType: "<i4", Shape: []int{2}, Data: hexBytes(t, "ffffffff 02000000")}, []float32{-1, 2}},
		{&Array{DType: "<i8", Shape: []int{1, 1}, Data: hexBytes(t, "feffffffffffffff")}, []float32{-2}},
		{&Array{DType: "|i1", Shape: []int{1}, Data: []byte{0xff}}, []float32{-1}},
		{&Array{DType: "<u2", Shape: []int{1}, Data: []byte{0, 1}}, []float32{256}},
		{&Array{DType: "|b1", Shape: []int{2}, Data: []byte{1, 0}}, []float32{1, 0}},
		{&Array{DType: "<f4", Shape: []int{0, 3}}, []float32{}},
	}
	for _, c := range cases {
		b, err := Pack(c.a)
		if err != nil {
			t.Fatalf("%s: %v", c.a.DType, err)
		}
		v, err := Unpack(b)
		if err != nil {
			t.Fatalf("%s: %v", c.a.DType, err)
		}
		got := v.(*Array)
		if got.DType != c.a.DType || !reflect.DeepEqual(got.Shape, c.a.Shape) || !bytes.Equal(got.Data, c.a.Data) {
			t.Errorf("%s: round trip %+v, want %+v", c.a.DType, got, c.a)
		}
		f, err := got.Float32s()
		if err != nil || !reflect.DeepEqual(f, c.want) {
			t.Errorf("%s: Float32s = %v %v, want %v", c.a.DType, f, err, c.want)
		}
	}
}

func TestArrayErrors(t *testing.T) {
	cases := []*Array{
		{DType: ">f4", Shape: []int{1}, Data: make([]byte, 4)},  // big-endian
		{DType: "<c8", Shape: []int{1}, Data: make([]byte, 8)},  // complex
		{DType: "<U5", Shape: []int{1}, Data: make([]byte, 20)}, // unicode
		{DType: "<f4", Shape: []int{2}, Data: make([]byte, 4)},  // short data
		{DType: "<f4", Shape: []int{-1}, Data: nil},             // negative dim
		{DType: "<f8", Shape: []int{1 << 30, 1 << 30, 1 << 30}}, // overflow
	}
	for _, a := range cases {
		if _, err := Pack(a); !errors.Is(err, ErrBadArray) {
			t.Errorf("Pack %+v: %v", a.Shape, err)
		}
		if _, err := a.Float32s(); !errors.Is(err, ErrBadArray) {
			t.Errorf("Float32s %s %v: %v", a.DType, a.Shape, err)
		}
	}
	if _, err := NewFloat32([]float32{1}, 1).Uint8s(); !errors.Is(err, ErrBadArray) {
		t.Errorf("Uint8s of <f4: %v", err)
	}
	// Malformed ndarray maps from the wire.
	for name, h := range map[string]string{
		"data not bin":   "84 c4 0b 5f5f6e6461727261795f5f c3 c4 04 64617461 a1 78 c4 05 6474797065 a3 7c7531 c4 05 7368617065 91 01",
		"shape not list": "84 c4 0b 5f5f6e6461727261795f5f c3 c4 04 64617461 c4 01 00 c4 05 6474797065 a3 7c7531 c4 05 7368617065 01",
		"bad dtype":      "84 c4 0b 5f5f6e6461727261795f5f c3 c4 04 64617461 c4 01 00 c4 05 6474797065 a3 3e6634 c4 05 7368617065 91 01",
		"size mismatch":  "84 c4 0b 5f5f6e6461727261795f5f c3 c4 04 64617461 c4 01 00 c4 05 6474797065 a3 7c7531 c4 05 7368617065 91 02",
		"negative dim":   "84 c4 0b 5f5f6e6461727261795f5f c3 c4 04 64617461 c4 01 00 c4 05 6474797065 a3 7c7531 c4 05 7368617065 91 ff",
	} {
		if _, err := Unpack(hexBytes(t, h)); !errors.Is(err, ErrBadArray) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, h := range map[string]string{
		"empty":        "",
		"truncated":    "82 a1 61",
		"trailing":     "c3 c3",
		"ext":          "d4 01 00",
		"float key":    "81 ca 00000000 c3",
		"array key":    "81 90 c3",
		"too deep":     strings.Repeat("91", 100) + "c0",
		"huge array":   "dd ffffffff",
		"huge bin":     "c6 fffffff0",
		"huge bin key": "81 c6 fffffff0",
		"short bin":    "c4 05 0102",
	} {
		if _, err := Unpack(hexBytes(t, h)); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Pack(struct{}{}); !errors.Is(err, ErrBadMessage) {
		t.Errorf("Pack struct: %v", err)
	}
}

func FuzzUnpack(f *testing.F) {
	f.Add(hexBytes(f, f4Fixture))
	f.Add(hexBytes(f, "82 a1 61 c3 a6 70726f6d7074 a4 70757368"))
	if b, err := Pack(map[string]any{"observation/image": NewUint8(make([]uint8, 12), 2, 2, 3), "x": []any{1, 2.5, "s", nil}}); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Unpack(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes, and arrays are consistent.
		var check func(v any)
		check = func(v any) {
			switch x := v.(type) {
			case *Array:
				if err := x.Validate(); err != nil {
					t.Fatalf("decoded invalid array: %v", err)
				}
				if _, err := x.Float32s(); err != nil {
					t.Fatal(err)
				}
			case map[string]any:
				for _, y := range x {
					check(y)
				}
			case []any:
				for _, y := range x {
					check(y)
				}
			}
		}
		check(v)
		if _, err := Pack(v); err != nil && !strings.Contains(err.Error(), "cannot encode") {
			t.Fatalf("re-Pack: %v", err)
		}
	})
}

func TestFloat64s(t *testing.T) {
	tests := []struct {
		name string
		a    *Array
		want []float64
	}{
		{"f8 keeps its precision", &Array{DType: "<f8", Shape: []int{2}, Data: hexBytes(t, "9a9999999999b93f 000000000000f0bf")}, []float64{0.1, -1}},
		{"f4", NewFloat32([]float32{0.1, 2}, 2), []float64{float64(float32(0.1)), 2}},
		{"NewFloat64", NewFloat64([]float64{0.1, -1}, 2), []float64{0.1, -1}},
		{"i8 beyond float32", &Array{DType: "<i8", Shape: []int{1}, Data: hexBytes(t, "0100000001000000")}, []float64{1<<32 + 1}},
		{"i4", &Array{DType: "<i4", Shape: []int{1}, Data: hexBytes(t, "ffffffff")}, []float64{-1}},
		{"u4", &Array{DType: "<u4", Shape: []int{1}, Data: hexBytes(t, "01000001")}, []float64{1<<24 + 1}},
		{"u1", NewUint8([]uint8{7}, 1), []float64{7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.a.Float64s()
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Float64s = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if _, err := (&Array{DType: "<f8", Shape: []int{2}, Data: make([]byte, 8)}).Float64s(); !errors.Is(err, ErrBadArray) {
		t.Fatalf("short data: %v", err)
	}
}

// A bin's declared length is checked before anything is allocated: five
// bytes from a peer must not allocate gigabytes.
func TestUnpackHugeBinAllocates(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 4 {
		if _, err := Unpack(hexBytes(t, "c6 fffffff0")); !errors.Is(err, ErrBadMessage) {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("4 five-byte messages allocated %d bytes", n)
	}
}

func TestFloat(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want float64
		ok   bool
	}{
		{"float64", 1.5, 1.5, true},
		{"float32", float32(-2.25), -2.25, true},
		{"int64", int64(-3), -3, true},
		{"uint64", uint64(7), 7, true},
		{"uint64 too large", uint64(1 << 63), 0, false},
		{"string", "1", 0, false},
		{"nil", nil, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, ok := Float(tc.in); got != tc.want || ok != tc.ok {
				t.Fatalf("Float(%v) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}
