// Package signing mints and verifies URL tokens: an HMAC-SHA256 over the
// photo hash, the size name and an optional expiry, truncated and
// base64url-encoded. The first key signs; every key verifies, so keys
// rotate without breaking links.
package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	gohash "hash"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MinKeyLen is the shortest accepted secret, in bytes.
const MinKeyLen = 32

// PublicToken is accepted for any size when public mode is on.
const PublicToken = "public"

const (
	macBytes = 18 // 144 bits -> 24 base64url characters
	macLen   = 24
	// MaxTokenLen bounds tokens: 24 MAC characters, or 22 + "." + base36 expiry.
	MaxTokenLen = 32
	expMACLen   = 22
)

// Errors callers map to statuses.
var (
	ErrBadToken = errors.New("invalid token")
	ErrExpired  = errors.New("link expired")
	ErrNoKey    = errors.New("no signing key configured")
)

var b64 = base64.RawURLEncoding

// Signer holds the keys. It is immutable; swap the whole Signer to rotate.
type Signer struct {
	keys   [][]byte
	public bool
	pools  map[string]*sync.Pool // HMAC states by key, reused across requests
}

// New returns a Signer. keys[0] signs; all verify. public also accepts
// PublicToken.
func New(keys []string, public bool) (*Signer, error) {
	s := &Signer{public: public, pools: map[string]*sync.Pool{}}
	for i, k := range keys {
		if len(k) < MinKeyLen {
			return nil, fmt.Errorf("keys[%d]: shorter than %d bytes", i, MinKeyLen)
		}
		s.keys = append(s.keys, []byte(k))
		key := []byte(k)
		s.pools[k] = &sync.Pool{New: func() any { return &macState{h: hmac.New(sha256.New, key), buf: make([]byte, 0, 128)} }}
	}
	return s, nil
}

// Public reports whether the literal token "public" is accepted.
func (s *Signer) Public() bool { return s.public }

func (s *Signer) mac(key []byte, hash, size string, exp int64) []byte {
	var sum [sha256.Size]byte
	return s.macInto(&sum, key, hash, size, exp)
}

// macInto computes the MAC into sum without allocating: the HMAC state
// and message buffer come from a pool per key (this runs on every request,
// cache hits included).
func (s *Signer) macInto(sum *[sha256.Size]byte, key []byte, hash, size string, exp int64) []byte {
	p := s.pools[string(key)]
	st := p.Get().(*macState)
	// Length-free framing is safe: hash is fixed-width hex, size has no '\n'.
	msg := append(st.buf[:0], "thumbd/1\n"...)
	msg = append(msg, hash...)
	msg = append(msg, '\n')
	msg = append(msg, size...)
	msg = append(msg, '\n')
	msg = strconv.AppendInt(msg, exp, 10)
	st.h.Reset()
	st.h.Write(msg)
	out := st.h.Sum(sum[:0])
	st.buf = msg
	p.Put(st)
	return out[:macBytes]
}

// macState is a reusable HMAC and message buffer for one key.
type macState struct {
	h   gohash.Hash
	buf []byte
}

// Sign mints a token for one size of one photo. A zero expires never expires.
func (s *Signer) Sign(hash, size string, expires time.Time) (string, error) {
	if len(s.keys) == 0 {
		return "", ErrNoKey
	}
	if expires.IsZero() {
		return b64.EncodeToString(s.mac(s.keys[0], hash, size, 0)), nil
	}
	exp := expires.Unix()
	if exp <= 0 {
		return "", fmt.Errorf("expiry %v is before 1970", expires)
	}
	mac := b64.EncodeToString(s.mac(s.keys[0], hash, size, exp))[:expMACLen]
	return mac + "." + strconv.FormatInt(exp, 36), nil
}

// Verify checks token against hash and size at time now. It returns the
// link's expiry (zero when it never expires).
func (s *Signer) Verify(hash, size, token string, now time.Time) (time.Time, error) {
	if s.public && token == PublicToken {
		return time.Time{}, nil
	}
	mac, exp, err := split(token)
	if err != nil {
		return time.Time{}, err
	}
	ok := false
	for _, k := range s.keys {
		var sum [sha256.Size]byte
		var enc [macLen]byte
		b64.Encode(enc[:], s.macInto(&sum, k, hash, size, exp))
		// Check every key even after a match so timing does not reveal
		// which key signed.
		if subtle.ConstantTimeCompare(enc[:len(mac)], []byte(mac)) == 1 {
			ok = true
		}
	}
	if !ok {
		return time.Time{}, ErrBadToken
	}
	if exp == 0 {
		return time.Time{}, nil
	}
	expires := time.Unix(exp, 0)
	if !now.Before(expires) {
		return expires, ErrExpired
	}
	return expires, nil
}

// split separates a token into its MAC and expiry (0 = none) by shape only.
func split(token string) (mac string, exp int64, err error) {
	if len(token) > MaxTokenLen {
		return "", 0, fmt.Errorf("%w: too long", ErrBadToken)
	}
	macPart, expPart, hasExp := strings.Cut(token, ".")
	want := macLen
	if hasExp {
		want = expMACLen
		if expPart == "" || len(expPart) > 8 || strings.Trim(expPart, "0123456789abcdefghijklmnopqrstuvwxyz") != "" || expPart[0] == '0' {
			return "", 0, fmt.Errorf("%w: bad expiry", ErrBadToken)
		}
		exp, err = strconv.ParseInt(expPart, 36, 64)
		if err != nil || exp <= 0 {
			return "", 0, fmt.Errorf("%w: bad expiry", ErrBadToken)
		}
	}
	if len(macPart) != want {
		return "", 0, fmt.Errorf("%w: wrong length", ErrBadToken)
	}
	for i := 0; i < len(macPart); i++ {
		c := macPart[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", 0, fmt.Errorf("%w: bad character", ErrBadToken)
		}
	}
	return macPart, exp, nil
}
