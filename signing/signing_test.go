package signing_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/thumbd/thumbd/signing"
)

const (
	keyA  = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-key-A" // >= 32 bytes
	keyB  = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-key-B"
	hash1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
	hash2 = "0123456789abcdef0123456789abcdef01234567"
)

// now is a fixed clock so expiry tests do not depend on the wall clock.
var now = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func mustNew(t testing.TB, keys []string, public bool) *signing.Signer {
	t.Helper()
	s, err := signing.New(keys, public)
	if err != nil {
		t.Fatalf("New(%d keys, %v): %v", len(keys), public, err)
	}
	return s
}

func mustSign(t testing.TB, s *signing.Signer, hash, size string, exp time.Time) string {
	t.Helper()
	tok, err := s.Sign(hash, size, exp)
	if err != nil {
		t.Fatalf("Sign(%s, %s, %v): %v", hash, size, exp, err)
	}
	return tok
}

func validTokenChars(tok string) bool {
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func TestSignVerifyRoundTrip(t *testing.T) {
	s := mustNew(t, []string{keyA}, false)
	for _, tc := range []struct {
		name string
		hash string
		size string
		exp  time.Time
	}{
		{"tile no expiry", hash1, "tile_500", time.Time{}},
		{"fit no expiry", hash2, "fit_1920", time.Time{}},
		{"colors no expiry", hash1, "colors", time.Time{}},
		{"tile expiring", hash1, "tile_500", now.Add(time.Hour)},
		{"fit expiring far", hash2, "fit_7680", now.Add(10 * 365 * 24 * time.Hour)},
		{"expiring one second", hash2, "tile_50", now.Add(time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := mustSign(t, s, tc.hash, tc.size, tc.exp)
			if len(tok) > signing.MaxTokenLen {
				t.Errorf("token %q is %d chars; want <= %d", tok, len(tok), signing.MaxTokenLen)
			}
			if len(tok) > 32 {
				t.Errorf("token %q longer than 32", tok)
			}
			if !validTokenChars(tok) {
				t.Errorf("token %q has characters outside [A-Za-z0-9_.-]", tok)
			}
			if got := strings.Contains(tok, "."); got != !tc.exp.IsZero() {
				t.Errorf("token %q contains '.' = %v; want %v", tok, got, !tc.exp.IsZero())
			}
			gotExp, err := s.Verify(tc.hash, tc.size, tok, now)
			if err != nil {
				t.Fatalf("Verify(own token %q): %v", tok, err)
			}
			if tc.exp.IsZero() {
				if !gotExp.IsZero() {
					t.Errorf("Verify expiry = %v; want zero", gotExp)
				}
			} else if !gotExp.Equal(tc.exp.Truncate(time.Second)) {
				t.Errorf("Verify expiry = %v; want %v", gotExp, tc.exp)
			}
			// Deterministic: signing again gives the same token.
			if again := mustSign(t, s, tc.hash, tc.size, tc.exp); again != tok {
				t.Errorf("Sign not deterministic: %q then %q", tok, again)
			}
		})
	}
}

func TestVerifyRejectsOtherHashOrSize(t *testing.T) {
	s := mustNew(t, []string{keyA}, false)
	for _, exp := range []time.Time{{}, now.Add(time.Hour)} {
		tok := mustSign(t, s, hash1, "tile_500", exp)
		for _, tc := range []struct {
			name, hash, size string
		}{
			{"wrong size", hash1, "tile_224"},
			{"wrong size fit", hash1, "fit_1920"},
			{"size with ext", hash1, "tile_500.jpg"},
			{"wrong hash", hash2, "tile_500"},
			{"uppercase hash", strings.ToUpper(hash1), "tile_500"},
			{"empty hash", "", "tile_500"},
			{"empty size", hash1, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.Verify(tc.hash, tc.size, tok, now)
				if !errors.Is(err, signing.ErrBadToken) {
					t.Fatalf("Verify(%q, %q, %q) = %v; want ErrBadToken", tc.hash, tc.size, tok, err)
				}
			})
		}
	}
}

// flipChar returns tok with position i replaced by a different character of
// the same alphabet (base64url for the MAC, base36 for the expiry).
func flipChars(tok string, i int) []string {
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	const b36 = "0123456789abcdefghijklmnopqrstuvwxyz"
	alphabet := b64
	if dot := strings.IndexByte(tok, '.'); dot >= 0 && i > dot {
		alphabet = b36
	}
	var out []string
	// A few replacements per position keep the test fast but cover
	// neighbouring and distant characters.
	for _, c := range []byte{alphabet[0], alphabet[1], alphabet[len(alphabet)/2], alphabet[len(alphabet)-1]} {
		if c != tok[i] {
			out = append(out, tok[:i]+string(c)+tok[i+1:])
		}
	}
	return out
}

func TestVerifyRejectsSingleCharacterFlips(t *testing.T) {
	s := mustNew(t, []string{keyA}, false)
	for _, exp := range []time.Time{{}, now.Add(48 * time.Hour)} {
		tok := mustSign(t, s, hash1, "fit_1920", exp)
		for i := 0; i < len(tok); i++ {
			if tok[i] == '.' {
				continue
			}
			for _, bad := range flipChars(tok, i) {
				_, err := s.Verify(hash1, "fit_1920", bad, now)
				if !errors.Is(err, signing.ErrBadToken) {
					t.Errorf("flip at %d: Verify(%q) = %v; want ErrBadToken (original %q)", i, bad, err, tok)
				}
			}
		}
	}
}

func TestVerifyMalformedTokens(t *testing.T) {
	s := mustNew(t, []string{keyA}, true)
	good := mustSign(t, s, hash1, "tile_500", time.Time{})
	goodExp := mustSign(t, s, hash1, "tile_500", now.Add(time.Hour))
	macExp, expPart, _ := strings.Cut(goodExp, ".")
	for _, tc := range []struct {
		name, tok string
	}{
		{"empty", ""},
		{"truncated", good[:23]},
		{"extended", good + "A"},
		{"overlong", strings.Repeat("A", 33)},
		{"bad char", good[:10] + "+" + good[11:]},
		{"bad char slash", good[:10] + "/" + good[11:]},
		{"padding", good[:23] + "="},
		{"Public capitalised", "Public"},
		{"24 MAC with expiry", good + "." + expPart},
		{"22 MAC without expiry", macExp},
		{"empty expiry", macExp + "."},
		{"uppercase expiry", macExp + "." + strings.ToUpper(expPart)},
		{"leading zero expiry", macExp + ".0" + expPart},
		{"negative expiry", macExp + ".-" + expPart},
		{"two dots", macExp + "." + expPart + "." + expPart},
		{"expiry too long", macExp + ".zzzzzzzzz"},
		{"dot only", "."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Verify(hash1, "tile_500", tc.tok, now)
			if !errors.Is(err, signing.ErrBadToken) {
				t.Fatalf("Verify(%q) = %v; want ErrBadToken", tc.tok, err)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	signA := mustNew(t, []string{keyA}, false)
	for _, exp := range []time.Time{{}, now.Add(time.Hour)} {
		tok := mustSign(t, signA, hash1, "tile_224", exp)
		for _, tc := range []struct {
			name string
			keys []string
			ok   bool
		}{
			{"A only", []string{keyA}, true},
			{"B then A", []string{keyB, keyA}, true},
			{"A then B", []string{keyA, keyB}, true},
			{"B only", []string{keyB}, false},
			{"no keys", nil, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				v := mustNew(t, tc.keys, false)
				_, err := v.Verify(hash1, "tile_224", tok, now)
				if tc.ok && err != nil {
					t.Fatalf("Verify with %s: %v; want ok", tc.name, err)
				}
				if !tc.ok && !errors.Is(err, signing.ErrBadToken) {
					t.Fatalf("Verify with %s: %v; want ErrBadToken", tc.name, err)
				}
			})
		}
	}
	// The first key signs: [B, A] mints B's tokens, not A's.
	ba := mustNew(t, []string{keyB, keyA}, false)
	onlyB := mustNew(t, []string{keyB}, false)
	if got, want := mustSign(t, ba, hash1, "tile_224", time.Time{}), mustSign(t, onlyB, hash1, "tile_224", time.Time{}); got != want {
		t.Errorf("[B, A] signed %q; want B's token %q", got, want)
	}
	if mustSign(t, ba, hash1, "tile_224", time.Time{}) == mustSign(t, signA, hash1, "tile_224", time.Time{}) {
		t.Errorf("different keys produced the same token")
	}
}

func TestNewKeyLength(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []string
		ok   bool
	}{
		{"none", nil, true},
		{"exactly 32", []string{strings.Repeat("k", 32)}, true},
		{"31", []string{strings.Repeat("k", 31)}, false},
		{"empty string", []string{""}, false},
		{"second short", []string{keyA, "short"}, false},
		{"two good", []string{keyA, keyB}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := signing.New(tc.keys, false)
			if tc.ok {
				if err != nil || s == nil {
					t.Fatalf("New = %v, %v; want ok", s, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New accepted keys %q", tc.keys)
			}
			if s != nil {
				t.Errorf("New returned a Signer alongside error %v", err)
			}
			if !strings.Contains(err.Error(), "keys[") {
				t.Errorf("error %q does not name the key index", err)
			}
		})
	}
}

func TestPublicMode(t *testing.T) {
	for _, tc := range []struct {
		name   string
		keys   []string
		public bool
		token  string
		wantOK bool
	}{
		{"public on, with keys", []string{keyA}, true, "public", true},
		{"public on, no keys", nil, true, "public", true},
		{"public off", []string{keyA}, false, "public", false},
		{"public off, no keys", nil, false, "public", false},
		{"public on, other word", []string{keyA}, true, "PUBLIC", false},
		{"public on, prefix", []string{keyA}, true, "publi", false},
		{"public on, suffix", []string{keyA}, true, "public.", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustNew(t, tc.keys, tc.public)
			if s.Public() != tc.public {
				t.Errorf("Public() = %v; want %v", s.Public(), tc.public)
			}
			exp, err := s.Verify(hash1, "fit_1920", tc.token, now)
			if tc.wantOK {
				if err != nil {
					t.Fatalf("Verify(%q) = %v; want ok", tc.token, err)
				}
				if !exp.IsZero() {
					t.Errorf("public token expiry %v; want zero", exp)
				}
				return
			}
			if !errors.Is(err, signing.ErrBadToken) {
				t.Fatalf("Verify(%q) = %v; want ErrBadToken", tc.token, err)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	s := mustNew(t, []string{keyA}, false)
	exp := now.Add(2 * time.Hour)
	tok := mustSign(t, s, hash1, "tile_500", exp)
	mac, expPart, ok := strings.Cut(tok, ".")
	if !ok || len(mac) != 22 {
		t.Fatalf("expiring token %q: want 22-char MAC, '.', base36 expiry", tok)
	}
	if n, err := strconv.ParseInt(expPart, 36, 64); err != nil || n != exp.Unix() {
		t.Fatalf("expiry part %q = %d, %v; want base36 of %d", expPart, n, err, exp.Unix())
	}

	for _, tc := range []struct {
		name    string
		at      time.Time
		wantErr error
	}{
		{"long before", now, nil},
		{"one second before", exp.Add(-time.Second), nil},
		{"at expiry", exp, signing.ErrExpired},
		{"after expiry", exp.Add(time.Second), signing.ErrExpired},
		{"long after", exp.Add(365 * 24 * time.Hour), signing.ErrExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Verify(hash1, "tile_500", tok, tc.at)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify at %v = %v; want ok", tc.at, err)
				}
			} else if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify at %v = %v; want %v", tc.at, err, tc.wantErr)
			}
			if errors.Is(err, signing.ErrBadToken) {
				t.Fatalf("expired must not be reported as bad token: %v", err)
			}
			if !got.Equal(exp) {
				t.Errorf("returned expiry %v; want %v", got, exp)
			}
		})
	}

	// Tampering with the expiry invalidates the MAC.
	later := strconv.FormatInt(exp.Add(365*24*time.Hour).Unix(), 36)
	earlier := strconv.FormatInt(exp.Add(-time.Minute).Unix(), 36)
	plusOne := strconv.FormatInt(exp.Unix()+1, 36)
	for _, tc := range []struct{ name, tok string }{
		{"extended a year", mac + "." + later},
		{"shortened", mac + "." + earlier},
		{"plus one second", mac + "." + plusOne},
		{"dropped expiry", mac},
		{"last char changed", mac + "." + expPart[:len(expPart)-1] + nextBase36(expPart[len(expPart)-1])},
	} {
		t.Run("tamper "+tc.name, func(t *testing.T) {
			if tc.tok == tok {
				t.Fatalf("tampered token equals original")
			}
			_, err := s.Verify(hash1, "tile_500", tc.tok, now)
			if !errors.Is(err, signing.ErrBadToken) {
				t.Fatalf("Verify(%q) = %v; want ErrBadToken", tc.tok, err)
			}
		})
	}
}

// nextBase36 returns the base36 digit after c, wrapping z to 1 (never 0, so
// the result stays a canonical expiry when used as the last digit).
func nextBase36(c byte) string {
	const b36 = "0123456789abcdefghijklmnopqrstuvwxyz"
	i := strings.IndexByte(b36, c)
	if i == len(b36)-1 {
		return "1"
	}
	return string(b36[i+1])
}

func TestSignErrors(t *testing.T) {
	noKeys := mustNew(t, nil, true)
	for _, exp := range []time.Time{{}, now.Add(time.Hour)} {
		if tok, err := noKeys.Sign(hash1, "tile_500", exp); !errors.Is(err, signing.ErrNoKey) || tok != "" {
			t.Errorf("Sign with no keys = %q, %v; want ErrNoKey", tok, err)
		}
	}
	s := mustNew(t, []string{keyA}, false)
	if tok, err := s.Sign(hash1, "tile_500", time.Unix(-5, 0)); err == nil {
		t.Errorf("Sign with pre-1970 expiry = %q; want error", tok)
	}
}

func FuzzVerify(f *testing.F) {
	s := mustNew(f, []string{keyA, keyB}, true)
	// Every key verifies, so an accepted token must be what one of the keys
	// signs for exactly this hash, size and expiry.
	perKey := []*signing.Signer{mustNew(f, []string{keyA}, false), mustNew(f, []string{keyB}, false)}
	for _, exp := range []time.Time{{}, now.Add(time.Hour), now.Add(-time.Hour)} {
		tok := mustSign(f, s, hash1, "tile_500", exp)
		f.Add(hash1, "tile_500", tok)
		f.Add(hash2, "tile_500", tok)
		f.Add(hash1, "fit_1920", tok)
	}
	f.Add(hash1, "tile_500", "public")
	f.Add("", "", "")
	f.Add(hash1, "colors", "AAAAAAAAAAAAAAAAAAAAAA.zzzzzzzz")
	f.Add(hash1, "colors", "AAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add(hash1, "colors", "AAAAAAAAAAAAAAAAAAAAAA.0")

	f.Fuzz(func(t *testing.T, hash, size, token string) {
		exp, err := s.Verify(hash, size, token, now)
		if err != nil {
			if !errors.Is(err, signing.ErrBadToken) && !errors.Is(err, signing.ErrExpired) {
				t.Fatalf("Verify error %v is neither ErrBadToken nor ErrExpired", err)
			}
			return
		}
		if token == signing.PublicToken {
			return
		}
		if len(token) > signing.MaxTokenLen {
			t.Fatalf("accepted a %d-char token", len(token))
		}
		if !exp.IsZero() && !now.Before(exp) {
			t.Fatalf("accepted token expiring at %v at %v", exp, now)
		}
		var minted []string
		for _, k := range perKey {
			want, err := k.Sign(hash, size, exp)
			if err != nil {
				t.Fatalf("Sign(%q, %q, %v) after accepted Verify: %v", hash, size, exp, err)
			}
			if want == token {
				return
			}
			minted = append(minted, want)
		}
		t.Fatalf("Verify accepted %q for (%q, %q, exp %v); the keys sign %q", token, hash, size, exp, minted)
	})
}
