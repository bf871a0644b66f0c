package cli

import (
	"context"
	"fmt"
	"log/slog"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/thumbd/thumbd/links"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/transform"
)

// linksCmd writes a manifest of many photos: path, hash, size, date taken
// and signed URLs per size, as JSON (a Hugo/Jekyll data file) or CSV.
func linksCmd(ctx context.Context, env Env, args []string) error {
	fs := pflag.NewFlagSet("links", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	lf := addLinkFlags(fs, "json (default) or csv")
	cfg, _, err := loadConfig(env, fs, args)
	if err != nil {
		return err
	}
	format := *lf.format
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" {
		return fmt.Errorf("links: --format %q: want json or csv", format)
	}
	if len(*lf.sizes) == 0 {
		*lf.sizes = []string{"tile_224", "fit_720", "fit_1280", "fit_1920"}
	}
	m, err := lf.minter(cfg.Keys, cfg.Public)
	if err != nil {
		return fmt.Errorf("links: %w", err)
	}
	quiet := slog.New(slog.DiscardHandler)
	transform.Startup(1, quiet)
	// The same limit as serve: links to files it would refuse are not minted.
	ix, err := storage.Open(cfg.Originals, int64(cfg.MaxFileMB)<<20, quiet)
	if err != nil {
		return fmt.Errorf("config: originals: %w", err)
	}
	defer ix.Close()
	if _, err := ix.Scan(ctx, cfg.IndexWorkers); err != nil {
		return fmt.Errorf("links: %w", err)
	}
	// Selections may be absolute paths inside the originals, as sign takes.
	filters, err := relativeFilters(ix.Dir(), fs.Args())
	if err != nil {
		return fmt.Errorf("links: %w", err)
	}
	var entries []links.Entry
	for _, o := range ix.All() {
		if !selected(o.Path, filters) {
			continue
		}
		p := links.Photo{Path: o.Path, Hash: o.Hash}
		if b, err := ix.ReadOriginal(o); err == nil {
			if info, err := transform.Probe(b, transform.DefaultMaxFrames); err == nil {
				p.Width, p.Height, p.Taken = info.Width, info.Height, links.TakenString(info.Taken)
			}
		}
		ls, err := m.Mint(p, *lf.sizes)
		if err != nil {
			return fmt.Errorf("links: %w", err)
		}
		entries = append(entries, links.Entry{Photo: p, Links: ls})
	}
	if len(entries) == 0 && len(filters) > 0 {
		fmt.Fprintf(env.Stderr, "links: nothing in %s matches %s\n", ix.Dir(), strings.Join(fs.Args(), " "))
	}
	if format == "csv" {
		return links.WriteCSV(env.Stdout, *lf.sizes, entries)
	}
	return links.WriteJSON(env.Stdout, entries)
}

// relativeFilters turns absolute selections inside dir into relative
// ones (symlinks resolved on both sides); one outside dir is an error.
func relativeFilters(dir string, args []string) ([]string, error) {
	out := make([]string, 0, len(args))
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		root = dir
	}
	for _, a := range args {
		if !filepath.IsAbs(a) {
			out = append(out, a)
			continue
		}
		p := a
		if r, err := filepath.EvalSymlinks(a); err == nil {
			p = r
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil, fmt.Errorf("%s is not inside the originals folder %s", a, dir)
		}
		out = append(out, filepath.ToSlash(rel))
	}
	return out, nil
}

// selected: no filters selects all; a filter is a folder (prefix) or a
// glob over the relative path.
func selected(p string, filters []string) bool {
	if len(filters) == 0 {
		return true
	}
	for _, f := range filters {
		f = strings.Trim(path.Clean("/"+f), "/")
		if f == "" || p == f || strings.HasPrefix(p, f+"/") {
			return true
		}
		if ok, _ := path.Match(f, p); ok {
			return true
		}
	}
	return false
}
