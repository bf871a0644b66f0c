package server_test

// Shared fixture and helpers for the end-to-end tests in e2e_test.go.
//
// TestMain starts libvips once, copies the real photos (plus the corrupt
// JPEG and a text file with a .jpg name) into a temporary originals folder,
// snapshots every file in it, indexes it once for the read-only tests, runs
// the tests and then checks that the folder is byte-for-byte, mode- and
// mtime-identical to the snapshot. Tests that change originals on purpose
// build their own folder with t.TempDir.

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // decoders for image.Decode / DecodeConfig
	_ "image/png"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thumbd/thumbd/server"
	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/variant"
)

const (
	// Signing keys (>= signing.MinKeyLen bytes).
	keyA = "thumbd-e2e-key-A-0123456789abcdef0123456789"
	keyB = "thumbd-e2e-key-B-fedcba9876543210fedcba9876"

	maxFileBytes = 64 << 20

	// textJPEG is a file with an image name whose bytes are text.
	textJPEG   = "notes-not-an-image.jpg"
	corruptJPG = "corrupt.jpg"
)

var (
	discard = slog.New(slog.DiscardHandler)

	topts = transform.Options{JPEGQuality: 83, JPEGQualitySmall: 78, MaxMegapixels: 100}

	// Set up by TestMain.
	sharedDir string         // temp copy of the originals, never modified
	sharedIx  *storage.Index // index over sharedDir
	fileHash  map[string]string

	client = &http.Client{
		Timeout: 3 * time.Minute,
		Transport: &http.Transport{
			DisableCompression:  true, // keep Content-Length and bytes as sent
			MaxIdleConnsPerHost: 32,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
)

// photo is one original with its UPRIGHT dimensions (stored dimensions with
// width and height swapped for EXIF orientations 5..8).
type photo struct {
	rel  string
	w, h int
}

var photos = []photo{
	{"Landscape_1.jpg", 1600, 1200},
	{"Landscape_2.jpg", 1600, 1200},
	{"Landscape_3.jpg", 1600, 1200},
	{"Landscape_4.jpg", 1600, 1200},
	{"Landscape_5.jpg", 1600, 1200}, // stored 1200x1600, orientation 5
	{"Landscape_6.jpg", 1600, 1200}, // stored 1200x1600, orientation 6
	{"Landscape_7.jpg", 1600, 1200}, // stored 1200x1600, orientation 7
	{"Landscape_8.jpg", 1600, 1200}, // stored 1200x1600, orientation 8
	{"orientation/orientation_0.jpg", 50, 70},
	{"orientation/orientation_1.jpg", 50, 70},
	{"orientation/orientation_2.jpg", 50, 70},
	{"orientation/orientation_3.jpg", 50, 70},
	{"orientation/orientation_4.jpg", 50, 70},
	{"orientation/orientation_5.jpg", 50, 70}, // stored 70x50
	{"orientation/orientation_6.jpg", 50, 70}, // stored 70x50
	{"orientation/orientation_7.jpg", 50, 70}, // stored 70x50
	{"orientation/orientation_8.jpg", 50, 70}, // stored 70x50
	{"test_exif_full.jpg", 3024, 4032},        // stored 4032x3024, orientation 6, GPS
	{"cops.jpg", 640, 426},
	{"dice.png", 800, 600}, // RGBA
	{"rgb.tiff", 800, 519},
	{"animated.gif", 320, 320}, // 10 frames
	{"test.avif", 3082, 2048},
	{"jpg-32bit-cmyk-icc-swop.jpg", 1080, 1080}, // CMYK + SWOP ICC
	{"seeding_by_Clements_Engelhardt.jpg", 5312, 2988},
}

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	transform.Startup(1, discard)

	dir, err := os.MkdirTemp("", "thumbd-e2e-originals-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		return 2
	}
	defer os.RemoveAll(dir)
	if err := populateOriginals(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		return 2
	}
	before, err := snapshot(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup: snapshot:", err)
		return 2
	}
	fileHash = map[string]string{}
	for rel, st := range before {
		if !st.dir {
			fileHash[rel] = st.sum
		}
	}
	ix, err := storage.Open(dir, storage.Options{MaxFileSize: maxFileBytes, Log: discard})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup: open index:", err)
		return 2
	}
	defer ix.Close()
	if _, err := ix.Scan(context.Background(), 0); err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup: scan:", err)
		return 2
	}
	sharedDir, sharedIx = dir, ix

	code := m.Run()

	after, err := snapshot(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e teardown: snapshot:", err)
		return 1
	}
	if diff := diffSnapshots(before, after); diff != "" {
		fmt.Fprintf(os.Stderr, "FAIL: the originals folder changed while serving (it must be read-only):\n%s", diff)
		return 1
	}
	return code
}

// populateOriginals copies testdata/photos recursively, the corrupt JPEG and
// a text file named like a JPEG into dir.
func populateOriginals(dir string) error {
	if err := copyTree("../testdata/photos", dir); err != nil {
		return err
	}
	if err := copyFile("../testdata/faults/corrupt.jpg", filepath.Join(dir, corruptJPG)); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, textJPEG), []byte("these are meeting notes, not a photograph\n"), 0o644)
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		return copyFile(p, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// fileState is what "read-only" means for one entry of the originals folder.
type fileState struct {
	dir   bool
	size  int64
	mode  fs.FileMode
	mtime time.Time
	sum   string // sha1 of the content, files only
}

func snapshot(dir string) (map[string]fileState, error) {
	out := map[string]fileState{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		st := fileState{dir: fi.IsDir(), mode: fi.Mode(), mtime: fi.ModTime()}
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha1.Sum(b)
			st.size, st.sum = fi.Size(), hex.EncodeToString(sum[:])
		}
		out[filepath.ToSlash(rel)] = st
		return nil
	})
	return out, err
}

func diffSnapshots(a, b map[string]fileState) string {
	var lines []string
	for k, va := range a {
		vb, ok := b[k]
		switch {
		case !ok:
			lines = append(lines, "  removed: "+k)
		case va.dir != vb.dir || va.size != vb.size || va.mode != vb.mode || !va.mtime.Equal(vb.mtime) || va.sum != vb.sum:
			lines = append(lines, fmt.Sprintf("  changed: %s: %+v -> %+v", k, va, vb))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			lines = append(lines, "  added: "+k)
		}
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// sha1 of a file of the shared folder, computed by the test (not the index).
func hashOf(t testing.TB, rel string) string {
	t.Helper()
	h, ok := fileHash[rel]
	if !ok {
		t.Fatalf("no fixture file %q", rel)
	}
	return h
}

func sha1Hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

// ---- servers ----

func defaultOptions() server.Options {
	return server.Options{
		Workers:        2,
		QueueLength:    256,
		RequestTimeout: 2 * time.Minute,
		Fingerprint:    topts.Fingerprint(),
	}
}

func newSigner(t testing.TB, keys []string, public bool) *signing.Signer {
	t.Helper()
	s, err := signing.New(keys, public)
	if err != nil {
		t.Fatalf("signing.New: %v", err)
	}
	return s
}

func sign(t testing.TB, s *signing.Signer, hash, size string, exp time.Time) string {
	t.Helper()
	tok, err := s.Sign(hash, size, exp)
	if err != nil {
		t.Fatalf("Sign(%s, %s): %v", hash, size, err)
	}
	return tok
}

// startServer runs the real server on a random loopback port until the test
// ends and returns it with its base URL.
func startServer(t testing.TB, ix *storage.Index, sg *signing.Signer, tr server.Transformer, opts server.Options) (*server.Server, string) {
	t.Helper()
	return startServerLog(t, ix, sg, tr, opts, discard)
}

func startServerLog(t testing.TB, ix *storage.Index, sg *signing.Signer, tr server.Transformer, opts server.Options, log *slog.Logger) (*server.Server, string) {
	t.Helper()
	srv := server.New(ix, sg, tr, opts, log)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve returned %v after shutdown", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("server did not stop within 15s of cancel")
		}
	})
	return srv, "http://" + l.Addr().String()
}

// openIndex indexes dir with a fresh storage.Index.
func openIndex(t testing.TB, dir string) *storage.Index {
	t.Helper()
	ix, err := storage.Open(dir, storage.Options{MaxFileSize: maxFileBytes, Log: discard})
	if err != nil {
		t.Fatalf("storage.Open: %v", err)
	}
	t.Cleanup(func() { ix.Close() })
	if _, err := ix.Scan(context.Background(), 0); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return ix
}

// realTransformer is the libvips pipeline with the production settings.
func realTransformer() *transform.Transformer { return transform.New(topts) }

// countingTransformer counts jobs and can hold them at a gate.
type countingTransformer struct {
	inner   server.Transformer
	calls   atomic.Int64
	entered chan struct{} // receives once per call, if someone listens (buffered)
	gate    chan struct{} // nil: no gate; closed: open
}

func newCounting(gated bool) *countingTransformer {
	c := &countingTransformer{inner: realTransformer(), entered: make(chan struct{}, 64)}
	if gated {
		c.gate = make(chan struct{})
	}
	return c
}

func (c *countingTransformer) Transform(ctx context.Context, src []byte, s variant.Size, f variant.Format) (*transform.Image, error) {
	c.calls.Add(1)
	select {
	case c.entered <- struct{}{}:
	default:
	}
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return c.inner.Transform(ctx, src, s, f)
}

func waitEntered(t testing.TB, c *countingTransformer) {
	t.Helper()
	select {
	case <-c.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the transformer was never called")
	}
}

// ---- HTTP ----

type result struct {
	Status int
	Header http.Header
	Body   []byte
}

func thumbURL(base, hash, token, size string) string {
	return base + thumburl.Path(hash, token, size)
}

// fetch is safe to call from any goroutine (no testing.T).
func fetch(ctx context.Context, method, url string, hdr http.Header) (result, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return result{}, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, err
	}
	return result{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// do performs one request and checks what EVERY response must satisfy.
func do(t testing.TB, method, url string, hdr http.Header) result {
	t.Helper()
	r, err := fetch(context.Background(), method, url, hdr)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if err := checkInvariants(method, r); err != nil {
		t.Errorf("%s %s: %v", method, url, err)
	}
	return r
}

func get(t testing.TB, url string) result { t.Helper(); return do(t, http.MethodGet, url, nil) }

// checkInvariants: every response carries nosniff and never a cookie; every
// error is a short text/plain body without paths, stacks or library names.
func checkInvariants(method string, r result) error {
	var errs []error
	if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		errs = append(errs, fmt.Errorf("X-Content-Type-Options = %q, want nosniff (status %d)", got, r.Status))
	}
	if c := r.Header.Values("Set-Cookie"); len(c) > 0 {
		errs = append(errs, fmt.Errorf("Set-Cookie present: %q", c))
	}
	if r.Status >= 400 && method != http.MethodHead {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			errs = append(errs, fmt.Errorf("error Content-Type = %q, want text/plain", ct))
		}
		if err := cleanErrorBody(string(r.Body)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func cleanErrorBody(body string) error {
	low := strings.ToLower(body)
	switch {
	case len(body) == 0 || len(body) > 100:
		return fmt.Errorf("error body length %d, want a short text: %q", len(body), body)
	case strings.Contains(body, "/") || strings.Contains(body, `\`):
		return fmt.Errorf("error body looks like it has a path: %q", body)
	case sharedDir != "" && strings.Contains(body, sharedDir):
		return fmt.Errorf("error body has the originals folder: %q", body)
	case strings.Contains(low, ".jpg") || strings.Contains(low, ".png") || strings.Contains(low, ".tif"):
		return fmt.Errorf("error body names a file: %q", body)
	case strings.Contains(low, "stack") || strings.Contains(low, "goroutine") || strings.Contains(low, ".go:"):
		return fmt.Errorf("error body has a stack trace: %q", body)
	case strings.Contains(low, "vips"):
		return fmt.Errorf("error body leaks the library: %q", body)
	}
	return nil
}

// ---- images ----

// expectedDims is what the service must produce for size s of an upright
// w x h original.
func expectedDims(s variant.Size, w, h int) (int, int) {
	if s.Mode != variant.Fit {
		return s.Width, s.Height
	}
	scale := math.Min(math.Min(float64(s.Width)/float64(w), float64(s.Height)/float64(h)), 1)
	return int(math.Round(float64(w) * scale)), int(math.Round(float64(h) * scale))
}

func near(a, b, tol int) bool { return a-b <= tol && b-a <= tol }

type jpegSeg struct {
	marker byte
	data   []byte
}

// jpegSegments walks every marker segment of a JPEG, skipping entropy-coded
// data after each SOS, up to EOI.
func jpegSegments(b []byte) ([]jpegSeg, error) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return nil, errors.New("no SOI")
	}
	var segs []jpegSeg
	i := 2
	for i < len(b) {
		if b[i] != 0xFF {
			return segs, fmt.Errorf("expected a marker at offset %d, got %#x", i, b[i])
		}
		for i < len(b) && b[i] == 0xFF { // fill bytes
			i++
		}
		if i >= len(b) {
			return segs, errors.New("truncated marker")
		}
		m := b[i]
		i++
		switch {
		case m == 0xD9: // EOI
			return append(segs, jpegSeg{marker: m}), nil
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // standalone
			segs = append(segs, jpegSeg{marker: m})
			continue
		}
		if i+2 > len(b) {
			return segs, fmt.Errorf("truncated length of marker %#x", m)
		}
		n := int(binary.BigEndian.Uint16(b[i:]))
		if n < 2 || i+n > len(b) {
			return segs, fmt.Errorf("bad length %d of marker %#x at %d", n, m, i)
		}
		segs = append(segs, jpegSeg{marker: m, data: b[i+2 : i+n]})
		i += n
		if m == 0xDA { // SOS: skip the scan data to the next real marker
			for i+1 < len(b) && (b[i] != 0xFF || b[i+1] == 0x00 || (b[i+1] >= 0xD0 && b[i+1] <= 0xD7)) {
				i++
			}
		}
	}
	return segs, errors.New("no EOI")
}

// jpegMetadata names the metadata segments found: Exif/XMP (APP1), ICC
// (APP2), IPTC/Photoshop (APP13).
func jpegMetadata(b []byte) ([]string, error) {
	segs, err := jpegSegments(b)
	var found []string
	for _, s := range segs {
		switch s.marker {
		case 0xE1:
			kind := "APP1"
			if bytes.HasPrefix(s.data, []byte("Exif\x00")) {
				kind = "APP1 Exif"
			} else if bytes.HasPrefix(s.data, []byte("http://ns.adobe.com/xap/")) {
				kind = "APP1 XMP"
			}
			found = append(found, kind)
		case 0xE2:
			found = append(found, "APP2 (ICC)")
		case 0xED:
			found = append(found, "APP13 (IPTC)")
		}
	}
	return found, err
}

// jpegSOF returns the frame marker (0xC0 baseline, 0xC2 progressive...), the
// dimensions and the number of components.
func jpegSOF(b []byte) (marker byte, w, h, comps int, err error) {
	segs, err := jpegSegments(b)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	for _, s := range segs {
		if s.marker >= 0xC0 && s.marker <= 0xCF && s.marker != 0xC4 && s.marker != 0xC8 && s.marker != 0xCC {
			if len(s.data) < 6 {
				return 0, 0, 0, 0, errors.New("short SOF")
			}
			h = int(binary.BigEndian.Uint16(s.data[1:]))
			w = int(binary.BigEndian.Uint16(s.data[3:]))
			return s.marker, w, h, int(s.data[5]), nil
		}
	}
	return 0, 0, 0, 0, errors.New("no SOF")
}

// pngChunks lists the chunk types of a PNG.
func pngChunks(b []byte) ([]string, error) {
	const sig = "\x89PNG\r\n\x1a\n"
	if !bytes.HasPrefix(b, []byte(sig)) {
		return nil, errors.New("no PNG signature")
	}
	var out []string
	i := len(sig)
	for i+8 <= len(b) {
		n := int(binary.BigEndian.Uint32(b[i:]))
		typ := string(b[i+4 : i+8])
		out = append(out, typ)
		i += 12 + n
		if typ == "IEND" {
			return out, nil
		}
	}
	return out, errors.New("no IEND")
}

func decode(t testing.TB, b []byte) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return img
}

// meanAbsDiff compares a with b (optionally mirrored left-right and/or
// top-bottom) over R, G and B on a 0..255 scale.
func meanAbsDiff(a, b image.Image, mirrorX, mirrorY bool) float64 {
	ab, bb := a.Bounds(), b.Bounds()
	if ab.Dx() != bb.Dx() || ab.Dy() != bb.Dy() {
		return math.Inf(1)
	}
	var sum float64
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			bx, by := x, y
			if mirrorX {
				bx = ab.Dx() - 1 - x
			}
			if mirrorY {
				by = ab.Dy() - 1 - y
			}
			r1, g1, b1, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(bb.Min.X+bx, bb.Min.Y+by).RGBA()
			sum += math.Abs(float64(r1>>8)-float64(r2>>8)) + math.Abs(float64(g1>>8)-float64(g2>>8)) + math.Abs(float64(b1>>8)-float64(b2>>8))
		}
	}
	return sum / float64(3*ab.Dx()*ab.Dy())
}

// exifIFD0Tags returns the tags of IFD0 in the first APP1 Exif segment of a
// JPEG with their first 16-bit value (enough for Orientation; GPSInfo only
// needs to be present).
func exifIFD0Tags(jpeg []byte) (map[uint16]uint32, error) {
	segs, err := jpegSegments(jpeg)
	if err != nil {
		return nil, err
	}
	for _, s := range segs {
		if s.marker != 0xE1 || !bytes.HasPrefix(s.data, []byte("Exif\x00\x00")) {
			continue
		}
		tiff := s.data[6:]
		if len(tiff) < 8 {
			return nil, errors.New("short TIFF header")
		}
		var bo binary.ByteOrder
		switch string(tiff[:2]) {
		case "II":
			bo = binary.LittleEndian
		case "MM":
			bo = binary.BigEndian
		default:
			return nil, errors.New("bad TIFF byte order")
		}
		off := int(bo.Uint32(tiff[4:]))
		if off+2 > len(tiff) {
			return nil, errors.New("bad IFD0 offset")
		}
		n := int(bo.Uint16(tiff[off:]))
		tags := map[uint16]uint32{}
		for i := 0; i < n; i++ {
			e := off + 2 + 12*i
			if e+12 > len(tiff) {
				return nil, errors.New("truncated IFD0")
			}
			typ := bo.Uint16(tiff[e+2:])
			v := bo.Uint32(tiff[e+8:])
			if typ == 3 { // SHORT: value in the first two bytes
				v = uint32(bo.Uint16(tiff[e+8:]))
			}
			tags[bo.Uint16(tiff[e:])] = v
		}
		return tags, nil
	}
	return nil, errors.New("no Exif segment")
}

// boxCrop returns the square [x0, x0+side) x [y0, y0+side) of img scaled to
// n x n by area averaging: a reference crop computed in Go.
func boxCrop(img image.Image, x0, y0, side, n int) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, n, n))
	b := img.Bounds()
	for oy := 0; oy < n; oy++ {
		for ox := 0; ox < n; ox++ {
			sx0, sx1 := x0+ox*side/n, x0+(ox+1)*side/n
			sy0, sy1 := y0+oy*side/n, y0+(oy+1)*side/n
			var r, g, bl, c uint64
			for y := sy0; y < max(sy1, sy0+1); y++ {
				for x := sx0; x < max(sx1, sx0+1); x++ {
					cr, cg, cb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
					r, g, bl, c = r+uint64(cr>>8), g+uint64(cg>>8), bl+uint64(cb>>8), c+1
				}
			}
			out.Set(ox, oy, color.RGBA{uint8(r / c), uint8(g / c), uint8(bl / c), 255})
		}
	}
	return out
}

// logBuffer collects the server's log lines (JSON) for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
