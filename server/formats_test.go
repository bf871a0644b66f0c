package server_test

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/thumbd/thumbd/internal/vipscli"
	"github.com/thumbd/thumbd/variant"
	"github.com/thumbd/thumbd/video"
)

// fixture is one input kind, generated from a real photograph with Debian's
// tools (vips, ffmpeg) into a fresh originals folder.
type fixture struct {
	name string
	w, h int // upright dimensions
}

var (
	kindsOnce sync.Once
	kindsDir  string
	kindsErr  error
	kinds     = []fixture{
		{"cops.heic", 640, 426},
		{"test.avif", 3082, 2048},
		{"cops16.tif", 640, 426},   // 16-bit RGB TIFF
		{"cops16.png", 640, 426},   // 16-bit PNG
		{"pages.tif", 320, 320},    // multi-page TIFF: first page
		{"anim.webp", 320, 320},    // animated WebP: first frame
		{"dice.webp", 800, 600},    // WebP with alpha
		{"animated.gif", 320, 320}, // animated GIF: first frame
		{"prog.jpg", 640, 426},     // progressive JPEG
		{"jpg-32bit-cmyk-icc-swop.jpg", 1080, 1080},
		{"p3red.jpg", 200, 120}, // Display P3 profile, sRGB-red patch
		{"clip.mp4", 640, 480},  // H.264
		{"clip.webm", 640, 480}, // VP9
		{"clip.mov", 640, 480},  // HEVC in QuickTime
	}
)

func run1(name string, args ...string) error {
	run := func() ([]byte, error) { return exec.Command(name, args...).CombinedOutput() }
	if name == "vips" {
		run = func() ([]byte, error) { return vipscli.Run(args...) }
	}
	out, err := run()
	if err != nil {
		return fmt.Errorf("%s %v: %v\n%s", name, args, err, out)
	}
	return nil
}

// makeKinds generates the fixtures once per test binary.
func makeKinds(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"vips", "ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed; `make test` installs it (scripts/deps.sh)", tool)
		}
	}
	kindsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "thumbd-kinds")
		if err != nil {
			kindsErr = err
			return
		}
		kindsDir = dir
		src := func(n string) string { return filepath.Join("..", "testdata", "photos", n) }
		out := func(n string) string { return filepath.Join(dir, n) }
		steps := [][]string{
			{"vips", "heifsave", src("cops.jpg"), out("cops.heic")},
			{"cp", src("test.avif"), out("test.avif")},
			{"vips", "colourspace", src("cops.jpg"), out("cops16.tif"), "rgb16"},
			{"vips", "colourspace", src("cops.jpg"), out("cops16.png"), "rgb16"},
			{"vips", "copy", src("animated.gif") + "[n=-1]", out("pages.tif")},
			{"vips", "copy", src("animated.gif") + "[n=-1]", out("anim.webp")},
			{"vips", "copy", src("dice.png"), out("dice.webp")},
			{"cp", src("animated.gif"), out("animated.gif")},
			{"vips", "copy", src("cops.jpg"), out("prog.jpg") + "[interlace]"},
			{"cp", src("jpg-32bit-cmyk-icc-swop.jpg"), out("jpg-32bit-cmyk-icc-swop.jpg")},
		}
		for _, v := range []struct{ name, codec string }{{"clip.mp4", "libx264"}, {"clip.webm", "libvpx-vp9"}, {"clip.mov", "libx265"}} {
			args := []string{"-v", "error", "-nostdin", "-loop", "1", "-i", src("Landscape_1.jpg"), "-t", "1", "-r", "5",
				"-vf", "scale=640:480", "-c:v", v.codec, "-pix_fmt", "yuv420p"}
			if v.codec == "libx265" {
				args = append(args, "-tag:v", "hvc1", "-x265-params", "log-level=error")
			}
			steps = append(steps, append([]string{"ffmpeg"}, append(args, out(v.name))...))
		}
		for _, s := range steps {
			if kindsErr = run1(s[0], s[1:]...); kindsErr != nil {
				return
			}
		}
		kindsErr = makeP3Red(out("p3red.jpg"))
	})
	if kindsErr != nil {
		t.Fatal(kindsErr)
	}
	return kindsDir
}

// makeP3Red writes a JPEG whose pixels are (234, 51, 35) tagged with the
// iPhone's Display P3 profile: that is pure sRGB red. Read as sRGB (profile
// ignored) it would be a dull brick red.
func makeP3Red(path string) error {
	iphone, err := os.ReadFile(filepath.Join("..", "testdata", "photos", "test_exif_full.jpg"))
	if err != nil {
		return err
	}
	img, err := vips.NewImageFromBuffer(iphone)
	if err != nil {
		return err
	}
	defer img.Close()
	icc := filepath.Join(filepath.Dir(path), "p3.icc")
	if err := os.WriteFile(icc, img.GetICCProfile(), 0o644); err != nil {
		return err
	}
	raw := filepath.Join(filepath.Dir(path), "red.v")
	if err := run1("vips", "black", raw, "200", "120", "--bands", "3"); err != nil {
		return err
	}
	lin := filepath.Join(filepath.Dir(path), "red2.v")
	if err := run1("vips", "linear", raw, lin, "1 1 1", "234 51 35", "--uchar"); err != nil {
		return err
	}
	return run1("vips", "copy", lin, path+"[Q=95,profile="+icc+"]")
}

func kindServer(t *testing.T) (string, func(rel, size string) string) {
	dir := makeKinds(t)
	ix := openIndex(t, dir)
	sg := newSigner(t, []string{keyA}, false)
	_, base := startServer(t, ix, sg, realTransformer(), defaultOptions())
	url := func(rel, size string) string {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha1.Sum(b)
		h := hex.EncodeToString(sum[:])
		name, _, _ := strings.Cut(size, ".")
		if strings.Contains(size, "/v/") {
			return size
		}
		return thumbURL(base, h, sign(t, sg, h, name, time.Time{}), size)
	}
	return base, url
}

// Every named size of every input kind decodes to the expected dimensions.
func TestE2EEveryKindEverySize(t *testing.T) {
	_, url := kindServer(t)
	for _, k := range kinds {
		for _, s := range variant.Sizes {
			if s.Mode == variant.Original {
				continue
			}
			if s.Mode == variant.Fit && s.Width > 2048 && k.w < 1000 {
				continue // same output as fit_2048 for these small inputs
			}
			t.Run(k.name+"/"+s.Name, func(t *testing.T) {
				r := get(t, url(k.name, s.Name))
				if r.Status != 200 {
					t.Fatalf("status %d %q", r.Status, r.Body)
				}
				img, err := vips.NewImageFromBuffer(r.Body)
				if err != nil {
					t.Fatal(err)
				}
				defer img.Close()
				w, h := expectedDims(s, k.w, k.h)
				if !near(img.Width(), w, 1) || !near(img.Height(), h, 1) {
					t.Errorf("%dx%d, want %dx%d", img.Width(), img.Height(), w, h)
				}
				if b := img.Bands(); b != 3 && !(s.Mode == variant.Colors && b == 4) {
					t.Errorf("%d bands", b)
				}
			})
		}
	}
}

// A Display P3 photo's red stays red: the profile is applied, not ignored.
func TestE2EDisplayP3RedStaysRed(t *testing.T) {
	_, url := kindServer(t)
	for _, size := range []string{"tile_100", "fit_720.png", "fit_720.webp"} {
		r := get(t, url("p3red.jpg", size))
		if r.Status != 200 {
			t.Fatalf("%s: %d", size, r.Status)
		}
		img, err := vips.NewImageFromBuffer(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		px, err := img.GetPoint(img.Width()/2, img.Height()/2)
		img.Close()
		if err != nil {
			t.Fatal(err)
		}
		if px[0] < 240 || px[1] > 25 || px[2] > 25 {
			t.Errorf("%s: centre pixel %v, want sRGB red (>=240, <=25, <=25); a dull (234,51,35) means the P3 profile was ignored", size, px)
		}
	}
}

// Transparency survives in PNG, WebP and AVIF output and is flattened onto
// white in JPEG, for PNG and WebP sources alike.
func TestE2EAlphaFromWebP(t *testing.T) {
	_, url := kindServer(t)
	for _, src := range []string{"dice.webp"} {
		for _, tc := range []struct {
			ext   string
			bands int
		}{{".png", 4}, {".webp", 4}, {".avif", 4}, {".jpg", 3}} {
			r := get(t, url(src, "fit_720"+tc.ext))
			if r.Status != 200 {
				t.Fatalf("%s%s: %d", src, tc.ext, r.Status)
			}
			img, err := vips.NewImageFromBuffer(r.Body)
			if err != nil {
				t.Fatal(err)
			}
			corner, _ := img.GetPoint(2, 2)
			if img.Bands() != tc.bands {
				t.Errorf("%s -> %s: %d bands, want %d", src, tc.ext, img.Bands(), tc.bands)
			}
			if tc.bands == 4 && corner[3] > 10 {
				t.Errorf("%s -> %s: corner alpha %v, want transparent", src, tc.ext, corner[3])
			}
			if tc.bands == 3 && (corner[0] < 245 || corner[1] < 245 || corner[2] < 245) {
				t.Errorf("%s -> %s: corner %v, want white", src, tc.ext, corner)
			}
			img.Close()
		}
	}
}

func videoURL(t *testing.T, base, rel, format string) string {
	b, err := os.ReadFile(filepath.Join(kindsDir, rel))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(b)
	h := hex.EncodeToString(sum[:])
	sg := newSigner(t, []string{keyA}, false)
	return base + "/v/" + h + "/" + sign(t, sg, h, format, time.Time{}) + "/" + format
}

// Videos stream as they are, with exact byte ranges, a seek into the
// middle, multiple ranges, If-Range, and the right Content-Type; the
// format must match the file.
func TestE2EVideoStreaming(t *testing.T) {
	base, _ := kindServer(t)
	raw, err := os.ReadFile(filepath.Join(kindsDir, "clip.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	// What is served is the file with its metadata boxes blanked in place
	// (same length, same offsets).
	patches, err := video.Scrub(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	file, err := io.ReadAll(video.NewScrubbed(bytes.NewReader(raw), int64(len(raw)), patches))
	if err != nil || len(file) != len(raw) {
		t.Fatalf("scrubbed reference: %d bytes, %v", len(file), err)
	}
	u := videoURL(t, base, "clip.mp4", "avc")
	full := get(t, u)
	if full.Status != 200 || !bytes.Equal(full.Body, file) || full.Header.Get("Content-Type") != "video/mp4" || full.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("full: %d %s %d bytes (file %d)", full.Status, full.Header.Get("Content-Type"), len(full.Body), len(file))
	}
	etag := full.Header.Get("ETag")
	n := len(file)
	for _, rg := range [][2]int{{0, 99}, {n / 2, n/2 + 4095}, {n - 10, n - 1}} {
		r := do(t, "GET", u, http.Header{"Range": {fmt.Sprintf("bytes=%d-%d", rg[0], rg[1])}})
		if r.Status != 206 || !bytes.Equal(r.Body, file[rg[0]:rg[1]+1]) || r.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", rg[0], rg[1], n) {
			t.Errorf("range %v: %d %s, %d bytes", rg, r.Status, r.Header.Get("Content-Range"), len(r.Body))
		}
	}
	// Suffix range and two ranges at once.
	if r := do(t, "GET", u, http.Header{"Range": {"bytes=-500"}}); r.Status != 206 || !bytes.Equal(r.Body, file[n-500:]) {
		t.Errorf("suffix range: %d", r.Status)
	}
	r := do(t, "GET", u, http.Header{"Range": {"bytes=0-9,1000-1009"}})
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Status != 206 || mt != "multipart/byteranges" {
		t.Fatalf("two ranges: %d %s", r.Status, mt)
	}
	mr := multipart.NewReader(bytes.NewReader(r.Body), params["boundary"])
	for _, want := range [][]byte{file[0:10], file[1000:1010]} {
		part, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(part)
		if !bytes.Equal(got, want) {
			t.Errorf("multipart range bytes differ")
		}
	}
	// If-Range: the current ETag gives the range, a stale one the whole file.
	if r := do(t, "GET", u, http.Header{"Range": {"bytes=0-9"}, "If-Range": {etag}}); r.Status != 206 || len(r.Body) != 10 {
		t.Errorf("If-Range current: %d, %d bytes", r.Status, len(r.Body))
	}
	if r := do(t, "GET", u, http.Header{"Range": {"bytes=0-9"}, "If-Range": {`"stale"`}}); r.Status != 200 || len(r.Body) != n {
		t.Errorf("If-Range stale: %d, %d bytes", r.Status, len(r.Body))
	}
	if r := do(t, "GET", u, http.Header{"Range": {fmt.Sprintf("bytes=%d-", n+10)}}); r.Status != 416 {
		t.Errorf("unsatisfiable range: %d", r.Status)
	}
	if r := do(t, "GET", u, http.Header{"If-None-Match": {etag}}); r.Status != 304 {
		t.Errorf("If-None-Match: %d", r.Status)
	}
	if r := do(t, "HEAD", u, nil); r.Status != 200 || len(r.Body) != 0 || r.Header.Get("Content-Length") != fmt.Sprint(n) {
		t.Errorf("HEAD: %d %s", r.Status, r.Header.Get("Content-Length"))
	}

	for _, tc := range []struct{ rel, format, ctype string }{
		{"clip.webm", "vp9", "video/webm"}, {"clip.mov", "hevc", "video/quicktime"},
	} {
		if r := get(t, videoURL(t, base, tc.rel, tc.format)); r.Status != 200 || r.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("%s as %s: %d %s", tc.rel, tc.format, r.Status, r.Header.Get("Content-Type"))
		}
	}
	// The format must be what the file really is.
	for _, tc := range []struct{ rel, format string }{
		{"clip.mov", "avc"}, {"clip.mp4", "vp9"}, {"clip.webm", "hevc"}, {"prog.jpg", "avc"},
	} {
		if r := get(t, videoURL(t, base, tc.rel, tc.format)); r.Status != 415 {
			t.Errorf("%s as %s: %d, want 415", tc.rel, tc.format, r.Status)
		}
	}
	// A token for avc does not open another format, and formats are known names.
	h := strings.Split(u, "/")[4]
	if r := get(t, strings.Replace(u, "/avc", "/hevc", 1)); r.Status != 403 {
		t.Errorf("avc token as hevc: %d", r.Status)
	}
	if r := get(t, base+"/v/"+h+"/x/mpeg2"); r.Status != 400 {
		t.Errorf("unknown format: %d", r.Status)
	}
}

// Without ffmpeg, a video's image sizes answer 415 with a clear body (the
// stream itself still works).
func TestE2EVideoPosterNeedsFFmpeg(t *testing.T) {
	base, url := kindServer(t)
	t.Setenv("PATH", t.TempDir())
	r := get(t, url("clip.webm", "tile_224"))
	if r.Status != 415 || !strings.Contains(string(r.Body), "ffmpeg") {
		t.Errorf("poster without ffmpeg: %d %q", r.Status, r.Body)
	}
	if r := get(t, videoURL(t, base, "clip.webm", "vp9")); r.Status != 200 {
		t.Errorf("stream without ffmpeg: %d", r.Status)
	}
}
