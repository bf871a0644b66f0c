package signing_test

import (
	"errors"
	"testing"
	"time"

	"github.com/thumbd/thumbd/signing"
)

func TestAlbumIDs(t *testing.T) {
	a := mustNew(t, []string{keyA}, false)
	ab := mustNew(t, []string{keyB, keyA}, false)
	id1, err := a.AlbumID("2024/trip")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := a.AlbumID("2024/trip"); again != id1 {
		t.Errorf("album id not stable: %s then %s", id1, again)
	}
	if len(id1) != 24 {
		t.Errorf("id %q: want 24 hex digits", id1)
	}
	for _, other := range []string{"2024/trip/", "2024/Trip", "2024", ""} {
		if id, _ := a.AlbumID(other); id == id1 {
			t.Errorf("folders 2024/trip and %q share id %s", other, id)
		}
	}
	// Another key, another id; after a rotation the old key's id still
	// resolves (AlbumIDs lists every key's, the signing key's first).
	idB, _ := ab.AlbumID("2024/trip")
	ids := ab.AlbumIDs("2024/trip")
	if idB == id1 || len(ids) != 2 || ids[0] != idB || ids[1] != id1 {
		t.Errorf("rotation: AlbumID %s, AlbumIDs %v; old %s", idB, ids, id1)
	}
	// The id is not any token of the folder (different domain prefix).
	if tok, _ := a.Sign(id1, "album", time.Time{}); tok[:22] == id1[:22] {
		t.Error("album id and token coincide")
	}
	none := mustNew(t, nil, true)
	if _, err := none.AlbumID("x"); !errors.Is(err, signing.ErrNoKey) {
		t.Errorf("no key: %v", err)
	}
}

// A page or album grant is never the public token, and the names keep
// grants apart: a page token opens no size and a size token no page.
func TestVerifyGrant(t *testing.T) {
	s := mustNew(t, []string{keyA}, true)
	if _, err := s.VerifyGrant(hash1, "page", signing.PublicToken, now); !errors.Is(err, signing.ErrBadToken) {
		t.Errorf("public token opened a page: %v", err)
	}
	if _, err := s.Verify(hash1, "page", signing.PublicToken, now); err != nil {
		t.Fatalf("sanity: public mode accepts the public token in Verify: %v", err)
	}
	page := mustSign(t, s, hash1, "page", time.Time{})
	if _, err := s.VerifyGrant(hash1, "page", page, now); err != nil {
		t.Errorf("page token refused: %v", err)
	}
	if _, err := s.Verify(hash1, "fit_720", page, now); !errors.Is(err, signing.ErrBadToken) {
		t.Errorf("page token opened fit_720: %v", err)
	}
	img := mustSign(t, s, hash1, "fit_720", time.Time{})
	if _, err := s.VerifyGrant(hash1, "page", img, now); !errors.Is(err, signing.ErrBadToken) {
		t.Errorf("size token opened the page: %v", err)
	}
	exp := mustSign(t, s, hash1, "page", now.Add(-time.Second))
	if _, err := s.VerifyGrant(hash1, "page", exp, now); !errors.Is(err, signing.ErrExpired) {
		t.Errorf("expired page: %v", err)
	}
}
