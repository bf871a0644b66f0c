package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/thumbd/thumbd/app"
	"github.com/thumbd/thumbd/links"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/xmp"
)

// pageFlags are sign's share-page and album flags.
type pageFlags struct {
	title, caption *string
	fromMetadata   *bool
	albums         *[]string
	recursive      *bool
}

func addPageFlags(fs *pflag.FlagSet) pageFlags {
	return pageFlags{
		title:        fs.String("title", "", "title the share page shows (with --size page; carried in the link and signed)"),
		caption:      fs.String("caption", "", "caption the share page shows (with --size page)"),
		fromMetadata: fs.Bool("title-from-metadata", false, "take title and caption from the photo's XMP dc:title/dc:description (with --size page; --title/--caption win)"),
		albums:       fs.StringArray("album", nil, "sign the album of FOLDER (inside the originals; repeatable): a gallery at /a/<id>/<token>"),
		recursive:    fs.Bool("recursive", false, "with --album: subfolders' photos too"),
	}
}

// check refuses flags that would be silently ignored.
func (pf pageFlags) check(page bool, nPhotos int) error {
	if !page && (*pf.title != "" || *pf.caption != "" || *pf.fromMetadata) {
		return errors.New("--title, --caption and --title-from-metadata go with --size page")
	}
	if *pf.recursive && len(*pf.albums) == 0 {
		return errors.New("--recursive goes with --album FOLDER")
	}
	if page && nPhotos == 0 {
		return errors.New("--size page needs a PATH or HASH")
	}
	return nil
}

// text is what p's page carries: --title/--caption, else (when asked) the
// photo's own XMP title and description, trimmed to what a link holds.
func (pf pageFlags) text(ctx context.Context, a *app.App, p links.Photo) (thumburl.Text, error) {
	t := thumburl.Text{Title: *pf.title, Caption: *pf.caption}.Clean()
	if *pf.fromMetadata && (t.Title == "" || t.Caption == "") {
		meta, err := metadataText(ctx, a, p)
		if err != nil {
			return thumburl.Text{}, err
		}
		meta = meta.Clean()
		if t.Title == "" {
			t.Title = truncate(meta.Title, thumburl.MaxTitle)
		}
		if t.Caption == "" {
			t.Caption = truncate(meta.Caption, thumburl.MaxCaption)
		}
		t = t.Clean()
	}
	if _, err := t.Segment(); err != nil {
		return thumburl.Text{}, err
	}
	return t, nil
}

// metadataText reads dc:title and dc:description from the photo's file
// (found in the index for a HASH). Nothing else of its metadata is used.
func metadataText(ctx context.Context, a *app.App, p links.Photo) (thumburl.Text, error) {
	var o storage.Original
	var err error
	if p.Path != "" {
		o, err = a.Index.File(ctx, p.Path)
	} else {
		if _, err = a.Scan(ctx); err == nil {
			o, err = a.Index.Lookup(ctx, p.Hash)
		}
	}
	if err != nil {
		return thumburl.Text{}, fmt.Errorf("--title-from-metadata: %w", err)
	}
	b, err := a.Index.Read(ctx, o)
	if err != nil {
		return thumburl.Text{}, fmt.Errorf("--title-from-metadata: %w", err)
	}
	x, err := xmp.Read(b)
	if errors.Is(err, xmp.ErrNone) {
		return thumburl.Text{}, nil
	}
	if err != nil {
		return thumburl.Text{}, fmt.Errorf("--title-from-metadata: %w", err)
	}
	return thumburl.Text{Title: x.Title, Caption: x.Description}, nil
}

// truncate cuts s to at most n bytes on a character boundary, with an
// ellipsis when it cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimSpace(s[:cut]) + "…"
}

// albumFolder turns a FOLDER argument into the folder inside the
// originals an album id is made from ("" for the originals themselves).
// ".." anywhere is refused, as are hidden folders (never indexed) and
// anything that is not a folder.
func albumFolder(ix *storage.Index, arg string) (string, error) {
	for _, part := range strings.FieldsFunc(arg, func(r rune) bool { return r == '/' || r == filepath.Separator }) {
		if part == ".." {
			return "", fmt.Errorf("--album %s: \"..\" is not allowed; name a folder inside the originals", arg)
		}
	}
	rel, err := ix.Resolve(arg)
	if err != nil {
		return "", fmt.Errorf("--album: %w", err)
	}
	if rel == "." {
		rel = ""
	}
	for _, part := range strings.Split(rel, "/") {
		if strings.HasPrefix(part, ".") {
			return "", fmt.Errorf("--album %s: hidden folders are never indexed", arg)
		}
	}
	fi, err := os.Lstat(filepath.Join(ix.Dir(), filepath.FromSlash(rel)))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("--album %s: no such folder in %s", arg, ix.Dir())
	case err != nil:
		return "", fmt.Errorf("--album: %w", err)
	case !fi.IsDir():
		return "", fmt.Errorf("--album %s: not a folder (symlinks are not followed)", arg)
	}
	return rel, nil
}

// mintAlbums signs every --album.
func (pf pageFlags) mintAlbums(ix *storage.Index, m links.Minter) ([]links.Album, error) {
	var out []links.Album
	for _, arg := range *pf.albums {
		folder, err := albumFolder(ix, arg)
		if err != nil {
			return nil, err
		}
		al, err := m.MintAlbum(folder, *pf.recursive)
		if err != nil {
			return nil, err
		}
		out = append(out, al)
	}
	return out, nil
}
