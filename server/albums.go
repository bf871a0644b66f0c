package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/thumbd/thumbd/links"
	"github.com/thumbd/thumbd/pages"
	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/thumburl"
)

// An album is a folder of the originals, named by a keyed hash of its
// path (signing.AlbumID), so the URL does not reveal the folder. The
// server finds the folder by hashing every folder of the index, once per
// index version and key set.

// albumSet is the id -> folder map and the members of each folder asked
// for, valid for one index version and one set of keys.
type albumSet struct {
	version int64
	signer  *signing.Signer
	folders map[string]string // album id (under every key) -> folder ("" = the whole originals folder)
	all     []storage.Original

	mu      sync.Mutex
	members map[string]*albumMembers // folder + "\x00" + "r" for recursive
}

// albumMembers are an album's photos in gallery order.
type albumMembers struct {
	list   []storage.Original
	byHash map[string]int
}

// albumCache holds the current albumSet.
type albumCache struct {
	mu  sync.Mutex
	set *albumSet
}

// albumSet returns the set for the current index and keys.
func (s *Server) albumSet(sg *signing.Signer) *albumSet {
	v := s.index.Version()
	s.albums.mu.Lock()
	defer s.albums.mu.Unlock()
	if cur := s.albums.set; cur != nil && cur.version == v && cur.signer == sg {
		return cur
	}
	set := &albumSet{version: v, signer: sg, folders: map[string]string{}, members: map[string]*albumMembers{}}
	seen := map[string]bool{}
	for _, o := range s.index.All() {
		if !storage.IsImageName(o.Path) {
			continue
		}
		set.all = append(set.all, o)
		// The photo's folder and every folder above it (a recursive album
		// of a folder that holds only subfolders).
		for d := folderOf(o.Path); !seen[d]; d = folderOf(d) {
			seen[d] = true
			for _, id := range sg.AlbumIDs(d) {
				set.folders[id] = d
			}
			if d == "" {
				break
			}
		}
	}
	s.albums.set = set
	return set
}

// folderOf is the folder of a slash path inside the originals ("" at the top).
func folderOf(p string) string {
	if d := path.Dir(p); d != "." && d != "/" {
		return d
	}
	return ""
}

// membersOf lists folder's photos (and its subfolders' with recursive),
// by date taken (undated last), then path.
func (set *albumSet) membersOf(folder string, recursive bool) *albumMembers {
	key := folder + "\x00"
	if recursive {
		key += "r"
	}
	set.mu.Lock()
	defer set.mu.Unlock()
	if m, ok := set.members[key]; ok {
		return m
	}
	m := &albumMembers{byHash: map[string]int{}}
	for _, o := range set.all {
		d := folderOf(o.Path)
		in := d == folder
		if recursive && !in {
			in = folder == "" || strings.HasPrefix(d, folder+"/")
		}
		if in {
			m.list = append(m.list, o)
		}
	}
	sort.SliceStable(m.list, func(i, j int) bool {
		a, b := m.list[i], m.list[j]
		if a.Taken.IsZero() != b.Taken.IsZero() {
			return !a.Taken.IsZero()
		}
		if !a.Taken.Equal(b.Taken) {
			return a.Taken.Before(b.Taken)
		}
		return a.Path < b.Path
	})
	for i, o := range m.list {
		m.byHash[o.Hash] = i
	}
	set.members[key] = m
	return m
}

// albumAccess is a verified album grant.
type albumAccess struct {
	*albumMembers
	expires   time.Time
	recursive bool
}

// item is the photo an album URL names, by index or hash; never one
// outside the album.
func (a *albumAccess) item(req thumburl.AlbumRequest) (storage.Original, error) {
	i := req.Index
	if req.Hash != "" {
		var ok bool
		if i, ok = a.byHash[req.Hash]; !ok {
			return storage.Original{}, storage.ErrNotFound
		}
	}
	if i < 0 || i >= len(a.list) {
		return storage.Original{}, storage.ErrNotFound
	}
	return a.list[i], nil
}

// albumGrant checks an album token (it covers the id, whether subfolders
// are in, and the expiry), revocation, and finds the folder.
func (s *Server) albumGrant(c echo.Context, req thumburl.AlbumRequest) (*albumAccess, error) {
	sg := s.signer.Load()
	now := s.now()
	recursive := false
	expires, err := sg.VerifyGrant(req.ID, thumburl.AlbumName, req.Token, now)
	if errors.Is(err, signing.ErrBadToken) {
		expires, err = sg.VerifyGrant(req.ID, thumburl.AlbumNameRecurse, req.Token, now)
		recursive = true
	}
	if err != nil {
		return nil, err
	}
	if s.revoked.Load().AlbumRevoked(req.ID) {
		return nil, errRevoked
	}
	if err := c.Request().Context().Err(); err != nil {
		return nil, err
	}
	set := s.albumSet(sg)
	folder, ok := set.folders[req.ID]
	if !ok {
		return nil, storage.ErrNotFound
	}
	return &albumAccess{albumMembers: set.membersOf(folder, recursive), expires: expires, recursive: recursive}, nil
}

func albumTitle(n int) string {
	if n == 1 {
		return "Album · 1 photo"
	}
	return "Album · " + strconv.Itoa(n) + " photos"
}

// album serves /a/<id>/<token>[/...]: the gallery, its pages, the JSON
// listing, a photo's share page and a photo at a named size.
func (s *Server) album(c echo.Context) error {
	req, err := thumburl.ParseAlbum(c.Param("id"), c.Param("token"), c.Param("item"), c.Param("size"))
	if err != nil {
		return err
	}
	s.pageHeaders(c, req.Kind == thumburl.AlbumGallery || req.Kind == thumburl.AlbumItem)
	al, err := s.albumGrant(c, req)
	if err != nil {
		return err
	}
	s.setCache(c, al.expires, albumMaxAge)
	base := s.base(c)
	img := func(o storage.Original) func(size string) (string, error) {
		return func(size string) (string, error) {
			return thumburl.AlbumItemPath(req.ID, req.Token, o.Hash, size), nil
		}
	}
	switch req.Kind {
	case thumburl.AlbumImage:
		o, err := al.item(req)
		if err != nil {
			return err
		}
		if s.revoked.Load().Revoked(o.Hash, req.Size.Name) {
			return errRevoked
		}
		return s.serveVariant(c, o, req.Size, req.Format, req.Explicit)
	case thumburl.AlbumItem:
		o, err := al.item(req)
		if err != nil {
			return err
		}
		if s.revoked.Load().Revoked(o.Hash, thumburl.PageName) {
			return errRevoked // the photo, or its pages, revoked
		}
		item := req.Hash
		if item == "" {
			item = strconv.Itoa(req.Index)
		}
		self := base + thumburl.AlbumItemPath(req.ID, req.Token, item, "")
		v, err := s.shareView(base, self, o, thumburl.Text{}, photoName(o), img(o))
		if err != nil {
			return err
		}
		v.Heading = v.Title
		v.Back = thumburl.AlbumGalleryPath(req.ID, req.Token, al.byHash[o.Hash]/PerAlbumPage+1)
		body, err := pages.RenderShare(v)
		if err != nil {
			return err
		}
		return s.writeBody(c, "text/html; charset=utf-8", body)
	case thumburl.AlbumListing:
		body, err := s.albumListing(base, req, al)
		if err != nil {
			return err
		}
		return s.writeBody(c, "application/json", body)
	}
	n := len(al.list)
	nPages := max(1, (n+PerAlbumPage-1)/PerAlbumPage)
	if req.Page > nPages {
		return storage.ErrNotFound
	}
	self := base + thumburl.AlbumGalleryPath(req.ID, req.Token, req.Page)
	g := pages.Gallery{
		Meta: pages.Meta{
			Title: albumTitle(n), URL: self,
			OEmbed:    base + "/oembed?url=" + url.QueryEscape(self) + "&format=json",
			ImageType: "image/jpeg", ImageAlt: "Album cover", Noindex: s.opts.PagesNoindex,
		},
		Heading: "Album", Count: n, Page: req.Page, Pages: nPages,
		JSON: thumburl.AlbumItemPath(req.ID, req.Token, thumburl.AlbumJSON, ""),
	}
	if n > 0 {
		cover := al.list[0]
		if sizes := s.fitSizes(cover, pageSrcset); len(sizes) > 0 {
			m := mainSize(sizes)
			g.Image = pages.Image{URL: base + thumburl.AlbumItemPath(req.ID, req.Token, cover.Hash, m.name+".jpg"), Width: m.w, Height: m.h}
		}
	} else {
		g.OEmbed = "" // nothing to embed
	}
	if req.Page > 1 {
		g.Prev = thumburl.AlbumGalleryPath(req.ID, req.Token, req.Page-1)
	}
	if req.Page < nPages {
		g.Next = thumburl.AlbumGalleryPath(req.ID, req.Token, req.Page+1)
	}
	start := (req.Page - 1) * PerAlbumPage
	for _, o := range al.list[start:min(n, start+PerAlbumPage)] {
		it := pages.Item{Page: thumburl.AlbumItemPath(req.ID, req.Token, o.Hash, ""), Name: photoName(o)}
		for _, name := range galleryThumb {
			p := thumburl.AlbumItemPath(req.ID, req.Token, o.Hash, name)
			sz := 224
			if name == "tile_500" {
				sz = 500
			}
			if it.Thumb.URL == "" {
				it.Thumb = pages.Image{URL: p, Width: sz, Height: sz}
			}
			it.Srcset = append(it.Srcset, pages.Image{URL: p, Width: sz, Height: sz})
		}
		g.Items = append(g.Items, it)
	}
	body, err := pages.RenderGallery(g)
	if err != nil {
		return err
	}
	return s.writeBody(c, "text/html; charset=utf-8", body)
}

// listing is album.json: everything a tool needs to show the album.
type listing struct {
	Album     string         `json:"album"`
	Recursive bool           `json:"recursive"`
	Count     int            `json:"count"`
	Expires   time.Time      `json:"expires,omitzero"`
	Gallery   string         `json:"gallery"`
	Photos    []listingPhoto `json:"photos"`
	Sizes     []string       `json:"sizes"`
}

type listingPhoto struct {
	Index  int               `json:"index"`
	Hash   string            `json:"hash"`
	Name   string            `json:"name"` // file name, no folder
	Width  int               `json:"width,omitempty"`
	Height int               `json:"height,omitempty"`
	Taken  string            `json:"taken,omitempty"`
	Page   string            `json:"page"`
	Images map[string]string `json:"images"`
}

func (s *Server) albumListing(base string, req thumburl.AlbumRequest, al *albumAccess) ([]byte, error) {
	l := listing{
		Album: req.ID, Recursive: al.recursive, Count: len(al.list), Expires: al.expires,
		Gallery: base + thumburl.AlbumPath(req.ID, req.Token), Photos: []listingPhoto{}, Sizes: listingSizes,
	}
	for i, o := range al.list {
		p := listingPhoto{
			Index: i, Hash: o.Hash, Name: path.Base(o.Path), Width: o.Width, Height: o.Height,
			Taken:  links.TakenString(o.Taken),
			Page:   base + thumburl.AlbumItemPath(req.ID, req.Token, o.Hash, ""),
			Images: map[string]string{},
		}
		for _, sz := range listingSizes {
			p.Images[sz] = base + thumburl.AlbumItemPath(req.ID, req.Token, o.Hash, sz)
		}
		l.Photos = append(l.Photos, p)
	}
	return jsonBody(l)
}

// jsonBody encodes v with HTML-significant characters escaped, so a
// hostile file name is inert even if the JSON is shown as HTML.
func jsonBody(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
