package server_test

// The privacy promise, end to end: no byte the service serves carries GPS,
// camera serials, maker notes, XMP or IPTC, whatever the input format, the
// output format, the cache tier that answered or the route. The inputs are
// real photographs (and a generated video) loaded with private metadata by
// exiftool; exiftool then reads every served body.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thumbd/thumbd/cache"
	"github.com/thumbd/thumbd/internal/vipscli"
	"github.com/thumbd/thumbd/thumburl"
)

// Distinctive values written into the inputs. Each is unlikely to occur in
// compressed pixels, so finding one in a body means metadata got through.
const (
	privSerial     = "SN-THUMBD-4242"
	privLensSerial = "LSN-THUMBD-4343"
	privCity       = "Privacyville"
	privDesc       = "PrivDesc-Thumbd-9911"
	privArtist     = "Jane Privatperson"
	privOwner      = "Owner-Thumbd-5150"
	privCopyright  = "Copyright Thumbd-Private-2024"
	privSoftware   = "SecretSoft-7.7"
	privPNGText    = "PngText-Privacyville"
	privVideoMake  = "ThumbdCamMaker"
	privVideoModel = "Model-Thumbd-X1"
	privISO6709    = "+48.8584+002.2945/"
	// From the iPhone's own maker notes (ImageCaptureRequestID), copied
	// into the inputs with -tagsFromFile.
	privMakerNoteID = "DC2F53A7-C6CF-4A66-9D55-FEF02B433F2A"
	privModel       = "iPhone XS"
)

var privMarkers = []string{
	privSerial, privLensSerial, privCity, privDesc, privArtist, privOwner, privCopyright,
	privSoftware, privPNGText, privVideoMake, privVideoModel, privISO6709, privMakerNoteID, privModel,
}

// privInput is one generated original and what exiftool must find in it
// before it is used: an input that carries nothing proves nothing.
type privInput struct {
	name  string   // file in the originals folder
	codec string   // video codec for the /v/ stream; "" for images
	needs []string // privCategory names that must be present
	// chunks are container-level records that must be present (PNG chunk
	// or RIFF chunk types), so each storage place is really exercised.
	chunks []string
}

var privInputs = []privInput{
	{name: "private.jpg", needs: []string{"GPS", "Serial", "MakerNotes", "XMP", "IPTC", "Make", "Model", "LensModel", "Software", "Artist", "Copyright", "OwnerName"}},
	{name: "private.png", needs: []string{"GPS", "Serial", "MakerNotes", "XMP", "IPTC", "Make", "Model", "Artist"}, chunks: []string{"eXIf", "iTXt", "tEXt"}},
	{name: "private.webp", needs: []string{"GPS", "Serial", "MakerNotes", "XMP", "Make", "Model"}, chunks: []string{"EXIF", "XMP "}},
	{name: "private.heic", needs: []string{"GPS", "Serial", "MakerNotes", "XMP", "Make", "Model"}},
	{name: "private.avif", needs: []string{"GPS", "Serial", "MakerNotes", "XMP", "Make", "Model"}},
	{name: "private.tif", needs: []string{"GPS", "Serial", "MakerNotes", "XMP", "IPTC", "Make", "Model"}},
	// A camera RAW (the real Nikon D7100 NEF): served by its embedded
	// preview, never its TIFF structure.
	{name: "private.nef", needs: []string{"GPS", "Serial", "MakerNotes", "Make", "Model"}},
	{name: "private.mp4", codec: "avc", needs: []string{"GPS", "Serial", "Location", "XMP", "Make", "Model"}},
}

// privOutput is one request: a URL size segment, optionally negotiated,
// or the video's /v/ stream.
type privOutput struct {
	size   string
	accept string // Accept header, for extension-less sizes
	ctype  string // the Content-Type the request must get; "" = any
	stream bool   // /v/<hash>/<token>/<codec> instead of a size
}

func (o privOutput) String() string {
	if o.stream {
		return "/v/ stream"
	}
	if o.accept != "" {
		return o.size + " (Accept: " + o.accept + ")"
	}
	return o.size
}

var privOutputs = []privOutput{
	{size: "tile_224.jpg", ctype: "image/jpeg"},
	{size: "tile_224.png", ctype: "image/png"},
	{size: "tile_224.webp", ctype: "image/webp"},
	{size: "tile_224.avif", ctype: "image/avif"},
	{size: "fit_720", accept: "image/avif", ctype: "image/avif"},
	{size: "fit_720", accept: "image/webp", ctype: "image/webp"},
	{size: "fit_720", accept: "image/jpeg", ctype: "image/jpeg"},
	{size: "colors"},
	// Images only (the last two): a video has no "original" image.
	{size: "original.jpg", ctype: "image/jpeg"}, // re-encoded in full
	{size: "original"},
}

func TestPrivacyEveryOutputOfEveryInput(t *testing.T) {
	if _, err := exec.LookPath("exiftool"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("exiftool not installed (Debian: apt-get install libimage-exiftool-perl); CI must run the privacy test")
		}
		t.Skip("exiftool not installed (Debian: apt-get install libimage-exiftool-perl)")
	}
	for _, tool := range []string{"vips", "ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed; `make test` installs it (scripts/deps.sh)", tool)
		}
	}
	dir := t.TempDir()
	exif := startPrivExif(t)
	makePrivacyInputs(t, exif, dir)
	hashes := map[string]string{}
	for _, in := range privInputs {
		b, err := os.ReadFile(filepath.Join(dir, in.name))
		if err != nil {
			t.Fatal(err)
		}
		verifyPrivateInput(t, exif, in, b)
		sum := sha1.Sum(b)
		hashes[in.name] = hex.EncodeToString(sum[:])
	}
	privDetectorControl(t, exif, filepath.Join(dir, "private.jpg"))
	if t.Failed() {
		t.FailNow() // outputs of inputs without metadata would prove nothing
	}

	ix := openIndex(t, dir)
	sg := newSigner(t, []string{keyA}, false)
	outcomes := &privOutcomeLog{ch: map[string]chan string{}}
	log := slog.New(outcomes)
	diskDir := t.TempDir()
	serve := func(t *testing.T, memory, disk, derive bool) string {
		opts := defaultOptions()
		opts.Negotiate = true
		if memory {
			opts.Tiers = append(opts.Tiers, cache.NewMemory(64<<20))
		}
		if disk {
			opts.Tiers = append(opts.Tiers, cache.OpenDisk(diskDir, 64<<20, opts.Fingerprint, discard))
		}
		opts.Derive = derive
		_, base := startServerLog(t, ix, sg, realTransformer(), opts, log)
		return base
	}
	// The first server fills memory and disk; the third derives small
	// variants from a cached large fit. (The second, a restart over the
	// disk folder, is started per input once its variants are on disk.)
	first := serve(t, true, true, false)
	deriving := serve(t, true, false, true)

	ck := &privChecker{exif: exif, found: map[string]privFound{}}
	var reqs atomic.Int64
	// request fetches one output and checks it; want is the cache outcome
	// the server must log, so the tier named in a failure is the one that
	// really answered.
	request := func(t *testing.T, in privInput, tier, base string, o privOutput, want string) {
		t.Helper()
		h := hashes[in.name]
		name, _, _ := strings.Cut(o.size, ".")
		u := thumbURL(base, h, sign(t, sg, h, name, time.Time{}), o.size)
		if o.stream {
			u = base + thumburl.VideoPath(h, sign(t, sg, h, in.codec, time.Time{}), in.codec)
		}
		id := fmt.Sprintf("privacy-%d", reqs.Add(1))
		hdr := http.Header{"X-Request-Id": {id}}
		if o.accept != "" {
			hdr.Set("Accept", o.accept)
		}
		r := do(t, http.MethodGet, u, hdr)
		where := fmt.Sprintf("input %s, output %s, tier %s", in.name, o, tier)
		got := outcomes.wait(t, id)
		if r.Status != http.StatusOK {
			t.Fatalf("%s: status %d %q", where, r.Status, r.Body)
		}
		if got != want {
			t.Errorf("%s: answered from %q, want %q (the tier under test was not exercised)", where, got, want)
		}
		ct := r.Header.Get("Content-Type")
		if o.ctype != "" && ct != o.ctype {
			t.Errorf("%s: Content-Type %q, want %q", where, ct, o.ctype)
		}
		ck.check(t, where+" ("+ct+")", ct, r.Body)
	}

	for _, in := range privInputs {
		outs := privOutputs
		if in.codec != "" {
			outs = outs[:len(outs)-2] // no "original" for a video's poster
		}
		t.Run(in.name, func(t *testing.T) {
			for _, o := range outs {
				t.Run("miss/"+o.String(), func(t *testing.T) { request(t, in, "miss", first, o, "miss") })
			}
			for _, o := range outs {
				t.Run("memory/"+o.String(), func(t *testing.T) { request(t, in, "memory hit", first, o, "hit") })
			}
			restarted := serve(t, false, true, false) // only the disk tier can answer without libvips
			for _, o := range outs {
				want := "disk"
				if o.size == "original" {
					want = "miss" // originals skip the disk tier by design
				}
				t.Run("disk/"+o.String(), func(t *testing.T) { request(t, in, "disk hit (restarted server)", restarted, o, want) })
			}
			t.Run("derived/fit_1280", func(t *testing.T) {
				request(t, in, "derive source", deriving, privOutput{size: "fit_1280", ctype: "image/jpeg"}, "miss")
			})
			t.Run("derived/tile_224", func(t *testing.T) {
				request(t, in, "derived from fit_1280", deriving, privOutput{size: "tile_224", accept: "image/jpeg", ctype: "image/jpeg"}, "derived")
			})
			if in.codec != "" {
				t.Run("stream/"+in.codec, func(t *testing.T) {
					request(t, in, "stream (no cache tier)", first, privOutput{stream: true, ctype: "video/mp4"}, "stream")
				})
			}
		})
	}
}

// makePrivacyInputs writes every privInput into dir from the iPhone photo
// (GPS, Apple maker notes), shrunk first so the test stays fast.
func makePrivacyInputs(t *testing.T, exif *privExif, dir string) {
	t.Helper()
	work := t.TempDir()
	iphone := filepath.Join("..", "testdata", "photos", "test_exif_full.jpg")
	base := filepath.Join(work, "base.jpg")
	out := func(n string) string { return filepath.Join(dir, n) }
	// vips thumbnail rotates upright and drops the maker notes; exiftool
	// copies them (and GPS, Make, Model) back from the real photo.
	privRun(t, "vips", "thumbnail", iphone, base, "640")
	jpg := out("private.jpg")
	if err := copyFile(base, jpg); err != nil {
		t.Fatal(err)
	}
	if err := exif.write(jpg, "-tagsFromFile", iphone, "-all:all",
		"-Orientation#=1",                   // the pixels are upright now
		"-ExifIFD:SerialNumber="+privSerial, // EXIF BodySerialNumber (0xa431)
		"-ExifIFD:LensSerialNumber="+privLensSerial,
		"-ExifIFD:OwnerName="+privOwner,
		"-IFD0:Artist="+privArtist,
		"-IFD0:Copyright="+privCopyright,
		"-IFD0:Software="+privSoftware,
		"-XMP-dc:Description="+privDesc,
		"-XMP-photoshop:City="+privCity,
		"-XMP-aux:SerialNumber="+privSerial,
		"-IPTC:City="+privCity,
		"-IPTC:By-line="+privArtist,
	); err != nil {
		t.Fatal(err)
	}

	// The other image formats: pixels from libvips with nothing attached,
	// then everything from private.jpg written by exiftool in the format's
	// own places (PNG eXIf/iTXt/tEXt/zTXt, WebP EXIF/XMP chunks, HEIF Exif
	// and mime items, TIFF IFDs and IPTC/XMP tags).
	for _, f := range []struct{ name, opts string }{
		{"private.png", "[strip]"},
		{"private.webp", "[strip]"},
		{"private.heic", "[strip]"},
		{"private.avif", "[strip,compression=av1]"},
		{"private.tif", "[strip]"},
	} {
		privRun(t, "vips", "copy", base, out(f.name)+f.opts)
		args := []string{"-tagsFromFile", jpg, "-all:all"}
		if f.name == "private.png" {
			args = append(args, "-PNG:Comment="+privPNGText, "-PNG:Author="+privArtist)
		}
		if err := exif.write(out(f.name), args...); err != nil {
			// exiftool cannot write this format: let libvips carry the
			// metadata of private.jpg instead (it keeps EXIF unless told
			// to strip); verifyPrivateInput says whether that worked.
			t.Logf("%s: exiftool could not write it (%v); using libvips' copy of private.jpg's metadata", f.name, err)
			privRun(t, "vips", "copy", jpg, out(f.name)+strings.Replace(f.opts, "strip", "strip=false", 1))
		}
	}

	// The NEF as the camera wrote it (Make, Model, Nikon maker notes with
	// the body's serial, GPS IFD); exiftool cannot rewrite this sample (its
	// sensor data is cut short), so the test serial is appended after the
	// data, where only a byte-level leak would carry it.
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "raw", "d7100.nef"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out("private.nef"), append(raw, "\x00"+privSerial+" "+privOwner...), 0o644); err != nil {
		t.Fatal(err)
	}

	// The video: QuickTime keys as an iPhone writes them (ISO 6709
	// location, make, model) plus a serial, then XMP added by exiftool.
	mp4 := out("private.mp4")
	privRun(t, "ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc=size=640x480:rate=5", "-t", "1",
		"-c:v", "libx264", "-pix_fmt", "yuv420p",
		"-metadata", "location="+privISO6709,
		"-metadata", "com.apple.quicktime.location.ISO6709="+privISO6709,
		"-metadata", "make="+privVideoMake,
		"-metadata", "model="+privVideoModel,
		"-metadata", "com.apple.quicktime.make="+privVideoMake,
		"-metadata", "com.apple.quicktime.model="+privVideoModel,
		"-metadata", "serial_number="+privSerial,
		"-movflags", "use_metadata_tags", mp4)
	if err := exif.write(mp4, "-XMP-dc:Description="+privDesc, "-XMP-photoshop:City="+privCity, "-XMP-aux:SerialNumber="+privSerial); err != nil {
		t.Fatal(err)
	}
}

func privExec(name string, args ...string) error {
	var out []byte
	var err error
	if name == "vips" {
		out, err = vipscli.Run(args...)
	} else {
		out, err = exec.Command(name, args...).CombinedOutput()
	}
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func privRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if err := privExec(name, args...); err != nil {
		t.Fatal(err)
	}
}

// verifyPrivateInput fails unless exiftool finds every category the input
// must carry, the raw-byte check can see the serial, and the container
// records meant to hold metadata are there.
func verifyPrivateInput(t *testing.T, exif *privExif, in privInput, b []byte) {
	t.Helper()
	tags, err := exif.tags(b, filepath.Ext(in.name))
	if err != nil {
		t.Errorf("input %s: %v", in.name, err)
		return
	}
	have := map[string]bool{}
	for _, tg := range tags {
		have[tg.category] = true
	}
	for _, need := range in.needs {
		if !have[need] {
			t.Errorf("input %s carries no %s metadata (exiftool found %v); the check of its outputs would prove nothing", in.name, need, tags)
		}
	}
	if !bytes.Contains(b, []byte(privSerial)) {
		t.Errorf("input %s: the serial %q is not in its bytes; the raw-byte check would prove nothing", in.name, privSerial)
	}
	if len(in.chunks) == 0 {
		return
	}
	var have2 []string
	if strings.HasSuffix(in.name, ".png") {
		have2, err = pngChunks(b)
	} else {
		have2, err = privRIFFChunks(b)
	}
	if err != nil {
		t.Errorf("input %s: %v", in.name, err)
	}
	for _, c := range in.chunks {
		if !privHas(have2, c) {
			t.Errorf("input %s has no %q chunk (chunks %q)", in.name, c, have2)
		}
	}
}

// privDetectorControl shows the output check can see metadata in every
// output format: libvips' own copies of private.jpg, metadata kept, must
// be flagged by exiftool and by the raw-byte check.
func privDetectorControl(t *testing.T, exif *privExif, jpg string) {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []struct{ ext, opts string }{{".jpg", ""}, {".png", ""}, {".webp", ""}, {".avif", "[compression=av1]"}} {
		p := filepath.Join(dir, "control"+f.ext)
		privRun(t, "vips", "copy", jpg, p+f.opts)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		tags, err := exif.tags(b, f.ext)
		if err != nil {
			t.Errorf("detector control %s: %v", f.ext, err)
			continue
		}
		have := map[string]bool{}
		for _, tg := range tags {
			have[tg.category] = true
		}
		if !have["GPS"] || !have["Serial"] || !bytes.Contains(b, []byte(privSerial)) {
			t.Errorf("detector control: a %s that keeps private.jpg's EXIF is not flagged (tags %v); the output check is blind to this format", f.ext, tags)
		}
	}
}

func privHas(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// privRIFFChunks lists the top-level chunk types of a WebP file.
func privRIFFChunks(b []byte) ([]string, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return nil, fmt.Errorf("not a RIFF WEBP file")
	}
	var out []string
	for i := 12; i+8 <= len(b); {
		out = append(out, string(b[i:i+4]))
		n := int(uint32(b[i+4]) | uint32(b[i+5])<<8 | uint32(b[i+6])<<16 | uint32(b[i+7])<<24)
		i += 8 + n + n&1
	}
	return out, nil
}

// privTag is one tag exiftool reported that the promise forbids.
type privTag struct {
	category, key, value string
}

func (p privTag) String() string { return p.key + "=" + p.value }

// privCategory names what a tag (exiftool -G0:1 key "Family0:Family1:Name"
// or "Group:Name") reveals, or "" when it is allowed.
func privCategory(key string) string {
	parts := strings.Split(key, ":")
	name, groups := parts[len(parts)-1], parts[:len(parts)-1]
	group := func(prefix string) bool {
		for _, g := range groups {
			if strings.HasPrefix(g, prefix) {
				return true
			}
		}
		return false
	}
	switch {
	case group("GPS") || strings.HasPrefix(name, "GPS"):
		return "GPS"
	case strings.Contains(name, "Serial"):
		return "Serial"
	case group("MakerNotes") || strings.HasPrefix(name, "MakerNote"):
		return "MakerNotes"
	case group("XMP") || strings.HasPrefix(name, "XMP"):
		return "XMP"
	case group("IPTC") || strings.Contains(name, "IPTC"):
		return "IPTC"
	case group("Photoshop") || strings.Contains(name, "Photoshop"):
		return "Photoshop"
	case strings.Contains(strings.ToLower(name), "location"): // Location, LocationInformation, com.apple.quicktime.location.*
		return "Location"
	}
	switch name {
	case "Make", "Model", "LensMake", "LensModel", "Software", "Artist", "Copyright", "OwnerName":
		return name
	}
	return ""
}

// privExif is one exiftool kept running (-stay_open): starting Perl and
// exiftool for each of the ~200 bodies would dominate the test's time.
type privExif struct {
	dir    string
	mu     sync.Mutex
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *logBuffer
}

func startPrivExif(t *testing.T) *privExif {
	t.Helper()
	e := &privExif{dir: t.TempDir(), stderr: &logBuffer{}}
	cmd := exec.Command("exiftool", "-stay_open", "True", "-@", "-")
	cmd.Stderr = e.stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.in, e.out = in, bufio.NewReader(out)
	t.Cleanup(func() {
		_, _ = io.WriteString(in, "-stay_open\nFalse\n")
		_ = in.Close()
		_ = cmd.Wait()
	})
	return e
}

// run executes one exiftool command line (one argument per line, as
// -stay_open reads them) and returns what it printed.
func (e *privExif) run(args ...string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := io.WriteString(e.in, strings.Join(args, "\n")+"\n-execute\n"); err != nil {
		return "", fmt.Errorf("exiftool: %w", err)
	}
	var stdout strings.Builder
	for {
		line, err := e.out.ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("exiftool: %w (stderr: %s)", err, e.stderrTail())
		}
		if line == "{ready}\n" {
			return stdout.String(), nil
		}
		stdout.WriteString(line)
	}
}

// stderrTail is the latest of exiftool's messages (they arrive on their
// own pipe, so they cannot be tied to one command).
func (e *privExif) stderrTail() string {
	s := e.stderr.String()
	if len(s) > 300 {
		s = "…" + s[len(s)-300:]
	}
	return strings.TrimSpace(s)
}

// write changes file in place; args are tag assignments and options.
func (e *privExif) write(file string, args ...string) error {
	out, err := e.run(append(append([]string{"-m", "-overwrite_original"}, args...), file)...)
	if err != nil {
		return err
	}
	if !strings.Contains(out, "1 image files updated") {
		return fmt.Errorf("exiftool %s %s: %s (stderr: %s)", strings.Join(args, " "), filepath.Base(file), strings.TrimSpace(out), e.stderrTail())
	}
	return nil
}

// tags runs exiftool on b, written to a file with extension ext (exiftool
// picks some readers by extension), and returns the forbidden tags it
// reports.
func (e *privExif) tags(b []byte, ext string) ([]privTag, error) {
	p := filepath.Join(e.dir, sha1Hex(b)+ext)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return nil, err
	}
	defer os.Remove(p)
	// -G0:1 names both group families, so maker notes show as
	// MakerNotes:Apple:..., -a keeps duplicates, -u adds unknown tags.
	stdout, err := e.run("-j", "-G0:1", "-a", "-u", p)
	if err != nil {
		return nil, err
	}
	var docs []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &docs); err != nil || len(docs) != 1 {
		return nil, fmt.Errorf("exiftool could not read it (%v): %.300s (stderr: %s)", err, stdout, e.stderrTail())
	}
	if msg, ok := docs[0]["ExifTool:Error"]; ok {
		return nil, fmt.Errorf("exiftool cannot read it: %s", msg)
	}
	var out []privTag
	for k, v := range docs[0] {
		if c := privCategory(k); c != "" {
			val := string(v)
			if len(val) > 60 {
				val = val[:60] + "…"
			}
			out = append(out, privTag{c, k, val})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, nil
}

// privChecker checks served bodies; identical bodies (a hit repeats its
// miss's bytes) are read by exiftool once.
type privChecker struct {
	exif  *privExif
	mu    sync.Mutex
	found map[string]privFound
}

type privFound struct {
	tags []privTag
	err  error
}

var privExt = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/avif": ".avif", "image/heic": ".heic",
	"video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm",
}

func (c *privChecker) check(t *testing.T, where, ctype string, body []byte) {
	t.Helper()
	for _, m := range privMarkers {
		if i := bytes.Index(body, []byte(m)); i >= 0 {
			t.Errorf("%s: the body carries the private string %q at offset %d of %d", where, m, i, len(body))
		}
	}
	key := sha1Hex(body)
	c.mu.Lock()
	f, ok := c.found[key]
	c.mu.Unlock()
	if !ok {
		f.tags, f.err = c.exif.tags(body, privExt[ctype])
		c.mu.Lock()
		c.found[key] = f
		c.mu.Unlock()
	}
	if f.err != nil {
		t.Errorf("%s: %v", where, f.err)
		return
	}
	byCat := map[string][]string{}
	var cats []string
	for _, tg := range f.tags {
		if byCat[tg.category] == nil {
			cats = append(cats, tg.category)
		}
		byCat[tg.category] = append(byCat[tg.category], tg.String())
	}
	sort.Strings(cats)
	for _, cat := range cats {
		t.Errorf("%s: served %s metadata: %s", where, cat, strings.Join(byCat[cat], ", "))
	}
}

// privOutcomeLog is a slog.Handler that hands each request's cache outcome
// (the access log's "cache" attribute) to whoever waits on its request id.
// The access line is written after the response, so tests wait on it.
type privOutcomeLog struct {
	mu sync.Mutex
	ch map[string]chan string
}

func (l *privOutcomeLog) chanFor(id string) chan string {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.ch[id]
	if !ok {
		c = make(chan string, 1)
		l.ch[id] = c
	}
	return c
}

func (l *privOutcomeLog) Enabled(context.Context, slog.Level) bool { return true }

func (l *privOutcomeLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "request" {
		return nil
	}
	var id, outcome string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "id":
			id = a.Value.String()
		case "cache":
			outcome = a.Value.String()
		}
		return true
	})
	if strings.HasPrefix(id, "privacy-") {
		l.chanFor(id) <- outcome
	}
	return nil
}

func (l *privOutcomeLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *privOutcomeLog) WithGroup(string) slog.Handler      { return l }

func (l *privOutcomeLog) wait(t *testing.T, id string) string {
	t.Helper()
	select {
	case o := <-l.chanFor(id):
		return o
	case <-time.After(time.Minute):
		t.Fatalf("no access-log line for request %s", id)
		return ""
	}
}
