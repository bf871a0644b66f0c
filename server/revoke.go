package server

import "github.com/thumbd/thumbd/thumburl"

// SetRevocations swaps the revoked set and drops the revoked photos'
// variants from every tier, so nothing of theirs stays in RAM or on disk.
func (s *Server) SetRevocations(r *thumburl.Revocations) {
	s.revoked.Store(r)
	r.Each(func(hash, size string) {
		for _, t := range s.opts.Tiers {
			t.Delete(hash, size)
		}
	})
}
