// Command plainserve is the cache-hit ceiling for the benchmark: a plain
// net/http server answering every request with the same bytes from memory.
// With -log it also writes one slog JSON access line per request to
// stderr, like thumbd's, either directly (sync: a write syscall per line)
// or through accesslog's buffered writer (async), so the bench can show
// what the line itself costs.
package main

import (
	"flag"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/thumbd/thumbd/accesslog"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:18090", "address (loopback)")
	file := flag.String("file", "", "body to serve")
	mode := flag.String("log", "off", "access log: off, sync or async")
	flag.Parse()
	body, err := os.ReadFile(*file)
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
		logger = slog.New(slog.NewJSONHandler(w, nil))
	default:
		log.Fatalf("-log %q: want off, sync or async", *mode)
	}
	n := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw.Header().Set("Content-Type", "image/jpeg")
		rw.Header().Set("Content-Length", n)
		_, _ = rw.Write(body)
		if logger != nil {
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
