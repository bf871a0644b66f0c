package cli

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"path"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/thumbd/thumbd/app"
	"github.com/thumbd/thumbd/links"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/thumburl"
)

// linksCmd writes a manifest of many photos: path, hash, size, date taken,
// placeholder and signed URLs per size, as JSON (a Hugo/Jekyll data file),
// CSV, or HTML (a <picture> per photo).
func linksCmd(ctx context.Context, env Env, args []string) error {
	fs := pflag.NewFlagSet("links", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	lf := addLinkFlags(fs, "json (default), csv or html")
	cfg, _, err := loadConfig(env, fs, args)
	if err != nil {
		return err
	}
	format := *lf.format
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" && format != "html" {
		return fmt.Errorf("links: --format %q: want json, csv or html", format)
	}
	if len(*lf.sizes) == 0 {
		*lf.sizes = []string{"tile_224", "fit_720", "fit_1280", "fit_1920"}
	}
	m, err := lf.minter(cfg.Keys, cfg.Public)
	if err != nil {
		return fmt.Errorf("links: %w", err)
	}
	// Built as serve builds it: the same file-size limit (links to files it
	// would refuse are not minted), the index file when configured, and
	// dimensions and dates from the index's probe.
	a, err := app.New(cfg, slog.New(slog.DiscardHandler), app.Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := a.Scan(ctx); err != nil {
		return fmt.Errorf("links: %w", err)
	}
	// Selections may be absolute paths inside the originals, as sign takes.
	filters := make([]string, 0, fs.NArg())
	for _, arg := range fs.Args() {
		rel, err := a.Index.Resolve(arg)
		if err != nil {
			return fmt.Errorf("links: %w", err)
		}
		filters = append(filters, rel)
	}
	var entries []links.Entry
	for _, o := range a.Index.All() {
		if !selected(o.Path, filters) {
			continue
		}
		p := photoOf(o)
		if format == "html" {
			// "page" is not an image size: the picture links to the share page.
			sizes := slices.DeleteFunc(slices.Clone(*lf.sizes), func(s string) bool { return s == thumburl.PageName })
			pic, err := pictureWithPage(m, p, sizes, len(sizes) < len(*lf.sizes))
			if err != nil {
				return fmt.Errorf("links: %w", err)
			}
			fmt.Fprintln(env.Stdout, pic)
			entries = append(entries, links.Entry{Photo: p})
			continue
		}
		ls, err := m.Mint(p, *lf.sizes)
		if err != nil {
			return fmt.Errorf("links: %w", err)
		}
		entries = append(entries, links.Entry{Photo: p, Links: ls})
	}
	if len(entries) == 0 && len(filters) > 0 {
		fmt.Fprintf(env.Stderr, "links: nothing in %s matches %s\n", a.Index.Dir(), strings.Join(fs.Args(), " "))
	}
	switch format {
	case "csv":
		return links.WriteCSV(env.Stdout, *lf.sizes, entries)
	case "html":
		return nil
	}
	return links.WriteJSON(env.Stdout, entries)
}

// pictureWithPage is the <picture> of sizes, wrapped in a link to the
// photo's share page when page is set (only the page: its own snippet).
func pictureWithPage(m links.Minter, p links.Photo, sizes []string, page bool) (string, error) {
	var pl links.Link
	if page {
		var err error
		if pl, err = m.MintPage(p, thumburl.Text{}); err != nil {
			return "", err
		}
		if len(sizes) == 0 {
			ims, err := m.MintPageImages(p, links.PageSizes)
			if err != nil {
				return "", err
			}
			return links.PageHTML(pl, p, ims, links.Alt(p)), nil
		}
	}
	pic, err := m.PictureHTML(p, sizes, links.Alt(p))
	if err != nil || !page {
		return pic, err
	}
	return `<a href="` + html.EscapeString(pl.URL) + `">` + pic + `</a>`, nil
}

// photoOf is an indexed original as the link tools show it.
func photoOf(o storage.Original) links.Photo {
	return links.Photo{Path: o.Path, Hash: o.Hash, Width: o.Width, Height: o.Height, Taken: links.TakenString(o.Taken), Placeholder: o.Placeholder}
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
