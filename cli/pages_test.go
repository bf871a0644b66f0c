package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thumbd/thumbd/thumburl"
)

// sign --size page and --album: links that verify with the key, carry the
// text they were given (or the photo's XMP title), and refuse folders
// outside the originals.
func TestSignPagesAndAlbums(t *testing.T) {
	cleanEnv(t)
	v := devSigner(t)
	r := run(t, "sign", "--dev", "--originals", photos, "--size", "page", "--title", "  Low\ttide ", "--caption", "a\r\nb", "cops.jpg")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	parts := strings.Split(strings.TrimSpace(r.stdout), "/")
	if len(parts) != 5 || parts[1] != "p" || parts[2] != fileHash(t, "cops.jpg") {
		t.Fatalf("page link %q", r.stdout)
	}
	text, err := thumburl.ParseText(parts[4])
	if err != nil || text.Title != "Low tide" || text.Caption != "a\nb" {
		t.Errorf("carried %+v, %v (want the cleaned text)", text, err)
	}
	if _, err := v.VerifyGrant(parts[2], thumburl.PageSignedName(text), parts[3], time.Now()); err != nil {
		t.Errorf("page token: %v", err)
	}

	// --title-from-metadata on a photo with XMP; --caption wins over it.
	dir := t.TempDir()
	b, err := os.ReadFile("../xmp/testdata/cops_xmp.jpg")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "trip", "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "trip", "tagged.jpg"), b, 0o644)
	os.MkdirAll(filepath.Join(dir, ".hidden"), 0o755)
	r = run(t, "sign", "--dev", "--originals", dir, "--size", "page", "--title-from-metadata", "--caption", "mine", "--format", "json", "trip/tagged.jpg")
	var es []struct {
		Links []struct{ Size, URL string }
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &es) != nil || len(es) != 1 || len(es[0].Links) != 1 {
		t.Fatalf("json: %d %s %s", r.code, r.stdout, r.stderr)
	}
	seg := es[0].Links[0].URL[strings.LastIndex(es[0].Links[0].URL, "/")+1:]
	if text, err := thumburl.ParseText(seg); err != nil || text.Title != `Traffic stop <script>alert(1)</script> & "friends"` || text.Caption != "mine" {
		t.Errorf("from metadata: %+v, %v", text, err)
	}
	// By hash, the file is found through the index.
	sum := strings.Split(strings.TrimSpace(run(t, "sign", "--dev", "--originals", dir, "--size", "tile_50", "trip/tagged.jpg").stdout), "/")[2]
	r = run(t, "sign", "--dev", "--originals", dir, "--size", "page", "--title-from-metadata", sum)
	if text, err := thumburl.ParseText(r.stdout[strings.LastIndex(r.stdout, "/")+1 : len(r.stdout)-1]); r.code != 0 || err != nil || !strings.HasPrefix(text.Title, "Traffic stop") {
		t.Errorf("by hash: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// Albums: the id is the signer's for the folder, relative or absolute.
	abs, _ := filepath.Abs(filepath.Join(dir, "trip"))
	want, _ := v.AlbumID("trip")
	for _, arg := range []string{"trip", "trip/", "./trip", abs} {
		r := run(t, "sign", "--dev", "--originals", dir, "--album", arg)
		p := strings.Split(strings.TrimSpace(r.stdout), "/")
		if r.code != 0 || len(p) != 4 || p[1] != "a" || p[2] != want {
			t.Errorf("--album %s: %d %q %s", arg, r.code, r.stdout, r.stderr)
			continue
		}
		if _, err := v.VerifyGrant(p[2], thumburl.AlbumName, p[3], time.Now()); err != nil {
			t.Errorf("--album %s: token %v", arg, err)
		}
	}
	r = run(t, "sign", "--dev", "--originals", dir, "--album", "trip", "--recursive", "--format", "markdown")
	if !strings.HasPrefix(r.stdout, "[Album](/a/"+want+"/") {
		t.Errorf("recursive markdown %q", r.stdout)
	} else if tok := strings.TrimSuffix(strings.Split(r.stdout, "/")[3], ")\n"); tok == "" {
		t.Error("no token")
	} else if _, err := v.VerifyGrant(want, thumburl.AlbumNameRecurse, tok, time.Now()); err != nil {
		t.Errorf("recursive token: %v", err)
	}
	root, _ := v.AlbumID("")
	if r := run(t, "sign", "--dev", "--originals", dir, "--album", "."); !strings.Contains(r.stdout, "/a/"+root+"/") {
		t.Errorf("--album . %q %s", r.stdout, r.stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--album", "../x"}, `".." is not allowed`},
		{[]string{"--album", "trip/../trip"}, `".." is not allowed`},
		{[]string{"--album", "/etc"}, "not inside"},
		{[]string{"--album", ".hidden"}, "hidden"},
		{[]string{"--album", "trip/tagged.jpg"}, "not a folder"},
		{[]string{"--album", "nope"}, "no such folder"},
		{[]string{"--recursive", "--size", "tile_50", "trip/tagged.jpg"}, "--recursive goes with --album"},
		{[]string{"--title", "x", "--size", "tile_50", "trip/tagged.jpg"}, "go with --size page"},
		{[]string{"--size", "page"}, "needs a PATH"},
		{[]string{"--size", "page", "--title", strings.Repeat("x", 201), "trip/tagged.jpg"}, "longer than 200"},
		{[]string{"--size", "page", "--title", "bell\a", "trip/tagged.jpg"}, "control character"},
		{[]string{"--album", "trip", "--format", "json", "--size", "tile_50", "trip/tagged.jpg"}, "not both"},
	} {
		r := run(t, append([]string{"sign", "--dev", "--originals", dir}, tc.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stdout, "/a/") || strings.Contains(r.stdout, "/p/") {
			t.Errorf("sign %v: exit %d, stdout %q, stderr %q; want an error about %q", tc.args, r.code, r.stdout, r.stderr, tc.want)
		}
	}
}
