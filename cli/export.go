package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"github.com/thumbd/thumbd/app"
	"github.com/thumbd/thumbd/config"
	"github.com/thumbd/thumbd/links"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/variant"
	"github.com/thumbd/thumbd/video"
)

// exportCmd renders the chosen sizes of the chosen photos into a folder of
// static files and writes a manifest in the links schema whose URLs point
// at them, for sites that must not depend on a running thumbd. Files are
// named by content (photo hash, size, settings fingerprint), so a rename
// in the library keeps them, a second run renders nothing, and a changed
// setting re-renders only what it changes. No server, no key; nothing is
// written inside the originals.
func exportCmd(ctx context.Context, env Env, args []string) error {
	fs := pflag.NewFlagSet("export", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	out := fs.String("out", "", "folder the images go to (created if missing; never inside the originals)")
	sizes := fs.StringArray("size", nil, "size (repeatable), as for links, optionally with .jpg/.png/.webp/.avif (default JPEG); default tile_224, fit_720, fit_1280, fit_1920")
	format := fs.String("format", "json", "manifest: json or csv")
	base := fs.String("base-url", "", "prefix of the manifest's URLs: where --out is served, e.g. /photos/")
	manifestFile := fs.String("manifest", "", "write the manifest to this file (atomically) instead of stdout")
	prune := fs.Bool("prune", false, "remove files in --out that this export no longer selects")
	workers := fs.Int("workers", 0, "photos rendered at once (default: the workers key; 0 there = 2 x CPUs)")
	cfg, _, err := loadConfigNoKeys(env, fs, args)
	if err != nil {
		return err
	}
	if *out == "" {
		return errors.New("export: give --out DIR")
	}
	if *format != "json" && *format != "csv" {
		return fmt.Errorf("export: --format %q: want json or csv", *format)
	}
	if len(*sizes) == 0 {
		*sizes = []string{"tile_224", "fit_720", "fit_1280", "fit_1920"}
	}
	items, err := exportItems(*sizes, cfg.MaxSize, cfg.CustomMax)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	for _, p := range []string{*out, *manifestFile} {
		if p != "" && config.Within(p, cfg.Originals) {
			return fmt.Errorf("export: %s is inside the originals folder %s, which thumbd never writes", p, cfg.Originals)
		}
	}
	n := *workers
	if n <= 0 {
		n = cfg.JobWorkers()
	}
	urlBase := *base
	if urlBase != "" && !strings.HasSuffix(urlBase, "/") {
		urlBase += "/"
	}

	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(cfg, log, app.Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := a.Scan(ctx); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	filters := make([]string, 0, fs.NArg())
	for _, arg := range fs.Args() {
		rel, err := a.Index.Resolve(arg)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		filters = append(filters, rel)
	}
	var photos []storage.Original
	for _, o := range a.Index.All() {
		// Videos are streamed, not rendered: they have no static file here.
		if selected(o.Path, filters) && storage.IsImageName(o.Path) {
			photos = append(photos, o)
		}
	}
	if len(photos) == 0 && len(filters) > 0 {
		fmt.Fprintf(env.Stderr, "export: nothing in %s matches %s\n", a.Index.Dir(), strings.Join(fs.Args(), " "))
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}

	x := &exporter{a: a, out: *out, items: items, timeout: cfg.RequestTimeout, log: env.Stderr}
	tty := isTerminal(env.Stderr)
	start := time.Now()
	res := x.run(ctx, photos, n, exportProgress(env.Stderr, tty, "export: photos", start))
	if err := ctx.Err(); err != nil {
		return err
	}
	if tty && len(photos) > 0 {
		fmt.Fprintln(env.Stderr)
	}
	pruned := 0
	if *prune {
		if pruned, err = x.prune(res.wanted); err != nil {
			return fmt.Errorf("export: prune: %w", err)
		}
	}
	el := time.Since(start)
	rate := "nothing to render"
	if res.rendered > 0 {
		rate = fmt.Sprintf("%.1f photos/s", float64(len(photos))/el.Seconds())
	}
	fmt.Fprintf(env.Stderr, "export: %d photos, %d files: %d rendered, %d unchanged, %d pruned, %d failed, in %.2fs (%s, %d workers) -> %s\n",
		len(photos), res.rendered+res.unchanged, res.rendered, res.unchanged, pruned, res.failed, el.Seconds(), rate, n, *out)

	entries := make([]links.Entry, 0, len(res.entries))
	for _, e := range res.entries {
		if e == nil {
			continue
		}
		for i := range e.Links {
			e.Links[i].URL = urlBase + e.Links[i].URL
		}
		entries = append(entries, *e)
	}
	write := func(w io.Writer) error {
		if *format == "csv" {
			return links.WriteCSV(w, *sizes, entries)
		}
		return links.WriteJSON(w, entries)
	}
	if *manifestFile != "" {
		err = writeAtomic(*manifestFile, func(f *os.File) error { return write(f) })
	} else {
		err = write(env.Stdout)
	}
	if err != nil {
		return fmt.Errorf("export: manifest: %w", err)
	}
	if res.failed > 0 {
		return fmt.Errorf("export: %d photos failed (listed above); the manifest leaves them out", res.failed)
	}
	return nil
}

// exportItem is one size to render: as given, as parsed, and as rendered
// (after max_size).
type exportItem struct {
	given     string
	size, eff variant.Size
	format    variant.Format
}

func exportItems(sizes []string, limit variant.Limit, customMax int) ([]exportItem, error) {
	items := make([]exportItem, 0, len(sizes))
	seen := map[string]bool{}
	for _, sz := range sizes {
		if video.IsFormat(sz) {
			return nil, fmt.Errorf("--size %q: videos are not exported", sz)
		}
		s, f, _, err := thumburl.ParseSizeSegment(sz)
		if err != nil {
			return nil, fmt.Errorf("--size %q: unknown size (a name such as tile_500 or fit_1920, or fit_<W>x<H>, tile_<N>, screen_<W>x<H>, optionally _q<1-100>)", sz)
		}
		if s.Custom && max(s.Width, s.Height) > customMax {
			return nil, fmt.Errorf("--size %q: larger than custom_max (%d)", sz, customMax)
		}
		if seen[sz] {
			continue
		}
		seen[sz] = true
		items = append(items, exportItem{given: sz, size: s, eff: limit.Clamp(s), format: f})
	}
	return items, nil
}

type exporter struct {
	a       *app.App
	out     string
	items   []exportItem
	timeout time.Duration
	log     io.Writer
	logMu   sync.Mutex
}

type exportResult struct {
	entries                     []*links.Entry // by photo, nil if it failed
	wanted                      map[string]bool
	rendered, unchanged, failed int
}

// name is where a variant of hash lives in the folder, relative to it:
// <h0h1>/<hash>_<size>_<settings>.<ext>. The hash names the content, the
// size its request (quality included), the settings fingerprint what
// else decides its bytes.
func (x *exporter) name(hash string, it exportItem, f variant.Format) string {
	return hash[:2] + "/" + hash + "_" + it.size.Name + "_" + x.a.OutputFingerprint(it.eff, f) + "." + f.Ext()
}

// existing finds the file of a variant if a previous run made it. An
// original's format is known only once it is made (JPEG stays JPEG,
// anything else becomes PNG), so both names are looked for.
func (x *exporter) existing(hash string, it exportItem) (string, bool) {
	formats := []variant.Format{it.format}
	if it.size.Mode == variant.Original {
		formats = []variant.Format{variant.JPEG, variant.PNG}
	}
	for _, f := range formats {
		rel := x.name(hash, it, f)
		if fi, err := os.Stat(filepath.Join(x.out, filepath.FromSlash(rel))); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
			return rel, true
		}
	}
	return "", false
}

func (x *exporter) warn(format string, args ...any) {
	x.logMu.Lock()
	defer x.logMu.Unlock()
	fmt.Fprintf(x.log, "export: "+format+"\n", args...)
}

// run exports every photo with n workers; a photo is read once for all
// its missing sizes.
func (x *exporter) run(ctx context.Context, photos []storage.Original, n int, progress func(done, total int)) exportResult {
	res := exportResult{entries: make([]*links.Entry, len(photos)), wanted: map[string]bool{}}
	var mu sync.Mutex
	var rendered, unchanged, failed, done atomic.Int64
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				e, files, r, u, err := x.photo(ctx, photos[i])
				rendered.Add(int64(r))
				unchanged.Add(int64(u))
				if err != nil {
					failed.Add(1)
					x.warn("%s: %v", photos[i].Path, err)
				} else {
					res.entries[i] = e
				}
				mu.Lock()
				for _, f := range files {
					res.wanted[f] = true
				}
				mu.Unlock()
				progress(int(done.Add(1)), len(photos))
			}
		}()
	}
	for i := range photos {
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	res.rendered, res.unchanged, res.failed = int(rendered.Load()), int(unchanged.Load()), int(failed.Load())
	return res
}

// photo makes o's missing files and returns its manifest entry (URLs
// relative to the folder), every file it wants kept (made or found), and
// how many files were rendered and found.
func (x *exporter) photo(ctx context.Context, o storage.Original) (*links.Entry, []string, int, int, error) {
	e := &links.Entry{Photo: photoOf(o)}
	var files []string
	var src []byte
	rendered, unchanged := 0, 0
	for _, it := range x.items {
		w, h := variant.OutputSize(it.eff, o.Width, o.Height)
		rel, ok := x.existing(o.Hash, it)
		if ok {
			unchanged++
		} else {
			if src == nil {
				var err error
				if src, err = x.a.Index.Read(ctx, o); err != nil {
					return nil, files, rendered, unchanged, err
				}
			}
			jctx, cancel := context.WithTimeout(ctx, x.timeout)
			img, err := x.a.Transformer.Transform(jctx, src, it.eff, it.format)
			cancel()
			if err != nil {
				return nil, files, rendered, unchanged, fmt.Errorf("%s: %w", it.given, err)
			}
			rel = x.name(o.Hash, it, img.Format)
			if err := writeAtomic(filepath.Join(x.out, filepath.FromSlash(rel)), func(f *os.File) error {
				_, err := f.Write(img.Bytes)
				return err
			}); err != nil {
				return nil, files, rendered, unchanged, err
			}
			rendered++
			if w == 0 {
				w, h = img.Width, img.Height
			}
		}
		files = append(files, rel)
		e.Links = append(e.Links, links.Link{Size: it.given, URL: rel, Width: w, Height: h})
	}
	return e, files, rendered, unchanged, nil
}

// exportName matches the files an export makes (and its temp files), so
// --prune never touches anything else someone keeps in the folder.
var exportName = regexp.MustCompile(`^(?:[0-9a-f]{40}_[a-z0-9_]+_[0-9a-f]{8}\.(?:jpg|png|webp|avif)|\.tmp-export-.*)$`)

// prune removes the export's files that are not wanted, and the shard
// folders it leaves empty.
func (x *exporter) prune(wanted map[string]bool) (int, error) {
	n := 0
	var dirs []string
	err := filepath.WalkDir(x.out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(x.out, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." {
				dirs = append(dirs, p)
			}
			return nil
		}
		if !d.Type().IsRegular() || !exportName.MatchString(d.Name()) || wanted[rel] {
			return nil
		}
		if err := os.Remove(p); err != nil {
			return err
		}
		if !strings.HasPrefix(d.Name(), ".tmp-") {
			n++
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if len(path.Base(filepath.ToSlash(dirs[i]))) == 2 {
			_ = os.Remove(dirs[i]) // only if empty
		}
	}
	return n, err
}

// writeAtomic writes a file through a temp file in the same folder and a
// rename, so a reader (a web server, the next export) sees the old file or
// the whole new one, never a part.
func writeAtomic(p string, fill func(*os.File) error) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-export-*")
	if err != nil {
		return err
	}
	err = fill(f)
	if err == nil {
		err = f.Chmod(0o644) // served by a web server as static files
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// exportProgress draws the bar on a terminal; elsewhere it prints a line
// at most every two seconds, and the last one.
func exportProgress(w io.Writer, tty bool, label string, start time.Time) func(done, total int) {
	var mu sync.Mutex
	var last time.Time
	return func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		el := time.Since(start)
		if tty {
			bar(w, done, total, el)
			return
		}
		if done < total && time.Since(last) < 2*time.Second {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "%s %d/%d (%d%%) %s\n", label, done, total, done*100/max(total, 1), el.Round(time.Second))
	}
}
