package video

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var fixedTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// apply is the reference: a copy of b with the patches written over it.
func apply(b []byte, p Patches) []byte {
	out := slices.Clone(b)
	for _, x := range p {
		clear(out[x.Off : x.Off+x.Len])
		copy(out[x.Off:x.Off+x.Len], x.Head)
	}
	return out
}

// checkPatches asserts what Scrub promises of its patches: in the file,
// sorted, disjoint, each with a header that fits.
func checkPatches(t *testing.T, p Patches, size int64) {
	t.Helper()
	end := int64(0)
	for i, x := range p {
		if x.Off < end || x.Len <= 0 || x.Off+x.Len > size || int64(len(x.Head)) > x.Len {
			t.Fatalf("patch %d %+v: out of order, empty or out of the file (size %d)", i, x, size)
		}
		end = x.Off + x.Len
	}
}

// scrubbed reads the whole scrubbed stream through Read.
func scrubbed(t *testing.T, b []byte, p Patches) []byte {
	t.Helper()
	out, err := io.ReadAll(NewScrubbed(bytes.NewReader(b), int64(len(b)), p))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// EBML builders: IDs are written as they are numbered (marker included),
// sizes as vints of szLen bytes (0: the shortest; -1: unknown size).
func el(id uint64, szLen int, parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	var b []byte
	for s := 24; s >= 0; s -= 8 {
		if id>>s != 0 {
			b = append(b, byte(id>>s))
		}
	}
	n := uint64(len(body))
	if szLen == 0 {
		for szLen = 1; n >= 1<<(7*szLen)-1; szLen++ {
		}
	}
	var v uint64
	if szLen < 0 {
		szLen, v = 8, 0x01ffffffffffffff
	} else {
		v = n | 1<<(7*szLen)
	}
	for i := szLen - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return append(b, body...)
}

var (
	secret = []byte("SECRET +48.8582+002.2945/ SN123456")
	keep   = []byte("KEEP")
)

// mp4Meta has metadata in every place Scrub clears and a keeper where it
// must not look (sample tables) and in the media data.
func mp4Meta() []byte {
	large := binary.BigEndian.AppendUint32(nil, 1)
	large = binary.BigEndian.AppendUint64(append(large, "udta"...), uint64(16+len(secret)))
	large = append(large, secret...)
	hdlr := mkbox("hdlr", make([]byte, 8), []byte("vide"), make([]byte, 12))
	stsd := mkbox("stsd", make([]byte, 4), []byte{0, 0, 0, 1}, mkbox("avc1", make([]byte, 78)))
	moov := mkbox("moov", mkbox("mvhd", make([]byte, 100)),
		mkbox("udta", mkbox("\xa9xyz", secret)), mkbox("meta", make([]byte, 4), mkbox("keys", secret)),
		mkbox("uuid", secret),
		mkbox("trak", mkbox("tkhd", make([]byte, 84)), mkbox("udta", secret),
			mkbox("mdia", mkbox("mdhd", make([]byte, 24)), hdlr, mkbox("meta", secret),
				mkbox("minf", mkbox("udta", secret), mkbox("stbl", stsd, mkbox("udta", keep))))))
	return bytes.Join([][]byte{mkbox("ftyp", []byte("isom"), make([]byte, 4)), moov,
		mkbox("uuid", secret), mkbox("meta", secret), large, mkbox("mdat", keep)}, nil)
}

// mkvMeta: Tags and Attachments around clusters of known and unknown
// size, with 1- and 8-byte sizes, in two chained Segments.
func mkvMeta() []byte {
	header := el(idEBML, 0, el(idDocType, 0, []byte("webm")))
	tag := el(0x7373, 0, el(0x67C8, 0, el(0x45A3, 0, []byte("LOCATION")), el(0x4487, 0, secret)))
	block := el(0xA3, 0, keep)
	seg1 := el(idSegment, -1,
		el(idInfo, 0, el(0x2AD7B1, 0, []byte{0x0f, 0x42, 0x40})),
		el(idTracks, 0, el(idTrackEntry, 0, el(idTrackType, 0, []byte{1}), el(idCodecID, 0, []byte("V_VP8")))),
		el(idTags, 8, tag),
		el(idCluster, -1, el(0xE7, 0, []byte{0}), block),
		el(idAttachments, 1, el(0x61A7, 0, el(0x466E, 0, []byte("a.txt")), el(0x465C, 0, secret))),
		el(idCluster, 0, el(0xE7, 0, []byte{1}), block),
		el(idTags, -1, tag),
		el(idCues, 0),
	)
	seg2 := el(idSegment, 0, el(idTags, 2, tag), el(idVoid, 0, make([]byte, 3)))
	return bytes.Join([][]byte{header, seg1, header, seg2}, nil)
}

func TestScrubStructures(t *testing.T) {
	truncMdat := append(mkbox("ftyp", []byte("isom"), make([]byte, 4)), mkbox("udta", secret)...)
	truncMdat = append(truncMdat, mkbox("mdat", make([]byte, 100))[:50]...)
	toEOF := append(mkbox("ftyp", []byte("isom"), make([]byte, 4)), mkbox("mdat", keep)...)
	toEOF = append(append(toEOF, 0, 0, 0, 0), "udta"...) // size 0: up to the end
	toEOF = append(toEOF, secret...)
	// Cut inside the second cluster's block: Tags and Attachments before.
	m := mkvMeta()
	truncCluster := m[:bytes.Index(m[bytes.Index(m, keep)+1:], keep)+bytes.Index(m, keep)+3]

	for _, tc := range []struct {
		name    string
		file    []byte
		patches int
		keeps   int
	}{
		{"mp4, every place", mp4Meta(), 9, 2},
		{"mp4, udta to the end", toEOF, 1, 1},
		{"mp4, truncated mdat", truncMdat, 1, 0},
		{"mp4 without metadata", mp4("isom", "vide", "avc1", true), 0, 0},
		{"matroska, chained segments", mkvMeta(), 4, 2},
		{"matroska, truncated", truncCluster, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size := int64(len(tc.file))
			p, err := Scrub(bytes.NewReader(tc.file), size)
			if err != nil {
				t.Fatal(err)
			}
			checkPatches(t, p, size)
			if len(p) != tc.patches {
				t.Errorf("%d patches, want %d: %+v", len(p), tc.patches, p)
			}
			out := scrubbed(t, tc.file, p)
			if len(out) != len(tc.file) {
				t.Fatalf("%d bytes, want %d", len(out), len(tc.file))
			}
			if bytes.Contains(out, secret[:6]) {
				t.Errorf("a secret survived at %d", bytes.Index(out, secret[:6]))
			}
			if n := bytes.Count(out, keep); n != tc.keeps {
				t.Errorf("%d keepers left, want %d", n, tc.keeps)
			}
			for _, x := range p {
				checkNeutral(t, out, tc.file, x)
			}
			// The result walks the same way and has nothing left to clear.
			p2, err := Scrub(bytes.NewReader(out), size)
			if err != nil || !bytes.Equal(apply(out, p2), out) {
				t.Errorf("scrubbing again: %v, %+v", err, p2)
			}
		})
	}
}

// checkNeutral asserts a patched range is a free box (header kept but the
// type) or a Void element of the same length, zeros after the header.
func checkNeutral(t *testing.T, out, orig []byte, x Patch) {
	t.Helper()
	b := out[x.Off : x.Off+x.Len]
	if bytes.Count(b[len(x.Head):], []byte{0}) != len(b)-len(x.Head) {
		t.Errorf("patch at %d: payload not zeroed", x.Off)
	}
	if b[0] == idVoid {
		v, n, err := vint(bytes.NewReader(b), 1, false)
		if err != nil || int64(1+n)+int64(v) != x.Len || 1+n != len(x.Head) {
			t.Errorf("patch at %d: Void of %d+%d bytes, want %d in all", x.Off, 1+n, v, x.Len)
		}
		return
	}
	o := orig[x.Off : x.Off+x.Len]
	if string(b[4:8]) != "free" || !bytes.Equal(b[:4], o[:4]) || !bytes.Equal(b[8:len(x.Head)], o[8:len(x.Head)]) {
		t.Errorf("patch at %d: header %x, was %x", x.Off, b[:len(x.Head)], o[:len(x.Head)])
	}
}

func TestScrubRefuses(t *testing.T) {
	ftyp := mkbox("ftyp", []byte("isom"), make([]byte, 4))
	header := el(idEBML, 0, el(idDocType, 0, []byte("webm")))
	deep := el(0xA0, -1) // unknown-size children in unknown-size Clusters
	for i := 0; i < maxDepth+1; i++ {
		deep = el(0xA0, -1, deep)
	}
	many := slices.Clone(ftyp)
	for i := 0; i <= maxBoxes; i++ {
		many = append(many, 0, 0, 0, 8, 'f', 'r', 'e', 'e')
	}
	for _, tc := range []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"jpeg", []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00")},
		{"box overruns", append(slices.Clone(ftyp), mkbox("moov", secret)[:20]...)},
		{"bytes after the last box", append(slices.Clone(ftyp), 0, 0, 1)},
		{"udta overruns moov", append(slices.Clone(ftyp), mkbox("moov", []byte{0, 0, 0, 99, 'u', 'd', 't', 'a'})...)},
		{"too many boxes", many},
		{"bad vint in a segment", append(slices.Clone(header), el(idSegment, 0, []byte{0, 1, 2, 3})...)},
		{"element past its segment", append(slices.Clone(header), el(idSegment, 0, el(idTags, 0, secret)[:4])...)},
		{"nested too deep", append(slices.Clone(header), el(idSegment, -1, el(idCluster, -1, deep))...)},
		{"segment in a segment", append(slices.Clone(header), el(idSegment, 0, el(idSegment, 0))...)},
		{"unknown-size top-level element", append(slices.Clone(header), el(0x4444, -1)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Scrub(bytes.NewReader(tc.file), int64(len(tc.file)))
			if !errors.Is(err, ErrUnknown) || p != nil {
				t.Errorf("got %+v, %v; want ErrUnknown", p, err)
			}
		})
	}
}

func TestVoidPatch(t *testing.T) {
	for _, tc := range []struct {
		name         string
		idLen, szLen int
		total        int64
		head         []byte
	}{
		{"4-byte ID, 1-byte size", 4, 1, 5 + 10, []byte{0xEC, 0x10, 0, 0, 10}},
		{"4-byte ID, 8-byte size: header shrinks to 9", 4, 8, 12 + 10, append([]byte{0xEC, 0x01}, 0, 0, 0, 0, 0, 0, 13)},
		{"4-byte ID, 5-byte size", 4, 5, 9, []byte{0xEC, 0x01, 0, 0, 0, 0, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := mkvElem{id: idTags, idLen: tc.idLen, szLen: tc.szLen}
			p, err := voidPatch(100, 100+tc.total, e)
			if err != nil || p.Off != 100 || p.Len != tc.total || !bytes.Equal(p.Head, tc.head) {
				t.Errorf("got %+v, %v; want head %x", p, err, tc.head)
			}
		})
	}
}

func TestScrubbedReads(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	file := make([]byte, 5000)
	for i := range file {
		file[i] = byte(rng.Uint32() | 1) // no zeros: a zeroed byte shows
	}
	p := Patches{
		{Off: 0, Len: 10, Head: []byte("abc")},
		{Off: 100, Len: 50, Head: []byte("0123456789abcdef")},
		{Off: 150, Len: 20}, // adjacent, no header
		{Off: 1000, Len: 8, Head: []byte("12345678")},
		{Off: 4990, Len: 10, Head: []byte("tail")},
	}
	ref := apply(file, p)
	type read struct {
		off int64
		n   int
	}
	reads := []read{
		{0, 0}, {0, 1}, {0, 5000}, {0, 6000}, {2, 3}, {5, 100}, {99, 2}, {105, 10}, {116, 40},
		{149, 2}, {160, 20}, {1003, 2}, {1003, 5}, {999, 10}, {4995, 10}, {4999, 1}, {5000, 1}, {6000, 1},
	}
	for i := 0; i < 500; i++ {
		off := rng.Int64N(5100)
		reads = append(reads, read{off, rng.IntN(300)})
	}
	for _, rd := range reads {
		t.Run(fmt.Sprintf("%d+%d", rd.off, rd.n), func(t *testing.T) {
			want := ref[min(rd.off, 5000):min(rd.off+int64(rd.n), 5000)]
			s := NewScrubbed(bytes.NewReader(file), int64(len(file)), p)
			b := make([]byte, rd.n)
			n, err := s.ReadAt(b, rd.off)
			if !bytes.Equal(b[:n], want) || (n < rd.n) != (err == io.EOF) {
				t.Errorf("ReadAt: %q, %v; want %q", b[:n], err, want)
			}
			// Seek then Read, as http.ServeContent does.
			if pos, err := s.Seek(rd.off, io.SeekStart); err != nil || pos != rd.off {
				t.Fatal(pos, err)
			}
			got, err := io.ReadAll(io.LimitReader(s, int64(rd.n)))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("Seek+Read: %q, %v; want %q", got, err, want)
			}
		})
	}
}

func TestScrubbedSeek(t *testing.T) {
	s := NewScrubbed(bytes.NewReader(make([]byte, 100)), 100, nil)
	for _, tc := range []struct {
		off    int64
		whence int
		want   int64
		err    bool
	}{
		{0, io.SeekEnd, 100, false},
		{-10, io.SeekEnd, 90, false},
		{5, io.SeekCurrent, 95, false},
		{20, io.SeekStart, 20, false},
		{-21, io.SeekCurrent, 0, true},
		{0, 7, 0, true},
	} {
		got, err := s.Seek(tc.off, tc.whence)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("Seek(%d, %d) = %d, %v; want %d", tc.off, tc.whence, got, err, tc.want)
		}
	}
}

func TestScrubbedServeContent(t *testing.T) {
	file := mp4Meta()
	p, err := Scrub(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	ref := apply(file, p)
	mid := p[2].Off + 3 // a range that starts inside a patch
	for _, tc := range []struct {
		rng  string
		want []byte
	}{
		{"", ref},
		{fmt.Sprintf("bytes=%d-%d", mid, mid+40), ref[mid : mid+41]},
		{"bytes=-7", ref[len(ref)-7:]},
		{fmt.Sprintf("bytes=%d-", mid), ref[mid:]},
	} {
		t.Run(tc.rng, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/v.mp4", nil)
			if tc.rng != "" {
				req.Header.Set("Range", tc.rng)
			}
			rec := httptest.NewRecorder()
			http.ServeContent(rec, req, "v.mp4", fixedTime, NewScrubbed(bytes.NewReader(file), int64(len(file)), p))
			if !bytes.Equal(rec.Body.Bytes(), tc.want) || bytes.Contains(rec.Body.Bytes(), secret[:6]) {
				t.Errorf("status %d, %d bytes; want %d", rec.Code, rec.Body.Len(), len(tc.want))
			}
		})
	}
}

// Real files, checked with the tools a curious viewer would use: exiftool
// finds no location, camera or XMP, and ffprobe and ffmpeg still read and
// decode the stream.
func TestScrubRealFiles(t *testing.T) {
	needTool(t, "ffmpeg", "ffprobe", "exiftool")
	dir := t.TempDir()
	meta := []string{
		"-metadata", "location=+48.8582+002.2945/",
		"-metadata", "com.apple.quicktime.location.ISO6709=+48.8582+002.2945+035.000/",
		"-metadata", "make=CanaryMake", "-metadata", "model=CanaryModel",
		"-metadata", "com.apple.quicktime.make=CanaryMake", "-metadata", "com.apple.quicktime.model=CanaryModel",
		"-metadata", "serial_number=SN123456",
		"-metadata:s:v:0", "make=CanaryTrackMake",
	}
	h264 := append([]string{"-c:v", "libx264", "-pix_fmt", "yuv420p"}, meta...)
	xmp := func(t *testing.T, path string) {
		args := []string{"-q", "-overwrite_original", "-XMP-exif:GPSLatitude=48.8582", "-XMP-exif:GPSLongitude=2.2945",
			"-XMP-tiff:Make=CanaryXMPMake", "-XMP-tiff:Model=CanaryXMPModel", path}
		if b, err := exec.Command("exiftool", args...).CombinedOutput(); err != nil {
			t.Fatalf("exiftool: %v\n%s", err, b)
		}
	}
	// Apple's keys in moov/meta, as an iPhone writes them.
	keys := func(t *testing.T, path string) {
		args := []string{"-q", "-overwrite_original", "-Keys:Make=CanaryKeysMake", "-Keys:Model=CanaryKeysModel",
			"-Keys:GPSCoordinates=48.8582, 2.2945, 35", path}
		if b, err := exec.Command("exiftool", args...).CombinedOutput(); err != nil {
			t.Fatalf("exiftool: %v\n%s", err, b)
		}
	}
	// What neither tool writes: a track's own udta and a vendor uuid in
	// moov (Canon's EXIF, say).
	trackMeta := func(t *testing.T, path string) {
		udta := mkbox("udta", mkbox("\xa9xyz", []byte{0, 18, 0x15, 0xc7}, []byte("+48.8582+002.2945/")),
			mkbox("\xa9mak", []byte{0, 15, 0, 0}, []byte("CanaryTrackMake")))
		injectBox(t, path, udta, "moov", "trak")
		injectBox(t, path, mkbox("uuid", []byte("0123456789abcdef"), []byte("CanaryVendor SN123456")), "moov")
	}
	attach := writeFile(t, dir, "notes.txt", []byte("Canary attachment at +48.8582+002.2945"))

	for _, tc := range []struct {
		name, file string
		opts       []string
		after      func(*testing.T, string)
		must       []string // tags the original must have (so the case means something)
	}{
		{"mp4 keys", "a.mp4", append(slices.Clone(h264), "-movflags", "use_metadata_tags"), nil,
			[]string{"GPSCoordinates", "Make", "Model", "SerialNumber"}},
		{"mov udta", "b.mov", h264, nil, []string{"GPSCoordinates", "Make", "Model"}},
		{"mov keys, faststart", "c.mov", append(slices.Clone(h264), "-movflags", "use_metadata_tags+faststart"), nil,
			[]string{"GPSCoordinates", "Make", "Model", "SerialNumber"}},
		{"mp4 with XMP", "d.mp4", append(slices.Clone(h264), "-movflags", "use_metadata_tags"), xmp,
			[]string{"XMP-exif:GPSLatitude", "XMP-tiff:Make", "Make", "SerialNumber"}},
		{"mov with XMP", "e.mov", h264, xmp, []string{"XMP-exif:GPSLatitude", "XMP-tiff:Make", "GPSCoordinates"}},
		{"mov, Apple keys", "h.mov", h264, keys, []string{"Keys:GPSCoordinates", "Keys:Make", "Keys:Model"}},
		{"mov, track udta and moov uuid", "i.mov", h264, trackMeta, []string{"Track1:Track1GPSCoordinates", "Track1:Track1Make", "QuickTime:UUID-Unknown"}},
		{"mkv tags and attachment", "f.mkv", append([]string{"-attach", attach, "-metadata:s:t", "mimetype=text/plain", "-c:v", "libvpx"}, meta...), nil,
			[]string{"Location", "Make", "Model", "SerialNumber", "AttachedFileName"}},
		{"webm tags", "g.webm", append([]string{"-c:v", "libvpx-vp9"}, meta...), nil,
			[]string{"Location", "Make", "Model", "SerialNumber"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case has its own files; the tools dominate
			orig := genVideo(t, filepath.Join(dir, tc.file), "64x48", tc.opts...)
			if tc.after != nil {
				tc.after(t, orig)
			}
			before := exifTags(t, orig)
			for _, m := range tc.must {
				if !hasTag(before, m) {
					t.Fatalf("fixture lacks %s: %v", m, before)
				}
			}
			// The library is read-only: Scrub and the overlay only read.
			if err := os.Chmod(orig, 0o444); err != nil {
				t.Fatal(err)
			}
			origBytes := readFile(t, orig)
			sum := sha256.Sum256(origBytes)

			f, err := os.Open(orig)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fi, _ := f.Stat()
			p, err := Scrub(f, fi.Size())
			if err != nil {
				t.Fatal(err)
			}
			checkPatches(t, p, fi.Size())
			out := filepath.Join(dir, "scrubbed-"+tc.file)
			w, err := os.Create(out)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(w, NewScrubbed(f, fi.Size(), p)); err != nil {
				t.Fatal(err)
			}
			w.Close()

			got := readFile(t, out)
			if len(got) != len(origBytes) {
				t.Fatalf("scrubbed %d bytes, original %d", len(got), len(origBytes))
			}
			if !bytes.Equal(got, apply(origBytes, p)) {
				t.Error("bytes outside the patches differ, or patches not applied")
			}
			for _, x := range p {
				checkNeutral(t, got, origBytes, x)
			}
			if sha256.Sum256(readFile(t, orig)) != sum {
				t.Error("the original changed")
			}
			leakRE := regexp.MustCompile(`(?i)gps|location|make|model|serial|xmp|6709|attach`)
			for k, v := range exifTags(t, out) {
				if leakRE.MatchString(k) || strings.Contains(v, "Canary") || strings.Contains(v, "SN123456") || strings.Contains(v, "48.858") {
					t.Errorf("left after scrubbing: %s = %s", k, v)
				}
			}
			for _, s := range []string{"Canary", "SN123456", "48.8582"} {
				if bytes.Contains(got, []byte(s)) {
					t.Errorf("%q still in the bytes at %d", s, bytes.Index(got, []byte(s)))
				}
			}
			if want, got := frames(t, orig), frames(t, out); got != want || got == 0 {
				t.Errorf("scrubbed stream decodes %d frames, original %d", got, want)
			}
		})
	}
}

// exifTags runs exiftool on path (all tags, duplicates and unknown ones,
// named by their precise group: Keys, UserData, Track1, XMP-exif...) and
// returns tag -> value as text.
func exifTags(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := exec.Command("exiftool", "-j", "-G1", "-a", "-u", path).Output()
	if err != nil {
		t.Fatalf("exiftool %s: %v", path, err)
	}
	var docs []map[string]any
	if err := json.Unmarshal(b, &docs); err != nil || len(docs) != 1 {
		t.Fatalf("exiftool output: %v\n%s", err, b)
	}
	tags := map[string]string{}
	for k, v := range docs[0] {
		switch k {
		case "SourceFile", "System:FileName", "System:Directory", "ExifTool:ExifToolVersion":
			continue // our own file names
		}
		tags[k] = fmt.Sprint(v)
	}
	return tags
}

// hasTag reports a tag by its name, or group:name.
func hasTag(tags map[string]string, name string) bool {
	for k := range tags {
		if k == name || strings.HasSuffix(k, ":"+name) {
			return true
		}
	}
	return false
}

// frames decodes the whole video with ffmpeg, failing on any error it
// reports, and returns the video frames ffprobe counts.
func frames(t *testing.T, path string) int {
	t.Helper()
	if b, err := exec.Command("ffmpeg", "-v", "error", "-nostdin", "-xerror", "-i", path, "-f", "null", "-").CombinedOutput(); err != nil || len(b) > 0 {
		t.Errorf("ffmpeg decoding %s: %v\n%s", path, err, b)
	}
	b, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, b)
	}
	var n int
	if _, err := fmt.Sscan(string(b), &n); err != nil {
		t.Fatalf("ffprobe %s: %q", path, b)
	}
	return n
}

// FuzzScrub: arbitrary bytes never panic or loop the walkers, and the
// patches always keep the stream's length and touch only their ranges.
func FuzzScrub(f *testing.F) {
	f.Add(mp4Meta())
	f.Add(mkvMeta())
	f.Add(mp4("isom", "vide", "avc1", true))
	f.Add([]byte("\x1a\x45\xdf\xa3\x9f\x42\x82\x84webm\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		size := int64(len(b))
		p, err := Scrub(bytes.NewReader(b), size)
		if err != nil {
			if !errors.Is(err, ErrUnknown) {
				t.Fatalf("error %v does not wrap ErrUnknown", err)
			}
			return
		}
		checkPatches(t, p, size)
		out := scrubbed(t, b, p)
		if !bytes.Equal(out, apply(b, p)) {
			t.Fatal("the stream differs from the patched copy")
		}
		// MP4 keeps its box structure exactly: nothing is left to clear.
		if string(b[4:8]) == "ftyp" {
			p2, err := Scrub(bytes.NewReader(out), size)
			if err != nil || !bytes.Equal(apply(out, p2), out) {
				t.Fatalf("scrubbing again: %v, %+v", err, p2)
			}
		}
	})
}

// injectBox appends child to the container at path (moov, trak...) of an
// MP4 file whose moov is its last box, so no media data moves.
func injectBox(t *testing.T, file string, child []byte, path ...string) {
	t.Helper()
	b := readFile(t, file)
	off, end := 0, len(b)
	var heads []int // the containers' headers, to grow
	for _, typ := range path {
		found := false
		for o := off; o+8 <= end; {
			n := int(binary.BigEndian.Uint32(b[o:]))
			if n < 8 {
				t.Fatalf("%s: box at %d of size %d", file, o, n)
			}
			if string(b[o+4:o+8]) == typ {
				heads, off, end, found = append(heads, o), o+8, o+n, true
				break
			}
			o += n
		}
		if !found {
			t.Fatalf("%s: no %s", file, typ)
		}
	}
	if heads[0]+int(binary.BigEndian.Uint32(b[heads[0]:])) != len(b) {
		t.Fatalf("%s: %s is not the last box", file, path[0])
	}
	for _, h := range heads {
		binary.BigEndian.PutUint32(b[h:], binary.BigEndian.Uint32(b[h:])+uint32(len(child)))
	}
	b = slices.Concat(b[:end], child, b[end:])
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
