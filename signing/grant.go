package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// albumIDBytes is the length of an album id before hex: 96 bits, so ids
// of different folders do not collide and the folder cannot be guessed.
const albumIDBytes = 12

func albumID(key []byte, folder string) string {
	m := hmac.New(sha256.New, key)
	// A different prefix from tokens ("thumbd/1\n"): an album id is never
	// a token of anything.
	m.Write([]byte("thumbd/album/1\n" + folder))
	return hex.EncodeToString(m.Sum(nil)[:albumIDBytes])
}

// AlbumID names a folder of the originals ("" is the whole folder) without
// revealing it: a keyed hash under the first key. It is stable for as long
// as that key signs.
func (s *Signer) AlbumID(folder string) (string, error) {
	if len(s.keys) == 0 {
		return "", ErrNoKey
	}
	return albumID(s.keys[0], folder), nil
}

// AlbumIDs is the folder's id under every key, first key first: links
// minted before a rotation keep resolving while their key verifies.
func (s *Signer) AlbumIDs(folder string) []string {
	out := make([]string, len(s.keys))
	for i, k := range s.keys {
		out[i] = albumID(k, folder)
	}
	return out
}

// VerifyGrant is Verify for share pages and albums: the public token never
// opens them (public mode makes thumbnails guessable by hash, not pages
// or folders).
func (s *Signer) VerifyGrant(id, name, token string, now time.Time) (time.Time, error) {
	if token == PublicToken {
		return time.Time{}, ErrBadToken
	}
	return s.Verify(id, name, token, now)
}
