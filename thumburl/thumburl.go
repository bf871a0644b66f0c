// Package thumburl is the URL grammar: /t/<sha1>/<token>/<size>[.ext].
// It parses untrusted path segments and builds paths for the sign command;
// it knows nothing about keys or files.
package thumburl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/thumbd/thumbd/variant"
)

// ErrMalformed marks a path that cannot name a variant (400).
var ErrMalformed = errors.New("malformed request")

// Request is a parsed thumbnail URL.
type Request struct {
	Hash  string       // 40 lowercase hex digits
	Token string       // unverified
	Size  variant.Size // the size the token covers (before clamping)
	// Format is the output encoding; Explicit says the URL named it.
	Format   variant.Format
	Explicit bool
}

// IsHash reports whether s is a lowercase 40-hex SHA1.
func IsHash(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

var extFormats = map[string]variant.Format{
	"jpg":  variant.JPEG,
	"jpeg": variant.JPEG,
	"png":  variant.PNG,
	"webp": variant.WebP,
	"avif": variant.AVIF,
}

// Parse validates the three path segments. It checks shape only; the token
// is verified by the caller.
func Parse(hash, token, size string) (Request, error) {
	if !IsHash(hash) {
		return Request{}, fmt.Errorf("%w: hash must be 40 lowercase hex digits", ErrMalformed)
	}
	if token == "" || len(token) > 64 {
		return Request{}, fmt.Errorf("%w: token", ErrMalformed)
	}
	r := Request{Hash: hash, Token: token}
	var err error
	if r.Size, r.Format, r.Explicit, err = ParseSizeSegment(size); err != nil {
		return Request{}, err
	}
	return r, nil
}

// ParseSizeSegment reads the size segment, <size>[.ext]: the size, the
// output format, and whether the extension chose it. The sign command and
// the link picker validate sizes with it too.
// IsSizeSegment reports whether seg is a size segment ParseSizeSegment
// accepts, without building an error (the access log asks for every
// segment of every request line).
func IsSizeSegment(seg string) bool {
	name := seg
	if base, ext, ok := strings.Cut(seg, "."); ok {
		if _, known := extFormats[ext]; !known {
			return false
		}
		name = base
	}
	_, ok := variant.Lookup(name)
	return ok
}

func ParseSizeSegment(seg string) (variant.Size, variant.Format, bool, error) {
	name, f, explicit := seg, variant.JPEG, false
	if base, ext, ok := strings.Cut(seg, "."); ok {
		var known bool
		if f, known = extFormats[ext]; !known {
			return variant.Size{}, 0, false, fmt.Errorf("%w: extension %.10q", variant.ErrUnknownSize, ext)
		}
		name, explicit = base, true
	}
	s, err := variant.ParseSize(name)
	if err != nil {
		return variant.Size{}, 0, false, err
	}
	if s.Mode == variant.Colors {
		// colors is 3x3 PNG whatever the extension says (PhotoPrism's rule);
		// deciding it here keeps cache keys and Content-Type truthful.
		f = variant.PNG
	}
	return s, f, explicit, nil
}

// VideoPath builds /v/<hash>/<token>/<format>.
func VideoPath(hash, token, format string) string {
	return "/v/" + hash + "/" + token + "/" + format
}

// Path builds /t/<hash>/<token>/<size>.
func Path(hash, token, size string) string {
	return "/t/" + hash + "/" + token + "/" + size
}
