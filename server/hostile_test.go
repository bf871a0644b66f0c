package server_test

// Hostile inputs, generated at test time into a fresh originals folder (no
// large files are committed): container bombs (50,000-frame WebP and GIF),
// pixel bombs (a 99 MP 16-bit PNG of ~5 MB, a JPEG header declaring
// 65000x65000), files that fit the decode budget only one at a time,
// truncated files of every format, things that are not images at all, and
// a file too slow to render within the deadline. After every case the
// service must still answer a normal request and have no worker left
// busy; at the end descriptors and goroutines are back where they were.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/gif"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/davidbyttow/govips/v2/vips"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/thumbd/thumbd/app"
	"github.com/thumbd/thumbd/budget"
	"github.com/thumbd/thumbd/imagehdr"
	"github.com/thumbd/thumbd/server"
	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/variant"
)

// hostileEnv is one server over the hostile folder, with its admin handler
// (read in-process: scraping costs no descriptor and no goroutine).
type hostileEnv struct {
	srv   *server.Server
	base  string
	sg    *signing.Signer
	admin http.Handler
}

func newHostileEnv(t *testing.T, ix *storage.Index, sg *signing.Signer, tr server.Transformer, opts server.Options) *hostileEnv {
	t.Helper()
	srv, base := startServer(t, ix, sg, tr, opts)
	return &hostileEnv{srv: srv, base: base, sg: sg, admin: srv.AdminHandler(false)}
}

func (e *hostileEnv) url(t testing.TB, hash, size string) string {
	t.Helper()
	name, _, _ := strings.Cut(size, ".")
	return thumbURL(e.base, hash, sign(t, e.sg, hash, name, time.Time{}), size)
}

// metric is the value of one series (0 when absent, as Prometheus reads
// a counter never incremented).
func (e *hostileEnv) metric(t testing.TB, name string, want map[string]string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	e.admin.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	fam, ok := fams[name]
	if !ok {
		return 0
	}
next:
	for _, m := range fam.GetMetric() {
		got := labels(m)
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func (e *hostileEnv) inFlight(t testing.TB) float64 {
	return e.metric(t, "thumbd_transforms_in_flight", nil)
}

func (e *hostileEnv) deadlines(t testing.TB, stage string) float64 {
	return e.metric(t, "thumbd_deadline_exceeded_total", map[string]string{"stage": stage})
}

// waitFor polls cond until it holds or the deadline passes (then it
// reports what did not happen).
func waitFor(t testing.TB, timeout time.Duration, what func() string, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("not within %v: %s", timeout, what())
			return false
		}
		<-tick.C
	}
	return true
}

// idle waits until no libvips job runs.
func (e *hostileEnv) idle(t testing.TB, timeout time.Duration) bool {
	t.Helper()
	return waitFor(t, timeout, func() string {
		return fmt.Sprintf("thumbd_transforms_in_flight = %v, want 0 (a worker is still busy)", e.inFlight(t))
	}, func() bool { return e.inFlight(t) == 0 })
}

// healthy is the check after every hostile case: no worker left busy, and
// a normal photo still answers 200 with a real image.
func (e *hostileEnv) healthy(t testing.TB, normal string) {
	t.Helper()
	e.idle(t, 10*time.Second)
	r := get(t, e.url(t, normal, "tile_224"))
	if r.Status != 200 {
		t.Errorf("normal photo after the hostile case: %d %q, want 200", r.Status, r.Body)
	} else if cfg, _, err := image.DecodeConfig(bytes.NewReader(r.Body)); err != nil || cfg.Width != 224 || cfg.Height != 224 {
		t.Errorf("normal photo after the hostile case: %dx%d (%v), want a 224x224 image", cfg.Width, cfg.Height, err)
	}
	e.idle(t, 10*time.Second)
}

// ---- generators ----

// bitWriter writes a DEFLATE bit stream (LSB first).
type bitWriter struct {
	out   []byte
	acc   uint64
	nbits uint
}

func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.nbits
	w.nbits += n
	for w.nbits >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nbits -= 8
	}
}

func (w *bitWriter) flush() {
	if w.nbits > 0 {
		w.out = append(w.out, byte(w.acc))
		w.acc, w.nbits = 0, 0
	}
}

// reverse turns a Huffman code (MSB first) into stream order.
func reverse(code uint64, n uint) uint64 {
	var r uint64
	for i := uint(0); i < n; i++ {
		r = r<<1 | (code>>i)&1
	}
	return r
}

// zlibZeros is a valid zlib stream of n (>= 1) zero bytes: one literal,
// then length-258/distance-1 matches in the fixed Huffman code (13 bits
// per 258 bytes). It is written directly because compress/flate would
// spend minutes on 800 MB under the race detector.
func zlibZeros(n int64) []byte {
	w := &bitWriter{out: make([]byte, 0, n/258*13/8+64)}
	w.out = append(w.out, 0x78, 0xDA)
	w.bits(1, 1)             // BFINAL
	w.bits(1, 2)             // BTYPE=01, fixed codes
	lit0 := reverse(0x30, 8) // literal 0: 00110000
	// Code 285 (length 258, no extra bits), then distance code 0 (five
	// zero bits): distance 1.
	match := reverse(0xC5, 8)
	w.bits(lit0, 8)
	left := n - 1
	for ; left >= 258; left -= 258 {
		w.bits(match, 13)
	}
	for ; left > 0; left-- {
		w.bits(lit0, 8)
	}
	w.bits(0, 7) // end of block (code 256: 0000000)
	w.flush()
	// Adler-32 of zeros: a stays 1, b adds 1 per byte.
	return binary.BigEndian.AppendUint32(w.out, uint32(n%65521)<<16|1)
}

func pngChunk(b []byte, typ string, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	start := len(b)
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

// pngZeros is a complete, valid all-black PNG (colour type 2 or 6), tiny on
// disk whatever it declares.
func pngZeros(w, h, depth, colourType int, interlaced bool) []byte {
	channels := map[int]int{2: 3, 6: 4}[colourType]
	bitsPP := int64(channels * depth)
	row := func(cols int64) int64 { return 1 + (cols*bitsPP+7)/8 } // filter byte + pixels
	var raw int64
	if interlaced {
		// Adam7: start and step of each pass; empty passes have no rows.
		for _, p := range [][4]int64{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}} {
			cols, rows := (int64(w)-p[0]+p[2]-1)/p[2], (int64(h)-p[1]+p[3]-1)/p[3]
			if cols > 0 && rows > 0 {
				raw += rows * row(cols)
			}
		}
	} else {
		raw = int64(h) * row(int64(w))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	il := byte(0)
	if interlaced {
		il = 1
	}
	ihdr = append(ihdr, byte(depth), byte(colourType), 0, 0, il)
	b := []byte("\x89PNG\r\n\x1a\n")
	b = pngChunk(b, "IHDR", ihdr)
	b = pngChunk(b, "IDAT", zlibZeros(raw))
	return pngChunk(b, "IEND", nil)
}

func riffChunk(b []byte, typ string, data []byte) []byte {
	b = append(b, typ...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	if len(data)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// findRIFF returns the whole chunk (header, payload, pad) of type typ.
func findRIFF(b []byte, typ string) []byte {
	for off := 12; off+8 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off+4:]))
		end := off + 8 + n + n%2
		if end > len(b) {
			return nil
		}
		if string(b[off:off+4]) == typ {
			return b[off:end]
		}
		off = end
	}
	return nil
}

// webpFrames is an animated WebP of n 1x1 frames, each wrapping the same
// real lossless VP8L bitstream (encoded once by libvips).
func webpFrames(t testing.TB, n int) []byte {
	t.Helper()
	var pb bytes.Buffer
	if err := png.Encode(&pb, image.NewNRGBA(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	img, err := vips.NewImageFromBuffer(pb.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	one, _, err := img.ExportWebp(&vips.WebpExportParams{Lossless: true, StripMetadata: true})
	img.Close()
	if err != nil {
		t.Fatal(err)
	}
	vp8l := findRIFF(one, "VP8L")
	if vp8l == nil {
		t.Fatalf("no VP8L chunk in libvips' lossless 1x1 WebP (% x)", one)
	}
	// ANMF: x, y, width-1, height-1, duration (24 bits each), flags, frame.
	anmf := append([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0}, vp8l...)
	body := []byte("WEBP")
	body = riffChunk(body, "VP8X", []byte{0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // animation + alpha, 1x1 canvas
	body = riffChunk(body, "ANIM", []byte{0, 0, 0, 0, 0, 0})                // background, loop forever
	for i := 0; i < n; i++ {
		body = riffChunk(body, "ANMF", anmf)
	}
	out := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
	return append(out, body...)
}

// gifFrames is a GIF89a of n 1x1 frames (hand-assembled: image/gif would
// take seconds for 50,000 frames under the race detector).
func gifFrames(n int) []byte {
	b := []byte("GIF89a")
	b = append(b, 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255) // 1x1 screen, 2-colour global table
	b = append(b, 0x21, 0xFF, 0x0B)
	b = append(b, "NETSCAPE2.0"...)
	b = append(b, 3, 1, 0, 0, 0) // loop forever
	frame := []byte{
		0x21, 0xF9, 4, 0, 10, 0, 0, 0, // graphic control: 100 ms
		0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, // image descriptor 1x1
		2, 2, 0x44, 0x01, 0, // LZW min size 2: clear, 0, end (3-bit codes)
	}
	for i := 0; i < n; i++ {
		b = append(b, frame...)
	}
	return append(b, 0x3B)
}

// bigSOF is a real baseline JPEG whose SOF0 declares 65000x65000.
func bigSOF(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/photos/cops.jpg")
	if err != nil {
		t.Fatal(err)
	}
	segs, err := jpegSegments(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		if s.marker == 0xC0 { // s.data aliases b
			binary.BigEndian.PutUint16(s.data[1:], 65000)
			binary.BigEndian.PutUint16(s.data[3:], 65000)
			return b
		}
	}
	t.Fatal("cops.jpg has no SOF0")
	return nil
}

// slowJPEG writes a 14940x6474 (96.7 MP) baseline CMYK JPEG with the SWOP
// profile. It is too wide for shrink-on-load at fit_7680 (half its width
// is under 7680), so every pixel goes through lcms at full resolution.
// Measured with THUMBD_HOSTILE_MEASURE=1 on the 2-core CI machine, an
// unkilled render takes well over 20 s. A 249 px pattern, replicated,
// at Q=40 keeps it small (11 MB) and quick to make: reading a larger
// original under the race detector on busy cores can eat the whole
// 300 ms deadline before libvips starts, and then there is nothing to stop.
func slowJPEG(t testing.TB, dir, out string) {
	t.Helper()
	swop, err := vips.NewImageFromFile("../testdata/photos/jpg-32bit-cmyk-icc-swop.jpg")
	if err != nil {
		t.Fatal(err)
	}
	icc := filepath.Join(dir, "swop.icc")
	err = os.WriteFile(icc, swop.GetICCProfile(), 0o644)
	swop.Close()
	if err != nil {
		t.Fatal(err)
	}
	v := func(n string) string { return filepath.Join(dir, n) }
	for _, s := range [][]string{
		{"vips", "xyz", v("xy.v"), "249", "249"},
		{"vips", "cast", v("xy.v"), v("xy8.v"), "uchar"},
		{"vips", "bandjoin", v("xy8.v") + " " + v("xy8.v"), v("x4.v")},
		{"vips", "copy", v("x4.v"), v("c4.v"), "--interpretation", "cmyk"},
		{"vips", "replicate", v("c4.v"), out + "[Q=40,profile=" + icc + "]", "60", "26"},
	} {
		if err := run1(s[0], s[1:]...); err != nil {
			t.Fatal(err)
		}
	}
}

// ---- the fixture ----

type hostileFixture struct {
	dir   string
	ix    *storage.Index
	hash  map[string]string // rel -> sha1 of what was written
	scanE error
}

func (f *hostileFixture) write(t testing.TB, rel string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, rel), b, 0o644); err != nil {
		t.Fatal(err)
	}
	f.hash[rel] = sha1Hex(b)
}

func (f *hostileFixture) h(t testing.TB, rel string) string {
	t.Helper()
	h, ok := f.hash[rel]
	if !ok {
		t.Fatalf("no hostile fixture %q", rel)
	}
	return h
}

// Cut points of the truncated files: inside the header, the middle, near
// the end.
var truncations = []func(n int) int{
	func(int) int { return 100 },
	func(n int) int { return n / 2 },
	func(n int) int { return n * 9 / 10 },
}

var truncSources = []string{"cops.jpg", "dice.png", "dice.webp", "animated.gif", "cops.heic"}

func truncName(i int, src string) string { return fmt.Sprintf("trunc-%d-%s", i, src) }

// notImages are files with an image name that are something else.
var notImages = map[string][]byte{
	"notes.jpg":   []byte("meeting notes, not a photograph\n"),
	"drawing.png": []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><script>alert(1)</script><rect width="100" height="100"/></svg>`),
	"paper.jpg":   []byte("%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"),
	"page.webp":   []byte("<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>\n"),
	"empty.jpg":   {},
}

func buildHostile(t *testing.T) *hostileFixture {
	t.Helper()
	for _, tool := range []string{"vips", "ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed; `make test` installs it (scripts/deps.sh)", tool)
		}
	}
	f := &hostileFixture{dir: t.TempDir(), hash: map[string]string{}}
	work := t.TempDir() // intermediates and the symlink's target, outside the folder
	photo := func(n string) string { return filepath.Join("..", "testdata", "photos", n) }
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	// The generators are checked on small instances first, so a failure
	// below is the service's, not a malformed fixture's.
	for _, c := range []struct {
		depth, ct int
		il        bool
	}{{16, 6, true}, {8, 2, true}, {8, 2, false}} {
		img, err := png.Decode(bytes.NewReader(pngZeros(37, 23, c.depth, c.ct, c.il)))
		if err != nil || img.Bounds().Dx() != 37 || img.Bounds().Dy() != 23 {
			t.Fatalf("generator: pngZeros(37x23, %d-bit, type %d, interlaced %v) does not decode: %v", c.depth, c.ct, c.il, err)
		}
		if r, g, b, _ := img.At(36, 22).RGBA(); r|g|b != 0 {
			t.Fatalf("generator: pngZeros pixel is not black")
		}
	}
	if g, err := gif.DecodeAll(bytes.NewReader(gifFrames(3))); err != nil || len(g.Image) != 3 {
		t.Fatalf("generator: gifFrames(3) does not decode to 3 frames: %v", err)
	}
	if img, err := vips.NewImageFromBuffer(webpFrames(t, 3)); err != nil || img.Pages() != 3 {
		t.Fatalf("generator: webpFrames(3) is not a 3-frame WebP for libvips: %v", err)
	} else {
		img.Close()
	}

	f.write(t, "cops.jpg", read(photo("cops.jpg"))) // the normal photo
	f.write(t, "frames50k.webp", webpFrames(t, 50_000))
	f.write(t, "frames50k.gif", gifFrames(50_000))
	f.write(t, "bomb99mp16.png", pngZeros(9950, 9950, 16, 6, true))
	for i := 0; i < 3; i++ {
		f.write(t, fmt.Sprintf("fits%d.png", i), pngZeros(7300+i, 5480, 8, 2, true))
	}
	f.write(t, "sof65000.jpg", bigSOF(t))
	slowJPEG(t, work, filepath.Join(f.dir, "slow-cmyk.jpg"))
	f.hash["slow-cmyk.jpg"] = sha1Hex(read(filepath.Join(f.dir, "slow-cmyk.jpg")))

	// Truncation sources: real photos, plus WebP and HEIC made from them.
	srcs := map[string][]byte{"cops.jpg": read(photo("cops.jpg")), "dice.png": read(photo("dice.png")), "animated.gif": read(photo("animated.gif"))}
	for _, c := range [][2]string{{"dice.png", "dice.webp"}, {"cops.jpg", "cops.heic"}} {
		out := filepath.Join(work, c[1])
		if err := run1("vips", "copy", photo(c[0]), out); err != nil {
			t.Fatal(err)
		}
		srcs[c[1]] = read(out)
	}
	for _, src := range truncSources {
		for i, cut := range truncations {
			f.write(t, truncName(i, src), srcs[src][:cut(len(srcs[src]))])
		}
	}

	for rel, b := range notImages {
		f.write(t, rel, b)
	}
	if err := syscall.Mkfifo(filepath.Join(f.dir, "pipe.jpg"), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := append(read(photo("cops.jpg")), "outside the originals folder"...)
	if err := os.WriteFile(filepath.Join(work, "outside.jpg"), outside, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(work, "outside.jpg"), filepath.Join(f.dir, "escape.jpg")); err != nil {
		t.Fatal(err)
	}
	f.hash["escape.jpg"] = sha1Hex(outside) // what the link would serve if followed

	clip := filepath.Join(f.dir, "clip.mp4")
	if err := run1("ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc=duration=1:size=160x120:rate=5",
		"-c:v", "libx264", "-pix_fmt", "yuv420p", clip); err != nil {
		t.Fatal(err)
	}
	f.hash["clip.mp4"] = sha1Hex(read(clip))

	// Indexed with the production probe (transform.Probe with max_frames);
	// a bound on the scan turns a hang into a failure.
	ix, err := storage.Open(f.dir, storage.Options{MaxFileSize: maxFileBytes, Probe: app.Probe(transform.DefaultMaxFrames), Log: discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, f.scanE = ix.Scan(ctx, 0)
	f.ix = ix
	return f
}

func fdCount() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// ---- the suite ----

func TestHostileInputs(t *testing.T) {
	f := buildHostile(t)
	if f.scanE != nil {
		t.Fatalf("index scan of the hostile folder did not finish: %v", f.scanE)
	}
	normal := f.h(t, "cops.jpg")
	client.CloseIdleConnections()
	baseFDs, baseG := fdCount(), runtime.NumGoroutine()

	t.Run("cases", func(t *testing.T) {
		dec := budget.New(256 << 20)
		topt := topts
		topt.Budget = dec
		opts := defaultOptions()
		opts.Workers = 3
		opts.Budget = dec
		opts.FailureTTL = 0 // every request is a real job, so every size is really tried
		env := newHostileEnv(t, f.ix, newSigner(t, []string{keyA}, false), transform.New(topt), opts)

		expect := func(t *testing.T, rel string, want int, sizes ...string) {
			t.Helper()
			for _, size := range sizes {
				if r := get(t, env.url(t, f.h(t, rel), size)); r.Status != want {
					t.Errorf("%s %s: %d %q, want %d", rel, size, r.Status, r.Body, want)
				}
			}
		}

		t.Run("webp-50k-frames", func(t *testing.T) {
			// Refused from the container (max_frames), before libvips reads it.
			expect(t, "frames50k.webp", 422, "tile_224", "fit_720", "original")
			env.healthy(t, normal)
		})
		t.Run("gif-50k-frames", func(t *testing.T) {
			expect(t, "frames50k.gif", 422, "tile_224", "fit_720", "original")
			env.healthy(t, normal)
		})
		t.Run("png-99mp-16bit-over-budget", func(t *testing.T) {
			// Within max_megapixels, but its decode would need more than
			// the whole 256 MiB budget: refused from the header. libvips'
			// high-water mark shows whether anything was decoded.
			_, high0 := transform.MemStats()
			expect(t, "bomb99mp16.png", 422, "tile_224", "fit_7680", "original")
			if _, high := transform.MemStats(); high-high0 > 64<<20 {
				t.Errorf("libvips memory high-water rose by %d MiB: the 99 MP PNG was decoded", (high-high0)>>20)
			}
			if n := dec.InUse(); n != 0 {
				t.Errorf("decode budget: %d bytes still reserved", n)
			}
			env.healthy(t, normal)
		})
		t.Run("jpeg-sof-65000", func(t *testing.T) {
			expect(t, "sof65000.jpg", 422, "tile_224", "fit_720", "original")
			env.healthy(t, normal)
		})
		t.Run("truncated", func(t *testing.T) {
			// The README: a damaged file answers 415, original included.
			for _, src := range truncSources {
				for i := range truncations {
					rel := truncName(i, src)
					if _, err := f.ix.Lookup(context.Background(), f.h(t, rel)); err != nil {
						t.Errorf("%s not indexed: %v", rel, err)
						continue
					}
					wrong := map[int][]string{}
					for _, s := range variant.Sizes {
						r := get(t, env.url(t, f.h(t, rel), s.Name))
						if r.Status != 415 {
							wrong[r.Status] = append(wrong[r.Status], s.Name)
						}
					}
					for status, sizes := range wrong {
						t.Errorf("%s: %d (want 415) for %s", rel, status, strings.Join(sizes, ", "))
					}
					env.healthy(t, normal)
				}
			}
		})
		t.Run("not-images", func(t *testing.T) {
			indexed := map[string]bool{}
			for _, o := range f.ix.All() {
				indexed[o.Path] = true
			}
			names := make([]string, 0, len(notImages))
			for rel := range notImages {
				names = append(names, rel)
			}
			sort.Strings(names)
			for _, rel := range names {
				if !indexed[rel] {
					t.Errorf("%s is not indexed; want it indexed and refused 415", rel)
					continue
				}
				expect(t, rel, 415, "tile_224", "fit_720", "original")
				env.healthy(t, normal)
			}
			// A FIFO and a symlink out of the folder are never indexed, so
			// never opened (a FIFO would block a reader; the link would
			// serve a file outside the folder).
			for _, rel := range []string{"pipe.jpg", "escape.jpg"} {
				if indexed[rel] {
					t.Errorf("%s is indexed; FIFOs and escaping symlinks must never be", rel)
				}
			}
			expect(t, "escape.jpg", 404, "tile_224", "original")
			env.healthy(t, normal)
		})
		t.Run("fit-budget-one-at-a-time", func(t *testing.T) {
			// Each needs more than half the budget (checked here, so the
			// case really makes them queue), all fit alone: requested at
			// once, they wait for memory in turn instead of failing.
			tile, _ := variant.ParseSize("tile_224")
			rels := []string{"fits0.png", "fits1.png", "fits2.png"}
			for _, rel := range rels {
				b, err := os.ReadFile(filepath.Join(f.dir, rel))
				if err != nil {
					t.Fatal(err)
				}
				hdr, err := imagehdr.Parse(b, transform.DefaultMaxFrames)
				if err != nil {
					t.Fatalf("%s: imagehdr.Parse: %v", rel, err)
				}
				if est := transform.DecodeEstimate(hdr, tile); est <= dec.Size()/2 || est > dec.Size() {
					t.Errorf("%s: estimate %d MiB, want between half and all of the %d MiB budget", rel, est>>20, dec.Size()>>20)
				}
			}
			type res struct {
				rel string
				r   result
				err error
			}
			ch := make(chan res, len(rels))
			for _, rel := range rels {
				u := env.url(t, f.h(t, rel), "tile_224")
				go func() {
					r, err := fetch(context.Background(), http.MethodGet, u, nil)
					ch <- res{rel, r, err}
				}()
			}
			for range rels {
				x := <-ch
				switch {
				case x.err != nil:
					t.Errorf("%s: %v", x.rel, x.err)
				case x.r.Status != 200:
					t.Errorf("%s: %d %q, want 200 (queued for memory, not refused)", x.rel, x.r.Status, x.r.Body)
				}
			}
			if n := dec.InUse(); n != 0 {
				t.Errorf("decode budget: %d bytes still reserved after the jobs", n)
			}
			env.healthy(t, normal)
		})
	})

	t.Run("deadline", func(t *testing.T) {
		slow := f.h(t, "slow-cmyk.jpg")
		if os.Getenv("THUMBD_HOSTILE_MEASURE") != "" {
			// Opt-in: how long the render takes when nothing stops it.
			src, err := os.ReadFile(filepath.Join(f.dir, "slow-cmyk.jpg"))
			if err != nil {
				t.Fatal(err)
			}
			s, _ := variant.ParseSize("fit_7680")
			t0 := time.Now()
			_, err = realTransformer().Transform(context.Background(), src, s, variant.JPEG)
			t.Logf("unkilled fit_7680 of slow-cmyk.jpg: %v (err %v)", time.Since(t0), err)
		}
		opts := defaultOptions()
		opts.Workers = 1
		opts.RequestTimeout = 300 * time.Millisecond
		opts.FailureTTL = 10 * time.Minute
		// The server's own account of each request, shown if the case fails.
		var logs logBuffer
		sg := newSigner(t, []string{keyA}, false)
		jobs := newCounting(false) // counts libvips jobs
		srv, base := startServerLog(t, f.ix, sg, jobs, opts, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
		env := &hostileEnv{srv: srv, base: base, sg: sg, admin: srv.AdminHandler(false)}
		defer func() {
			if t.Failed() {
				t.Logf("server log:\n%s", logs.String())
			}
		}()
		u := env.url(t, slow, "fit_7680")
		stages := func() string {
			return fmt.Sprintf("deadline counters: render %v, wait %v, remembered %v",
				env.deadlines(t, "render"), env.deadlines(t, "wait"), env.deadlines(t, "remembered"))
		}

		started := jobs.calls.Load()
		r := get(t, u)
		if r.Status != 503 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("slow render: %d, Retry-After %q; want 503 with Retry-After", r.Status, r.Header.Get("Retry-After"))
		}
		// Unkilled, the job would hold the only worker for over 20 s;
		// stopped, it lets go at its next strip (a few seconds at most:
		// the first strip of this pipeline is slow).
		if !env.idle(t, 10*time.Second) {
			t.Errorf("libvips was not stopped at the deadline")
		}
		if n := jobs.calls.Load() - started; n != 1 {
			t.Errorf("%d libvips jobs started for one request, want 1", n)
		}
		if got := env.deadlines(t, "render"); got != 1 {
			t.Errorf(`thumbd_deadline_exceeded_total{stage="render"} = %v, want 1 (a render stopped at the deadline); %s`, got, stages())
		}

		// The retry is answered from the remembered failure: no new job.
		started = jobs.calls.Load()
		r = get(t, u)
		if r.Status != 503 || r.Header.Get("Retry-After") == "" {
			t.Errorf("retry of the slow render: %d, Retry-After %q; want 503 with Retry-After", r.Status, r.Header.Get("Retry-After"))
		}
		if n := jobs.calls.Load() - started; n != 0 {
			t.Errorf("the retry started %d libvips jobs, want 0 (the too-slow failure is remembered)", n)
		}
		if got := env.deadlines(t, "remembered"); got != 1 {
			t.Errorf(`thumbd_deadline_exceeded_total{stage="remembered"} = %v, want 1; %s`, got, stages())
		}
		env.healthy(t, normal)
	})

	t.Run("http-edges", func(t *testing.T) {
		opts := defaultOptions()
		opts.Negotiate = true
		env := newHostileEnv(t, f.ix, newSigner(t, []string{keyA}, false), realTransformer(), opts)
		clip := f.h(t, "clip.mp4")
		fi, err := os.Stat(filepath.Join(f.dir, "clip.mp4"))
		if err != nil {
			t.Fatal(err)
		}
		video := env.base + "/v/" + clip + "/" + sign(t, env.sg, clip, "avc", time.Time{}) + "/avc"

		if r := do(t, http.MethodGet, video, http.Header{"Range": {"bytes=-0"}}); r.Status != 416 ||
			r.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", fi.Size()) || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Range bytes=-0: %d, Content-Range %q, Cache-Control %q; want 416, bytes */%d, no-store",
				r.Status, r.Header.Get("Content-Range"), r.Header.Get("Cache-Control"), fi.Size())
		}
		if r := do(t, http.MethodGet, video, http.Header{"If-Match": {`"nope"`}}); r.Status != 412 || strings.Contains(r.Header.Get("Cache-Control"), "immutable") {
			t.Errorf(`If-Match "nope": %d, Cache-Control %q; want 412 and not immutable`, r.Status, r.Header.Get("Cache-Control"))
		}

		tileURL := env.url(t, normal, "tile_224")
		for _, c := range []struct{ accept, ctype string }{
			{"image/webp;q=0.0, image/avif;q=0", "image/jpeg"},
			{"image/webp;q=0.5", "image/webp"},
		} {
			r := do(t, http.MethodGet, tileURL, http.Header{"Accept": {c.accept}})
			if r.Status != 200 || r.Header.Get("Content-Type") != c.ctype {
				t.Errorf("Accept %q: %d %s, want 200 %s", c.accept, r.Status, r.Header.Get("Content-Type"), c.ctype)
			}
		}

		_, pubBase := startServer(t, f.ix, newSigner(t, []string{keyA}, true), realTransformer(), defaultOptions())
		if r := get(t, pubBase+"/v/"+clip+"/"+signing.PublicToken+"/avc"); r.Status != 403 {
			t.Errorf("public token on a video: %d, want 403", r.Status)
		}

		tok := sign(t, env.sg, normal, "tile_500", time.Time{})
		if r := get(t, thumbURL(env.base, normal, tok, "tile_500.jpg")); r.Status != 200 || r.Header.Get("Cache-Control") != immutable {
			t.Errorf("canonical URL: %d, Cache-Control %q; want 200, %q", r.Status, r.Header.Get("Cache-Control"), immutable)
		}
		for _, u := range []string{
			env.base + "//t/" + normal + "/" + tok + "/tile_500.jpg",
			env.base + "/t/" + normal + "/" + tok + "//tile_500.jpg",
			env.base + "/t/" + normal + "/" + tok + "/%74ile_500.jpg",
			env.base + "/t/" + normal + "/" + tok + "/tile_500.jpg?x=1",
		} {
			if r := get(t, u); r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("non-canonical %s: %d, Cache-Control %q; want no-store", strings.TrimPrefix(u, env.base), r.Status, r.Header.Get("Cache-Control"))
			}
		}
		env.healthy(t, normal)
	})

	// Every server of the subtests has shut down; what they and the client
	// held must be given back.
	client.CloseIdleConnections()
	waitFor(t, 15*time.Second, func() string {
		return fmt.Sprintf("descriptors %d (baseline %d), goroutines %d (baseline %d)", fdCount(), baseFDs, runtime.NumGoroutine(), baseG)
	}, func() bool {
		return fdCount() <= baseFDs+2 && runtime.NumGoroutine() <= baseG+3
	})
}
