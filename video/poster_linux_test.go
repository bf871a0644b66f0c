package video

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// These tests use the testStarted hook, so none of them runs in parallel.

func needFFmpeg(t *testing.T) { t.Helper(); needTool(t, "ffmpeg", "prlimit") }

// countStarts counts the ffmpeg processes Poster starts.
func countStarts(t *testing.T) *atomic.Int32 {
	var n atomic.Int32
	testStarted = func(int) { n.Add(1) }
	t.Cleanup(func() { testStarted = nil })
	return &n
}

func posterOf(t *testing.T, path string, lim Limits) ([]byte, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return Poster(context.Background(), f, fi.Size(), lim)
}

// pngSize decodes a whole PNG and returns its dimensions.
func pngSize(b []byte) (string, error) {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%dx%d", img.Bounds().Dx(), img.Bounds().Dy()), nil
}

func TestPosterRealFiles(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	h264 := []string{"-c:v", "libx264", "-pix_fmt", "yuv420p"}
	audio := []string{"-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac"}
	for _, tc := range []struct {
		name, file, size string
		opts             []string
		moovLast         bool // for MP4/MOV: check the layout the case is about
	}{
		{"mp4, moov at end", "a.mp4", "64x48", h264, true},
		{"mp4, faststart", "b.mp4", "80x60", append(slices.Clone(h264), "-movflags", "+faststart"), false},
		{"mp4 with audio, moov at end", "c.mp4", "64x48", append(slices.Clone(audio), h264...), true},
		{"mov hevc, moov at end", "d.mov", "64x48", []string{"-c:v", "libx265", "-x265-params", "log-level=error", "-tag:v", "hvc1", "-pix_fmt", "yuv420p"}, true},
		{"mkv vp8", "e.mkv", "72x40", []string{"-c:v", "libvpx"}, false},
		{"mkv h264 with audio", "f.mkv", "64x48", append(slices.Clone(audio), h264...), false},
		{"webm vp9", "g.webm", "64x48", []string{"-c:v", "libvpx-vp9"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := genVideo(t, filepath.Join(dir, tc.file), tc.size, tc.opts...)
			if ext := filepath.Ext(tc.file); ext == ".mp4" || ext == ".mov" {
				types := topBoxes(t, readFile(t, path))
				if last := slices.Index(types, "moov") > slices.Index(types, "mdat"); last != tc.moovLast {
					t.Fatalf("fixture layout %v, want moov last = %v", types, tc.moovLast)
				}
			}
			b, err := posterOf(t, path, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := pngSize(b); err != nil || got != tc.size {
				t.Errorf("poster %s, %v; want a %s PNG", got, err, tc.size)
			}
		})
	}
}

// opens watches a directory for files opened in it (inotify). An event is
// queued by the open itself, so once the process is gone it can be read
// at once: no waiting.
type opens struct{ fd int }

func watchOpens(t *testing.T, dir string) *opens {
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_OPEN|syscall.IN_ACCESS); err != nil {
		t.Fatal(err)
	}
	return &opens{fd}
}

// seen drains the queue and reports whether anything was opened or read.
func (o *opens) seen(t *testing.T) bool {
	t.Helper()
	buf := make([]byte, 64<<10)
	any := false
	for {
		n, err := syscall.Read(o.fd, buf)
		switch {
		case err == syscall.EAGAIN || n == 0:
			return any
		case err != nil:
			t.Fatal(err)
		}
		any = true
	}
}

// alisMP4 is a minimal QuickTime file whose video track's data lives, by a
// Macintosh alias data reference, in the file at path.
func alisMP4(path string) []byte {
	rec := binary.BigEndian.AppendUint16(nil, 2) // record type 2: absolute path
	p := []byte(path)
	if len(p)%2 == 1 {
		p = append(p, 0)
	}
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(path)))
	rec = append(rec, p...)
	rec = append(rec, 0xff, 0xff, 0, 0) // end of records
	// Alias record: fixed part (volume, file name, levels), then records.
	alias := bytes.Join([][]byte{make([]byte, 10), {0}, make([]byte, 27), make([]byte, 12),
		{0}, make([]byte, 63), make([]byte, 16), {0, 0, 0, 0}, make([]byte, 16), rec}, nil)
	dref := mkbox("dref", make([]byte, 4), []byte{0, 0, 0, 1}, mkbox("alis", make([]byte, 4), alias))
	entry := make([]byte, 78)
	entry[7] = 1 // data reference index: the alias
	stsd := mkbox("stsd", make([]byte, 4), []byte{0, 0, 0, 1}, mkbox("avc1", entry))
	hdlr := mkbox("hdlr", make([]byte, 8), []byte("vide"), make([]byte, 12))
	moov := mkbox("moov", mkbox("trak", mkbox("mdia", hdlr,
		mkbox("minf", mkbox("dinf", dref), mkbox("stbl", stsd)))))
	return append(mkbox("ftyp", []byte("qt  "), make([]byte, 4)), moov...)
}

func TestPosterHostile(t *testing.T) {
	needFFmpeg(t)
	outside, lib := t.TempDir(), t.TempDir()
	// The canary has a size no library video has: a poster of that size
	// would be a frame read from outside.
	const canarySize = "94x62"
	h264 := []string{"-c:v", "libx264", "-pix_fmt", "yuv420p"}
	canary := genVideo(t, filepath.Join(outside, "canary.mp4"), canarySize, h264...)
	canaryTS := genVideo(t, filepath.Join(outside, "canary.ts"), canarySize, h264...)
	real := readFile(t, genVideo(t, filepath.Join(t.TempDir(), "real.mp4"), "64x48",
		append(slices.Clone(h264), "-movflags", "+faststart")...))
	hls := func(seg string) []byte {
		return []byte("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n" + seg + "\n#EXT-X-ENDLIST\n")
	}
	ftyp := mkbox("ftyp", []byte("isom"), make([]byte, 4))

	for _, tc := range []struct {
		name string
		data []byte
		// leaks: a plain "ffmpeg <unjailed> -i file" does open the outside
		// file, which shows the case is a real threat.
		leaks     bool
		unjailed  []string
		probed    bool // Probe accepts it, so ffmpeg runs
		wantFrame bool // the library video's own frame is expected
	}{
		{name: "hls playlist saved as mp4", data: hls(canary), leaks: true},
		{name: "hls playlist of a ts segment", data: hls(canaryTS), leaks: true},
		{name: "hls playlist with file: url", data: hls("file:" + canary), leaks: true},
		{name: "ffconcat script", data: []byte("ffconcat version 1.0\nfile '" + canary + "'\n"), leaks: true, unjailed: []string{"-safe", "0"}},
		{name: "ftyp then hls playlist", data: append(slices.Clone(ftyp), hls("file:"+canary)...)},
		{name: "alias data reference", data: alisMP4(canary), leaks: true, unjailed: []string{"-enable_drefs", "1", "-use_absolute_path", "1"}, probed: true},
		{name: "video then hls playlist", data: append(slices.Clone(real), hls(canary)...), probed: true, wantFrame: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, lib, "x.mp4", tc.data)
			watch := watchOpens(t, outside)
			starts := countStarts(t)
			b, err := posterOf(t, path, Limits{})
			if tc.wantFrame {
				if got, derr := pngSize(b); err != nil || derr != nil || got != "64x48" {
					t.Errorf("poster %s, %v, %v; want the library video's 64x48 frame", got, err, derr)
				}
			} else if !errors.Is(err, ErrUnknown) || b != nil {
				t.Errorf("got %d bytes, %v; want ErrUnknown", len(b), err)
			}
			if got, _ := pngSize(b); got == canarySize {
				t.Fatal("poster is a frame of the outside video")
			}
			if watch.seen(t) {
				t.Error("a file outside the library was opened")
			}
			if n := starts.Load(); (n > 0) != tc.probed {
				t.Errorf("ffmpeg started %d times; want started = %v", n, tc.probed)
			}
			if !tc.leaks {
				return
			}
			// The fixture check: unjailed ffmpeg does follow the reference.
			args := append(append([]string{"-v", "quiet", "-nostdin"}, tc.unjailed...),
				"-i", path, "-frames:v", "1", "-f", "null", "-")
			_ = exec.Command("ffmpeg", args...).Run()
			if !watch.seen(t) {
				t.Error("fixture check: plain ffmpeg did not open the outside file either")
			}
		})
	}
}

// sparse writes the chunks at their offsets into a file of the given size;
// the gaps cost no disk.
func sparse(t *testing.T, path string, size int64, chunks map[int64][]byte) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for off, b := range chunks {
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestPosterMalformed(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	h264 := []string{"-c:v", "libx264", "-pix_fmt", "yuv420p"}
	moovLast := readFile(t, genVideo(t, filepath.Join(dir, "last.mp4"), "64x48", h264...))
	// 5 s, so frames remain whole before the cuts below.
	moovFirst := readFile(t, genVideoFor(t, filepath.Join(dir, "first.mp4"), "64x48", 5, append(slices.Clone(h264), "-movflags", "+faststart")...))
	mkv := readFile(t, genVideoFor(t, filepath.Join(dir, "a.mkv"), "64x48", 5, "-c:v", "libvpx"))
	ftyp := mkbox("ftyp", []byte("isom"), make([]byte, 4))
	hdlr := mkbox("hdlr", make([]byte, 8), []byte("vide"), make([]byte, 12))
	stsd := mkbox("stsd", make([]byte, 4), []byte{0, 0, 0, 1}, mkbox("avc1", make([]byte, 78)))
	trak := func(stbl ...[]byte) []byte {
		return mkbox("trak", mkbox("mdia", hdlr, mkbox("minf", mkbox("stbl", append([][]byte{stsd}, stbl...)...))))
	}
	garbage := make([]byte, 4000)
	for i := range garbage {
		garbage[i] = byte(i*7 + i>>3)
	}

	// A moov after mdat beyond the in-memory bound: its header, a video
	// track and a free box up to the claimed size, the rest sparse.
	bigMoov := func() string {
		moovAt := int64(len(ftyp) + 108)
		tr := trak()
		moovLen := int64(maxMoov + 1<<20)
		head := binary.BigEndian.AppendUint32(nil, uint32(moovLen))
		head = append(append(head, "moov"...), tr...)
		head = binary.BigEndian.AppendUint32(head, uint32(moovLen-8-int64(len(tr))))
		head = append(head, "free"...)
		return sparse(t, filepath.Join(dir, "bigmoov.mp4"), moovAt+moovLen, map[int64][]byte{
			0: append(slices.Clone(ftyp), mkbox("mdat", make([]byte, 100))...), moovAt: head})
	}
	// A 4 GiB mdat (sparse) then a moov whose 32-bit chunk offset, moved
	// down by the moov's size, no longer fits.
	stcoOverflow := func() string {
		mdatLen := int64(1)<<32 + 16
		mdat := binary.BigEndian.AppendUint32(nil, 1)
		mdat = binary.BigEndian.AppendUint64(append(mdat, "mdat"...), uint64(mdatLen))
		stco := mkbox("stco", make([]byte, 4), []byte{0, 0, 0, 1}, []byte{0xff, 0xff, 0xff, 0xf0})
		moov := mkbox("moov", trak(stco))
		moovAt := int64(len(ftyp)) + mdatLen
		return sparse(t, filepath.Join(dir, "overflow.mp4"), moovAt+int64(len(moov)), map[int64][]byte{
			0: append(slices.Clone(ftyp), mdat...), moovAt: moov})
	}
	file := func(name string, b []byte) func() string {
		return func() string { return writeFile(t, dir, name, b) }
	}

	for _, tc := range []struct {
		name    string
		make    func() string
		mayPass bool // a truncated file may still give a frame
		started bool // Probe accepts it: ffmpeg is run
	}{
		{name: "empty", make: file("empty.mp4", nil)},
		{name: "garbage moov", make: file("garbage.mp4", append(slices.Clone(ftyp), mkbox("moov", garbage)...))},
		{name: "moov overruns the file", make: file("overrun.mp4", append(slices.Clone(ftyp), mkbox("moov", trak())[:60]...))},
		{name: "moov larger than the bound", make: bigMoov},
		{name: "stco overflows when moov moves", make: stcoOverflow},
		{name: "moov without samples", make: file("nosamples.mp4", append(slices.Clone(ftyp), mkbox("moov", trak())...)), started: true},
		{name: "truncated in ftyp", make: file("t1.mp4", moovLast[:20])},
		{name: "truncated, moov at end lost", make: file("t2.mp4", moovLast[:len(moovLast)*6/10])},
		{name: "truncated in the moov at end", make: file("t3.mp4", moovLast[:len(moovLast)-40])},
		{name: "truncated mdat after moov", make: file("t4.mp4", moovFirst[:len(moovFirst)*7/10]), mayPass: true, started: true},
		{name: "truncated mkv", make: file("t5.mkv", mkv[:len(mkv)/2]), mayPass: true, started: true},
		{name: "mkv header only", make: file("t6.mkv", mkv[:40])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.make()
			starts := countStarts(t)
			b, err := posterOf(t, path, Limits{})
			switch {
			case err == nil && tc.mayPass:
				if got, derr := pngSize(b); derr != nil || got != "64x48" {
					t.Errorf("poster %s, %v", got, derr)
				}
			case !errors.Is(err, ErrUnknown):
				t.Errorf("got %d bytes, %v; want ErrUnknown", len(b), err)
			}
			if n := starts.Load(); (n > 0) != tc.started {
				t.Errorf("ffmpeg started %d times; want started = %v", n, tc.started)
			}
		})
	}
}

func TestPosterLimits(t *testing.T) {
	needFFmpeg(t)
	path := genVideo(t, filepath.Join(t.TempDir(), "a.mp4"), "64x48", "-c:v", "libx264", "-pix_fmt", "yuv420p")
	for _, tc := range []struct {
		name string
		lim  Limits
		want string // in the error
	}{
		// Below the 270 MiB ffmpeg needs to start at all.
		{"address space", Limits{MemoryBytes: 64 << 20}, "ffmpeg"},
		{"output size", Limits{MaxOutputBytes: 100}, "larger than 100 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := posterOf(t, path, tc.lim)
			if !errors.Is(err, ErrUnknown) || b != nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %d bytes, %v; want ErrUnknown mentioning %q", len(b), err, tc.want)
			}
		})
	}
}

// groupMembers lists the processes whose process group is pgid.
func groupMembers(t *testing.T, pgid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces and parens.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestPosterCancel(t *testing.T) {
	needFFmpeg(t)
	path := genVideo(t, filepath.Join(t.TempDir(), "a.mp4"), "64x48", "-c:v", "libx264", "-pix_fmt", "yuv420p")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()

	for _, tc := range []struct {
		name         string
		cancelBefore bool
	}{
		{"cancelled while ffmpeg runs", false},
		{"cancelled before", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pid := 0
			// Cancel as soon as ffmpeg exists: it can't have finished yet,
			// so only the kill ends it.
			testStarted = func(p int) { pid = p; cancel() }
			defer func() { testStarted = nil }()
			if tc.cancelBefore {
				cancel()
			}
			b, err := Poster(ctx, f, fi.Size(), Limits{})
			if !errors.Is(err, context.Canceled) || b != nil {
				t.Fatalf("got %d bytes, %v; want context.Canceled", len(b), err)
			}
			if tc.cancelBefore {
				if pid != 0 {
					t.Error("ffmpeg started for a cancelled context")
				}
				return
			}
			if pid == 0 {
				t.Fatal("ffmpeg never started")
			}
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); !os.IsNotExist(err) {
				t.Errorf("ffmpeg %d still exists (%v)", pid, err)
			}
			if left := groupMembers(t, pid); len(left) > 0 {
				t.Errorf("processes left in ffmpeg's group: %v", left)
			}
		})
	}
}
