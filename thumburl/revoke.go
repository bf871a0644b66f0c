package thumburl

import (
	"fmt"
	"strings"

	"github.com/thumbd/thumbd/variant"
)

// ParseRevocation reads a revocation entry: <sha1> (every size) or
// <sha1>/<size> (one size; an extension is ignored; "page" is the photo's
// share pages). size is "" for a whole photo. Album entries are read by
// ParseRevocations.
func ParseRevocation(entry string) (hash, size string, err error) {
	hash, size, hasSize := strings.Cut(strings.TrimSpace(entry), "/")
	hash = strings.ToLower(hash)
	if !IsHash(hash) {
		return "", "", fmt.Errorf("%q is not a 40-hex SHA1 (want <sha1>, <sha1>/<size>, <sha1>/page or album:<id>)", entry)
	}
	if !hasSize {
		return hash, "", nil
	}
	size, _, _ = strings.Cut(size, ".")
	if size == PageName {
		return hash, size, nil
	}
	if _, err := variant.ParseSize(size); err != nil {
		return "", "", fmt.Errorf("%q: unknown size %q", entry, size)
	}
	return hash, size, nil
}

// Revocations are photos (every size) or single sizes of photos that answer
// 410 whatever the token. The set is immutable; reloads swap it whole.
type Revocations struct {
	photos map[string]bool  // hash
	sizes  map[sizeKey]bool // one size of a photo
	albums map[string]bool  // album id
}

type sizeKey struct{ hash, size string }

// ParseRevocations reads entries of the form <sha1> or <sha1>/<size>; an
// error names the entry by its position (1-based).
func ParseRevocations(entries []string) (*Revocations, error) {
	r := &Revocations{photos: map[string]bool{}, sizes: map[sizeKey]bool{}, albums: map[string]bool{}}
	for i, e := range entries {
		if id, ok := strings.CutPrefix(strings.TrimSpace(e), "album:"); ok {
			if id = strings.ToLower(id); !IsAlbumID(id) {
				return nil, fmt.Errorf("entry #%d: %q: an album id is %d hex digits (as in /a/<id>/...)", i+1, e, AlbumIDLen)
			}
			r.albums[id] = true
			continue
		}
		hash, size, err := ParseRevocation(e)
		if err != nil {
			return nil, fmt.Errorf("entry #%d: %w", i+1, err)
		}
		if size == "" {
			r.photos[hash] = true
		} else {
			r.sizes[sizeKey{hash, size}] = true
		}
	}
	return r, nil
}

// Revoked reports whether hash (or this size of it) is revoked. A nil set
// revokes nothing.
func (r *Revocations) Revoked(hash, size string) bool {
	if r == nil {
		return false
	}
	return r.photos[hash] || r.sizes[sizeKey{hash, size}]
}

// AlbumRevoked reports whether the album with this id is revoked.
func (r *Revocations) AlbumRevoked(id string) bool {
	return r != nil && r.albums[id]
}

// Len is the number of entries.
func (r *Revocations) Len() int {
	if r == nil {
		return 0
	}
	return len(r.photos) + len(r.sizes) + len(r.albums)
}

// Each calls fn for every photo or size entry (size is "" for a whole
// photo): what cached variants a revocation drops. Page and album entries
// are not passed: they revoke grants, and the variants stay for the
// photo's other links.
func (r *Revocations) Each(fn func(hash, size string)) {
	if r == nil {
		return
	}
	for h := range r.photos {
		fn(h, "")
	}
	for k := range r.sizes {
		if k.size == PageName {
			continue
		}
		fn(k.hash, k.size)
	}
}
