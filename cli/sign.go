package cli

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/thumbd/thumbd/app"
	"github.com/thumbd/thumbd/links"
	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/variant"
	"github.com/thumbd/thumbd/video"
)

// linkFlags are shared by sign and links.
type linkFlags struct {
	sizes   *[]string
	base    *string
	expires *string
	format  *string
}

func addLinkFlags(fs *pflag.FlagSet, formats string) linkFlags {
	return linkFlags{
		sizes:   fs.StringArray("size", nil, "size (repeatable): a name ("+strings.Join(variant.SizeNames(), ", ")+"), fit_<W>x<H>, tile_<N> or screen_<W>x<H>, optionally with .jpg/.png/.webp/.avif"),
		base:    fs.String("base", "", "prefix for the URLs, e.g. https://img.example.com"),
		expires: fs.String("expires", "", "link lifetime (90s, 12h, 30d) or RFC 3339 time; default never"),
		format:  fs.String("format", "", "output: "+formats),
	}
}

// minter validates sizes and builds the Minter from the flags.
func (lf linkFlags) minter(keys []string, public bool) (links.Minter, error) {
	for _, sz := range *lf.sizes {
		if video.IsFormat(sz) || sz == thumburl.PageName {
			continue
		}
		if _, _, _, err := thumburl.ParseSizeSegment(sz); err != nil {
			return links.Minter{}, fmt.Errorf("--size %q: unknown size (a name such as tile_500 or fit_1920, or fit_<W>x<H>, tile_<N>, screen_<W>x<H>)", sz)
		}
	}
	exp, err := parseExpiry(*lf.expires, time.Now())
	if err != nil {
		return links.Minter{}, err
	}
	signer, err := signing.New(keys, public)
	if err != nil {
		return links.Minter{}, fmt.Errorf("config: %w", err)
	}
	return links.Minter{Signer: signer, Base: *lf.base, Expires: exp}, nil
}

func sign(ctx context.Context, env Env, args []string) error {
	fs := pflag.NewFlagSet("sign", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	lf := addLinkFlags(fs, "url (default), html, markdown, json")
	alt := fs.String("alt", "", "alt text for html/markdown (default: the page title, else from the file name)")
	pf := addPageFlags(fs)
	cfg, _, err := loadConfig(env, fs, args)
	if err != nil {
		return err
	}
	format := *lf.format
	if format == "" {
		format = "url"
	}
	switch format {
	case "url", "html", "markdown", "json":
	default:
		return fmt.Errorf("sign: --format %q: want url, html, markdown or json", format)
	}
	wantPage := slices.Contains(*lf.sizes, thumburl.PageName)
	sizes := slices.DeleteFunc(slices.Clone(*lf.sizes), func(s string) bool { return s == thumburl.PageName })
	if err := pf.check(wantPage, fs.NArg()); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	if len(sizes) == 0 && !wantPage && len(*pf.albums) == 0 {
		if format != "html" {
			return fmt.Errorf("sign: give at least one --size (a size name, or page), or --album FOLDER")
		}
		sizes = []string{"fit_720", "fit_1280", "fit_1920"}
	}
	if fs.NArg() == 0 && len(*pf.albums) == 0 {
		return fmt.Errorf("sign: give at least one PATH or HASH (or --album FOLDER)")
	}
	m, err := lf.minter(cfg.Keys, cfg.Public)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	// Paths are hashed (and probed for html/json sizes) as the index would:
	// the same app, the same limits, nothing outside the originals read.
	a, err := app.New(cfg, slog.New(slog.DiscardHandler), app.Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	var entries []links.Entry
	for _, arg := range fs.Args() {
		p, err := photoFor(ctx, a.Index, arg)
		if err != nil {
			return fmt.Errorf("sign: %w", err)
		}
		var ls []links.Link
		if len(sizes) > 0 {
			if ls, err = m.Mint(p, sizes); err != nil {
				return fmt.Errorf("sign: %w", err)
			}
		}
		text := thumburl.Text{}
		var page links.Link
		if wantPage {
			if text, err = pf.text(ctx, a, p); err != nil {
				return fmt.Errorf("sign: %s: %w", arg, err)
			}
			if page, err = m.MintPage(p, text); err != nil {
				return fmt.Errorf("sign: %s: %w", arg, err)
			}
		}
		a := *alt
		if a == "" {
			a = text.Title
		}
		if a == "" {
			a = links.Alt(p)
		}
		switch format {
		case "url":
			for _, l := range ls {
				fmt.Fprintln(env.Stdout, l.URL)
			}
			if wantPage {
				fmt.Fprintln(env.Stdout, page.URL)
			}
		case "html", "markdown":
			if len(ls) > 0 {
				if format == "html" {
					pic, err := m.PictureHTML(p, sizes, a)
					if err != nil {
						return fmt.Errorf("sign: %w", err)
					}
					fmt.Fprintln(env.Stdout, pic)
				} else {
					fmt.Fprintln(env.Stdout, links.Markdown(ls, a))
				}
			}
			if wantPage {
				ims, err := m.MintPageImages(p, links.PageSizes)
				if err != nil {
					return fmt.Errorf("sign: %w", err)
				}
				if format == "html" {
					fmt.Fprintln(env.Stdout, links.PageHTML(page, p, ims, a))
				} else {
					fmt.Fprintln(env.Stdout, links.PageMarkdown(page, ims, a))
				}
			}
		case "json":
			if wantPage {
				ls = append(ls, page)
			}
			entries = append(entries, links.Entry{Photo: p, Links: ls})
		}
	}
	albums, err := pf.mintAlbums(a.Index, m)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	for _, al := range albums {
		text := *alt
		if text == "" {
			text = "Album"
		}
		switch format {
		case "url":
			fmt.Fprintln(env.Stdout, al.URL)
		case "html":
			fmt.Fprintln(env.Stdout, links.AlbumHTML(al, text))
		case "markdown":
			fmt.Fprintln(env.Stdout, links.AlbumMarkdown(al, text))
		}
	}
	if format == "json" {
		if len(albums) > 0 && len(entries) == 0 {
			return links.WriteAlbumsJSON(env.Stdout, albums)
		}
		if len(albums) > 0 {
			return fmt.Errorf("sign: --format json prints photos or albums, not both at once")
		}
		return links.WriteJSON(env.Stdout, entries)
	}
	return nil
}

// photoFor resolves a PATH (inside the originals folder) or a HASH (signed
// as given; no file needed) to a Photo.
func photoFor(ctx context.Context, ix *storage.Index, arg string) (links.Photo, error) {
	if h := strings.ToLower(arg); thumburl.IsHash(h) {
		return links.Photo{Hash: h}, nil
	}
	rel, err := ix.Resolve(arg)
	if err != nil {
		return links.Photo{}, err
	}
	if !storage.Indexed(rel) {
		return links.Photo{}, fmt.Errorf("%s: not a file thumbd serves (image extensions only, nothing hidden)", arg)
	}
	o, err := ix.File(ctx, rel)
	if err != nil {
		return links.Photo{}, err
	}
	return photoOf(o), nil
}
