package video

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

// chunkFile builds an MP4 whose chunk offsets point at 8-byte markers
// "CHK%05d" in its mdat boxes: layout lists the top-level boxes in order,
// "mdat" and "tail" (an mdat after the moov) holding three markers each,
// "moov" the sample tables (an stco and a co64 table in two tracks).
func chunkFile(layout ...string) (file []byte, markers int) {
	for _, l := range layout {
		if l == "mdat" || l == "tail" {
			markers += 3
		}
	}
	hdlr := mkbox("hdlr", make([]byte, 8), []byte("vide"), make([]byte, 12))
	stsd := mkbox("stsd", make([]byte, 4), []byte{0, 0, 0, 1}, mkbox("avc1", make([]byte, 78)))
	trak := func(table []byte) []byte {
		return mkbox("trak", mkbox("mdia", hdlr, mkbox("minf", mkbox("stbl", stsd, table))))
	}
	build := func(offs []uint64) (file []byte, pos []uint64) {
		var stco, co64 []byte
		for i, o := range offs {
			if i%2 == 0 {
				stco = binary.BigEndian.AppendUint32(stco, uint32(o))
			} else {
				co64 = binary.BigEndian.AppendUint64(co64, o)
			}
		}
		moov := mkbox("moov", mkbox("mvhd", make([]byte, 100)),
			trak(mkbox("stco", make([]byte, 4), binary.BigEndian.AppendUint32(nil, uint32(len(stco)/4)), stco)),
			trak(mkbox("co64", make([]byte, 4), binary.BigEndian.AppendUint32(nil, uint32(len(co64)/8)), co64)))
		for _, l := range layout {
			switch l {
			case "ftyp":
				file = append(file, mkbox("ftyp", []byte("isom"), make([]byte, 4))...)
			case "moov":
				file = append(file, moov...)
			case "mdat", "tail":
				var body []byte
				for i := 0; i < 3; i++ {
					pos = append(pos, uint64(len(file)+8+len(body)))
					body = append(body, fmt.Sprintf("CHK%05d--payload--", len(pos)-1)...)
				}
				file = append(file, mkbox("mdat", body)...)
			default:
				file = append(file, mkbox(l, []byte("other box"))...)
			}
		}
		return file, pos
	}
	// The moov's size depends only on the number of offsets: a first pass
	// with zeros places the markers, the second writes their offsets.
	_, pos := build(make([]uint64, markers))
	file, _ = build(pos)
	return file, markers
}

// markersAt reads the chunk offsets of the stream's moov (found by
// signature, independently of the code under test) and returns the marker
// numbers the offsets point at, in table order.
func markersAt(t *testing.T, stream []byte) []string {
	t.Helper()
	var got []string
	for _, typ := range []string{"stco", "co64"} {
		i := bytes.Index(stream, []byte(typ))
		if i < 0 {
			t.Fatalf("no %s in the stream", typ)
		}
		n := int(binary.BigEndian.Uint32(stream[i+8:]))
		for k := 0; k < n; k++ {
			var o uint64
			if typ == "stco" {
				o = uint64(binary.BigEndian.Uint32(stream[i+12+4*k:]))
			} else {
				o = binary.BigEndian.Uint64(stream[i+12+8*k:])
			}
			if o+8 > uint64(len(stream)) {
				t.Fatalf("%s entry %d: offset %d past the end", typ, k, o)
			}
			got = append(got, string(stream[o:o+8]))
		}
	}
	slices.Sort(got)
	return got
}

func TestMovStream(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layout []string
		asIs   bool // moov already first: the file streams unchanged
	}{
		{"moov first", []string{"ftyp", "moov", "mdat"}, true},
		{"moov first, free before", []string{"ftyp", "free", "moov", "mdat", "tail"}, true},
		{"moov last", []string{"ftyp", "mdat", "moov"}, false},
		{"moov last, boxes around", []string{"ftyp", "wide", "mdat", "free", "moov", "skip"}, false},
		{"moov between mdats", []string{"ftyp", "mdat", "moov", "tail"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file, n := chunkFile(tc.layout...)
			want := make([]string, n)
			for i := range want {
				want[i] = fmt.Sprintf("CHK%05d", i)
			}
			if got := markersAt(t, file); !slices.Equal(got, want) {
				t.Fatalf("fixture: offsets point at %v", got)
			}
			s, err := movStream(bytes.NewReader(file), int64(len(file)))
			if err != nil {
				t.Fatal(err)
			}
			stream, err := io.ReadAll(s)
			if err != nil {
				t.Fatal(err)
			}
			if len(stream) != len(file) {
				t.Fatalf("stream of %d bytes, file of %d", len(stream), len(file))
			}
			if tc.asIs != bytes.Equal(stream, file) {
				t.Errorf("stream equals the file: %v, want %v", !tc.asIs, tc.asIs)
			}
			// ftyp, moov, then the other boxes in their order.
			types := topBoxes(t, stream)
			wantTypes := []string{"ftyp", "moov"}
			for _, l := range tc.layout[1:] {
				if l == "tail" {
					l = "mdat"
				}
				if l != "moov" {
					wantTypes = append(wantTypes, l)
				}
			}
			if !tc.asIs && !slices.Equal(types, wantTypes) {
				t.Errorf("stream boxes %v, want %v", types, wantTypes)
			}
			if got := markersAt(t, stream); !slices.Equal(got, want) {
				t.Errorf("stream offsets point at %v, want %v", got, want)
			}
		})
	}
}

// virtualFile is a ReaderAt over a file of size bytes that starts with head
// and is zeros after it, without the memory.
type virtualFile struct {
	head []byte
	size int64
}

func (v virtualFile) ReadAt(b []byte, off int64) (int, error) {
	if off >= v.size {
		return 0, io.EOF
	}
	n := min(int64(len(b)), v.size-off)
	clear(b[:n])
	if off < int64(len(v.head)) {
		copy(b, v.head[off:])
	}
	if n < int64(len(b)) {
		return int(n), io.EOF
	}
	return int(n), nil
}

func TestMovStreamRefuses(t *testing.T) {
	ftyp := mkbox("ftyp", []byte("isom"), make([]byte, 4))
	mdat := mkbox("mdat", make([]byte, 100))
	big := func(moovLen int64) virtualFile {
		h := append(slices.Clone(ftyp), mdat...)
		h = binary.BigEndian.AppendUint32(h, uint32(moovLen))
		return virtualFile{append(h, "moov"...), int64(len(h)) + moovLen}
	}
	many := slices.Clone(ftyp)
	for i := 0; i <= maxBoxes; i++ {
		many = append(many, 0, 0, 0, 8, 'f', 'r', 'e', 'e')
	}
	for _, tc := range []struct {
		name string
		r    io.ReaderAt
		size int64
	}{
		{"moov over the bound", big(maxMoov + 1), big(maxMoov + 1).size},
		{"no moov", bytes.NewReader(append(slices.Clone(ftyp), mdat...)), int64(len(ftyp) + len(mdat))},
		{"no ftyp first", bytes.NewReader(append(slices.Clone(mdat), mkbox("moov")...)), int64(len(mdat) + 8)},
		{"box overruns", bytes.NewReader(ftyp[:12]), 12},
		{"too many boxes", bytes.NewReader(many), int64(len(many))},
		{"bad moov child", bytes.NewReader(bytes.Join([][]byte{ftyp, mdat, mkbox("moov", []byte{0, 0, 0, 99, 't', 'r', 'a', 'k'})}, nil)), int64(len(ftyp) + len(mdat) + 16)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := movStream(tc.r, tc.size); !errors.Is(err, ErrUnknown) {
				t.Errorf("err = %v, want ErrUnknown", err)
			}
		})
	}
}

func TestShiftTable(t *testing.T) {
	stco := func(n uint32, offs ...uint32) []byte {
		b := binary.BigEndian.AppendUint32(make([]byte, 4), n)
		for _, o := range offs {
			b = binary.BigEndian.AppendUint32(b, o)
		}
		return b
	}
	co64 := func(offs ...uint64) []byte {
		b := binary.BigEndian.AppendUint32(make([]byte, 4), uint32(len(offs)))
		for _, o := range offs {
			b = binary.BigEndian.AppendUint64(b, o)
		}
		return b
	}
	for _, tc := range []struct {
		name            string
		in              []byte
		wide            bool
		from, to, delta int64
		want            []byte // nil: ErrUnknown
	}{
		{"in range moves", stco(2, 100, 200), false, 50, 300, 1000, stco(2, 1100, 1200)},
		{"outside range stays", stco(3, 10, 100, 300), false, 50, 300, 1000, stco(3, 10, 1100, 300)},
		{"empty table", stco(0), false, 0, 10, 5, stco(0)},
		{"32-bit overflow", stco(1, 0xfffffff0), false, 0, 1 << 33, 0x20, nil},
		{"32-bit just fits", stco(1, 0xffffffe0), false, 0, 1 << 33, 0x1f, stco(1, 0xffffffff)},
		{"co64 past 4 GiB", co64(0xfffffff0, 5), true, 8, 1 << 33, 0x20, co64(0x100000010, 5)},
		{"count overruns", stco(3, 1, 2), false, 0, 10, 1, nil},
		{"huge count", stco(0xffffffff), false, 0, 10, 1, nil},
		{"short table", []byte{0, 0, 0}, false, 0, 10, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := slices.Clone(tc.in)
			err := shiftTable(b, tc.wide, tc.from, tc.to, tc.delta)
			if tc.want == nil {
				if !errors.Is(err, ErrUnknown) {
					t.Errorf("err = %v, want ErrUnknown", err)
				}
				return
			}
			if err != nil || !bytes.Equal(b, tc.want) {
				t.Errorf("got %x, %v; want %x", b, err, tc.want)
			}
		})
	}
}

func TestPosterArgs(t *testing.T) {
	for _, tc := range []struct {
		name, demuxer string
		lim           Limits
		want          []string // each must appear, in order
		absent        []string
	}{
		{"mov defaults", "mov", Limits{}.withDefaults(),
			[]string{"--as=2147483648", "--cpu=20", "--fsize=0", "--nofile=16", "--core=0", "--", "/usr/bin/ffmpeg",
				"-nostdin", "-filter_threads 1", "-filter_complex_threads 1", "-protocol_whitelist pipe", "-threads 1",
				"-f mov", "-enable_drefs 0", "-use_absolute_path 0", "-i pipe:0", "-threads 1", "pipe:1"}, nil},
		{"matroska, own limits", "matroska", Limits{MemoryBytes: 1 << 30, CPUSeconds: 5, MaxOutputBytes: 1}.withDefaults(),
			[]string{"--as=1073741824", "--cpu=5", "-protocol_whitelist pipe", "-f matroska", "-i pipe:0"},
			[]string{"-enable_drefs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv := posterArgs("/usr/bin/ffmpeg", tc.demuxer, tc.lim)
			args := strings.Join(argv, " ")
			rest := args
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("%q missing (or out of order) in %q", w, args)
				}
				rest = rest[i+len(w):]
			}
			for _, a := range tc.absent {
				if strings.Contains(args, a) {
					t.Errorf("%q in %q", a, args)
				}
			}
			// Only the pipes: no other input, output or path.
			for _, a := range argv {
				if (strings.HasPrefix(a, "/") && a != "/usr/bin/ffmpeg") || strings.Contains(a, ":/") {
					t.Errorf("path %q in %q", a, args)
				}
			}
			if strings.Count(args, " -i ") != 1 {
				t.Errorf("more than one input in %q", args)
			}
		})
	}
}

func TestLimitsDefaults(t *testing.T) {
	for _, tc := range []struct{ in, want Limits }{
		{Limits{}, Limits{DefaultMemoryBytes, DefaultCPUSeconds, DefaultMaxOutputBytes}},
		{Limits{MemoryBytes: -1, CPUSeconds: -1, MaxOutputBytes: -1}, Limits{DefaultMemoryBytes, DefaultCPUSeconds, DefaultMaxOutputBytes}},
		{Limits{1, 2, 3}, Limits{1, 2, 3}},
	} {
		if got := tc.in.withDefaults(); got != tc.want {
			t.Errorf("%+v.withDefaults() = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
