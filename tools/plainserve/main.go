// Command plainserve is the cache-hit ceiling for the benchmark: a plain
// net/http server answering every request with the same bytes from memory.
// With -log it also writes one JSON access line per request to stderr:
// sync is slog's JSON handler straight to stderr (a write syscall per
// line, the usual Go server), async is thumbd's own line (accesslog.Line,
// the same fields, a random request id included) through accesslog's
// buffered writer, so the bench can show what thumbd's line itself costs.
// With -headers it sends the header lines of a saved response too (curl -D
// of a thumbd hit), so the bench can show what thumbd's security and
// caching headers cost net/http itself.
package main

import (
	"bufio"
	"flag"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/thumbd/thumbd/accesslog"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:18090", "address (loopback)")
	file := flag.String("file", "", "body to serve")
	mode := flag.String("log", "off", "access log: off, sync or async")
	headers := flag.String("headers", "", "file of response header lines to send (curl -D format)")
	flag.Parse()
	body, err := os.ReadFile(*file)
	if err != nil {
		log.Fatal(err)
	}
	extra, err := readHeaders(*headers)
	if err != nil {
		log.Fatal(err)
	}
	var (
		logger *slog.Logger
		w      *accesslog.Writer
	)
	switch *mode {
	case "off":
	case "sync":
		logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	case "async":
		w = accesslog.New(os.Stderr, accesslog.Options{})
	default:
		log.Fatalf("-log %q: want off, sync or async", *mode)
	}
	n := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		hd := rw.Header()
		for k, v := range extra {
			hd[k] = v // shared slices, as thumbd does: never appended to
		}
		hd.Set("Content-Type", "image/jpeg")
		hd.Set("Content-Length", n)
		_, _ = rw.Write(body)
		switch {
		case w != nil:
			l := accesslog.GetLine()
			l.Begin(time.Now(), "INFO", "request")
			l.String("id", strconv.FormatUint(rand.Uint64(), 16))
			l.String("method", r.Method)
			l.String("path", r.URL.Path)
			l.Int("status", http.StatusOK)
			l.Int("bytes", int64(len(body)))
			l.Float("ms", float64(time.Since(start).Microseconds())/1000)
			l.String("cache", "hit-memory")
			_, _ = w.Write(l.End())
			accesslog.PutLine(l)
		case logger != nil:
			logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", 200, "bytes", len(body),
				"ms", float64(time.Since(start).Microseconds())/1000)
		}
	})
	if w != nil {
		// On SIGTERM: flush, report drops, exit.
		go func() {
			c := make(chan os.Signal, 1)
			signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
			<-c
			w.Close()
			io.WriteString(os.Stdout, "dropped="+strconv.FormatUint(w.Dropped(), 10)+"\n")
			os.Exit(0)
		}()
	}
	log.Fatal(http.ListenAndServe(*addr, h))
}

// readHeaders reads "Key: value" lines from a saved response, without the
// status line and the headers net/http writes itself.
func readHeaders(path string) (http.Header, error) {
	h := http.Header{}
	if path == "" {
		return h, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimRight(sc.Text(), "\r"), ":")
		if !ok || strings.HasPrefix(k, "HTTP/") {
			continue
		}
		switch k = http.CanonicalHeaderKey(strings.TrimSpace(k)); k {
		case "Date", "Content-Length", "Content-Type":
			continue
		}
		h[k] = append(h[k], strings.TrimSpace(v))
	}
	return h, sc.Err()
}
