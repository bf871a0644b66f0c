package server

import (
	"fmt"
	"strings"

	"github.com/thumbd/thumbd/thumburl"
)

// Revocations are photos (every size) or single sizes of photos that answer
// 410 whatever the token. The set is immutable; reloads swap it whole.
type Revocations struct {
	photos map[string]bool // hash
	sizes  map[string]bool // hash/size
}

// ParseRevocations reads entries of the form <sha1> or <sha1>/<size>.
func ParseRevocations(entries []string) (*Revocations, error) {
	r := &Revocations{photos: map[string]bool{}, sizes: map[string]bool{}}
	for i, e := range entries {
		hash, size, err := thumburl.ParseRevocation(e)
		if err != nil {
			return nil, fmt.Errorf("revoked[%d]: %w", i, err)
		}
		if size == "" {
			r.photos[hash] = true
		} else {
			r.sizes[hash+"/"+size] = true
		}
	}
	return r, nil
}

// Revoked reports whether hash (or this size of it) is revoked.
func (r *Revocations) Revoked(hash, size string) bool {
	return r.photos[hash] || r.sizes[hash+"/"+size]
}

// Len is the number of entries.
func (r *Revocations) Len() int { return len(r.photos) + len(r.sizes) }

// SetRevocations swaps the revoked set and drops the revoked photos'
// variants from the memory and disk tiers, so nothing of theirs stays in
// RAM or on disk.
func (s *Server) SetRevocations(r *Revocations) {
	s.revoked.Store(r)
	m, d := s.opts.Caches.Memory, s.opts.Caches.Disk
	for h := range r.photos {
		if m != nil {
			m.Delete(h + "_")
		}
		if d != nil {
			d.Delete(h + "_")
		}
	}
	for hs := range r.sizes {
		hash, size, _ := strings.Cut(hs, "/")
		if m != nil {
			m.Delete(hash + "_" + size + ".")
		}
		if d != nil {
			d.Delete(hash + "_" + size + "_")
		}
	}
}
