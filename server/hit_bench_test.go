package server_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/thumbd/thumbd/cache"
	"github.com/thumbd/thumbd/server"
)

// hitServer is a server with a memory tier and the production access line
// (app/app.go; discarded), and a signed URL whose variant is already in
// the memory tier; warm is the answer that put it there.
func hitServer(tb testing.TB, size string) (h http.Handler, url string, warm *httptest.ResponseRecorder) {
	tb.Helper()
	sg := newSigner(tb, []string{keyA}, false)
	opts := defaultOptions()
	opts.Tiers = []cache.Tier{cache.NewMemory(64 << 20)}
	opts.AccessJSON = io.Discard
	srv := server.New(sharedIx, sg, realTransformer(), opts, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	srv.SetReady(true)
	hash := hashOf(tb, "cops.jpg")
	url = thumbPath(hash, sign(tb, sg, hash, size, time.Time{}), size)
	warm = getOK(tb, srv.Handler(), url)
	return srv.Handler(), url, warm
}

func getOK(tb testing.TB, h http.Handler, url string) *httptest.ResponseRecorder {
	tb.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, url, nil))
	if w.Code != 200 {
		tb.Fatalf("GET %s: %d", url, w.Code)
	}
	return w
}

// BenchmarkHit is the cache-hit path in process (no sockets): route, parse,
// verify, memory hit, headers, access log line (JSON, discarded), metrics.
// Run with -benchmem: allocations per hit are what it watches.
func BenchmarkHit(b *testing.B) {
	h, url, _ := hitServer(b, "tile_224")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		getOK(b, h, url)
	}
}

// BenchmarkHitBare is BenchmarkHit's floor: a bare handler sending the
// same headers and bytes through the same recorder. BenchmarkHit minus
// this is what thumbd's routing, verification, lookup, log line and
// metrics cost per hit.
func BenchmarkHitBare(b *testing.B) {
	_, url, warm := hitServer(b, "tile_224")
	body, header := warm.Body.Bytes(), warm.Header()
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range header {
			h[k] = v
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		getOK(b, bare, url)
	}
}

// TestHitHeaderCount: a cache hit sends at most eight header fields of its
// own. net/http's header map (and the copy it takes at WriteHeader) leaves
// its first eight-slot group on the ninth, which measured about 2 us CPU
// per hit on this path (plainserve, 10 against 8 headers). A new header on
// every answer should be worth that.
func TestHitHeaderCount(t *testing.T) {
	h, url, _ := hitServer(t, "tile_500")
	if w := getOK(t, h, url); len(w.Header()) > 8 {
		t.Errorf("a hit sends %d header fields, want <= 8: %v", len(w.Header()), w.Header())
	}
}

func thumbPath(hash, token, size string) string { return "/t/" + hash + "/" + token + "/" + size }
