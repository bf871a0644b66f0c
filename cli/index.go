package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/transform"
)

// indexCmd builds or refreshes the index file: a Kubernetes CronJob can run
// it so pods start ready in seconds on a large library. Progress is a bar
// on a terminal and plain lines otherwise (logs, CI).
func indexCmd(ctx context.Context, env Env, args []string) error {
	fs := pflag.NewFlagSet("index", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	file := fs.String("index-file", "", "index file to write (default: the index_file key)")
	cfg, _, err := loadConfigNoKeys(env, fs, args)
	if err != nil {
		return err
	}
	path := *file
	if path == "" {
		path = cfg.IndexFile
	}
	if path == "" {
		return fmt.Errorf("index: no index file (set index_file or --index-file)")
	}
	// Built as serve builds it: the same file-size limit, and the probe
	// that fills dimensions and dates (serve reuses these entries as they are).
	transform.Startup(1, slog.New(slog.DiscardHandler))
	ix, err := storage.Open(cfg.Originals, int64(cfg.MaxFileMB)<<20, slog.New(slog.DiscardHandler))
	if err != nil {
		return fmt.Errorf("config: originals: %w", err)
	}
	defer ix.Close()
	ix.Probe = probe(cfg.MaxFrames)
	if _, err := ix.LoadIndexFile(path); err != nil {
		fmt.Fprintf(env.Stderr, "index: %v; hashing everything\n", err)
	}
	tty := isTerminal(env.Stderr)
	start := time.Now()
	ix.Progress = func(done, total int) { progress(env.Stderr, tty, done, total, time.Since(start)) }
	st, err := ix.Scan(ctx, cfg.IndexWorkers)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if err := ix.SaveIndexFile(path); err != nil {
		return fmt.Errorf("index: write %s: %w", path, err)
	}
	if tty {
		fmt.Fprintln(env.Stderr)
	}
	fmt.Fprintf(env.Stdout, "indexed %d files (%d hashed, %d unchanged, %d skipped, %d too large), %.1f MiB, in %.2fs -> %s\n",
		st.Files, st.Hashed, st.Reused, st.Skipped, st.TooLarge, float64(st.Bytes)/(1<<20), st.Duration.Seconds(), path)
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress draws "[#####-----] 512/1024 (50%) 3s" in place on a terminal,
// or prints one plain line per call elsewhere.
func progress(w io.Writer, tty bool, done, total int, el time.Duration) {
	pct := 100
	if total > 0 {
		pct = done * 100 / total
	}
	if !tty {
		fmt.Fprintf(w, "index: %d/%d files (%d%%) %s\n", done, total, pct, el.Round(time.Second))
		return
	}
	const width = 30
	bar := strings.Repeat("#", pct*width/100) + strings.Repeat("-", width-pct*width/100)
	fmt.Fprintf(w, "\r[%s] %d/%d (%d%%) %s ", bar, done, total, pct, el.Round(time.Second))
}
