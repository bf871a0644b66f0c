package server_test

import (
	"net/http"
	"testing"
	"time"
)

// With negotiate on, a URL without an extension follows Accept (AVIF, then
// WebP, then JPEG) and says Vary: Accept; an extension always wins and
// needs no Vary; with negotiate off, Accept is ignored.
func TestE2ENegotiation(t *testing.T) {
	sg := newSigner(t, []string{keyA}, false)
	cops := hashOf(t, "cops.jpg")
	tok := sign(t, sg, cops, "tile_224", time.Time{})
	for _, negotiate := range []bool{true, false} {
		opts := defaultOptions()
		opts.Negotiate = negotiate
		_, base := startServer(t, sharedIx, sg, newCounting(false), opts)
		for _, tc := range []struct {
			size, accept, want string
			vary               bool
		}{
			{"tile_224", "image/avif,image/webp,image/apng,image/*,*/*;q=0.8", "image/avif", true},
			{"tile_224", "image/webp,*/*", "image/webp", true},
			{"tile_224", "image/avif;q=0,image/webp", "image/webp", true},
			// q=0 in any spelling refuses the type (RFC 9110 12.4.2).
			{"tile_224", "image/avif;q=0.0,image/webp;q=0.000", "image/jpeg", true},
			{"tile_224", "image/avif; Q=0.00 ,image/webp", "image/webp", true},
			{"tile_224", "image/avif;q=garbage,image/webp;q=0.5", "image/webp", true},
			{"tile_224", "image/webp;q=0.001", "image/webp", true},
			{"tile_224", "*/*", "image/jpeg", true},
			{"tile_224", "", "image/jpeg", true},
			{"tile_224.jpg", "image/avif,image/webp", "image/jpeg", false},
			{"tile_224.webp", "image/avif", "image/webp", false},
		} {
			req, _ := http.NewRequest("GET", thumbURL(base, cops, tok, tc.size), nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			want, vary := tc.want, tc.vary
			if !negotiate && tc.vary {
				// Without negotiation Accept is ignored (explicit extensions
				// behave the same either way).
				want, vary = "image/jpeg", false
			}
			if r.StatusCode != 200 || r.Header.Get("Content-Type") != want || (r.Header.Get("Vary") == "Accept") != vary {
				t.Errorf("negotiate=%v %s Accept %q: %d %s Vary=%q; want %s vary=%v", negotiate, tc.size, tc.accept, r.StatusCode, r.Header.Get("Content-Type"), r.Header.Get("Vary"), want, vary)
			}
		}
	}
}
