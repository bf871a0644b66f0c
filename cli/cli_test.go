package cli_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thumbd/thumbd/cli"
	"github.com/thumbd/thumbd/signing"
)

const photos = "../testdata/photos"

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	defaults, err := os.ReadFile("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), cli.Env{Defaults: defaults, Stdout: &out, Stderr: &errb}, args)
	return result{code, out.String(), errb.String()}
}

// cleanEnv hides THUMBD_* variables of the environment running the tests.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "THUMBD_") {
			t.Setenv(k, "")
		}
	}
}

func fileHash(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(photos, name))
	if err != nil {
		t.Fatal(err)
	}
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

type signed struct{ prefix, hash, token, size string }

// parseLines splits printed links into prefix and /t/<hash>/<token>/<size>.
func parseLines(t *testing.T, out string) []signed {
	t.Helper()
	var links []signed
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		i := strings.Index(line, "/t/")
		if i < 0 {
			t.Fatalf("line %q has no /t/", line)
		}
		parts := strings.Split(line[i+len("/t/"):], "/")
		if len(parts) != 3 {
			t.Fatalf("line %q: want /t/<hash>/<token>/<size>", line)
		}
		links = append(links, signed{line[:i], parts[0], parts[1], parts[2]})
	}
	return links
}

func devSigner(t *testing.T) *signing.Signer {
	t.Helper()
	s, err := signing.New([]string{cli.DevKey}, false)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignDev(t *testing.T) {
	cleanEnv(t)
	r := run(t, "sign", "--dev", "--originals", photos, "--size", "tile_500", "--size", "fit_1920", "cops.jpg", "Landscape_1.jpg")
	if r.code != 0 {
		t.Fatalf("exit %d; stderr: %s", r.code, r.stderr)
	}
	links := parseLines(t, r.stdout)
	want := []struct{ file, size string }{
		{"cops.jpg", "tile_500"}, {"cops.jpg", "fit_1920"},
		{"Landscape_1.jpg", "tile_500"}, {"Landscape_1.jpg", "fit_1920"},
	}
	if len(links) != len(want) {
		t.Fatalf("%d lines; want %d:\n%s", len(links), len(want), r.stdout)
	}
	v := devSigner(t)
	for i, w := range want {
		l := links[i]
		if l.prefix != "" {
			t.Errorf("line %d has prefix %q without --base", i, l.prefix)
		}
		if h := fileHash(t, w.file); l.hash != h {
			t.Errorf("line %d: hash %s; want sha1 of %s = %s", i, l.hash, w.file, h)
		}
		if l.size != w.size {
			t.Errorf("line %d: size %q; want %q", i, l.size, w.size)
		}
		exp, err := v.Verify(l.hash, l.size, l.token, time.Now())
		if err != nil {
			t.Errorf("line %d: token %q does not verify with the dev key: %v", i, l.token, err)
		}
		if !exp.IsZero() {
			t.Errorf("line %d: token expires at %v without --expires", i, exp)
		}
		if strings.Contains(l.token, ".") {
			t.Errorf("line %d: non-expiring token %q has an expiry", i, l.token)
		}
	}
	if links[0].token == links[1].token || links[0].token == links[2].token {
		t.Errorf("tokens are not specific to hash and size: %+v", links)
	}
}

func TestSignBase(t *testing.T) {
	cleanEnv(t)
	for _, base := range []string{"https://img.example.com/", "https://img.example.com", "https://img.example.com///"} {
		t.Run(base, func(t *testing.T) {
			r := run(t, "sign", "--dev", "--originals", photos, "--base", base, "--size", "tile_224", "cops.jpg")
			if r.code != 0 {
				t.Fatalf("exit %d; stderr: %s", r.code, r.stderr)
			}
			line := strings.TrimSpace(r.stdout)
			want := "https://img.example.com/t/" + fileHash(t, "cops.jpg") + "/"
			if !strings.HasPrefix(line, want) {
				t.Fatalf("line %q; want prefix %q", line, want)
			}
			if strings.Count(line, "https://") != 1 || strings.Contains(strings.TrimPrefix(line, "https://"), "//") {
				t.Errorf("line %q: prefix repeated or double slash", line)
			}
			l := parseLines(t, r.stdout)[0]
			if _, err := devSigner(t).Verify(l.hash, l.size, l.token, time.Now()); err != nil {
				t.Errorf("token does not verify: %v", err)
			}
		})
	}
}

func TestSignHashArgument(t *testing.T) {
	cleanEnv(t)
	const h = "0123456789abcdef0123456789abcdef01234567" // no such file anywhere
	for _, arg := range []string{h, strings.ToUpper(h)} {
		r := run(t, "sign", "--dev", "--originals", photos, "--size", "fit_720", arg)
		if r.code != 0 {
			t.Fatalf("%s: exit %d; stderr: %s", arg, r.code, r.stderr)
		}
		l := parseLines(t, r.stdout)
		if len(l) != 1 || l[0].hash != h || l[0].size != "fit_720" {
			t.Fatalf("%s: printed %q; want one fit_720 link for %s", arg, r.stdout, h)
		}
		if _, err := devSigner(t).Verify(h, "fit_720", l[0].token, time.Now()); err != nil {
			t.Errorf("%s: token does not verify: %v", arg, err)
		}
	}
}

func TestSignExtensionSameToken(t *testing.T) {
	cleanEnv(t)
	r := run(t, "sign", "--dev", "--originals", photos, "--size", "tile_500", "--size", "tile_500.jpg", "--size", "tile_500.webp", "cops.jpg")
	if r.code != 0 {
		t.Fatalf("exit %d; stderr: %s", r.code, r.stderr)
	}
	l := parseLines(t, r.stdout)
	if len(l) != 3 {
		t.Fatalf("printed %q; want 3 lines", r.stdout)
	}
	if l[0].size != "tile_500" || l[1].size != "tile_500.jpg" || l[2].size != "tile_500.webp" {
		t.Errorf("sizes %q, %q, %q", l[0].size, l[1].size, l[2].size)
	}
	if l[1].token != l[0].token || l[2].token != l[0].token {
		t.Errorf("tokens differ by extension: %q %q %q", l[0].token, l[1].token, l[2].token)
	}
}

func TestSignExpires(t *testing.T) {
	cleanEnv(t)
	before := time.Now()
	r := run(t, "sign", "--dev", "--originals", photos, "--expires", "30d", "--size", "tile_224", "cops.jpg")
	if r.code != 0 {
		t.Fatalf("exit %d; stderr: %s", r.code, r.stderr)
	}
	l := parseLines(t, r.stdout)[0]
	if !strings.Contains(l.token, ".") {
		t.Fatalf("token %q has no expiry", l.token)
	}
	v := devSigner(t)
	exp, err := v.Verify(l.hash, "tile_224", l.token, before)
	if err != nil {
		t.Fatalf("expiring token does not verify now: %v", err)
	}
	want := before.Add(30 * 24 * time.Hour)
	if d := exp.Sub(want); d < -time.Hour || d > time.Hour {
		t.Errorf("expiry %v; want about %v", exp, want)
	}
	if _, err := v.Verify(l.hash, "tile_224", l.token, before.Add(31*24*time.Hour)); !errors.Is(err, signing.ErrExpired) {
		t.Errorf("Verify 31 days later = %v; want ErrExpired", err)
	}

	future := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	r = run(t, "sign", "--dev", "--originals", photos, "--expires", future.Format(time.RFC3339), "--size", "tile_224", "cops.jpg")
	if r.code != 0 {
		t.Fatalf("RFC 3339: exit %d; stderr: %s", r.code, r.stderr)
	}
	l = parseLines(t, r.stdout)[0]
	if exp, err := v.Verify(l.hash, "tile_224", l.token, time.Now()); err != nil || !exp.Equal(future) {
		t.Errorf("RFC 3339 expiry: Verify = %v, %v; want %v", exp, err, future)
	}
}

func TestSignErrors(t *testing.T) {
	absOutside, err := filepath.Abs("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		inStderr []string
	}{
		{"expires garbage", []string{"sign", "--dev", "--originals", photos, "--expires", "garbage", "--size", "tile_500", "cops.jpg"}, nil, 1, []string{"--expires"}},
		{"expires in the past", []string{"sign", "--dev", "--originals", photos, "--expires", "2001-01-01T00:00:00Z", "--size", "tile_500", "cops.jpg"}, nil, 1, []string{"--expires"}},
		{"expires zero", []string{"sign", "--dev", "--originals", photos, "--expires", "0s", "--size", "tile_500", "cops.jpg"}, nil, 1, []string{"--expires"}},
		{"unknown size", []string{"sign", "--dev", "--originals", photos, "--size", "square_500", "cops.jpg"}, nil, 1, []string{"square_500"}},
		{"unknown fit size", []string{"sign", "--dev", "--originals", photos, "--size", "fit_999", "cops.jpg"}, nil, 1, []string{"fit_999"}},
		{"unknown extension", []string{"sign", "--dev", "--originals", photos, "--size", "tile_500.gif", "cops.jpg"}, nil, 1, []string{"tile_500.gif"}},
		{"no size", []string{"sign", "--dev", "--originals", photos, "cops.jpg"}, nil, 1, []string{"--size"}},
		{"no path", []string{"sign", "--dev", "--originals", photos, "--size", "tile_500"}, nil, 1, []string{"PATH"}},
		{"relative path outside originals", []string{"sign", "--dev", "--originals", photos, "--size", "tile_500", "../go.mod"}, nil, 1, nil},
		{"absolute path outside originals", []string{"sign", "--dev", "--originals", photos, "--size", "tile_500", absOutside}, nil, 1, []string{"not inside"}},
		{"missing file", []string{"sign", "--dev", "--originals", photos, "--size", "tile_500", "nope.jpg"}, nil, 1, []string{"nope.jpg"}},
		{"no keys without --dev", []string{"sign", "--originals", photos, "--size", "tile_500", "cops.jpg"}, nil, 1, []string{"keys"}},
		{"public without keys cannot sign", []string{"sign", "--public", "--originals", photos, "--size", "tile_500", "cops.jpg"}, nil, 1, []string{"key"}},
		{"short key", []string{"sign", "--originals", photos, "--size", "tile_500", "cops.jpg"}, map[string]string{"THUMBD_KEYS": "short"}, 1, []string{"keys"}},
		{"--dev on a public address", []string{"sign", "--dev", "--listen", "0.0.0.0:8080", "--originals", photos, "--size", "tile_500", "cops.jpg"}, nil, 1, []string{"--dev"}},
		{"bad flag", []string{"sign", "--no-such-flag"}, nil, 1, []string{"no-such-flag"}},
		{"originals missing", []string{"sign", "--dev", "--originals", "/nonexistent/thumbd", "--size", "tile_500", "cops.jpg"}, nil, 1, []string{"originals"}},
		{"unknown command", []string{"frobnicate"}, nil, 2, []string{"frobnicate", "usage"}},
		{"no command", nil, nil, 2, []string{"usage"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			r := run(t, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d; want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout, "/t/") {
				t.Errorf("printed a link on failure: %s", r.stdout)
			}
			for _, w := range tc.inStderr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q does not mention %q", r.stderr, w)
				}
			}
		})
	}
}

func TestSignConfiguredKeys(t *testing.T) {
	cleanEnv(t)
	const k1 = "configured-key-0123456789abcdef0123456789"
	const k2 = "older-key-0123456789abcdef0123456789abcdef"
	t.Setenv("THUMBD_KEYS", k1+","+k2)
	for _, args := range [][]string{
		{"sign", "--originals", photos, "--size", "colors", "cops.jpg"},
		// --dev only supplies the dev key when none is configured.
		{"sign", "--dev", "--originals", photos, "--size", "colors", "cops.jpg"},
	} {
		r := run(t, args...)
		if r.code != 0 {
			t.Fatalf("%q: exit %d; stderr: %s", args, r.code, r.stderr)
		}
		l := parseLines(t, r.stdout)[0]
		first, _ := signing.New([]string{k1}, false)
		if _, err := first.Verify(l.hash, "colors", l.token, time.Now()); err != nil {
			t.Errorf("%q: token not signed with the first configured key: %v", args, err)
		}
		if _, err := devSigner(t).Verify(l.hash, "colors", l.token, time.Now()); err == nil {
			t.Errorf("%q: token verifies with the public dev key", args)
		}
	}
}

func TestVersionAndHelp(t *testing.T) {
	cleanEnv(t)
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		r := run(t, args...)
		if r.code != 0 {
			t.Errorf("%q: exit %d", args, r.code)
		}
		if !strings.HasPrefix(r.stdout, "thumbd ") || !strings.Contains(r.stdout, "libvips") {
			t.Errorf("%q: printed %q; want 'thumbd <version> libvips <version>'", args, r.stdout)
		}
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		r := run(t, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "thumbd sign") {
			t.Errorf("%q: exit %d, stdout %q; want 0 and the usage", args, r.code, r.stdout)
		}
	}
	if r := run(t, "sign", "--help"); r.code != 0 {
		t.Errorf("sign --help: exit %d; want 0", r.code)
	}
}

// links takes absolute paths inside the originals, as sign does, and says
// so on stderr when a selection matches nothing.
func TestLinksAbsolutePathsAndEmptySelection(t *testing.T) {
	cleanEnv(t)
	abs, err := filepath.Abs(filepath.Join(photos, "cops.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, "links", "--dev", "--originals", photos, "--size", "tile_224", abs)
	if r.code != 0 || !strings.Contains(r.stdout, fileHash(t, "cops.jpg")) {
		t.Fatalf("links %s: exit %d\n%s\n%s", abs, r.code, r.stdout, r.stderr)
	}
	r = run(t, "links", "--dev", "--originals", photos, "--size", "tile_224", "no-such-folder")
	if !strings.Contains(r.stderr, "nothing") || !strings.Contains(r.stderr, "no-such-folder") {
		t.Errorf("empty selection: exit %d, stderr %q; want a message naming it", r.code, r.stderr)
	}
	if r := run(t, "links", "--dev", "--originals", photos, "/etc/passwd"); r.code == 0 {
		t.Errorf("a path outside the originals: exit 0")
	}
}

// links --format html: "page" wraps the <picture> in the share-page link,
// and alone prints the page snippet; neither is an unknown size.
func TestLinksHTMLWithPage(t *testing.T) {
	cleanEnv(t)
	for _, tc := range []struct {
		sizes        []string
		page, source bool
	}{
		{[]string{"fit_720"}, false, true},
		{[]string{"page", "fit_720"}, true, true},
		{[]string{"page"}, true, false},
	} {
		args := []string{"links", "--dev", "--originals", photos, "--format", "html"}
		for _, s := range tc.sizes {
			args = append(args, "--size", s)
		}
		r := run(t, append(args, "cops.jpg")...)
		if r.code != 0 {
			t.Errorf("links %v: exit %d: %s", tc.sizes, r.code, r.stderr)
			continue
		}
		if got := strings.Contains(r.stdout, `<a href="/p/`+fileHash(t, "cops.jpg")+"/"); got != tc.page {
			t.Errorf("links %v: share-page link %v, want %v:\n%s", tc.sizes, got, tc.page, r.stdout)
		}
		if got := strings.Contains(r.stdout, `<source type="image/avif"`); got != tc.source {
			t.Errorf("links %v: <picture> sources %v, want %v:\n%s", tc.sizes, got, tc.source, r.stdout)
		}
	}
}
