package video

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// mp4 builds a minimal ISO BMFF file: ftyp, then moov > trak > mdia with a
// handler and a sample description, optionally after an mdat (as cameras
// write them, moov last).
func mp4(brand, handler, entry string, moovLast bool) []byte {
	box := func(typ string, parts ...[]byte) []byte {
		body := bytes.Join(parts, nil)
		b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
		return append(append(b, typ...), body...)
	}
	hdlr := box("hdlr", make([]byte, 8), []byte(handler), make([]byte, 12))
	stsd := box("stsd", make([]byte, 4), []byte{0, 0, 0, 1}, box(entry, make([]byte, 78)))
	moov := box("moov", box("trak", box("mdia", hdlr, box("minf", box("stbl", stsd)))))
	ftyp := box("ftyp", []byte(brand), make([]byte, 4))
	mdat := box("mdat", make([]byte, 1000))
	if moovLast {
		return bytes.Join([][]byte{ftyp, mdat, moov}, nil)
	}
	return bytes.Join([][]byte{ftyp, moov, mdat}, nil)
}

func TestProbeMP4Boxes(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		file                    []byte
		container, codec, ctype string
		ok                      bool
	}{
		{"h264", mp4("isom", "vide", "avc1", false), "mp4", "avc", "video/mp4", true},
		{"h264, moov last", mp4("isom", "vide", "avc1", true), "mp4", "avc", "video/mp4", true},
		{"hevc in quicktime", mp4("qt  ", "vide", "hvc1", true), "mov", "hevc", "video/quicktime", true},
		{"av1", mp4("isom", "vide", "av01", false), "mp4", "av1", "video/mp4", true},
		{"audio only", mp4("M4A ", "soun", "mp4a", false), "", "", "", false},
		{"unknown codec", mp4("isom", "vide", "xyz1", false), "", "", "", false},
		{"truncated", mp4("isom", "vide", "avc1", true)[:1050], "", "", "", false},
		{"jpeg", []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00"), "", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := Probe(bytes.NewReader(tc.file), int64(len(tc.file)))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
			if tc.ok && (info.Container != tc.container || info.Codec != tc.codec || info.ContentType != tc.ctype) {
				t.Errorf("got %+v", info)
			}
		})
	}
}

// Real files from ffmpeg (installed by make test): the three containers.
func TestProbeRealFiles(t *testing.T) {
	needTool(t, "ffmpeg")
	dir := t.TempDir()
	for _, tc := range []struct{ file, codec, want string }{
		{"a.mp4", "libx264", "avc"}, {"a.webm", "libvpx-vp9", "vp9"}, {"a.mkv", "libvpx", "vp8"},
	} {
		out := filepath.Join(dir, tc.file)
		cmd := exec.Command("ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=1", "-c:v", tc.codec, "-pix_fmt", "yuv420p", out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, b)
		}
		f, _ := os.Open(out)
		fi, _ := f.Stat()
		info, err := Probe(f, fi.Size())
		f.Close()
		if err != nil || info.Codec != tc.want {
			t.Errorf("%s: %+v, %v; want codec %s", tc.file, info, err, tc.want)
		}
	}
}

// FuzzProbe: arbitrary bytes never panic or loop the box and EBML walkers.
func FuzzProbe(f *testing.F) {
	f.Add(mp4("isom", "vide", "avc1", true))
	f.Add(mp4("qt  ", "vide", "hvc1", false))
	f.Add([]byte("\x1a\x45\xdf\xa3\x9f\x42\x82\x84webm\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Probe(bytes.NewReader(b), int64(len(b)))
	})
}
