// Package server is the HTTP face of thumbd: Echo routes, the thumbnail
// handler, caching headers and the middleware around them. It never
// imports libvips; it drives the storage index and the transformer.
package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/net/netutil"
	"golang.org/x/sync/singleflight"

	"github.com/thumbd/thumbd/accesslog"
	"github.com/thumbd/thumbd/budget"
	"github.com/thumbd/thumbd/cache"
	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/variant"
	"github.com/thumbd/thumbd/video"
)

// Transformer makes variants; the seam lets tests count libvips jobs.
type Transformer interface {
	Transform(ctx context.Context, src []byte, s variant.Size, f variant.Format) (*transform.Image, error)
}

// Options are the server's settings.
type Options struct {
	// AccessJSON, when set, receives the access lines directly, in the
	// shape slog's JSON handler writes them (accesslog.Line), instead of
	// through the logger: the hit path's cheapest line. It must be the
	// logger's own destination; the logger's level still decides.
	AccessJSON     io.Writer
	Workers        int
	QueueLength    int
	RequestTimeout time.Duration
	MaxSize        variant.Limit
	// Fingerprint identifies the transform settings in ETags.
	Fingerprint string
	// Tiers are the result caches, cheapest first (see cache.Tier).
	Tiers []cache.Tier
	// Derive makes small variants from a cached larger fit_* variant of the
	// same photo in the memory tier instead of decoding the original (see
	// derivable).
	Derive bool
	// CustomMax is the largest edge of a custom size; 0 refuses them all.
	CustomMax int
	// Negotiate picks AVIF, WebP or JPEG from Accept for URLs without an
	// extension.
	Negotiate bool
	// FailureTTL is how long an original's own failure (damaged, too
	// large, too slow) is remembered; 0 = not at all.
	FailureTTL time.Duration
	// Connection timeouts (0 = the defaults below).
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxConnections bounds the connections held at once; 0 = no bound.
	MaxConnections int
	// Poster limits ffmpeg; PosterReserve of its memory is reserved from
	// Budget while it runs (0 = the whole address-space limit).
	Poster        video.Limits
	PosterReserve int64
	// Budget is the process-wide decode memory budget (shared with the
	// transformer); nil = none.
	Budget *budget.Budget
	// LogDropped reports log lines dropped by the log writer; nil = none.
	LogDropped func() uint64
	// PublicURL is the absolute base of URLs in share pages and oEmbed
	// (og:image, og:url); "" = http://<request host>.
	PublicURL string
	// PagesNoindex keeps share pages and albums out of search engines
	// (meta robots and X-Robots-Tag).
	PagesNoindex bool
}

// Server serves /t/:hash/:token/:size.
type Server struct {
	echo     *echo.Echo
	index    *storage.Index
	signer   atomic.Pointer[signing.Signer]
	revoked  atomic.Pointer[thumburl.Revocations]
	tr       Transformer
	opts     Options
	log      *slog.Logger
	limit    *limiter
	flight   singleflight.Group
	now      func() time.Time
	metrics  *metrics
	mem      *cache.Memory // the memory tier, if any (derive reads it)
	ready    atomic.Bool
	waiting  atomic.Int64 // requests waiting on a render (collapsed or not)
	failures *failures
	scrubs   scrubCache
	// prerender counts the background pre-render (prerender.go).
	prerender *prerenderMetrics
	albums    albumCache // album id -> folder, per index version (pages.go)
	// chain is the middleware around every route, composed once (New);
	// exchanges pools the requests' contexts (ServeHTTP).
	chain     echo.HandlerFunc
	exchanges sync.Pool
}

// Waiting is the number of requests waiting for a variant to be rendered,
// including those sharing another request's job.
func (s *Server) Waiting() int64 { return s.waiting.Load() }

// stateKey holds the request's *reqState on echo.Context when a handler
// runs outside ServeHTTP (a test calling it on its own).
const stateKey = "thumbd.state"

// reqState is what a request's handlers leave for its access line and
// metrics, set once instead of re-parsing the path afterwards (cache hits
// are the hot path).
type reqState struct {
	id      string
	outcome string // cache outcome: hit-memory, miss, revalidated...
	size    string // metrics size label, when the route parsed one
	// thumbHash and thumbName, when set, log as /t/<hash>/…/<name> without
	// building that string (the thumbnail route, parsed and canonical).
	thumbHash, thumbName string
}

// exchange is one request as thumbd's middleware and handlers see it: the
// Echo context (Echo's documented way to extend it is embedding) with the
// request's state beside it. Exchanges are pooled with their Echo context
// and the before-write hook bound once, so a cache hit allocates none of
// them.
type exchange struct {
	echo.Context
	st    reqState
	final func() // s.finalCacheHeaders(this exchange)
}

// state returns the request's state; outside ServeHTTP a throwaway one.
func state(c echo.Context) *reqState {
	if x, ok := c.(*exchange); ok {
		return &x.st
	}
	if st, ok := c.Get(stateKey).(*reqState); ok {
		return st
	}
	st := &reqState{}
	c.Set(stateKey, st)
	return st
}

// setOutcome records the cache outcome for the log and metrics.
func setOutcome(c echo.Context, outcome string) { state(c).outcome = outcome }

// ServeHTTP is Echo's own ServeHTTP with the middleware composed once at
// start-up instead of per request (Echo wraps every request's handler in
// fresh closures), and the state in a pooled exchange instead of a context
// map. The router's 404 and 405 handlers run inside the same chain, so
// every answer gets the recoverer, the access line and the headers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := s.exchanges.Get().(*exchange)
	x.Reset(r, w)
	x.st = reqState{}
	// Cache headers are decided when the status is known, whichever code
	// path writes it (handlers, the error handler, http.ServeContent's
	// 412/416).
	x.Response().Before(x.final)
	s.echo.Router().Find(r.Method, echo.GetPath(r), x.Context)
	if err := s.chain(x); err != nil {
		s.handleError(err, x)
	}
	x.Reset(nil, nil) // drop the request and writer before pooling
	s.exchanges.Put(x)
}

// routed runs the handler the router found (the innermost link of chain).
func routed(c echo.Context) error { return c.Handler()(c) }

// New builds the Echo app.
func New(ix *storage.Index, signer *signing.Signer, tr Transformer, opts Options, log *slog.Logger) *Server {
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 15 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = time.Minute
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 2 * time.Minute
	}
	s := &Server{index: ix, tr: tr, opts: opts, log: log, limit: newLimiter(opts.Workers, opts.QueueLength), now: time.Now}
	s.failures = newFailures(opts.FailureTTL, func() time.Time { return s.now() })
	s.signer.Store(signer)
	s.revoked.Store(&thumburl.Revocations{})
	s.metrics = newMetrics(s)
	s.prerender = newPrerenderMetrics(s.metrics.reg)
	for _, t := range opts.Tiers {
		if m, ok := t.(*cache.Memory); ok && s.mem == nil {
			s.mem = m
		}
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	// Not e.Use: Echo would compose these anew for every request.
	s.chain = s.recoverer(s.accessLog(s.headers(s.deadline(routed))))
	s.exchanges.New = func() any {
		x := &exchange{Context: e.NewContext(nil, nil)}
		x.final = func() { s.finalCacheHeaders(x) }
		return x
	}
	e.Match([]string{http.MethodGet, http.MethodHead}, "/t/:hash/:token/:size", s.thumb)
	e.Match([]string{http.MethodGet, http.MethodHead}, "/v/:hash/:token/:format", s.video)
	s.pageRoutes(e) // /p/, /a/, /oembed (pages.go)
	e.Match([]string{http.MethodGet, http.MethodHead}, "/healthz", func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.String(http.StatusOK, "ok\n")
	})
	// Other methods on a known path get Echo's 405 with an Allow header.
	s.echo = e
	return s
}

// SetReady flips /readyz: true once the index is loaded.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Signer returns the keys in use (they change on reload).
func (s *Server) Signer() *signing.Signer { return s.signer.Load() }

// SetSigner swaps the keys (config reload) without a restart.
func (s *Server) SetSigner(sg *signing.Signer) { s.signer.Store(sg) }

// Handler exposes the app for tests and custom listeners.
func (s *Server) Handler() http.Handler { return s }

// Serve serves on l until ctx ends, then drains in-flight requests for up to
// grace.
func (s *Server) Serve(ctx context.Context, l net.Listener, grace time.Duration) error {
	// Every phase of a connection is bounded: a client that declares a
	// body and never sends it, or reads the answer a byte a minute, is cut
	// off instead of holding a descriptor forever (video streams extend
	// their write deadline as they make progress, see video.go).
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: min(10*time.Second, s.opts.ReadTimeout),
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.opts.MaxConnections > 0 {
		l = netutil.LimitListener(l, s.opts.MaxConnections)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Not ready first, so load balancers stop sending before we stop accepting.
	s.ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// thumb is the request, top to bottom: parse, verify, look up, 304?,
// cached variant or transform (collapsed, bounded), respond.
func (s *Server) thumb(c echo.Context) error {
	ctx := c.Request().Context()
	hash, token, name := c.Param("hash"), c.Param("token"), c.Param("size")
	req, err := thumburl.Parse(hash, token, name)
	if err != nil {
		return err
	}
	st := state(c)
	st.size = sizeLabel(req.Size)
	if spells(c.Request().RequestURI, "/t/", hash, token, name) {
		// Parsed and spelled exactly: the log keeps all but the token.
		st.thumbHash, st.thumbName = hash, name
	}
	if req.Size.Custom && max(req.Size.Width, req.Size.Height) > s.opts.CustomMax {
		return errCustomTooLarge
	}
	if req.Token == signing.PublicToken && (req.Size.Mode == variant.Original || req.Size.Custom) {
		// Public mode opens the named thumbnails only: not full-resolution
		// originals, and not arbitrary sizes that would multiply the work.
		return signing.ErrBadToken
	}
	orig, err := s.open(c, req.Hash, req.Size.Name, req.Token)
	if err != nil {
		return err
	}
	size := s.opts.MaxSize.Clamp(req.Size)
	if size.Mode == variant.Original && req.Explicit {
		// original.jpg and friends: the full photo re-encoded; plain
		// "original" keeps its own container.
		size = variant.FullSize
	}

	h := c.Response().Header()
	if s.opts.Negotiate && !req.Explicit && size.Mode != variant.Colors && size.Mode != variant.Original {
		// No extension in the URL: pick the best format the client takes.
		// The same URL now has several representations, so caches must key
		// on Accept too.
		req.Format = negotiate(c.Request().Header.Get("Accept"))
		h.Set("Vary", "Accept")
	}
	// A variant's bytes depend on where they were made (from the original,
	// derived from a larger variant, or PhotoPrism's rendering); each source
	// has its own strong ETag, and a client holding any of them is current.
	if inm := c.Request().Header.Get("If-None-Match"); inm != "" {
		for _, src := range s.sources() {
			if tag := s.etag(req.Hash, size, req.Format, src); etagMatches(inm, tag) {
				h.Set("ETag", tag)
				st.outcome = "revalidated"
				return c.NoContent(http.StatusNotModified)
			}
		}
	}

	img, outcome, err := s.variant(ctx, orig, size, req.Format)
	if err != nil {
		if outcome != "" {
			st.outcome = outcome
		}
		return err
	}
	st.outcome = outcome
	h.Set("ETag", s.etag(req.Hash, size, req.Format, img.Source))
	h["Content-Type"] = contentType(img.Format)
	h.Set("Content-Length", strconv.Itoa(len(img.Bytes)))
	c.Response().WriteHeader(http.StatusOK)
	if c.Request().Method == http.MethodHead {
		return nil
	}
	_, err = c.Response().Write(img.Bytes)
	return err
}

// open is what every signed route does first: verify the token for
// (hash, name), refuse a revoked link, find the original, and set the
// caching headers an answer to a valid link carries (immutable, or until
// the link expires).
func (s *Server) open(c echo.Context, hash, name, token string) (storage.Original, error) {
	expires, err := s.signer.Load().Verify(hash, name, token, s.now())
	if err != nil {
		return storage.Original{}, err
	}
	if s.revoked.Load().Revoked(hash, name) {
		return storage.Original{}, errRevoked
	}
	orig, err := s.index.Lookup(c.Request().Context(), hash)
	if err != nil {
		return storage.Original{}, err
	}
	h := c.Response().Header()
	if expires.IsZero() {
		h["Cache-Control"] = immutable // shared: never appended to
	} else {
		h.Set("Cache-Control", s.cacheControl(expires))
		h.Set("Expires", expires.UTC().Format(http.TimeFormat))
	}
	return orig, nil
}

// etag names the bytes: same original, variant, settings and source give
// the same tag on every replica and after restarts.
func (s *Server) etag(hash string, size variant.Size, f variant.Format, source string) string {
	settings := s.opts.Fingerprint
	if size.Quality > 0 {
		// The parsed name carries the quality already (_q70); saying it
		// here keeps the tag honest for any Size built in code.
		settings += "-lq" + strconv.Itoa(size.Quality)
	}
	var buf [256]byte
	msg := buf[:0]
	for i, part := range [...]string{hash, size.Name, f.Ext(), settings, source} {
		if i > 0 {
			msg = append(msg, 0)
		}
		msg = append(msg, part...)
	}
	sum := sha256.Sum256(msg)
	var tag [34]byte
	tag[0], tag[33] = '"', '"'
	hex.Encode(tag[1:33], sum[:16])
	return string(tag[:])
}

var immutable = []string{"public, max-age=31536000, immutable"}

// contentTypes are shared header values, indexed by format.
var contentTypes = func() (v [variant.HEIF + 1][]string) {
	for f := range v {
		v[f] = []string{variant.Format(f).ContentType()}
	}
	return v
}()

func contentType(f variant.Format) []string {
	if f >= 0 && int(f) < len(contentTypes) {
		return contentTypes[f]
	}
	return []string{f.ContentType()}
}

// cacheControl: the URL names the content, so it is immutable; an expiring
// link may be cached only until it expires.
func (s *Server) cacheControl(expires time.Time) string {
	if expires.IsZero() {
		return "public, max-age=31536000, immutable"
	}
	left := int(expires.Sub(s.now()).Seconds())
	if left < 0 {
		left = 0
	}
	return "public, max-age=" + strconv.Itoa(left)
}

// negotiate picks AVIF, then WebP, then JPEG from an Accept header. Only
// explicit mentions count: browsers that take AVIF say so. A type with
// q=0 (in any spelling: 0, 0.0, 0.000) is refused, as RFC 9110 says.
func negotiate(accept string) variant.Format {
	avif, webp := false, false
	for _, part := range strings.Split(accept, ",") {
		mt, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if quality(params) <= 0 {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "image/avif":
			avif = true
		case "image/webp":
			webp = true
		}
	}
	switch {
	case avif:
		return variant.AVIF
	case webp:
		return variant.WebP
	}
	return variant.JPEG
}

// quality reads the q parameter of one Accept element (1 when absent, 0
// when unreadable: a malformed weight is not consent).
func quality(params string) float64 {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || q != q || q < 0 {
			return 0
		}
		return q
	}
	return 1
}

// etagMatches implements If-None-Match's weak comparison over a list.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// headers sets what every response carries: no sniffing, nothing active
// may run from our responses, and images may be embedded from any origin.
// (Referrer-Policy goes on HTML pages only, the one kind of answer that
// makes requests of its own; see pageHeaders.) Each header costs every
// cache hit: net/http's header map outgrows its first group past eight
// entries, and a hit has eight (TestHitHeaderCount).
func (s *Server) headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		// Shared, never-mutated values: no allocation per response
		// (Header.Add would copy on append: cap is 1).
		for _, kv := range staticHeaders {
			h[kv.key] = kv.value
		}
		if r := c.Request(); r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
			// No route takes a body: answer and close rather than wait for
			// a body that may never come.
			h.Set("Connection", "close")
		}
		return next(c)
	}
}

// staticHeaders go on every response (canonical keys).
var staticHeaders = []struct {
	key   string
	value []string
}{
	{"X-Content-Type-Options", []string{"nosniff"}},
	{"Content-Security-Policy", []string{"default-src 'none'; sandbox"}},
	{"Cross-Origin-Resource-Policy", []string{"cross-origin"}},
	{"Access-Control-Allow-Origin", []string{"*"}},
}

// deadline bounds every request, waiting for a worker included. The
// thumbnail route sets its own once the cache tiers have missed (variant):
// a hit never waits, and a timer per hit was 4% of its CPU.
func (s *Server) deadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Path() == "/t/:hash/:token/:size" {
			return next(c)
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.opts.RequestTimeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// recoverer turns a panic into a 500 and a log line with the stack; the
// client sees only "internal error".
func (s *Server) recoverer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.Error("panic", "panic", fmt.Sprint(r), "id", requestID(c))
				err = errors.New("panic")
			}
		}()
		return next(c)
	}
}

// accessLog writes one line per request. The token is never logged.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		id := c.Request().Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 || strings.ContainsAny(id, "\r\n\"") {
			// An id for correlating logs, not a secret: no syscall needed.
			id = strconv.FormatUint(rand.Uint64(), 16)
		}
		st := state(c)
		st.id = id // sent back by finalCacheHeaders when it names one answer
		if err := next(c); err != nil {
			s.handleError(err, c)
		}
		s.metrics.observe(c, start)
		// Build the line only when it will be written: cache hits are a hot
		// path, and production often runs at warn.
		if ctx := c.Request().Context(); s.log.Enabled(ctx, slog.LevelInfo) {
			res := c.Response()
			if w := s.opts.AccessJSON; w != nil {
				l := accesslog.GetLine()
				l.Begin(time.Now(), "INFO", "request")
				l.String("id", id)
				l.String("method", c.Request().Method)
				if st.thumbHash != "" {
					l.Strings("path", "/t/", st.thumbHash, "/…/", st.thumbName)
				} else {
					l.String("path", st.logPath(c.Request()))
				}
				l.Int("status", int64(res.Status))
				l.Int("bytes", res.Size)
				l.Float("ms", float64(time.Since(start).Microseconds())/1000)
				if st.outcome != "" {
					l.String("cache", st.outcome)
				}
				_, _ = w.Write(l.End())
				accesslog.PutLine(l)
				return nil
			}
			// slog.Attr values, not ...any: nothing is boxed on the way.
			var attrs [7]slog.Attr
			n := copy(attrs[:], []slog.Attr{
				slog.String("id", id),
				slog.String("method", c.Request().Method),
				slog.String("path", st.logPath(c.Request())),
				slog.Int("status", res.Status),
				slog.Int64("bytes", res.Size),
				slog.Float64("ms", float64(time.Since(start).Microseconds())/1000),
			})
			if st.outcome != "" {
				attrs[n] = slog.String("cache", st.outcome)
				n++
			}
			s.log.LogAttrs(ctx, slog.LevelInfo, "request", attrs[:n]...)
		}
		return nil
	}
}

func requestID(c echo.Context) string { return state(c).id }

// logPath is the path the thumbnail route parsed, or else logPath's
// reading of the request line.
func (st *reqState) logPath(r *http.Request) string {
	if st.thumbHash != "" {
		return "/t/" + st.thumbHash + "/…/" + st.thumbName
	}
	return logPath(r)
}

// logPath is the request path as logged. Only segments that are known
// vocabulary (route names, hashes, size names, video formats) are kept;
// everything else, tokens in any position or spelling included, becomes
// "…". It reads the raw request line, so percent-encoded or doubled
// slashes cannot smuggle a token past it.
func logPath(r *http.Request) string {
	p, _, _ := strings.Cut(r.RequestURI, "?")
	if len(p) > 256 {
		p = p[:256]
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		// An album id is kept in its own position only: elsewhere 24 hex
		// digits could be a token.
		if i == 2 && segs[1] == "a" && thumburl.IsAlbumID(seg) {
			continue
		}
		if !safeSegment(seg) {
			segs[i] = "…"
		}
	}
	return strings.Join(segs, "/")
}

func safeSegment(seg string) bool {
	switch seg {
	case "", "t", "v", "healthz", "favicon.ico", "robots.txt":
		return true
	}
	if thumburl.IsHash(seg) || video.IsFormat(seg) || safePageSegment(seg) {
		return true
	}
	return thumburl.IsSizeSegment(seg)
}

// canonical reports whether the request line is exactly the path its
// route parameters spell: no doubled slashes, dot segments, percent
// escapes or query. Anything else is served (or refused) uncacheable, so a
// cache that normalises paths can never store it under the real URL.
func canonical(c echo.Context) bool {
	uri := c.Request().RequestURI
	if canon, ok := pageCanonical(c); ok {
		return canon
	}
	if !cleanPath(uri) {
		return false
	}
	// An empty hash is a 405: the route's parameters were never bound.
	switch hash := c.Param("hash"); c.Path() {
	case "/t/:hash/:token/:size":
		return hash == "" || spells(uri, "/t/", hash, c.Param("token"), c.Param("size"))
	case "/v/:hash/:token/:format":
		return hash == "" || spells(uri, "/v/", hash, c.Param("token"), c.Param("format"))
	}
	return true
}

// spells reports uri == prefix+a+"/"+b+"/"+c without building the string
// (this runs on every request, cache hits included).
func spells(uri, prefix, a, b, c string) bool {
	if len(uri) != len(prefix)+len(a)+len(b)+len(c)+2 {
		return false
	}
	for _, part := range []string{prefix, a, "/", b, "/", c} {
		if !strings.HasPrefix(uri, part) {
			return false
		}
		uri = uri[len(part):]
	}
	return true
}

// cleanPath: no doubled slashes, dot segments, escapes, query or params.
func cleanPath(p string) bool {
	return p != "" && p[0] == '/' && path.Clean(p) == p && !strings.ContainsAny(p, "%?#;\\")
}

// finalCacheHeaders runs just before the status line goes out. Errors get
// their short cache lifetime whoever wrote them; answers that depend on
// request headers no cache keys on (412, 416) and answers to
// non-canonical paths are not stored at all.
func (s *Server) finalCacheHeaders(c echo.Context) {
	status := c.Response().Status
	h := c.Response().Header()
	if status >= 400 {
		// Error bodies are short text, whoever wrote them (a 416 or 412
		// from a video stream must not claim to be video).
		if !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
			h.Set("Content-Type", "text/plain; charset=UTF-8")
		}
		h.Set("Cache-Control", errorCacheControl(status))
		h.Del("Expires")
		if status != http.StatusRequestedRangeNotSatisfiable {
			h.Del("ETag")
		}
	}
	if !canonical(c) {
		h.Set("Cache-Control", "no-store")
		h.Del("Expires")
	}
	// The request id goes back on errors and on answers no cache keeps,
	// where a client can quote it; a stored success would replay one
	// request's id to everyone who gets it from the cache.
	if id := state(c).id; id != "" && (status >= 400 || h.Get("Cache-Control") == "no-store") {
		h["X-Request-Id"] = []string{id}
	}
}
