package picker_test

import (
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/thumburl"
)

// The photo page offers a share-page link carrying the title and caption
// typed in (signed, with the chosen expiry); a folder listing offers album
// links, flat and with subfolders, whose id is the folder's.
func TestPageAndAlbumSnippets(t *testing.T) {
	p := page(t, 300)
	h := fmt.Sprintf("%040x", 7)
	q := url.Values{"h": {h}, "size": {"fit_1280"}, "expiry": {"30d"}, "title": {`Dunes <b>"&"</b>`}, "caption": {"two\nlines"}}
	_, body := get(t, p, "/links/photo?"+q.Encode())
	m := regexp.MustCompile(`<textarea id="s-page"[^>]*>([^<]*)</textarea>`).FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, `id="copy-page"`) {
		t.Fatalf("no share page snippet:\n%s", body)
	}
	u := html.UnescapeString(m[1])
	parts := strings.Split(strings.TrimPrefix(u, "https://img.example.com/p/"), "/")
	if len(parts) != 3 || parts[0] != h || !strings.Contains(parts[1], ".") {
		t.Fatalf("share page URL %q: want /p/<sha1>/<expiring token>/<text>", u)
	}
	text, err := thumburl.ParseText(parts[2])
	if err != nil || text.Title != `Dunes <b>"&"</b>` || text.Caption != "two\nlines" {
		t.Errorf("carried text %+v, %v", text, err)
	}
	sg, _ := signing.New([]string{"picker-test-key-0123456789abcdefghij"}, false)
	if _, err := sg.VerifyGrant(h, thumburl.PageSignedName(text), parts[1], timeNow()); err != nil {
		t.Errorf("page token does not verify: %v", err)
	}
	if strings.Contains(body, `<b>"&"</b>`) {
		t.Error("title unescaped in the picker")
	}
	_, body = get(t, p, "/links/photo?"+url.Values{"h": {h}, "size": {"fit_720"}, "title": {strings.Repeat("x", 300)}}.Encode())
	if !strings.Contains(body, "share page:") {
		t.Error("an over-long title was not reported")
	}

	_, body = get(t, p, "/links/?folder=folder07")
	id, _ := sg.AlbumID("folder07")
	for _, want := range []string{`id="copy-album"`, `id="copy-album-r"`, "https://img.example.com/a/" + id + "/", "album:" + id} {
		if !strings.Contains(body, want) {
			t.Errorf("folder listing lacks %q", want)
		}
	}
	if _, body = get(t, p, "/links/?q=IMG"); strings.Contains(body, `id="copy-album"`) {
		t.Error("album links without a folder")
	}
}

func timeNow() time.Time { return time.Now() }
