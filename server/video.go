package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/thumbd/thumbd/budget"
	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/video"
)

// errWrongFormat: the URL names a video format the file is not.
var errWrongFormat = errors.New("video is not in the requested format")

// video streams an original video as it is (no transcoding), with HTTP
// Range support (206, multiple ranges, If-Range) from net/http's
// ServeContent. The format segment must match the codec the file really
// carries.
func (s *Server) video(c echo.Context) error {
	ctx := c.Request().Context()
	hash, token, format := c.Param("hash"), c.Param("token"), c.Param("format")
	if !thumburl.IsHash(hash) {
		return fmt.Errorf("%w: hash must be 40 lowercase hex digits", thumburl.ErrMalformed)
	}
	if !video.IsFormat(format) {
		return fmt.Errorf("%w: video format %.10q", thumburl.ErrMalformed, format)
	}
	if token == signing.PublicToken {
		// Public mode opens the named image sizes only: a video is the
		// original file, which public links never reach.
		return signing.ErrBadToken
	}
	orig, err := s.open(c, hash, format, token)
	if err != nil {
		return err
	}
	f, fi, err := s.index.Open(ctx, orig)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := video.Probe(f, fi.Size())
	if err != nil {
		return err
	}
	if info.Codec != format {
		return fmt.Errorf("%w: %s is %s/%s", errWrongFormat, format, info.Container, info.Codec)
	}
	h := c.Response().Header()
	h.Set("Content-Type", info.ContentType)
	// The hash names the bytes: a strong validator for If-Range and 304s.
	h.Set("ETag", `"`+hash+`"`)
	setOutcome(c, "stream")
	if im := c.Request().Header.Get("If-Match"); im != "" && !ifMatch(im, `"`+hash+`"`) {
		// Answered here, not by ServeContent, whose 412 has no body.
		return c.String(http.StatusPreconditionFailed, "precondition failed\n")
	}
	if rng := c.Request().Header.Get("Range"); rng != "" {
		fixed, ok := satisfiableRange(rng)
		if !ok {
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(fi.Size(), 10))
			return c.String(http.StatusRequestedRangeNotSatisfiable, "range not satisfiable\n")
		}
		c.Request().Header.Set("Range", fixed)
	}
	// Served through an overlay that blanks metadata boxes (GPS, make,
	// model, serials, XMP) in place: same length, same offsets, so Range
	// requests stay valid, and the file on disk is never touched.
	patches, err := s.scrubs.patches(hash, f, fi.Size())
	if err != nil {
		return err
	}
	w := &progressWriter{ResponseWriter: c.Response(), rc: http.NewResponseController(c.Response().Writer), timeout: s.opts.WriteTimeout}
	http.ServeContent(w, c.Request(), "", time.Time{}, video.NewScrubbed(f, fi.Size(), patches))
	return nil
}

// ifMatch is If-Match's strong comparison over a list.
func ifMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		if t = strings.TrimSpace(t); t == "*" || t == etag {
			return true
		}
	}
	return false
}

// satisfiableRange drops zero-length suffix ranges ("-0"), which
// net/http would answer with an invalid 206; ok is false when nothing
// satisfiable remains. Other shapes are left to http.ServeContent.
func satisfiableRange(h string) (string, bool) {
	unit, specs, found := strings.Cut(h, "=")
	if !found || strings.TrimSpace(unit) != "bytes" {
		return h, true // not a byte range: ServeContent ignores it
	}
	var keep []string
	for _, spec := range strings.Split(specs, ",") {
		spec = strings.TrimSpace(spec)
		if start, end, ok := strings.Cut(spec, "-"); ok && strings.TrimSpace(start) == "" {
			if n, err := strconv.ParseInt(strings.TrimSpace(end), 10, 64); err == nil && n == 0 {
				continue
			}
		}
		keep = append(keep, spec)
	}
	if len(keep) == 0 {
		return "", false
	}
	return "bytes=" + strings.Join(keep, ","), true
}

// progressWriter extends the connection's write deadline while a stream
// makes progress: a long video reaches a slow but live client, while a
// client that stops reading is still cut off after the write timeout.
type progressWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (w *progressWriter) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	return w.ResponseWriter.Write(p)
}

// source returns the bytes a variant is made from: the original image, or
// a poster frame for a video.
func (s *Server) source(ctx context.Context, orig storage.Original) ([]byte, error) {
	if !video.IsVideoName(orig.Path) {
		return s.index.Read(ctx, orig)
	}
	f, fi, err := s.index.Open(ctx, orig)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// ffmpeg's address-space limit comes out of the same decode budget as
	// libvips jobs, so posters cannot add memory outside it.
	lim := s.opts.Poster
	if s.opts.Budget != nil {
		need := s.opts.PosterReserve
		if need <= 0 {
			need = lim.MemoryBytes
		}
		if need <= 0 {
			need = video.DefaultMemoryBytes
		}
		release, err := s.opts.Budget.Acquire(ctx, need)
		if errors.Is(err, budget.ErrTooLarge) {
			return nil, fmt.Errorf("%w: ffmpeg_memory_mb is larger than max_decode_mb: %w", transform.ErrTooLarge, err)
		}
		if err != nil {
			return nil, err // waited past the deadline: not the file's fault
		}
		defer release()
	}
	b, err := video.Poster(ctx, f, fi.Size(), lim)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("%w: ffmpeg: %w", transform.ErrStopped, ctx.Err())
	}
	return b, err
}

// scrubCache keeps each video's metadata patches: the hash names the
// bytes (Open re-hashes a file that changed), and a player sends many
// Range requests for one file, each of which would walk its boxes again.
type scrubCache struct {
	mu sync.Mutex
	m  map[string]video.Patches
}

// maxScrubs bounds the cache; when full it starts again (patches are a
// few dozen bytes of offsets per video, and can always be recomputed).
const maxScrubs = 1024

func (sc *scrubCache) patches(hash string, f *os.File, size int64) (video.Patches, error) {
	sc.mu.Lock()
	p, ok := sc.m[hash]
	sc.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := video.Scrub(f, size)
	if err != nil {
		return nil, err
	}
	sc.mu.Lock()
	if sc.m == nil || len(sc.m) >= maxScrubs {
		sc.m = map[string]video.Patches{}
	}
	sc.m[hash] = p
	sc.mu.Unlock()
	return p, nil
}
