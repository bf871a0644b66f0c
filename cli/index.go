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

	"github.com/thumbd/thumbd/app"
	"github.com/thumbd/thumbd/server"
)

// indexCmd builds or refreshes the index file: a Kubernetes CronJob can run
// it so pods start ready in seconds on a large library. The index is built
// exactly as serve builds it (app.New): the same file-size limit, and the
// probe that records dimensions and dates, which serve then reuses as they
// are. Progress is a bar on a terminal and plain lines otherwise. With
// --render it then fills the disk cache with those sizes of every photo
// (what serve's prerender key does in the background), at full speed.
func indexCmd(ctx context.Context, env Env, args []string) error {
	fs := pflag.NewFlagSet("index", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	file := fs.String("index-file", "", "index file to write (default: the index_file key)")
	render := fs.StringSlice("render", nil, "sizes to render into the disk cache (disk_cache_dir), comma-separated: tile_224,fit_720")
	cfg, _, err := loadConfigNoKeys(env, fs, args)
	if err != nil {
		return err
	}
	if *file != "" {
		cfg.IndexFile = *file
	}
	if cfg.IndexFile == "" && len(*render) == 0 {
		return fmt.Errorf("index: no index file (set index_file or --index-file)")
	}
	if len(*render) > 0 {
		if cfg.DiskCacheDir == "" {
			return fmt.Errorf("index: --render needs disk_cache_dir: pre-rendered sizes are kept in the disk cache")
		}
		if err := server.ParsePrerenderSizes(*render); err != nil {
			return fmt.Errorf("index: --render %w", err)
		}
	}
	tty := isTerminal(env.Stderr)
	start := time.Now()
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(cfg, log, app.Options{
		Progress: func(done, total int) { progress(env.Stderr, tty, done, total, time.Since(start)) },
	})
	if err != nil {
		return err
	}
	defer a.Close()
	st, err := a.Scan(ctx)
	if err != nil {
		return err
	}
	if cfg.IndexFile != "" {
		if err := a.Index.SaveIndexFile(cfg.IndexFile); err != nil {
			return fmt.Errorf("index: write %s: %w", cfg.IndexFile, err)
		}
	}
	if tty {
		fmt.Fprintln(env.Stderr)
	}
	dest := cfg.IndexFile
	if dest == "" {
		dest = "(no index file)"
	}
	fmt.Fprintf(env.Stdout, "indexed %d files (%d hashed, %d unchanged, %d skipped, %d too large), %.1f MiB, in %.2fs -> %s\n",
		st.Files, st.Hashed, st.Reused, st.Skipped, st.TooLarge, float64(st.Bytes)/(1<<20), st.Duration.Seconds(), dest)
	if len(*render) == 0 {
		return nil
	}
	return renderCmd(ctx, env, a, *render, tty)
}

// renderCmd pre-renders sizes into the disk cache with every worker:
// nothing else is running.
func renderCmd(ctx context.Context, env Env, a *app.App, sizes []string, tty bool) error {
	srv, err := a.Server(nil)
	if err != nil {
		return err
	}
	workers := a.Config.JobWorkers()
	start := time.Now()
	draw := exportProgress(env.Stderr, tty, "render: variants", start)
	st, err := srv.Prerender(ctx, server.PrerenderOptions{Sizes: sizes, Workers: workers,
		Progress: func(st server.PrerenderStats) { draw(st.Done, st.Total) }})
	if tty && st.Total > 0 {
		fmt.Fprintln(env.Stderr)
	}
	if err != nil {
		return fmt.Errorf("index: render: %w", err)
	}
	fmt.Fprintf(env.Stdout, "rendered %d variants (%d rendered, %d already in the cache, %d failed) in %.2fs with %d workers -> %s\n",
		st.Total, st.Rendered, st.Present, st.Failed, time.Since(start).Seconds(), workers, a.Config.DiskCacheDir)
	if st.Full {
		return fmt.Errorf("index: render: the disk cache reached its budget (disk_cache_mb %d) with %d variants left", a.Config.DiskCacheMB, st.Total-st.Done)
	}
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
	bar(w, done, total, el)
}

// bar draws "[#####-----] 512/1024 (50%) 3s" in place on a terminal.
func bar(w io.Writer, done, total int, el time.Duration) {
	pct := 100
	if total > 0 {
		pct = done * 100 / total
	}
	const width = 30
	b := strings.Repeat("#", pct*width/100) + strings.Repeat("-", width-pct*width/100)
	fmt.Fprintf(w, "\r[%s] %d/%d (%d%%) %s ", b, done, total, pct, el.Round(time.Second))
}
